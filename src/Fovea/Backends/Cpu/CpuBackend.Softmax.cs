using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using Fovea.Kernels;

namespace Fovea.Backends.Cpu;

/// <summary>
/// Softmax and log-softmax as fused passes over each slice, and their gradients from the output. A slice along the
/// last dim is a row of contiguous values; along another dim (the channels of [N, C, H, W]) its values lie
/// <c>inner</c> apart, so the kernels take tiles of <see cref="SoftmaxTile"/> neighbouring slices at once and run each
/// step as a SIMD pass across the tile: the maxima, then e^(x − m) written once and summed, then one scaling pass,
/// the tile's n rows staying in L1/L2 between them (<see cref="SoftmaxKernels"/>; in float32 its exponential is
/// computed in float32, in the pass that also sums). The composite of tensor ops made five passes over the whole tensor
/// and four temporaries; its backward, six more.
/// </summary>
internal sealed partial class CpuBackend
{
    /// <summary>Neighbouring slices a tile of a strided softmax takes: its running maxima and sums are 2 KiB each (float32).</summary>
    private const int SoftmaxTile = 512;

    public Tensor Softmax(Tensor x, int dim, bool log)
    {
        EnsureAllowed();
        var (outer, n, inner) = SoftmaxChecks.Slices("softmax", x, dim);
        var xc = x.Contiguous();
        var y = Tensor.Allocate(x.DType, x.Shape, clear: false);
        if (x.Numel == 0) return y;
        if (x.DType == DType.Float32) SoftmaxKernel(xc.Storage.As<float>(), xc.Offset, y.Storage.As<float>(), outer, n, inner, log);
        else SoftmaxKernel(xc.Storage.As<double>(), xc.Offset, y.Storage.As<double>(), outer, n, inner, log);
        return y;
    }

    public Tensor SoftmaxBackward(Tensor gradOutput, Tensor output, int dim, bool log)
    {
        EnsureAllowed();
        var (outer, n, inner) = SoftmaxChecks.Slices("softmax backward", output, dim, gradOutput);
        var yc = output.Contiguous();
        var gc = gradOutput.Contiguous();
        var dx = Tensor.Allocate(output.DType, output.Shape, clear: false);
        if (output.Numel == 0) return dx;
        if (output.DType == DType.Float32)
            SoftmaxBackwardKernel(gc.Storage.As<float>(), gc.Offset, yc.Storage.As<float>(), yc.Offset, dx.Storage.As<float>(), outer, n, inner, log);
        else
            SoftmaxBackwardKernel(gc.Storage.As<double>(), gc.Offset, yc.Storage.As<double>(), yc.Offset, dx.Storage.As<double>(), outer, n, inner, log);
        return dx;
    }

    /// <summary>Work items of a softmax pass: (outer index, tile of slices), and how many tiles an outer index has.</summary>
    private static (int Items, int Tiles) SoftmaxItems(int outer, int inner)
    {
        int tiles = inner == 1 ? 1 : (inner + SoftmaxTile - 1) / SoftmaxTile;
        return (outer * tiles, tiles);
    }

    private static void SoftmaxKernel<T>(T[] x, int xOffset, T[] y, int outer, int n, int inner, bool log)
        where T : unmanaged, IFloatingPointIeee754<T>, IExponentialFunctions<T>, ILogarithmicFunctions<T>
    {
        var (items, tiles) = SoftmaxItems(outer, inner);
        // Rows: a work item is a run of rows; tiles: one (outer, tile) pair.
        int rowsPerItem = inner == 1 ? Math.Max(1, ParallelFor.GrainForBytes(2L * n * Unsafe.SizeOf<T>())) : 1;
        int width = Math.Min(inner, SoftmaxTile);
        long itemBytes = 2L * n * Math.Min(inner, SoftmaxTile) * Unsafe.SizeOf<T>();
        ParallelFor.For(items, inner == 1 ? rowsPerItem : ParallelFor.GrainForBytes(itemBytes), (i0, i1) =>
        {
            if (inner == 1)
            {
                for (int r = i0; r < i1; r++) SoftmaxKernels.Row<T>(x.AsSpan(xOffset + r * n, n), y.AsSpan(r * n, n), log);
                return;
            }
            var max = new T[width];
            var sum = new T[width];
            for (int item = i0; item < i1; item++)
            {
                int o = item / tiles, t0 = item % tiles * SoftmaxTile, w = Math.Min(SoftmaxTile, inner - t0);
                int at = o * n * inner + t0;
                SoftmaxKernels.Tile<T>(x.AsSpan(xOffset + at), y.AsSpan(at), n, inner, w, max, sum, log);
            }
        });
    }

