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

    /// <summary>The 3x3 stride-1 shape of a Winograd test row (batch, in, h, w, out, pad h, pad w).</summary>
    public static ConvShape WinogradShape(int[] g)
    {
        var win = new Window2d(3, 3, 1, 1, g[5], g[6], 1, 1);
        var (oh, ow) = win.OutputSize(g[2], g[3]);
        return new ConvShape(g[0], g[1], g[2], g[3], g[4], 1, win, oh, ow);
    }

    /// <summary><see cref="Random"/>'s values rounded to float32.</summary>
    public static float[] RandomFloats(int n, int seed) => Array.ConvertAll(Random(n, seed), v => (float)v);

    /// <summary>Float32 input, weights and bias for <paramref name="s"/>, from seeds <paramref name="seed"/>, + 1 and + 2.</summary>
    public static (float[] X, float[] W, float[] B) RandomConvInputs(in ConvShape s, int seed) =>
        (RandomFloats(s.Batch * s.InChannels * s.Height * s.Width, seed), RandomFloats(s.OutChannels * s.ColRows, seed + 1), RandomFloats(s.OutChannels, seed + 2));

    /// <summary>|x| widened to float64: the operands of an error bound's Σ |x| |w|.</summary>
    public static double[] Abs(float[] x) => Array.ConvertAll(x, v => (double)Math.Abs(v));

    /// <summary>
    /// The largest |actual − expected| / (eps · scale) over all elements (eps = 2⁻²³): the measured error factor of a
    /// bound c · eps · scale. A NaN fails.
    /// </summary>
    public static double ErrorFactor(double[] expected, float[] actual, double[] scale)
    {
        Assert.Equal(expected.Length, actual.Length);
        const double eps = 1.0 / (1 << 23);
        double worst = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.False(float.IsNaN(actual[i]), $"NaN at {i}");
            worst = Math.Max(worst, Math.Abs(actual[i] - expected[i]) / (eps * scale[i] + 1e-30));
        }
        return worst;
    }

    /// <summary>
    /// Runs <paramref name="compute"/> on 1, 2 and 3 threads (the setting restored after) and asserts that each run gives
    /// the first run's bits in every one of its results; returns the first run's results.
    /// </summary>
    public static float[][] SameOnOneTwoAndThreeThreads(Func<float[][]> compute)
    {
        int saved = Parallelism.MaxDegreeOfParallelism;
        try
        {
            float[][]? first = null;
            foreach (int threads in new[] { 1, 2, 3 })
            {
                Parallelism.MaxDegreeOfParallelism = threads;
                var results = compute();
                first ??= results;
                for (int i = 0; i < results.Length; i++) Assert.Equal(first[i], results[i]);
            }
            return first!;
        }
        finally { Parallelism.MaxDegreeOfParallelism = saved; }
    }

    /// <summary>Asserts |expected − actual| ≤ <paramref name="tol"/> element by element.</summary>
    public static void Close(double[] expected, ReadOnlySpan<double> actual, double tol, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tol, $"{what}[{i}]: expected {expected[i]}, got {actual[i]}");
    }
}
