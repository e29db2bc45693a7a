using Fovea.Backends;

namespace Fovea.Tests;

/// <summary>How a test input is laid out in memory; the logical shape and values are the same for each.</summary>
public enum Layout
{
    /// <summary>Row-major, offset 0.</summary>
    Contiguous,
    /// <summary>A permuted (all dims reversed) view of a contiguous buffer.</summary>
    Transposed,
    /// <summary>Every other element of the last dim (stride 2), with a nonzero offset.</summary>
    Strided,
    /// <summary>Row-major but starting at a nonzero storage offset.</summary>
    Offset,
    /// <summary>Dim 0 broadcast from size 1 (stride 0): every slice along dim 0 is the same.</summary>
    Expanded,
}

/// <summary>Random inputs in chosen layouts, backend switching, and tolerant comparison.</summary>
public static class TestUtil
{
    public static readonly Layout[] AllLayouts = Enum.GetValues<Layout>();

    /// <summary>Values drawn by <paramref name="draw"/> into <paramref name="shape"/> with <paramref name="layout"/>.</summary>
    public static Tensor Make(int[] shape, DType dtype, Layout layout, Random rng, Func<Random, double> draw)
    {
        int rank = shape.Length;
        switch (layout)
        {
            case Layout.Transposed when rank >= 2:
            {
                var rev = shape.Reverse().ToArray();
                var perm = Enumerable.Range(0, rank).Reverse().ToArray();
                return Fill(rev, dtype, rng, draw).Permute(perm);
            }
            case Layout.Strided when rank >= 1:
            {
                var big = (int[])shape.Clone();
                big[^1] = 2 * shape[^1] + 1;
                return Fill(big, dtype, rng, draw).Slice(rank - 1, 1, null, 2).Narrow(rank - 1, 0, shape[^1]);
            }
            case Layout.Offset when rank >= 1:
            {
                var big = (int[])shape.Clone();
                big[0] += 2;
                return Fill(big, dtype, rng, draw).Narrow(0, 1, shape[0]);
            }
            case Layout.Expanded when rank >= 1:
            {
                var one = (int[])shape.Clone();
                one[0] = 1;
                return Fill(one, dtype, rng, draw).Expand(shape);
            }
            default:
                return Fill(shape, dtype, rng, draw);
        }
    }

    /// <summary>Normal(0, 1) floats, or integers in [-9, 9], or booleans.</summary>
    public static Tensor Make(int[] shape, DType dtype, Layout layout, Random rng) =>
        Make(shape, dtype, layout, rng, dtype switch
        {
            DType.Int32 => r => r.Next(-9, 10),
            DType.Bool => r => r.Next(2),
            _ => Normal,
        });

    public static double Normal(Random r) =>
        Math.Sqrt(-2 * Math.Log(1 - r.NextDouble())) * Math.Cos(2 * Math.PI * r.NextDouble());

    private static Tensor Fill(int[] shape, DType dtype, Random rng, Func<Random, double> draw)
    {
        int n = 1;
        foreach (int d in shape) n *= d;
        switch (dtype)
        {
            case DType.Float32: { var v = new float[n]; for (int i = 0; i < n; i++) v[i] = (float)draw(rng); return Tensor.FromArray(v, shape); }
            case DType.Float64: { var v = new double[n]; for (int i = 0; i < n; i++) v[i] = draw(rng); return Tensor.FromArray(v, shape); }
            case DType.Int32: { var v = new int[n]; for (int i = 0; i < n; i++) v[i] = (int)draw(rng); return Tensor.FromArray(v, shape); }
            default: { var v = new bool[n]; for (int i = 0; i < n; i++) v[i] = draw(rng) != 0; return Tensor.FromArray(v, shape); }
        }
    }

    /// <summary>Runs <paramref name="f"/> with <paramref name="backend"/> as this thread's backend.</summary>
    public static T On<T>(IBackend backend, Func<T> f)
    {
        using (Backend.Use(backend)) return f();
    }

    /// <summary>The values as float64, row-major (bool as 0/1).</summary>
    public static double[] Values(Tensor t) => t.DType switch
    {
        DType.Float64 => t.ToArray<double>(),
        DType.Float32 => Array.ConvertAll(t.ToArray<float>(), x => (double)x),
        DType.Int32 => Array.ConvertAll(t.ToArray<int>(), x => (double)x),
        _ => Array.ConvertAll(t.ToArray<bool>(), x => x ? 1.0 : 0.0),
    };

    /// <summary>
    /// Asserts equal shape and dtype and values within atol + rtol·|expected|, where atol scales with
    /// <paramref name="magnitude"/> (per element, or the largest |expected| when null). NaN must match NaN.
    /// </summary>
    public static void AssertClose(Tensor expected, Tensor actual, string context, double[]? magnitude = null, double? rtolOverride = null)
    {
        Assert.True(expected.Shape.SequenceEqual(actual.Shape),
            $"{context}: shape {ShapeChecks.Format(actual.Shape)} != expected {ShapeChecks.Format(expected.Shape)}");
        Assert.True(expected.DType == actual.DType, $"{context}: dtype {actual.DType} != expected {expected.DType}");
        var e = Values(expected);
        var a = Values(actual);
        (double rtol, double atolUnit) = expected.DType switch
        {
            DType.Float32 => (2e-5, 2e-6),
            DType.Float64 => (1e-12, 1e-13),
            _ => (0.0, 0.0),
        };
        if (rtolOverride is { } ro) { rtol = ro; atolUnit = ro / 10; }
        double globalMag = e.Where(double.IsFinite).Select(Math.Abs).DefaultIfEmpty(0).Max();
        for (int i = 0; i < e.Length; i++)
        {
            if (e[i] == a[i] || (double.IsNaN(e[i]) && double.IsNaN(a[i]))) continue;
            double mag = magnitude is null ? Math.Max(1, globalMag) : Math.Max(1e-30, magnitude[i]);
            double tol = atolUnit * mag + rtol * Math.Abs(e[i]);
            if (!(Math.Abs(e[i] - a[i]) <= tol))
                Assert.Fail($"{context}: element {i} is {a[i]:R}, expected {e[i]:R} (|diff| {Math.Abs(e[i] - a[i]):G3} > tol {tol:G3})");
        }
    }

    /// <summary>Runs <paramref name="op"/> under the CPU and the reference backend and compares.</summary>
    public static void CompareBackends(string context, Func<Tensor> op, Func<double[]>? magnitude = null, double? rtol = null)
    {
        var expected = On(Backend.Reference, op);
        var actual = On(Backend.Cpu, op);
        AssertClose(expected, actual, context, magnitude?.Invoke(), rtol);
    }

    public static string Describe(int[] shape) => ShapeChecks.Format(shape);

    /// <summary>All subsets of 0..rank-1 (the empty one included).</summary>
    public static IEnumerable<int[]> Subsets(int rank)
    {
        for (int mask = 0; mask < 1 << rank; mask++)
            yield return Enumerable.Range(0, rank).Where(d => (mask & (1 << d)) != 0).ToArray();
    }

    public static void AssertValues(Tensor t, params double[] expected)
    {
        var v = Values(t);
        Assert.Equal(expected.Length, v.Length);
        for (int i = 0; i < v.Length; i++)
            Assert.True(expected[i].Equals(v[i]) || Math.Abs(expected[i] - v[i]) <= 1e-6 * Math.Max(1, Math.Abs(expected[i])),
                $"element {i}: got {v[i]:R}, expected {expected[i]:R}; tensor {t}");
    }
}
