using Fovea.Kernels.Simd;

namespace Fovea.Kernels.Tests.Support;

/// <summary>Tests that force a vector width run alone, so the forced path is the one measured.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class SimdPathsCollection
{
    public const string Name = "SimdPaths";
}

/// <summary>Runs a body once per kernel path: default, scalar, Vector256, Vector512 (emulated where not in hardware).</summary>
public static class SimdPaths
{
    public static readonly int[] Widths = [0, 1, 8, 16];

    public static void ForEach(Action<int> body)
    {
        foreach (int w in Widths)
        {
            SimdWidth.Forced = w;
            try { body(w); }
            finally { SimdWidth.Forced = 0; }
        }
    }
}

public static class TestData
{
    /// <summary>Deterministic pseudo-random plane in [0, 1).</summary>
    public static float[] Random(int length, int seed)
    {
        var rng = new Random(seed);
        var a = new float[length];
        for (int i = 0; i < a.Length; i++) a[i] = (float)rng.NextDouble();
        return a;
    }

    public static double MaxAbsDiff(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        Assert.Equal(a.Length, b.Length);
        double m = 0;
        for (int i = 0; i < a.Length; i++) m = Math.Max(m, Math.Abs((double)a[i] - b[i]));
        return m;
    }
}
