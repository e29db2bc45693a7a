using Fovea.Vision.Imaging;
using Fovea.Vision.Tests.Oracle;
using StbImageWriteSharp;

namespace Fovea.Vision.Tests.Imaging;

public sealed class ImageIOTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fovea-imageio-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    internal static string DataPath(string name) => Path.Combine(AppContext.BaseDirectory, "Data", name);

    public static TheoryData<string> PngNames()
    {
        var d = new TheoryData<string>();
        foreach (var p in OpenCvCases.Pngs) d.Add(p.Name);
        return d;
    }

    [Theory]
    [MemberData(nameof(PngNames))]
    public void LoadsPngWithItsOwnChannelsAndMatchesOpenCv(string name)
    {
        var (_, c, h, w) = OpenCvCases.Pngs.Single(p => p.Name == name);
        var img = ImageIO.Load(DataPath(name));
        Assert.Equal((c, h, w), (img.Channels, img.Height, img.Width));
        // OpenCV's decoding as 8-bit values, planar R, G, B(, A) like ours.
        var decoded = OpenCvFixture.Get(OpenCvCases.PngKey(name));
        Assert.Equal([c, h, w], decoded.Shape);
        for (int k = 0; k < decoded.Indices.Length; k++)
            Assert.Equal(decoded.Values[k] / 255f, img.Data[decoded.Indices[k]]);
    }

    [Fact]
    public void ConvertsChannelsOnRequest()
    {
        Assert.Equal(3, ImageIO.Load(DataPath("coins.png"), ImageChannels.Rgb).Channels);
        Assert.Equal(1, ImageIO.Load(DataPath("chelsea.png"), ImageChannels.Gray).Channels);
        Assert.Equal(4, ImageIO.Load(DataPath("chelsea.png"), ImageChannels.Rgba).Channels);
    }

    [Fact]
    public void GrayEqualsOpenCvBt601OnFloatInput()
    {
        var rgb = ImageIO.Load(DataPath("chelsea.png"));
        var gray = Grayscale.ToGray(rgb);
        OpenCvFixture.AssertClose(OpenCvCases.GrayKey, [gray.Height, gray.Width], gray.Plane(0), 1e-6);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public void PngRoundTripIsExactOn8BitLevels(int channels)
    {
        var img = ImagePlanes.Zeros(channels, 13, 17);
        var rng = new Random(channels);
        for (int i = 0; i < img.Data.Length; i++) img.Data[i] = rng.Next(256) / 255f;
        string path = Path.Combine(_dir, $"rt{channels}.png");
        ImageIO.SavePng(path, img);
        var back = ImageIO.Load(path);
        Assert.Equal(img.Data, back.Data);
        Assert.Empty(Directory.GetFiles(_dir, "*.tmp"));
    }

    [Fact]
    public void SaveClampsAndOverwrites()
    {
        string path = Path.Combine(_dir, "c.png");
        File.WriteAllText(path, "old");
        ImageIO.SavePng(path, new ImagePlanes([-1f, 2f, float.NaN, 0.5f], 1, 2, 2));
        Assert.Equal(new[] { 0f, 1f, 0f, 128 / 255f }, ImageIO.Load(path).Data);
    }

    [Theory]
    [InlineData("bmp")]
    [InlineData("tga")]
    [InlineData("jpg")]
    public void LoadsBmpTgaAndJpeg(string ext)
    {
        var rgb = ImageIO.Load(DataPath("chelsea.png"));
        string path = WriteWithStb(rgb, ext);
        var back = ImageIO.Load(path);
        Assert.Equal((3, rgb.Height, rgb.Width), (back.Channels, back.Height, back.Width));
        double tol = ext == "jpg" ? 0.25 : 0; // lossy
        for (int i = 0; i < back.Data.Length; i += 101) Assert.InRange(back.Data[i] - rgb.Data[i], -tol, tol);
    }

    [Fact]
    public void MissingFileNamesTheFile()
    {
        string path = Path.Combine(_dir, "nope.png");
        var e = Assert.Throws<FileNotFoundException>(() => ImageIO.Load(path));
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void NonImageNamesTheFileAndReason()
    {
        string path = Path.Combine(_dir, "notes.png");
        File.WriteAllText(path, "this is plain text, not pixels");
        var e = Assert.Throws<InvalidDataException>(() => ImageIO.Load(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("unsupported image format", e.Message);
        string empty = Path.Combine(_dir, "empty.png");
        File.WriteAllBytes(empty, []);
        Assert.Contains("empty", Assert.Throws<InvalidDataException>(() => ImageIO.Load(empty)).Message);
    }

    [Theory]
    [InlineData("png")]
    [InlineData("jpg")]
    [InlineData("bmp")]
    public void TruncatedFileNamesTheFileAndByte(string ext)
    {
        string full = ext == "png" ? DataPath("coins.png") : WriteWithStb(ImageIO.Load(DataPath("coins.png")), ext);
        byte[] bytes = File.ReadAllBytes(full);
        string cut = Path.Combine(_dir, "cut." + ext);
        File.WriteAllBytes(cut, bytes.AsSpan(0, bytes.Length * 2 / 3).ToArray());
        var e = Assert.Throws<InvalidDataException>(() => ImageIO.Load(cut));
        Assert.Contains(cut, e.Message);
        Assert.Contains($"truncated at byte {bytes.Length * 2 / 3}", e.Message);
    }

    private string WriteWithStb(ImagePlanes img, string ext)
    {
        int c = img.Channels, n = img.PlaneLength;
        var bytes = new byte[c * n];
        for (int ch = 0; ch < c; ch++) for (int i = 0; i < n; i++) bytes[i * c + ch] = (byte)Math.Round(img.Plane(ch)[i] * 255);
        var comps = c == 1 ? ColorComponents.Grey : ColorComponents.RedGreenBlue;
        string path = Path.Combine(_dir, $"img{c}.{ext}");
        using var s = File.Create(path);
        var w = new ImageWriter();
        switch (ext)
        {
            case "bmp": w.WriteBmp(bytes, img.Width, img.Height, comps, s); break;
            case "tga": w.WriteTga(bytes, img.Width, img.Height, comps, s); break;
            default: w.WriteJpg(bytes, img.Width, img.Height, comps, s, 95); break;
        }
        return path;
    }
}
