using System.Buffers;
using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using Fovea.Kernels;

namespace Fovea.Backends.Cpu;

/// <summary>
/// Local response normalisation across channels as fused passes over tiles of <see cref="LrnTile"/> neighbouring
/// positions of one image: each channel's window sum of squares is n multiply-adds along the tile, D^−β is
/// e^(−β·log D) on SIMD vectors where D is positive (k &gt; 0, α ≥ 0; a power otherwise), and the backward's window
/// adjoint reads the tile's per-channel terms from a scratch of C rows. The composite of tensor ops padded and
/// concatenated the squares, summed n shifted slices and raised D to −β one element at a time: some twenty passes over
/// the whole tensor forward and forty backward.
/// </summary>
internal sealed partial class CpuBackend
{
    /// <summary>Positions a tile takes: a channel's row of it is 2 KiB (float32).</summary>
    private const int LrnTile = 512;

    public (Tensor Output, Tensor Denominator) LocalResponseNormForward(Tensor x, int size, double alpha, double beta, double k)
    {
        EnsureAllowed();
        var (n, c, s) = TrainingChecks.LocalResponseNorm(x, size);
        var xc = x.Contiguous();
        var y = Tensor.Allocate(x.DType, x.Shape, clear: false);
        var d = Tensor.Allocate(x.DType, x.Shape, clear: false);
        if (x.Numel == 0) return (y, d);
        if (x.DType == DType.Float32)
            LrnForwardKernel(xc.Storage.As<float>(), xc.Offset, y.Storage.As<float>(), d.Storage.As<float>(), n, c, s, size, alpha, beta, k);
        else
            LrnForwardKernel(xc.Storage.As<double>(), xc.Offset, y.Storage.As<double>(), d.Storage.As<double>(), n, c, s, size, alpha, beta, k);
        return (y, d);
    }

    public Tensor LocalResponseNormBackward(Tensor gradOutput, Tensor x, Tensor denominator, int size, double alpha, double beta)
    {
        EnsureAllowed();
        var (n, c, s) = TrainingChecks.LocalResponseNorm(x, size, denominator, gradOutput);
        var xc = x.Contiguous();
        var dc = denominator.Contiguous();
        var gc = gradOutput.Contiguous();
        var dx = Tensor.Allocate(x.DType, x.Shape, clear: false);
        if (x.Numel == 0) return dx;
        if (x.DType == DType.Float32)
            LrnBackwardKernel(gc.Storage.As<float>(), gc.Offset, xc.Storage.As<float>(), xc.Offset, dc.Storage.As<float>(), dc.Offset, dx.Storage.As<float>(), n, c, s, size, alpha, beta);
        else
            LrnBackwardKernel(gc.Storage.As<double>(), gc.Offset, xc.Storage.As<double>(), xc.Offset, dc.Storage.As<double>(), dc.Offset, dx.Storage.As<double>(), n, c, s, size, alpha, beta);
        return dx;
    }

    private static void LrnForwardKernel<T>(T[] x, int xOffset, T[] y, T[] d, int n, int c, int s, int size, double alpha, double beta, double k)
        where T : unmanaged, IFloatingPointIeee754<T>, IExponentialFunctions<T>, ILogarithmicFunctions<T>, IPowerFunctions<T>
    {
        int tiles = (s + LrnTile - 1) / LrnTile, before = size / 2, after = (size - 1) / 2;
        T scale = T.CreateTruncating(alpha / size), kk = T.CreateTruncating(k);
        ParallelFor.For(n * tiles, ParallelFor.GrainForBytes(3L * c * Math.Min(s, LrnTile) * Unsafe.SizeOf<T>()), (i0, i1) =>
        {
            for (int item = i0; item < i1; item++)
            {
                int img = item / tiles, p0 = item % tiles * LrnTile, w = Math.Min(LrnTile, s - p0), at = img * c * s + p0;
                for (int ch = 0; ch < c; ch++)
                {
                    // D = k + (α/n)·Σ x², written into d's row, then y = x·D^−β.
                    var dr = d.AsSpan(at + ch * s, w);
                    dr.Clear();
                    for (int cc = Math.Max(0, ch - before); cc <= Math.Min(c - 1, ch + after); cc++)
                    {
                        var xr = x.AsSpan(xOffset + at + cc * s, w);
                        TensorPrimitives.MultiplyAdd(xr, xr, dr, dr);
                    }
                    TensorPrimitives.Multiply(dr, scale, dr);
                    TensorPrimitives.Add(dr, kk, dr);
                    var yr = y.AsSpan(at + ch * s, w);
                    PowNegative(dr, beta, k > 0 && alpha >= 0, yr);
                    TensorPrimitives.Multiply(yr, x.AsSpan(xOffset + at + ch * s, w), yr);
                }
            }
        });
    }

