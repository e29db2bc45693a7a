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
/// the tile's n rows staying in L1/L2 between them. The composite of tensor ops made five passes over the whole tensor
/// and four temporaries; its backward, six more. Float32 runs <see cref="SoftmaxKernels"/> (its exponential in float32,
/// with the sum in the same pass); float64 runs the passes here on <see cref="TensorPrimitives"/>.
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
                if (typeof(T) == typeof(float))
                {
                    for (int r = i0; r < i1; r++) SoftmaxKernels.Row(AsFloat(x).AsSpan(xOffset + r * n, n), AsFloat(y).AsSpan(r * n, n), log);
                    return;
                }
                T[]? scratch = log ? new T[n] : null;
                for (int r = i0; r < i1; r++) SoftmaxRow(x.AsSpan(xOffset + r * n, n), y.AsSpan(r * n, n), scratch, log);
                return;
            }
            var max = new T[width];
            var sum = new T[width];
            for (int item = i0; item < i1; item++)
            {
                int o = item / tiles, t0 = item % tiles * SoftmaxTile, w = Math.Min(SoftmaxTile, inner - t0);
                int at = o * n * inner + t0;
                if (typeof(T) == typeof(float))
                    SoftmaxKernels.Tile(AsFloat(x).AsSpan(xOffset + at), AsFloat(y).AsSpan(at), n, inner, w, AsFloat(max), AsFloat(sum), log);
                else
                    SoftmaxTileForward(x.AsSpan(xOffset + at), y.AsSpan(at), n, inner, w, max.AsSpan(0, w), sum.AsSpan(0, w), log);
            }
        });
    }

    /// <summary>The float32 array a <typeparamref name="T"/>[] is when <typeparamref name="T"/> is float.</summary>
    private static float[] AsFloat<T>(T[] a) => (float[])(object)a;

    /// <summary>
    /// One contiguous slice in float64: m = max, then e^(x − m) and its sum, then the division (or x − m − log Σ).
    /// (Float32 takes <see cref="SoftmaxKernels.Row"/>, whose exponential is computed in float32.)
    /// </summary>
    private static void SoftmaxRow<T>(ReadOnlySpan<T> x, Span<T> y, T[]? scratch, bool log)
        where T : unmanaged, IFloatingPointIeee754<T>, IExponentialFunctions<T>, ILogarithmicFunctions<T>
    {
        T m = TensorPrimitives.Max(x);
        Span<T> e = log ? scratch.AsSpan(0, x.Length) : y;
        TensorPrimitives.Subtract(x, m, e);
        TensorPrimitives.Exp(e, e);
        T s = TensorPrimitives.Sum<T>(e);
        if (log) TensorPrimitives.Subtract(x, m + T.Log(s), y);
        else TensorPrimitives.Divide(e, s, y);
    }

    /// <summary>
    /// A tile of <paramref name="w"/> neighbouring float64 slices of n values <paramref name="inner"/> apart: the tile's
    /// row j is the j-th value of each slice, so every step is a pass along rows of w contiguous values. (Float32 takes
    /// <see cref="SoftmaxKernels.Tile"/>.)
    /// </summary>
    private static void SoftmaxTileForward<T>(ReadOnlySpan<T> x, Span<T> y, int n, int inner, int w, Span<T> max, Span<T> sum, bool log)
        where T : unmanaged, IFloatingPointIeee754<T>, IExponentialFunctions<T>, ILogarithmicFunctions<T>
    {
        x[..w].CopyTo(max);
        for (int j = 1; j < n; j++) TensorPrimitives.Max(max, x.Slice(j * inner, w), max);
        sum.Clear();
        for (int j = 0; j < n; j++)
        {
            var e = y.Slice(j * inner, w);
            TensorPrimitives.Subtract(x.Slice(j * inner, w), max, e);
            TensorPrimitives.Exp(e, e);
            TensorPrimitives.Add(sum, e, sum);
        }
        if (log)
        {
            // log Σ + m, then y = x − that.
            TensorPrimitives.Log(sum, sum);
            TensorPrimitives.Add(sum, max, sum);
            for (int j = 0; j < n; j++) TensorPrimitives.Subtract(x.Slice(j * inner, w), sum, y.Slice(j * inner, w));
            return;
        }
        for (int j = 0; j < n; j++)
        {
            var e = y.Slice(j * inner, w);
            TensorPrimitives.Divide(e, sum, e);
        }
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
