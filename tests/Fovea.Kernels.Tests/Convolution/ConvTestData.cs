namespace Fovea.Kernels.Tests;

/// <summary>
/// What the convolution kernel tests share: a geometry row (batch, in, h, w, out, groups, kh, kw, sh, sw, ph, pw, dh,
/// dw) turned into a <see cref="ConvShape"/>, seeded random data in [−1, 1), and an element-wise comparison that names
/// the first element out of tolerance.
/// </summary>
internal static class ConvTestData
{
    /// <summary>The shape of a geometry row.</summary>
    public static ConvShape Shape(int[] g)
    {
        var win = new Window2d(g[6], g[7], g[8], g[9], g[10], g[11], g[12], g[13]);
        var (oh, ow) = win.OutputSize(g[2], g[3]);
        return new ConvShape(g[0], g[1], g[2], g[3], g[4], g[5], win, oh, ow);
    }

    /// <summary><paramref name="n"/> values uniform in [−1, 1) from <paramref name="seed"/>.</summary>
    public static double[] Random(int n, int seed)
    {
        var rng = new Random(seed);
        var x = new double[n];
        for (int i = 0; i < n; i++) x[i] = rng.NextDouble() * 2 - 1;
        return x;
    }

    /// <summary>The float32 values widened to float64.</summary>
    public static double[] D(float[] x) => Array.ConvertAll(x, v => (double)v);

    /// <summary>Asserts |expected − actual| ≤ <paramref name="tol"/> element by element.</summary>
    public static void Close(double[] expected, ReadOnlySpan<double> actual, double tol, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tol, $"{what}[{i}]: expected {expected[i]}, got {actual[i]}");
    }
}
