using Fovea.Vision;
using Fovea.Vision.Imaging;
using static Fovea.Cli.Tests.CliRunner;

namespace Fovea.Cli.Tests;

/// <summary>The pyramid, blend, steer and match commands: outputs on disk, printed results, and one-line errors.</summary>
public sealed class VisionCommandTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"fovea-cli-{Guid.NewGuid():N}");

    public VisionCommandTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static void AssertOneLineError((int Code, string Out, string Err) r, string contains)
    {
        Assert.NotEqual(0, r.Code);
        Assert.Single(r.Err.TrimEnd().Split('\n'));
        Assert.Contains(contains, r.Err);
    }

    private string P(string name) => Path.Combine(_dir, name);

    // A small crop of coins.png keeps the commands fast.
    private string SmallCoins(int w = 96, int h = 64, int x0 = 100, int y0 = 40)
    {
        var img = ImageIO.Load(RepoPaths.Image("coins.png"));
        var crop = ImagePlanes.FromTensor(img.ToTensor().Narrow(1, y0, h).Narrow(2, x0, w).Contiguous());
        string path = P($"coins_{x0}_{y0}_{w}x{h}.png");
        ImageIO.SavePng(path, crop);
        return path;
    }

    private void AssertNoTempFiles() => Assert.Empty(Directory.GetFiles(_dir, "*.tmp*", SearchOption.AllDirectories));

    [Fact]
    public void Pyramid_Laplacian_WritesEveryLevelAndAMosaic()
    {
        string outDir = P("lap");
        var r = Run("pyramid", SmallCoins(), "--kind", "laplacian", "--levels", "3", "--out", outDir);
        Assert.Equal(0, r.Code);
        var l0 = ImageIO.Load(Path.Combine(outDir, "level0.png"));
        var l1 = ImageIO.Load(Path.Combine(outDir, "level1.png"));
        var l2 = ImageIO.Load(Path.Combine(outDir, "level2.png"));
        Assert.Equal((96, 64), (l0.Width, l0.Height));
        Assert.Equal((48, 32), (l1.Width, l1.Height));
        Assert.Equal((24, 16), (l2.Width, l2.Height));
        // Bands are shown around mid-gray; the residual is a plain (blurred) image.
        Assert.InRange(l0.Data.Average(), 0.4, 0.6);
        var mosaic = ImageIO.Load(Path.Combine(outDir, "mosaic.png"));
        Assert.Equal((96 + 48, 64), (mosaic.Width, mosaic.Height));
        Assert.Contains("mosaic.png", r.Out);
        AssertNoTempFiles();
    }

    [Fact]
    public void Pyramid_GaussianOfAColourImage_AndSteerable()
    {
        var chelsea = ImageIO.Load(RepoPaths.Image("chelsea.png")).ToTensor().Narrow(1, 0, 40).Narrow(2, 0, 50).Contiguous();
        string src = P("cat.png");
        ImageIO.SavePng(src, ImagePlanes.FromTensor(chelsea));
        var g = Run("pyramid", src, "--kind", "gaussian", "--levels", "2", "--out", P("g"));
        Assert.Equal(0, g.Code);
        var g1 = ImageIO.Load(Path.Combine(P("g"), "level1.png"));
        Assert.Equal((3, 25, 20), (g1.Channels, g1.Width, g1.Height));
        var expected = Pyramids.PyrDown(ImageIO.Load(src).ToTensor());
        double err = g1.Data.Zip(expected.ToArray<float>(), (a, b) => Math.Abs(a - Math.Clamp(b, 0, 1))).Max();
        Assert.True(err <= 0.5 / 255 + 1e-6, $"level 1 differs from PyrDown by {err}");

        var s = Run("pyramid", src, "--kind", "steerable", "--levels", "2", "--orientations", "2", "--out", P("s"));
        Assert.Equal(0, s.Code);
        foreach (var name in new[] { "highpass.png", "band_s0_o0.png", "band_s1_o1.png", "lowpass.png", "mosaic.png" })
            Assert.True(File.Exists(Path.Combine(P("s"), name)), name);
        var band = ImageIO.Load(Path.Combine(P("s"), "band_s1_o0.png"));
        Assert.Equal((25, 20), (band.Width, band.Height));
        var m = ImageIO.Load(Path.Combine(P("s"), "mosaic.png"));
        Assert.Equal((100, 40 + 40 + 20 + 10), (m.Width, m.Height));
        AssertNoTempFiles();
    }

    [Fact]
    public void Blend_WithoutMask_TakesTheLeftHalfFromAAndTheRightFromB()
    {
        string a = SmallCoins(x0: 100), b = SmallCoins(x0: 200);
        string output = P("out/blend.png");
        var r = Run("blend", a, b, "--levels", "4", "-o", output);
        Assert.Equal(0, r.Code);
        var res = ImageIO.Load(output);
        var ia = ImageIO.Load(a);
        var ib = ImageIO.Load(b);
        Assert.Equal((96, 64), (res.Width, res.Height));
        // Far from the seam the result is the source image (the coarsest band spreads the seam over ~16 pixels).
        double left = 0, right = 0;
        for (int y = 0; y < 64; y++)
        {
            left = Math.Max(left, Math.Abs(res.Data[y * 96 + 2] - ia.Data[y * 96 + 2]));
            right = Math.Max(right, Math.Abs(res.Data[y * 96 + 93] - ib.Data[y * 96 + 93]));
        }
        Assert.True(left < 0.08 && right < 0.08, $"left {left}, right {right}");
        // With one level it is a hard cut.
        Assert.Equal(0, Run("blend", a, b, "--levels", "1", "-o", output).Code);
        res = ImageIO.Load(output);
        Assert.Equal(ia.Data[10 * 96 + 47], res.Data[10 * 96 + 47]);
        Assert.Equal(ib.Data[10 * 96 + 48], res.Data[10 * 96 + 48]);
        AssertNoTempFiles();
    }

    [Fact]
    public void Blend_WithAMask_AndItsErrors()
    {
        string a = SmallCoins(x0: 100), b = SmallCoins(x0: 200);
        string mask = P("mask.png");
        ImageIO.SavePng(mask, ImagePlanes.FromTensor(Tensor.Ones(64, 96)));
        Assert.Equal(0, Run("blend", a, b, "--mask", mask, "--levels", "3", "-o", P("m.png")).Code);
        var res = ImageIO.Load(P("m.png"));
        Assert.True(res.Data.Zip(ImageIO.Load(a).Data, (x, y) => Math.Abs(x - y)).Max() <= 1.5 / 255);

        string smallMask = P("small.png");
        ImageIO.SavePng(smallMask, ImagePlanes.FromTensor(Tensor.Ones(10, 10)));
        AssertOneLineError(Run("blend", a, b, "--mask", smallMask, "-o", P("x.png")), "sizes must match");
        AssertOneLineError(Run("blend", a, SmallCoins(w: 50), "-o", P("x.png")), "same size");
        AssertOneLineError(Run("blend", a, b, "--levels", "0", "-o", P("x.png")), "--levels");
        AssertOneLineError(Run("blend", a, P("missing.png"), "-o", P("x.png")), "missing.png");
        Assert.False(File.Exists(P("x.png")));
    }

    [Fact]
    public void Steer_WritesTheOrientedResponse()
    {
        string src = SmallCoins();
        Assert.Equal(0, Run("steer", src, "--angle", "0", "--sigma", "1.5", "-o", P("s0.png")).Code);
        Assert.Equal(0, Run("steer", src, "--angle", "180", "--sigma", "1.5", "-o", P("s180.png")).Code);
        var s0 = ImageIO.Load(P("s0.png"));
        var s180 = ImageIO.Load(P("s180.png"));
        Assert.Equal((96, 64), (s0.Width, s0.Height));
        // 180° is the negated response: mirrored about mid-gray.
        double err = s0.Data.Zip(s180.Data, (x, y) => Math.Abs(x + y - 1)).Max();
        Assert.True(err <= 1.5 / 255, $"{err}");
        Assert.True(s0.Data.Max() - s0.Data.Min() > 0.5);
        var r = Run("steer", src, "-o", P("s.png"));
        Assert.Equal(2, r.Code);
        Assert.Contains("--angle is required", r.Err);
        AssertNoTempFiles();
    }

    [Fact]
    public void Match_PrintsTheBestMatchesAndWritesTheMap()
    {
        var img = ImageIO.Load(RepoPaths.Image("coins.png"));
        string tpl = P("tpl.png");
        ImageIO.SavePng(tpl, ImagePlanes.FromTensor(img.ToTensor().Narrow(1, 70, 20).Narrow(2, 120, 24).Contiguous()));
        var r = Run("match", RepoPaths.Image("coins.png"), tpl, "--top", "3", "--map", P("map.png"));
        Assert.Equal(0, r.Code);
        var lines = r.Out.TrimEnd().Split('\n');
        Assert.Equal(3, lines.Length);
        var first = lines[0].Split(' ');
        Assert.Equal(("120", "70"), (first[0], first[1]));
        Assert.True(double.Parse(first[2], System.Globalization.CultureInfo.InvariantCulture) > 0.9999);
        var map = ImageIO.Load(P("map.png"));
        Assert.Equal((384 - 24 + 1, 303 - 20 + 1), (map.Width, map.Height));

        var sq = Run("match", RepoPaths.Image("coins.png"), tpl, "--method", "sqdiff-normed");
        Assert.Equal(0, sq.Code);
        Assert.StartsWith("120 70 0", sq.Out);
        AssertNoTempFiles();
    }

    [Fact]
    public void Match_BadInputsAreOneLineErrors()
    {
        string small = SmallCoins(w: 10, h: 10);
        string big = SmallCoins();
        AssertOneLineError(Run("match", small, big), "larger than image");
        AssertOneLineError(Run("match", P("nope.png"), small), "nope.png");
        string text = P("notes.png");
        File.WriteAllText(text, "not an image at all");
        AssertOneLineError(Run("match", text, small), "notes.png");
        AssertOneLineError(Run("match", big, small, "--method", "magic"), "unknown --method");
        AssertOneLineError(Run("pyramid", big, "--levels", "0", "--out", P("p")), "--levels");
        AssertOneLineError(Run("pyramid", big, "--kind", "steerable", "--levels", "9", "--out", P("p")), "too many scales");
        AssertOneLineError(Run("pyramid", text, "--out", P("p")), "notes.png");
    }
}
