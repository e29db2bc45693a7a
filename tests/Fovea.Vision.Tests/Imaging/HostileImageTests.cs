using System.Buffers.Binary;
using System.IO.Compression;
using Fovea.Vision.Imaging;
using StbImageSharp;
using static Fovea.Vision.Tests.Imaging.ImageFiles;

namespace Fovea.Vision.Tests.Imaging;

/// <summary>
/// Generators for each class of hostile image file: each takes a valid seed (written at test time, or the committed
/// progressive JPEG) and breaks it one way, and the load must be refused quickly, naming the file, without a large
/// allocation.
/// </summary>
public sealed class HostileImageTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fovea-hostile-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Write(string name, byte[] bytes)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    /// <summary>The JPEG seeds: 4:4:4 colour (quality 95), 4:2:0 colour (quality 50), grey, and the committed progressive file.</summary>
    public static TheoryData<string> JpegSeeds => new() { "q95", "q50", "gray", "progressive" };

    private static byte[] JpegSeed(string kind) => kind switch
    {
        "q95" => Stb("jpg", 93, 61, 3, 95),
        "q50" => Stb("jpg", 93, 61, 3, 50),
        "gray" => Stb("jpg", 93, 61, 1, 90),
        _ => File.ReadAllBytes(ImageIOTests.DataPath("chelsea-progressive.jpg")),
    };

    [Theory]
    [MemberData(nameof(JpegSeeds))]
    public void JpegSeedsLoad(string kind)
    {
        var (image, error, _) = Load(Write($"{kind}.jpg", JpegSeed(kind)));
        Assert.Null(error);
        Assert.NotNull(image);
    }

    [Fact]
    public void ProgressiveJpegMatchesItsSourceImage()
    {
        // The committed file is chelsea.png at half size; its pixels must be close to a half-size box filter of it.
        var full = ImageIO.Load(ImageIOTests.DataPath("chelsea.png"));
        var half = ImageIO.Load(ImageIOTests.DataPath("chelsea-progressive.jpg"));
        Assert.Equal((3, (full.Height + 1) / 2, (full.Width + 1) / 2), (half.Channels, half.Height, half.Width));
        double sum = 0;
        int n = 0;
        for (int c = 0; c < 3; c++)
            for (int y = 0; y + 1 < half.Height; y++)
                for (int x = 0; x + 1 < half.Width; x++)
                {
                    float box = 0;
                    for (int dy = 0; dy < 2; dy++) for (int dx = 0; dx < 2; dx++) box += full.Plane(c)[(2 * y + dy) * full.Width + 2 * x + dx] / 4;
                    sum += Math.Abs(box - half.Plane(c)[y * half.Width + x]);
                    n++;
                }
        Assert.InRange(sum / n, 0, 0.05);
    }

    [Theory]
    [MemberData(nameof(JpegSeeds))]
    public void JpegApp0LengthPastTheEndIsRefusedNotAHang(string kind)
    {
        var bytes = JpegSeed(kind);
        Assert.Equal(0xE0, bytes[3]); // every seed starts with an APP0 (JFIF) segment
        bytes[4] = 0x7F;
        bytes[5] = 0x10;
        AssertRefused(Write("app0.jpg", bytes), "segment 0xFFE0 at byte 2 declares 32528 bytes, past the end of the file");
    }

    [Fact]
    public void DecoderInputSeesTheEndAfterASkipPastIt()
    {
        // The guard at the decoder's input on its own: with the pre-check bypassed, stb_image reading the mutated
        // JPEG through the clamped stream must end (it fails), where over a MemoryStream it spins forever.
        var bytes = JpegSeed("q95");
        bytes[4] = 0x7F;
        bytes[5] = 0x10;
        Exception? error = null;
        WithDeadline(() => error = Record.Exception(() => ImageResult.FromStream(new ClampedReadStream(bytes))), 5, "decoding a segment length past the end");
        Assert.IsType<InvalidOperationException>(error);
        var stream = new ClampedReadStream(bytes);
        Assert.Equal(bytes.Length, stream.Seek(1 << 20, SeekOrigin.Current));
        Assert.Equal(0, stream.Seek(-(1L << 40), SeekOrigin.End));
        Assert.Equal(bytes.Length, stream.Seek(long.MaxValue, SeekOrigin.End));
    }

    [Theory]
    [MemberData(nameof(JpegSeeds))]
    public void EveryJpegSegmentLengthPastTheEndIsRefused(string kind)
    {
        var seed = JpegSeed(kind);
        int tried = 0;
        foreach (var (at, marker, length, _) in JpegSegments(seed))
        {
            if (length == 0) continue;
            foreach (int past in new[] { seed.Length - at - 2 + 1, 0xFFFF })
            {
                if (past > 0xFFFF || past <= length) continue;
                var bytes = (byte[])seed.Clone();
                BinaryPrimitives.WriteUInt16BigEndian(bytes.AsSpan(at + 2), (ushort)past);
                AssertRefused(Write($"len-{at}-{past}.jpg", bytes), $"segment 0xFF{marker:X2} at byte {at} declares {past} bytes, past the end");
                tried++;
            }
        }
        Assert.True(tried >= 6, $"only {tried} segments were mutated");
    }

    [Theory]
    [MemberData(nameof(JpegSeeds))]
    public void JpegCutInsideAScanWithAnEndMarkerAppendedIsRefused(string kind)
    {
        var seed = JpegSeed(kind);
        var scans = JpegSegments(seed).Where(s => s.Marker == 0xDA).ToList();
        Assert.NotEmpty(scans);
        foreach (var (at, _, length, dataEnd) in scans)
        {
            int dataStart = at + 2 + length;
            foreach (double fraction in new[] { 0.02, 0.3, 0.6, 0.85 })
            {
                int cut = dataStart + (int)((dataEnd - dataStart) * fraction);
                if (cut == dataStart && dataEnd - dataStart > 1) cut++;
                var bytes = seed.AsSpan(0, cut).ToArray().Concat(new byte[] { 0xFF, 0xD9 }).ToArray();
                var e = AssertRefused(Write($"cut-{cut}.jpg", bytes), $"scan at byte {at}");
                Assert.Matches("cut short|truncated|damaged", e.Message);
            }
        }
    }

    [Fact]
    public void ProgressiveJpegCutBetweenScansIsRefused()
    {
        var seed = JpegSeed("progressive");
        var scans = JpegSegments(seed).Where(s => s.Marker == 0xDA).ToList();
        Assert.True(scans.Count >= 4, $"the progressive seed has {scans.Count} scans");
        foreach (var (at, _, _, dataEnd) in scans)
        {
            // Every scan ends at a marker; keep the scans up to this one and end the file there.
            if (dataEnd + 2 >= seed.Length) continue;
            var bytes = seed.AsSpan(0, dataEnd).ToArray();
            AssertRefused(Write($"scans-to-{at}.jpg", bytes.Concat(new byte[] { 0xFF, 0xD9 }).ToArray()), "the file is cut or damaged");
            AssertRefused(Write($"scans-to-{at}-no-end.jpg", bytes), "without an end-of-image marker");
        }
    }

    [Theory]
    [MemberData(nameof(JpegSeeds))]
    public void CompleteJpegWithoutItsEndMarkerLoadsUnlessProgressive(string kind)
    {
        // Some writers omit the end-of-image marker. A sequential image whose scans are whole is whole; the decoder
        // would return a progressive one without its final assembly (garbage), so that is refused.
        var seed = JpegSeed(kind);
        Assert.Equal((0xFF, 0xD9), (seed[^2], seed[^1]));
        string path = Write("no-end.jpg", seed.AsSpan(0, seed.Length - 2).ToArray());
        if (kind == "progressive")
        {
            AssertRefused(path, "truncated at byte");
            return;
        }
        var whole = Load(Write("whole.jpg", seed)).Image!;
        var (image, error, _) = Load(path);
        Assert.Null(error);
        Assert.Equal(whole.Data, image!.Data);
    }

    [Fact]
    public void SequentialJpegMissingAComponentScanIsRefused()
    {
        // Make the colour seed's single interleaved scan name only its first component: the decoder would leave
        // the other two planes empty.
        var seed = JpegSeed("q95");
        var sos = JpegSegments(seed).First(s => s.Marker == 0xDA);
        var bytes = new List<byte>(seed.AsSpan(0, sos.At).ToArray()) { 0xFF, 0xDA, 0, 8, 1, seed[sos.At + 5], seed[sos.At + 6], 0, 63, 0 };
        bytes.AddRange(seed.AsSpan(sos.At + 2 + sos.Length).ToArray());
        AssertRefused(Write("one-component.jpg", bytes.ToArray()), "JPEG");
    }

    [Theory]
    [InlineData(0xC3)] // lossless
    [InlineData(0xC9)] // arithmetic coding
    [InlineData(0xCC)] // arithmetic conditioning
    [InlineData(0xF0)] // JPG extension
    public void UnsupportedJpegMarkersAreRefused(int marker)
    {
        var seed = JpegSeed("q95");
        seed[3] = (byte)marker; // the APP0 segment becomes this marker with the same length
        AssertRefused(Write($"marker-{marker:X2}.jpg", seed), $"0xFF{marker:X2} at byte 2");
    }

    public static TheoryData<string> HugeHeaders => new() { "png", "jpg", "progressive-jpg", "bmp", "tga", "tga-rle", "gif" };

    /// <summary>A header of a few dozen bytes declaring <paramref name="side"/> x <paramref name="side"/> pixels.</summary>
    private static byte[] HugeHeader(string format, int side)
    {
        switch (format)
        {
            case "png":
                return Png((uint)side, (uint)side, 8, 2, ZlibZeros(1, 64));
            case "jpg" or "progressive-jpg":
                var jpeg = new List<byte> { 0xFF, 0xD8, 0xFF, format == "jpg" ? (byte)0xC0 : (byte)0xC2, 0, 17, 8, (byte)(side >> 8), (byte)side, (byte)(side >> 8), (byte)side, 3 };
                for (int c = 1; c <= 3; c++) jpeg.AddRange(new byte[] { (byte)c, 0x11, 0 });
                jpeg.AddRange(new byte[] { 0xFF, 0xD9 });
                return jpeg.ToArray();
            case "bmp":
                return BmpHeader(side, side);
            case "tga" or "tga-rle":
                var tga = new byte[18 + 4096];
                TgaHeader(tga, format == "tga" ? 2 : 10, side, side);
                return tga;
            default:
                var gif = "GIF89a"u8.ToArray().Concat(new byte[] { (byte)side, (byte)(side >> 8), (byte)side, (byte)(side >> 8), 0, 0, 0, 0x3B }).ToArray();
                return gif;
        }
    }

    [Theory]
    [MemberData(nameof(HugeHeaders))]
    public void TinyFileDeclaringAHugeImageIsRefusedBeforeAllocating(string format)
    {
        string path = Write($"huge.{format}", HugeHeader(format, 30000));
        // With the default cap the header alone is enough to refuse.
        AssertRefused(path, format == "gif" ? "unsupported image format (GIF" : "above the limit");
        // Raised to the largest cap, the file still cannot hold the data it declares (20000 x 20000 fits the cap).
        string within = Write($"huge-within-cap.{format}", HugeHeader(format, 20000));
        var e = AssertRefused(within, maxPixels: ImageIO.MaxPixelsLimit);
        Assert.DoesNotContain("above the limit", e.Message);
    }

    [Fact]
    public void ValidPngAboveTheCapIsRefusedAtItsHeader()
    {
        // A genuine 20000 x 20000 one-bit PNG (about 50 KB): decoding it would take gigabytes.
        string path = Write("big.png", Png(20000, 20000, 1, 0, ZlibZeros(20000, 1 + 2500)));
        AssertRefused(path, "20000x20000 = 400000000 pixels, above the limit of 67108864");
    }

    [Fact]
    public void PngDeflateBombIsRefused()
    {
        // 16 x 16 grey needs 16 x 17 inflated bytes; this stream inflates to 64 MB.
        string path = Write("bomb.png", Png(16, 16, 8, 0, ZlibZeros(1024, 65536)));
        AssertRefused(path, "inflates past the 272 bytes", maxAllocated: 2 << 20);
    }

    [Fact]
    public void PngWithShortImageDataIsRefused()
    {
        // 64 x 64 grey needs 64 x 65 bytes, the stream holds 20 rows: a cut file with its IEND put back.
        AssertRefused(Write("short.png", Png(64, 64, 8, 0, ZlibZeros(20, 65))), "ends after 1300 of the 4160 bytes");
        // A zlib stream cut in the middle.
        var idat = ZlibZeros(64, 65);
        AssertRefused(Write("cut-idat.png", Png(64, 64, 8, 0, idat.AsSpan(0, idat.Length / 2).ToArray())), "PNG image data");
    }

    [Theory]
    [InlineData(20000u, 20000u, "above the limit")]
    [InlineData(0u, 10u, "invalid size")]
    [InlineData(0x80000000u, 1u, "invalid size")]
    public void PngHeaderSizesAreChecked(uint width, uint height, string reason)
    {
        AssertRefused(Write("ihdr.png", Png(width, height, 8, 6, ZlibZeros(1, 16))), reason);
    }

    [Theory]
    [InlineData(1u)]
    [InlineData(2u)]
    [InlineData(4u)]
    [InlineData(5u)]
    [InlineData(6u)]
    [InlineData(7u)]
    [InlineData(0x80000000u)]
    [InlineData(0xFFFFFFFFu)]
    public void BmpWithAnUnknownCompressionIsRefused(uint compression)
    {
        AssertRefused(Write("compression.bmp", BmpHeader(20000, 20000, 24, compression)), "unsupported BMP compression", maxPixels: ImageIO.MaxPixelsLimit);
        var seed = Stb("bmp", 40, 30, 3);
        BinaryPrimitives.WriteUInt32LittleEndian(seed.AsSpan(30), compression);
        AssertRefused(Write("seed-compression.bmp", seed), "unsupported BMP compression");
    }

    [Fact]
    public void BmpAndTgaCutShortAreRefused()
    {
        foreach (var (name, seed) in new[] { ("cut.bmp", Stb("bmp", 40, 30, 3)), ("cut.tga", RawTga(40, 30)), ("cut-rle.tga", Stb("tga", 40, 30, 3)) })
        {
            Assert.Null(Load(Write("whole-" + name, seed)).Error);
            foreach (double fraction in new[] { 0.2, 0.5, 0.95 })
                AssertRefused(Write(name, seed.AsSpan(0, (int)(seed.Length * fraction)).ToArray()), "truncated at byte");
        }
    }

    [Theory]
    [InlineData("GIF89a", "GIF")]
    [InlineData("GIF87a", "GIF")]
    [InlineData("8BPS", "Photoshop PSD")]
    [InlineData("#?RADIANCE\n", "Radiance HDR")]
    [InlineData("P6\n4 4\n255\n", "PNM")]
    [InlineData("P5\n4 4\n255\n", "PNM")]
    [InlineData("\u0053\u0080\u00F6\u0034", "Softimage PIC")]
    public void OtherFormatsAreRefusedAsUnsupported(string start, string format)
    {
        var bytes = start.Select(c => (byte)c).Concat(new byte[200]).ToArray();
        AssertRefused(Write("other.img", bytes), $"unsupported image format ({format}");
    }

    [Fact]
    public void ThePixelCapIsAParameter()
    {
        string path = Write("cap.png", Stb("png", 40, 30, 3));
        Assert.Equal(30, ImageIO.Load(path, ImageChannels.Source, 40 * 30).Height);
        AssertRefused(path, "40x30 = 1200 pixels, above the limit of 1199", maxPixels: 40 * 30 - 1);
        foreach (long bad in new[] { 0, -1, ImageIO.MaxPixelsLimit + 1 })
            Assert.Throws<ArgumentOutOfRangeException>(() => ImageIO.Load(path, ImageChannels.Source, bad));
    }

    public static TheoryData<string> AllSeeds => new() { "png", "jpg", "progressive-jpg", "bmp", "tga", "tga-rle" };

    private static byte[] Seed(string kind) => kind switch
    {
        "png" => Stb("png", 61, 47, 4),
        "jpg" => JpegSeed("q50"),
        "progressive-jpg" => JpegSeed("progressive"),
        "bmp" => Stb("bmp", 61, 47, 3),
        "tga" => RawTga(61, 47),
        _ => Stb("tga", 61, 47, 3),
    };

    [Theory]
    [MemberData(nameof(AllSeeds))]
    public void RandomDamageEndsFastWithTheDocumentedError(string kind)
    {
        // A seeded smoke test of the same contract the fuzz project checks at scale: every damaged file either
        // loads or is refused with InvalidDataException naming it, within 2 s. The cause must be a refusal by the
        // checks or the decoder's own failure, never an index, null or overflow error inside either.
        var seed = Seed(kind);
        var rng = new Random(kind.GetHashCode(StringComparison.Ordinal) & 0xFFFF);
        string path = Path.Combine(_dir, "damaged." + kind);
        for (int round = 0; round < 150; round++)
        {
            var bytes = (byte[])seed.Clone();
            int edits = 1 + rng.Next(4);
            for (int i = 0; i < edits; i++)
            {
                int at = rng.Next(bytes.Length);
                bytes[at] = rng.Next(3) switch { 0 => (byte)rng.Next(256), 1 => (byte)(bytes[at] ^ (1 << rng.Next(8))), _ => 0xFF };
            }
            if (rng.Next(4) == 0) bytes = bytes.AsSpan(0, rng.Next(1, bytes.Length)).ToArray();
            File.WriteAllBytes(path, bytes);
            var (_, error, _) = Load(path, seconds: 2);
            if (error != null)
            {
                Assert.True(error is InvalidDataException { InnerException: null or InvalidDataException or InvalidOperationException }, $"round {round}: {error.GetType().Name}: {error.Message}");
                Assert.Contains(path, error.Message);
            }
        }
    }

    [Fact]
    public void LoadingAllocatesASmallMultipleOfTheImage()
    {
        // Managed allocation while loading valid images: the float planes, the decoder's 8-bit result, the file, and
        // the decoder's read buffer (twice the largest read, i.e. up to twice the file). Its working buffers are
        // native and freed before the load returns.
        foreach (var (name, bytes) in new[] { ("m.png", Stb("png", 640, 480, 3)), ("m.jpg", Stb("jpg", 640, 480, 3, 90)), ("m.bmp", Stb("bmp", 640, 480, 3)) })
        {
            var (image, error, allocated) = Load(Write(name, bytes));
            Assert.Null(error);
            long decoded = image!.Data.Length * sizeof(float);
            Assert.True(allocated <= 2 * decoded + 3 * bytes.Length, $"{name}: loading allocated {allocated} bytes for a {decoded}-byte image");
        }
    }
}