    private static void SoftmaxBackwardKernel<T>(T[] g, int gOffset, T[] y, int yOffset, T[] dx, int outer, int n, int inner, bool log)
        where T : unmanaged, IFloatingPointIeee754<T>, IExponentialFunctions<T>
    {
        var (items, tiles) = SoftmaxItems(outer, inner);
        int rowsPerItem = inner == 1 ? Math.Max(1, ParallelFor.GrainForBytes(3L * n * Unsafe.SizeOf<T>())) : 1;
        int width = Math.Min(inner, SoftmaxTile);
        long itemBytes = 3L * n * width * Unsafe.SizeOf<T>();
        ParallelFor.For(items, inner == 1 ? rowsPerItem : ParallelFor.GrainForBytes(itemBytes), (i0, i1) =>
        {
            var s = new T[width];
            for (int item = i0; item < i1; item++)
            {
                int o = item / tiles, t0 = inner == 1 ? 0 : item % tiles * SoftmaxTile, wd = inner == 1 ? 1 : Math.Min(SoftmaxTile, inner - t0);
                int at = inner == 1 ? item * n : o * n * inner + t0;
                SoftmaxTileBackward(g.AsSpan(gOffset + at), y.AsSpan(yOffset + at), dx.AsSpan(at), n, inner, wd, s.AsSpan(0, wd), log);
            }
        });
    }

    /// <summary>
    /// dx for a tile (a row when inner = 1, its n values then contiguous): s = Σ g·y (softmax) or Σ g (log-softmax) per
    /// slice, then dx = y·(g − s) or g − e^y·s.
    /// </summary>
    private static void SoftmaxTileBackward<T>(ReadOnlySpan<T> g, ReadOnlySpan<T> y, Span<T> dx, int n, int inner, int w, Span<T> s, bool log)
        where T : unmanaged, IFloatingPointIeee754<T>, IExponentialFunctions<T>
    {
        if (inner == 1)
        {
            var gr = g[..n];
            var yr = y[..n];
            var d = dx[..n];
            if (log)
            {
                T total = TensorPrimitives.Sum(gr);
                TensorPrimitives.Exp(yr, d);
                TensorPrimitives.MultiplyAdd(d, -total, gr, d);
            }
            else
            {
                T dot = TensorPrimitives.Dot(gr, yr);
                TensorPrimitives.Subtract(gr, dot, d);
                TensorPrimitives.Multiply(d, yr, d);
            }
            return;
        }
        s.Clear();
        for (int j = 0; j < n; j++)
        {
            if (log) TensorPrimitives.Add(s, g.Slice(j * inner, w), s);
            else TensorPrimitives.MultiplyAdd(g.Slice(j * inner, w), y.Slice(j * inner, w), s, s);
        }
        for (int j = 0; j < n; j++)
        {
            var d = dx.Slice(j * inner, w);
            if (log)
            {
                TensorPrimitives.Exp(y.Slice(j * inner, w), d);
                TensorPrimitives.Multiply(d, s, d);
                TensorPrimitives.Subtract(g.Slice(j * inner, w), d, d);
            }
            else
            {
                TensorPrimitives.Subtract(g.Slice(j * inner, w), s, d);
                TensorPrimitives.Multiply(d, y.Slice(j * inner, w), d);
            }
        }
    }
}
