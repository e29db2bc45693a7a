using Fovea.Vision.Imaging;
using static Fovea.Vision.Tests.Imaging.ImageFiles;

namespace Fovea.Vision.Tests.Imaging;

/// <summary>Tests that change the process-wide <see cref="ImageIO.MaxPixels"/> run alone, so no other test loads under it.</summary>
[CollectionDefinition(nameof(ProcessPixelCapTests), DisableParallelization = true)]
public sealed class ProcessPixelCapCollection;

[Collection(nameof(ProcessPixelCapTests))]
public sealed class ProcessPixelCapTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fovea-cap-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void TheProcessWideCapAppliesToEveryLoad()
    {
        string path = Path.Combine(_dir, "cap.png");
        File.WriteAllBytes(path, Stb("png", 40, 30, 1));
        Assert.Equal(ImageIO.DefaultMaxPixels, ImageIO.MaxPixels);
        try
        {
            ImageIO.MaxPixels = 1199;
            AssertRefused(path, "40x30 = 1200 pixels, above the limit of 1199");
            ImageIO.MaxPixels = 1200;
            Assert.Equal(40, ImageIO.Load(path).Width);
            Assert.Throws<ArgumentOutOfRangeException>(() => ImageIO.MaxPixels = 0);
            Assert.Throws<ArgumentOutOfRangeException>(() => ImageIO.MaxPixels = ImageIO.MaxPixelsLimit + 1);
            Assert.Equal(1200, ImageIO.MaxPixels);
        }
        finally
        {
            ImageIO.MaxPixels = ImageIO.DefaultMaxPixels;
        }
    }
}