    /// <summary>
    /// y = D^−β: e^(−β·log D) on SIMD vectors when every D is known positive, otherwise a power per element (a negative
    /// D with an integer β).
    /// </summary>
    private static void PowNegative<T>(ReadOnlySpan<T> dr, double beta, bool positive, Span<T> y)
        where T : unmanaged, IFloatingPointIeee754<T>, IExponentialFunctions<T>, ILogarithmicFunctions<T>, IPowerFunctions<T>
    {
        if (positive)
        {
            TensorPrimitives.Log(dr, y);
            TensorPrimitives.Multiply(y, T.CreateTruncating(-beta), y);
            TensorPrimitives.Exp(y, y);
        }
        else TensorPrimitives.Pow(dr, T.CreateTruncating(-beta), y);
    }

    private static void LrnBackwardKernel<T>(T[] g, int gOffset, T[] x, int xOffset, T[] d, int dOffset, T[] dx, int n, int c, int s, int size, double alpha, double beta)
        where T : unmanaged, IFloatingPointIeee754<T>, IExponentialFunctions<T>, ILogarithmicFunctions<T>, IPowerFunctions<T>
    {
        int tiles = (s + LrnTile - 1) / LrnTile, before = size / 2, after = (size - 1) / 2, width = Math.Min(s, LrnTile);
        T factor = T.CreateTruncating(-beta * alpha / size), two = T.CreateTruncating(2.0);
        ParallelFor.For(n * tiles, ParallelFor.GrainForBytes(4L * c * width * Unsafe.SizeOf<T>()), (i0, i1) =>
        {
            // t = −β·(α/n)·g·x·D^(−β−1) for every channel of the tile, then the window adjoint of t. The scratch of C rows
            // is rented (128 KiB for 64 channels: a large-object allocation per call otherwise).
            var t = ArrayPool<T>.Shared.Rent(c * width);
            var sum = new T[width];
            for (int item = i0; item < i1; item++)
            {
                int img = item / tiles, p0 = item % tiles * LrnTile, w = Math.Min(LrnTile, s - p0), at = img * c * s + p0;
                for (int ch = 0; ch < c; ch++)
                {
                    // dx's row holds D^−β for now; t = factor·g·x·D^−β / D.
                    var p = dx.AsSpan(at + ch * s, w);
                    var dr = d.AsSpan(dOffset + at + ch * s, w);
                    PowNegative(dr, beta, positive: TensorPrimitives.Min(dr) > T.Zero, p);
                    var tr = t.AsSpan(ch * width, w);
                    TensorPrimitives.Multiply(g.AsSpan(gOffset + at + ch * s, w), x.AsSpan(xOffset + at + ch * s, w), tr);
                    TensorPrimitives.Multiply(tr, p, tr);
                    TensorPrimitives.Divide(tr, dr, tr);
                    TensorPrimitives.Multiply(tr, factor, tr);
                }
                for (int ch = 0; ch < c; ch++)
                {
                    var sr = sum.AsSpan(0, w);
                    sr.Clear();
                    for (int cc = Math.Max(0, ch - after); cc <= Math.Min(c - 1, ch + before); cc++) TensorPrimitives.Add(sr, t.AsSpan(cc * width, w), sr);
                    // dx = g·D^−β + 2x·Σt.
                    var dr = dx.AsSpan(at + ch * s, w);
                    TensorPrimitives.Multiply(dr, g.AsSpan(gOffset + at + ch * s, w), dr);
                    TensorPrimitives.Multiply(sr, x.AsSpan(xOffset + at + ch * s, w), sr);
                    TensorPrimitives.MultiplyAdd(sr, two, dr, dr);
                }
            }
            ArrayPool<T>.Shared.Return(t);
        });
    }
}
