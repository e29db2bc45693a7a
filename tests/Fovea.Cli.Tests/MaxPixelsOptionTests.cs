using System.Globalization;
using Fovea.Vision.Imaging;

namespace Fovea.Cli.Tests;

/// <summary><c>--max-pixels</c>: sets the image loader's pixel cap for the command; a bad value is a usage error.</summary>
[Collection(nameof(GlobalThreads))]
public sealed class MaxPixelsOptionTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"fovea-cli-pixels-{Guid.NewGuid():N}");

    public MaxPixelsOptionTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static (int Code, string Err) Run(params string[] args)
    {
        long before = ImageIO.MaxPixels;
        try
        {
            var e = new StringWriter();
            int code = CommandLine.Run(args, new StringWriter(), e);
            return (code, e.ToString());
        }
        finally { ImageIO.MaxPixels = before; }
    }

    [Fact]
    public void TheCap_AppliesToTheImagesACommandReads()
    {
        var rng = new Random(11);
        for (int i = 0; i < 4; i++)
        {
            int w = rng.Next(2, 40), h = rng.Next(2, 40);
            string image = Path.Combine(_dir, $"img{i}.png");
            ImageIO.SavePng(image, ImagePlanes.FromTensor(Tensor.Rand([1, h, w], new Generator((ulong)i))));
            string pixels = (w * h).ToString(CultureInfo.InvariantCulture), fewer = (w * h - 1).ToString(CultureInfo.InvariantCulture);
            Assert.Equal(0, Run("--max-pixels", pixels, "steer", image, "--angle", "30", "-o", Path.Combine(_dir, $"ok{i}.png")).Code);
            var (code, err) = Run("steer", image, "--angle", "30", "--max-pixels", fewer, "-o", Path.Combine(_dir, $"no{i}.png"));
            Assert.Equal(1, code);
            Assert.Single(err.TrimEnd().Split('\n'));
            Assert.Contains($"above the limit of {fewer}", err);
            Assert.Contains(image, err);
        }
        Assert.Equal(ImageIO.DefaultMaxPixels, ImageIO.MaxPixels);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("-5")]
    [InlineData("lots")]
    [InlineData("1e6")]
    [InlineData("99999999999999999999")]
    public void BadValues_AreUsageErrors(string value)
    {
        var (code, err) = Run("--max-pixels", value, "demo");
        Assert.Equal(2, code);
        Assert.Equal($"fovea: --max-pixels needs an integer from 1 to {ImageIO.MaxPixelsLimit}, got '{value}'", err.TrimEnd());
        (code, _) = Run("--max-pixels", (ImageIO.MaxPixelsLimit + 1).ToString(CultureInfo.InvariantCulture), "demo");
        Assert.Equal(2, code);
        (code, err) = Run("graph", "--max-pixels");
        Assert.Equal(2, code);
        Assert.Contains("--max-pixels needs a value", err);
    }
}
