using Fovea.Kernels;
using TorchSharp;

namespace Fovea.Bench;

/// <summary>Float32 square GEMM: Fovea <see cref="Gemm.Sgemm"/> against <c>torch.matmul</c> on the same data.</summary>
public sealed class SgemmCase(int size) : BenchCase
{
    private float[] _a = [], _b = [], _c = [];
    private torch.Tensor? _ta, _tb;

    /// <inheritdoc/>
    public override string Name => $"sgemm_{size}";

    /// <inheritdoc/>
    public override string[] ExtraColumns => ["fovea_gflops", "fraction_of_peak"];

    /// <summary>The sizes the foundation issue asks for.</summary>
    public static IEnumerable<BenchCase> All() => new[] { 256, 512, 1024, 2048 }.Select(s => (BenchCase)new SgemmCase(s));

    /// <inheritdoc/>
    public override void Setup(int threads)
    {
        if (_a.Length != 0) return;
        var rng = new Random(42);
        _a = new float[size * size];
        _b = new float[size * size];
        _c = new float[size * size];
        for (int i = 0; i < _a.Length; i++) { _a[i] = (float)(rng.NextDouble() * 2 - 1); _b[i] = (float)(rng.NextDouble() * 2 - 1); }
        _ta = torch.tensor(_a, [size, size]);
        _tb = torch.tensor(_b, [size, size]);
    }

    /// <inheritdoc/>
    public override void RunFovea() => Gemm.Sgemm(false, false, size, size, size, 1f, _a, size, _b, size, 0f, _c, size);

    /// <inheritdoc/>
    public override void RunAnchor()
    {
        using var r = torch.matmul(_ta!, _tb!);
    }

    /// <inheritdoc/>
    public override string[] Extra(int threads, double foveaMs, double anchorMs)
    {
        double gflops = 2.0 * size * size * size / (foveaMs * 1e-3) / 1e9;
        return [Harness.F(gflops, "0.0"), Harness.F(gflops / FmaPeak.GFlops(threads), "0.00")];
    }

    /// <inheritdoc/>
    public override void Dispose()
    {
        _ta?.Dispose();
        _tb?.Dispose();
        base.Dispose();
    }
}
