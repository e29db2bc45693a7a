using Fovea.Kernels.Tests.Support;

namespace Fovea.Kernels.Tests;

[Collection(SimdPathsCollection.Name)]
public class SoftmaxKernelsTests
{
    /// <summary>
    /// Softmax or log-softmax of one slice with float32's two roundings that every implementation shares (PyTorch's
    /// too): x − m, and for log-softmax m + log Σ, are rounded to float; the exponentials and the sum are exact here.
    /// The second value is the scale a log-softmax error is measured against (|m + log Σ|, whose rounding it carries;
    /// −1 for softmax).
    /// </summary>
    private static (double[] Values, double Scale) Reference(IReadOnlyList<float> x, bool log)
    {
        float m = float.NegativeInfinity;
        foreach (float v in x) m = float.IsNaN(v) || float.IsNaN(m) ? float.NaN : Math.Max(m, v);
        double s = 0;
        foreach (float v in x) s += Math.Exp(v - m);
        float shift = (float)(m + Math.Log(s));
        return ([.. x.Select(v => log ? (double)(v - shift) : Math.Exp(v - m) / s)], log ? Math.Abs(shift) : -1);
    }

    private static void AssertClose(double expected, double scale, int n, float got, string where)
    {
        if (double.IsNaN(expected)) { Assert.True(float.IsNaN(got), $"{where}: expected NaN, got {got}"); return; }
        // The bound: u = 2⁻²⁴ for the exponential (within one ulp), u for the division (or the subtraction, against the
        // scale) and (n − 1)·u for a float sum of n positive terms in any order (Higham's γ(n − 1)), and a log-softmax
        // error of (n − 1)·u more, absolute, from log Σ.
        const double u = 1.0 / (1 << 24);
        double tol = scale >= 0 ? (2 * u * Math.Max(Math.Abs(expected), scale) + (n + 1) * u) : (n + 3) * u * Math.Abs(expected);
        tol += 1e-44;
        Assert.True(Math.Abs(got - expected) <= tol, $"{where}: expected {expected:R}, got {got:R}");
    }

