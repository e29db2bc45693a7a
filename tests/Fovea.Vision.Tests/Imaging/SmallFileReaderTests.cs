using System.Buffers;
using Fovea.Vision.Imaging;

namespace Fovea.Vision.Tests.Imaging;

/// <summary>The three-call reader of small files: exact bytes, and everything unusual left to the .NET path.</summary>
public sealed class SmallFileReaderTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fovea-small-file-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(1_137)]
    [InlineData(SmallFileReader.MaxBytes - 1)]
    public void ReadsASmallFileExactly(int size)
    {
        var bytes = new byte[size];
        new Random(size).NextBytes(bytes);
        string path = Path.Combine(_dir, $"f{size}");
        File.WriteAllBytes(path, bytes);
        bool read = SmallFileReader.TryRead(path, out var buffer, out int length);
        Assert.Equal(OperatingSystem.IsLinux(), read);
        if (!read) return;
        Assert.True(buffer.AsSpan(0, length).SequenceEqual(bytes));
        ArrayPool<byte>.Shared.Return(buffer);
    }

    [Fact]
    public void LeavesLargeMissingAndFolderPathsToTheCaller()
    {
        string large = Path.Combine(_dir, "large");
        File.WriteAllBytes(large, new byte[SmallFileReader.MaxBytes]);
        foreach (string path in new[] { large, Path.Combine(_dir, "missing"), _dir, Path.Combine(_dir, "a\0b") })
        {
            Assert.False(SmallFileReader.TryRead(path, out var buffer, out int length));
            Assert.Empty(buffer);
            Assert.Equal(0, length);
        }
    }

    [Fact]
    public void ImageIOLoadsAFileAboveTheLimitThroughTheNetPath()
    {
        // A BMP of 160x160 RGB (75 KB) is larger than the limit: the fallback reads it, with the same pixels as from memory.
        var bytes = ImageFiles.Stb("bmp", 160, 160, 3);
        Assert.True(bytes.Length >= SmallFileReader.MaxBytes, $"the BMP is {bytes.Length} bytes");
        string path = Path.Combine(_dir, "big.bmp");
        File.WriteAllBytes(path, bytes);
        var fromFile = ImageIO.Load(path);
        var fromMemory = ImageIO.DecodeChecked(path, bytes, ImageChannels.Source, ImageIO.DefaultMaxPixels);
        Assert.Equal(fromMemory.Data, fromFile.Data);
    }
}
