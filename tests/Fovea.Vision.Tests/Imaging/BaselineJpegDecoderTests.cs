using System.Buffers.Binary;
using Fovea.Vision.Imaging;
using Fovea.Vision.Transforms;

namespace Fovea.Vision.Tests.Imaging;

/// <summary>
/// The one-pass baseline JPEG decoder against the general path (structure walk, then StbImageSharp): it must take the
/// plain files (gray, 4:2:0 and 4:4:4 colour, sizes that are not multiples of a block) and give exactly the same
/// floats; on damaged files it may decline, but whatever it returns the general path returns too, and it never
/// throws.
/// </summary>
public sealed class BaselineJpegDecoderTests
{
    private static ImagePlanes? Fast(byte[] bytes, ImageChannels channels = ImageChannels.Source) =>
        BaselineJpegDecoder.TryDecode(bytes, bytes.Length, channels, ImageIO.DefaultMaxPixels, ImageIO.Levels);

    /// <summary>The decoder's straight-to-gray output must be what ConvertChannels(1) makes of the general path's image.</summary>
    private static void AssertGraySame(byte[] bytes, string what) =>
        AssertSame(new ConvertChannels(1).Apply(General(bytes), new Generator()),
            BaselineJpegDecoder.TryDecode(bytes, bytes.Length, ImageChannels.Source, ImageIO.DefaultMaxPixels, ImageIO.Levels, toGray: true)!, $"{what} to gray");

    private static ImagePlanes General(byte[] bytes, ImageChannels channels = ImageChannels.Source) =>
        ImageIO.DecodeChecked("test.jpg", bytes, channels, ImageIO.DefaultMaxPixels);

    private static void AssertSame(ImagePlanes expected, ImagePlanes actual, string what)
    {
        Assert.True((expected.Channels, expected.Height, expected.Width) == (actual.Channels, actual.Height, actual.Width), what);
        int first = expected.Data.AsSpan().CommonPrefixLength(actual.Data);
        Assert.True(first == expected.Data.Length, $"{what}: sample {first} differs");
    }

    public static TheoryData<int, int, int, int> PlainFiles()
    {
        // StbImageWriteSharp writes 4:2:0 chroma up to quality 90 and 4:4:4 above. The widths end the decoder's vector
        // loops in every way: rows under 8 pixels (one by one), a last group of 8 that overlaps the one before (17, 18,
        // 28, 34), and 4:2:0 chroma rows of 4, 8, 9, 14, 17 and 32 samples (no group of 8, one that stops one sample
        // before the row's end, and several).
        var d = new TheoryData<int, int, int, int>();
        foreach (var (w, h) in new[] { (1, 1), (7, 7), (16, 16), (18, 5), (28, 28), (17, 33), (34, 17), (64, 9) })
            foreach (int channels in new[] { 1, 3 })
                foreach (int quality in new[] { 50, 90, 100 })
                    d.Add(w, h, channels, quality);
        return d;
    }

    [Theory]
    [MemberData(nameof(PlainFiles))]
    public void DecodesPlainFilesExactlyAsTheGeneralPath(int width, int height, int channels, int quality)
    {
        var bytes = ImageFiles.Stb("jpg", width, height, channels, quality);
        int flatBefore = BaselineJpegDecoder.FlatChromaDecodes;
        var fast = Fast(bytes);
        Assert.NotNull(fast);
        // A gray picture is written with Cb = Cr = 128 throughout, and decoded through the flat-chroma shortcut.
        if (channels == 1) Assert.True(BaselineJpegDecoder.FlatChromaDecodes > flatBefore, "the flat-chroma shortcut was not taken");
        AssertSame(General(bytes), fast, $"{width}x{height}x{channels} q{quality}");
        AssertGraySame(bytes, $"{width}x{height}x{channels} q{quality}");
        // StbImageWriteSharp writes gray as three components; conversions are the general path's.
        Assert.Null(Fast(bytes, ImageChannels.Gray));
        Assert.Null(Fast(bytes, ImageChannels.Rgb));
    }