    [Theory]
    [InlineData(1, false)]
    [InlineData(7, false)]
    [InlineData(33, true)]
    [InlineData(1000, false)]
    [InlineData(1000, true)]
    public void A_row_matches_the_double_precision_softmax_on_every_path(int n, bool log)
    {
        var rng = new Random(n);
        var x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float)(rng.NextDouble() * 40 - 20);
        var (expected, scale) = Reference(x, log);
        SimdPaths.ForEach(width =>
        {
            var y = new float[n];
            SoftmaxKernels.Row(x, y, log);
            for (int i = 0; i < n; i++) AssertClose(expected[i], scale, n, y[i], $"width {width}, value {i}");
            if (!log) Assert.Equal(1.0, y.Sum(v => (double)v), 5);
        });
    }

    [Theory]
    [InlineData(64, 37, false)]   // a tail on every path
    [InlineData(3, 512, false)]
    [InlineData(10, 48, true)]
    [InlineData(1, 5, false)]     // one value per slice: 1 (or 0 for log)
    public void A_tile_of_strided_slices_matches_each_slice_and_leaves_the_gaps_alone(int n, int width, bool log)
    {
        int stride = width + 13;
        var rng = new Random(n * 1000 + width);
        var x = new float[(n - 1) * stride + width];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(rng.NextDouble() * 30 - 15);
        SimdPaths.ForEach(w =>
        {
            var y = Enumerable.Repeat(-7f, x.Length).ToArray();
            SoftmaxKernels.Tile(x, y, n, stride, width, new float[width + 3], new float[width], log);
            for (int i = 0; i < width; i++)
            {
                var (expected, scale) = Reference([.. Enumerable.Range(0, n).Select(j => x[j * stride + i])], log);
                for (int j = 0; j < n; j++) AssertClose(expected[j], scale, n, y[j * stride + i], $"width {w}, slice {i}, value {j}");
            }
            for (int k = 0; k < y.Length; k++)
                if (k % stride >= width) Assert.Equal(-7f, y[k]);
        });
    }

    [Fact]
    public void NaN_or_plus_infinity_makes_its_slice_NaN_and_minus_infinity_gives_zero()
    {
        const int n = 4, width = 20;
        var x = new float[n * width];
        for (int i = 0; i < x.Length; i++) x[i] = (i % 7) - 3;
        x[2 * width + 1] = float.NaN;            // slice 1
        x[0 * width + 17] = float.PositiveInfinity; // slice 17
        x[3 * width + 9] = float.NegativeInfinity;  // slice 9: that value 0
        SimdPaths.ForEach(w =>
        {
            var y = new float[x.Length];
            SoftmaxKernels.Tile(x, y, n, width, width, new float[width], new float[width], log: false);
            for (int j = 0; j < n; j++)
            {
                Assert.True(float.IsNaN(y[j * width + 1]), $"width {w}: NaN slice");
                Assert.True(float.IsNaN(y[j * width + 17]), $"width {w}: +inf slice");
            }
            Assert.Equal(0f, y[3 * width + 9]);
            Assert.Equal(1.0, Enumerable.Range(0, n).Sum(j => (double)y[j * width + 9]), 6);

            var row = new float[] { 1, 2, float.NegativeInfinity, 3 };
            var r = new float[4];
            SoftmaxKernels.Row(row, r, log: true);
            Assert.Equal(float.NegativeInfinity, r[2]);
            SoftmaxKernels.Row([1, float.NaN, 2], r.AsSpan(0, 3), log: false);
            Assert.All(r[..3], v => Assert.True(float.IsNaN(v)));
        });
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Float64_rows_and_tiles_match_the_reference_to_a_few_ulps(bool log)
    {
        const int n = 12, width = 21, stride = 30;
        var rng = new Random(log ? 2 : 1);
        var x = new double[(n - 1) * stride + width];
        for (int i = 0; i < x.Length; i++) x[i] = rng.NextDouble() * 60 - 30;
        var y = new double[x.Length];
        SoftmaxKernels.Tile<double>(x, y, n, stride, width, new double[width], new double[width], log);
        var row = new double[n];
        for (int i = 0; i < width; i++)
        {
            var slice = Enumerable.Range(0, n).Select(j => x[j * stride + i]).ToArray();
            double m = slice.Max(), s = slice.Sum(v => Math.Exp(v - m));
            SoftmaxKernels.Row<double>(slice, row, log);
            for (int j = 0; j < n; j++)
            {
                double expected = log ? slice[j] - m - Math.Log(s) : Math.Exp(slice[j] - m) / s;
                double tol = 1e-14 * Math.Max(Math.Abs(expected), log ? 30 : 0) + 1e-300;
                Assert.True(Math.Abs(y[j * stride + i] - expected) <= tol, $"tile slice {i}, value {j}: {y[j * stride + i]:R} against {expected:R}");
                Assert.True(Math.Abs(row[j] - expected) <= tol, $"row {i}, value {j}: {row[j]:R} against {expected:R}");
            }
        }
    }

    [Fact]
    public void Buffers_too_small_for_the_tile_are_refused()
    {
        var x = new float[100];
        Assert.Throws<ArgumentException>(() => SoftmaxKernels.Tile(x, new float[100], 5, 20, 21, new float[21], new float[21], false));
        Assert.Throws<ArgumentException>(() => SoftmaxKernels.Tile(x, new float[100], 6, 20, 20, new float[20], new float[20], false));
        Assert.Throws<ArgumentException>(() => SoftmaxKernels.Tile(x, new float[100], 5, 20, 20, new float[19], new float[20], false));
        Assert.Throws<ArgumentException>(() => SoftmaxKernels.Row(x, new float[99], false));
    }
}
