using Fovea.Kernels;

namespace Fovea.Tests.Optim;

/// <summary>
/// The fused update kernels against a plain per-element loop over the same rule, for every length 0..70 (so
/// every position of the overlapping last vector is exercised) in float32 and float64.
/// </summary>
public class UpdateKernelTests
{
    private static T[] Data<T>(int n, int seed, double lo) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        var rng = new Random(seed);
        var a = new T[n];
        for (int i = 0; i < n; i++) a[i] = T.CreateTruncating(lo + rng.NextDouble());
        return a;
    }

    private static void Check<T, TOp>(TOp op, int slots) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T> where TOp : struct, IParamUpdate<T>
    {
        for (int n = 0; n <= 70; n++)
        {
            var p = Data<T>(n, 1, -0.5);
            var g = Data<T>(n, 2, -0.5);
            var s = new T[3][];
            for (int k = 0; k < 3; k++) s[k] = k < slots ? Data<T>(n, 3 + k, 0.1) : [];
            var (ep, es) = ((T[])p.Clone(), s.Select(a => (T[])a.Clone()).ToArray());
            T d = default;
            for (int i = 0; i < n; i++)
                op.Invoke(ref ep[i], g[i], ref slots > 0 ? ref es[0][i] : ref d, ref slots > 1 ? ref es[1][i] : ref d, ref slots > 2 ? ref es[2][i] : ref d);
            ParamUpdateDriver.Run(op, p, g, s[0], s[1], s[2]);
            Assert.Equal(ep, p);
            for (int k = 0; k < slots; k++) Assert.Equal(es[k], s[k]);
        }
    }

    [Fact]
    public void Sgd_MatchesScalarRule()
    {
        Check<float, SgdUpdate<float>>(new(0.1, 0.9, 0.1, false, 0.01, false, firstStep: false), 1);
        Check<double, SgdUpdate<double>>(new(0.1, 0.9, 0, true, 0.01, true, firstStep: true), 1);
        Check<double, SgdUpdate<double>>(new(0.1, 0, 0, false, 0, false, firstStep: false), 0);
    }

    [Fact]
    public void Adam_MatchesScalarRule()
    {
        Check<float, AdamUpdate<float>>(new(0.01, 0.9, 0.999, 1e-8, 0.1, false, true, false, step: 3), 3);
        Check<double, AdamUpdate<double>>(new(0.01, 0.8, 0.99, 1e-6, 0.1, true, false, true, step: 1), 2);
    }

    [Fact]
    public void RMSprop_MatchesScalarRule()
    {
        Check<float, RMSpropUpdate<float>>(new(0.01, 0.99, 1e-8, 0.1, 0.5, true, false), 3);
        Check<double, RMSpropUpdate<double>>(new(0.01, 0.9, 1e-8, 0, 0, false, true), 1);
    }

    [Fact]
    public void ParallelSplit_GivesTheSerialBits()
    {
        // Large enough for several chunks (Adam with three state slots moves 36 bytes an element: 9.4 MB, above
        // ParallelFor.MinBytesPerThread for any thread count), with a length that is no multiple of the vector width.
        int n = 4 * (1 << 16) + 13;
        var op = new AdamUpdate<float>(0.01, 0.9, 0.999, 1e-8, 0.1, true, true, false, step: 7);
        float[][] serial = [Data<float>(n, 1, -0.5), Data<float>(n, 2, -0.5), Data<float>(n, 3, 0.1), Data<float>(n, 4, 0.1), Data<float>(n, 5, 0.1)];
        var parallel = serial.Select(a => (float[])a.Clone()).ToArray();
        ParamUpdateDriver.Run(op, serial[0], serial[1], serial[2], serial[3], serial[4]);
        ParamUpdateDriver.RunParallel(op, new ArraySegment<float>(parallel[0]), new ArraySegment<float>(parallel[1]), new ArraySegment<float>(parallel[2]),
            new ArraySegment<float>(parallel[3]), new ArraySegment<float>(parallel[4]));
        for (int k = 0; k < 5; k++) Assert.Equal(serial[k], parallel[k]);
        Assert.NotEqual(Data<float>(n, 1, -0.5), parallel[0]);
    }

    [Fact]
    public void MismatchedLengths_AreClearErrors()
    {
        var e = Assert.Throws<ArgumentException>(() => ParamUpdateDriver.Run(new SgdUpdate<float>(0.1, 0, 0, false, 0, false, false), new float[4], new float[3], default, default, default));
        Assert.Contains("the gradient has 3 elements but the parameter has 4", e.Message);
        e = Assert.Throws<ArgumentException>(() => ParamUpdateDriver.Run(new SgdUpdate<float>(0.1, 0.9, 0, false, 0, false, false), new float[4], new float[4], new float[2], default, default));
        Assert.Contains("state slot 0 has 2 elements", e.Message);
    }
}