    [Theory]
    [InlineData("baseline-gray-restart.jpg", 1)]
    [InlineData("baseline-422-optimized-restart.jpg", 3)]
    [InlineData("baseline-1x2-restart.jpg", 3)]
    public void DecodesLibjpegFilesWithRestartMarkersExactlyAsTheGeneralPath(string name, int channels)
    {
        var bytes = File.ReadAllBytes(ImageIOTests.DataPath(name));
        var fast = Fast(bytes);
        Assert.NotNull(fast);
        Assert.Equal(channels, fast.Channels);
        AssertSame(General(bytes), fast, name);
        AssertGraySame(bytes, name);
        if (channels == 1) AssertSame(General(bytes, ImageChannels.Gray), Fast(bytes, ImageChannels.Gray)!, "gray as gray");
        // A restart marker taken out: the general path refuses the file, and so this decoder declines it.
        int rst = bytes.AsSpan().IndexOf([(byte)0xFF, (byte)0xD0]);
        Assert.True(rst > 0);
        byte[] cut = [.. bytes[..rst], .. bytes[(rst + 2)..]];
        Assert.Null(Fast(cut));
        Assert.Throws<InvalidDataException>(() => General(cut));
    }

    [Fact]
    public void ImageIOLoadTakesTheFastPathWithTheSameResult()
    {
        var dir = Directory.CreateTempSubdirectory("fovea-baseline-jpeg-").FullName;
        try
        {
            var bytes = ImageFiles.Stb("jpg", 30, 20, 3, 85);
            string path = Path.Combine(dir, "a.jpg");
            File.WriteAllBytes(path, bytes);
            AssertSame(General(bytes), ImageIO.Load(path), "ImageIO.Load");
            Assert.Equal($"{Path.Combine(dir, "missing.jpg")}: file not found.", Assert.Throws<FileNotFoundException>(() => ImageIO.Load(Path.Combine(dir, "missing.jpg"))).Message);
            Assert.Throws<FileNotFoundException>(() => ImageIO.Load(dir));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void DeclinesWhatItDoesNotTake()
    {
        // Progressive.
        Assert.Null(Fast(File.ReadAllBytes(ImageIOTests.DataPath("chelsea-progressive.jpg"))));
        var plain = ImageFiles.Stb("jpg", 64, 16, 3, 90);
        // A restart interval (a DRI segment inserted after the start-of-image marker) without its RSTn markers.
        byte[] dri = [.. plain[..2], 0xFF, 0xDD, 0, 4, 0, 1, .. plain[2..]];
        Assert.Null(Fast(dri));
        // Bytes between the scan and the end-of-image marker, and a missing end-of-image marker.
        Assert.Null(Fast([.. plain[..^2], 0x00, 0xFF, 0xD9]));
        Assert.Null(Fast(plain[..^2]));
        // Above the pixel cap: the general path gives the message.
        Assert.Null(BaselineJpegDecoder.TryDecode(plain, plain.Length, ImageChannels.Source, 255, ImageIO.Levels));
        // A frame that declares more blocks than a file of its size can hold.
        var big = (byte[])plain.Clone();
        var sof = ImageFiles.JpegSegments(big).First(s => s.Marker == 0xC0);
        BinaryPrimitives.WriteUInt16BigEndian(big.AsSpan(sof.At + 5), 4000);
        BinaryPrimitives.WriteUInt16BigEndian(big.AsSpan(sof.At + 7), 4000);
        Assert.Null(Fast(big));
    }

    [Fact]
    public void OnDamagedFilesItEitherDeclinesOrAgreesWithTheGeneralPath()
    {
        var seeds = new[] { ImageFiles.Stb("jpg", 28, 28, 1, 90), ImageFiles.Stb("jpg", 19, 13, 3, 90), ImageFiles.Stb("jpg", 16, 8, 3, 100) };
        var rng = new Random(12);
        int taken = 0;
        for (int m = 0; m < 1500; m++)
        {
            var b = seeds[m % seeds.Length].ToList();
            for (int e = 1 + rng.Next(3); e > 0 && b.Count > 0; e--)
            {
                int at = rng.Next(b.Count);
                switch (rng.Next(4))
                {
                    case 0: b[at] = (byte)rng.Next(256); break;
                    case 1: b[at] ^= (byte)(1 << rng.Next(8)); break;
                    case 2: b.RemoveAt(at); break;
                    default: b.RemoveRange(at, b.Count - at); break;
                }
            }
            var bytes = b.ToArray();
            var fast = Fast(bytes);
            if (fast is null) continue;
            taken++;
            AssertSame(General(bytes), fast, $"mutant {m}");
            AssertGraySame(bytes, $"mutant {m}");
        }
        // Most changes to entropy-coded data still decode, so the comparison above is not empty.
        Assert.True(taken > 100, $"only {taken} damaged files were decoded");
    }
}
