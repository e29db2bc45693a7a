using System.Globalization;
using Fovea.Vision.Imaging;
using static Fovea.Cli.Tests.CliRunner;

namespace Fovea.Cli.Tests;

/// <summary>What pyramids are for, from the command line: denoise, compress, match --scales and steer --order 2.</summary>
public sealed class PyramidUseCommandTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"fovea-cli-{Guid.NewGuid():N}");

    public PyramidUseCommandTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static void AssertUsageError((int Code, string Out, string Err) r, string contains)
    {
        Assert.Equal(2, r.Code);
        Assert.Single(r.Err.TrimEnd().Split('\n'));
        Assert.Contains(contains, r.Err);
    }

    private string P(string name) => Path.Combine(_dir, name);

    private static double Number(string output, string label) =>
        double.Parse(output.Split('\n').Single(l => l.StartsWith(label, StringComparison.Ordinal))[label.Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);

    private string Crop(string name, int x, int y, int w, int h, string file)
    {
        var img = ImageIO.Load(RepoPaths.Image(name)).ToTensor();
        ImageIO.SavePng(P(file), ImagePlanes.FromTensor(img.Narrow(1, y, h).Narrow(2, x, w).Contiguous()));
        return P(file);
    }

    [Fact]
    public void Denoise_AddsNoiseAndPrintsThePsnrBeforeAndAfter()
    {
        var r = Run("denoise", RepoPaths.Image("coins.png"), "--add-noise", "20", "--seed", "3", "-o", P("d.png"), "--noisy-out", P("n.png"));
        Assert.Equal(0, r.Code);
        double before = Number(r.Out, "PSNR noisy"), after = Number(r.Out, "PSNR denoised");
        Assert.InRange(before, 21.5, 22.7); // 20·log10(255/20) = 22.1 dB
        Assert.True(after > before + 2, r.Out);
        var written = ImageIO.Load(P("d.png"));
        Assert.Equal((384, 303, 1), (written.Width, written.Height, written.Channels));
        Assert.True(File.Exists(P("n.png")));

        // The same noisy file given as the input with the clean image: the noisy PSNR is now of the 8-bit noisy file.
        var again = Run("denoise", P("n.png"), "--sigma", "20", "--clean", RepoPaths.Image("coins.png"), "-o", P("d2.png"), "--coring", "soft");
        Assert.Equal(0, again.Code);
        Assert.True(Number(again.Out, "PSNR denoised") > Number(again.Out, "PSNR noisy") + 2, again.Out);
        Assert.Contains("soft coring", again.Out);
    }

    [Fact]
    public void Denoise_MistakesAreUsageErrors()
    {
        string img = RepoPaths.Image("coins.png");
        AssertUsageError(Run("denoise", img, "-o", P("x.png")), "--sigma is required");
        AssertUsageError(Run("denoise", img, "--sigma", "10"), "-o is required");
        AssertUsageError(Run("denoise", img, "--add-noise", "10", "--clean", img, "-o", P("x.png")), "not both");
        AssertUsageError(Run("denoise", img, "--sigma", "10", "--seed", "4", "-o", P("x.png")), "--seed only applies");
        AssertUsageError(Run("denoise", img, "--sigma", "-1", "-o", P("x.png")), "--sigma");
        AssertUsageError(Run("denoise", img, "--sigma", "5", "--coring", "medium", "-o", P("x.png")), "coring");
        var wrongSize = Run("denoise", img, "--sigma", "5", "--clean", RepoPaths.Image("horse.png"), "-o", P("x.png"));
        Assert.Equal(1, wrongSize.Code);
        Assert.Contains("does not match", wrongSize.Err);
        Assert.False(File.Exists(P("x.png")));
    }

    [Fact]
    public void Compress_PrintsBitsAndPsnrFallingWithTheStepAndWritesTheDecodedImage()
    {
        string img = Crop("chelsea.png", 100, 50, 160, 120, "cat.png");
        var r = Run("compress", img, "--steps", "2,8,32", "-o", P("dec.png"), "--decode-step", "8");
        Assert.Equal(0, r.Code);
        var rows = r.Out.Split('\n').Select(l => l.Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(p => p.Length == 3 && double.TryParse(p[0], CultureInfo.InvariantCulture, out _))
            .Select(p => p.Select(v => double.Parse(v, CultureInfo.InvariantCulture)).ToArray()).ToArray();
        Assert.Equal([2.0, 8, 32], rows.Select(row => row[0]));
        for (int i = 1; i < rows.Length; i++)
        {
            Assert.True(rows[i][1] < rows[i - 1][1], r.Out); // bits/pixel
            Assert.True(rows[i][2] < rows[i - 1][2], r.Out); // PSNR
        }
        var decoded = ImageIO.Load(P("dec.png"));
        Assert.Equal((160, 120, 3), (decoded.Width, decoded.Height, decoded.Channels));
        Assert.Contains("step 8", r.Out);
        AssertUsageError(Run("compress", img, "--steps", "2,x"), "--steps");
        AssertUsageError(Run("compress", img, "--steps", string.Join(",", Enumerable.Range(1, 65))), "at most 64");
        AssertUsageError(Run("compress", img, "--decode-step", "3", "-o", P("y.png")), "not one of --steps");
        AssertUsageError(Run("compress", img, "--allocation", "fancy"), "allocation");
    }

    [Fact]
    public void Match_WithScalesFindsAHalfSizeTemplateAndReportsTheScale()
    {
        var gray = Grayscale.ToGray(ImageIO.Load(RepoPaths.Image("chelsea.png"))).ToTensor();
        var cut = gray.Narrow(1, 80, 48).Narrow(2, 210, 48).Contiguous();
        var half = Fovea.NN.Functional.Interpolate(cut, new Fovea.NN.Size2d(24, 24), mode: Fovea.NN.InterpolationMode.Bilinear, alignCorners: false);
        ImageIO.SavePng(P("half.png"), ImagePlanes.FromTensor(half));
        var r = Run("match", RepoPaths.Image("chelsea.png"), P("half.png"), "--scales", "3");
        Assert.Equal(0, r.Code);
        var best = r.Out.TrimEnd().Split('\n')[0].Split(' ').Select(v => double.Parse(v, CultureInfo.InvariantCulture)).ToArray();
        Assert.InRange(best[0], 208, 212);
        Assert.InRange(best[1], 78, 82);
        Assert.Equal(2, best[3]);
        AssertUsageError(Run("match", RepoPaths.Image("chelsea.png"), P("half.png"), "--scales", "2", "--map", P("m.png")), "--map");
        AssertUsageError(Run("match", RepoPaths.Image("chelsea.png"), P("half.png"), "--scales", "2", "--method", "sqdiff"), "normalised");
        AssertUsageError(Run("match", RepoPaths.Image("chelsea.png"), P("half.png"), "--scales", "0"), "--scales");
    }

    [Fact]
    public void Steer_OrderTwoWritesTheLineResponse()
    {
        string img = Crop("coins.png", 100, 40, 96, 64, "c.png");
        var r = Run("steer", img, "--angle", "30", "--order", "2", "-o", P("g2.png"));
        Assert.Equal(0, r.Code);
        Assert.Contains("order 2", r.Out);
        var a = ImageIO.Load(P("g2.png"));
        Assert.Equal((96, 64), (a.Width, a.Height));
        // The second derivative is even: 30° and 210° give the same picture (order 1 would negate it).
        Assert.Equal(0, Run("steer", img, "--angle", "210", "--order", "2", "-o", P("g2b.png")).Code);
        var b = ImageIO.Load(P("g2b.png"));
        Assert.True(a.Data.Zip(b.Data, (x, y) => Math.Abs(x - y)).Max() <= 1.5 / 255);
        AssertUsageError(Run("steer", img, "--angle", "30", "--order", "3", "-o", P("g3.png")), "--order");
    }
}
