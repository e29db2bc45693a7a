using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Fovea.Kernels;

namespace Fovea.Backends.Cpu;

/// <summary>
/// Layer normalisation as fused row kernels: the forward reads each row twice from L1 (its sum, then its centred squares)
/// and writes y once; the backward reads g and x twice and writes dx once, where the composite of tensor ops took
/// eleven passes forward and some thirty backward over the whole tensor. Rows run on SIMD vectors of
/// <see cref="Vector{T}"/> and split across threads; the weight and bias gradients are sums over rows taken in blocks
/// fixed by the row count alone, so their bits do not depend on the thread count.
/// </summary>
internal sealed partial class CpuBackend
{
    public (Tensor Output, Tensor Mean, Tensor InvStd) LayerNormForward(Tensor x, int normalized, Tensor? weight, Tensor? bias, double eps)
    {
        EnsureAllowed();
        int rows = TrainingChecks.LayerNorm(x, normalized, weight, bias);
        var xc = x.Contiguous();
        // The statistics are tensors of their own (pooled buffers once a training step has run), not arrays made for
        // each call: at 100 K rows each is 800 KB, and fresh ones every call kept the collector busy.
        var mean = Tensor.Allocate(DType.Float64, [rows], clear: false);
        var invStd = Tensor.Allocate(DType.Float64, [rows], clear: false);
        var y = Tensor.Allocate(x.DType, x.Shape, clear: false);
        if (x.DType == DType.Float32)
            LayerNormForwardKernel(xc.Storage.As<float>(), xc.Offset, weight?.ToArray<float>(), bias?.ToArray<float>(), y.Storage.As<float>(), rows, normalized, eps, mean.Storage.As<double>(), invStd.Storage.As<double>());
        else
            LayerNormForwardKernel(xc.Storage.As<double>(), xc.Offset, weight?.ToArray<double>(), bias?.ToArray<double>(), y.Storage.As<double>(), rows, normalized, eps, mean.Storage.As<double>(), invStd.Storage.As<double>());
        return (y, mean, invStd);
    }

    private static void LayerNormForwardKernel<T>(T[] x, int xOffset, T[]? w, T[]? b, T[] y, int rows, int d, double eps, double[] mean, double[] invStd)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ParallelFor.For(rows, ParallelFor.GrainForBytes(2L * d * Unsafe.SizeOf<T>()), (r0, r1) =>
        {
            for (int r = r0; r < r1; r++)
            {
                var xr = x.AsSpan(xOffset + r * d, d);
                double mu = double.CreateTruncating(RowSum(xr)) / d;
                // Two passes (the centred squares second) so a large mean does not swamp the variance.
                double inv = 1 / Math.Sqrt(double.CreateTruncating(RowCentredSquares(xr, T.CreateTruncating(mu))) / d + eps);
                (mean[r], invStd[r]) = (mu, inv);
                NormaliseRow(xr, T.CreateTruncating(mu), T.CreateTruncating(inv), w, b, y.AsSpan(r * d, d));
            }
        });
    }

    public (Tensor GradInput, Tensor GradWeight, Tensor GradBias) LayerNormBackward(Tensor gradOutput, Tensor x, int normalized, Tensor? weight, Tensor mean, Tensor invStd)
    {
        EnsureAllowed();
        int rows = TrainingChecks.LayerNorm(x, normalized, weight, null, gradOutput);
        var xc = x.Contiguous();
        var gc = gradOutput.Contiguous();
        var dx = Tensor.Allocate(x.DType, x.Shape, clear: false);
        var dw = new double[normalized];
        var db = new double[normalized];
        // The statistics as float64 runs of their own storage (a copy only for another layout or dtype).
        var mc = mean.DType == DType.Float64 ? mean.Contiguous() : mean.To(DType.Float64);
        var ic = invStd.DType == DType.Float64 ? invStd.Contiguous() : invStd.To(DType.Float64);
        var mu = new ReadOnlyMemory<double>(mc.Storage.As<double>(), mc.Offset, rows);
        var inv = new ReadOnlyMemory<double>(ic.Storage.As<double>(), ic.Offset, rows);
        if (x.DType == DType.Float32)
            LayerNormBackwardKernel(xc.Storage.As<float>(), xc.Offset, gc.Storage.As<float>(), gc.Offset, weight?.ToArray<float>(), dx.Storage.As<float>(), rows, normalized, mu, inv, dw, db);
        else
            LayerNormBackwardKernel(xc.Storage.As<double>(), xc.Offset, gc.Storage.As<double>(), gc.Offset, weight?.ToArray<double>(), dx.Storage.As<double>(), rows, normalized, mu, inv, dw, db);
        return (dx, InDType(dw, x.DType), InDType(db, x.DType));
    }

    /// <summary>
    /// Most blocks of rows the weight and bias gradients are summed in: each block's sums are one thread's, in the
    /// input's dtype, then the blocks' are added in float64 in block order.
    /// </summary>
    private const int LayerNormMaxBlocks = 64;

    /// <summary>Fewest rows a block of the weight and bias gradients' sums takes.</summary>
    private const int LayerNormBlockRows = 128;

    private static void LayerNormBackwardKernel<T>(T[] x, int xOffset, T[] g, int gOffset, T[]? w, T[] dx, int rows, int d, ReadOnlyMemory<double> means, ReadOnlyMemory<double> invStds, double[] dw, double[] db)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int blocks = Math.Clamp((rows + LayerNormBlockRows - 1) / LayerNormBlockRows, 1, LayerNormMaxBlocks);
        var partW = new T[blocks * d];
        var partB = new T[blocks * d];
        int grain = Math.Max(1, ParallelFor.GrainForBytes(3L * d * Unsafe.SizeOf<T>() * Math.Max(1, rows / blocks)));
        ParallelFor.For(blocks, grain, (b0, b1) =>
        {
            var xHat = new T[d];
            for (int block = b0; block < b1; block++)
            {
                var pw = partW.AsSpan(block * d, d);
                var pb = partB.AsSpan(block * d, d);
                var mean = means.Span;
                var invStd = invStds.Span;
                for (int r = ParallelFor.ChunkStart(rows, blocks, block), end = ParallelFor.ChunkStart(rows, blocks, block + 1); r < end; r++)
                {
                    var xr = x.AsSpan(xOffset + r * d, d);
                    var gr = g.AsSpan(gOffset + r * d, d);
                    T inv = T.CreateTruncating(invStd[r]);
                    // x̂, then Σĝ and Σĝ·x̂ with ĝ = g·γ, and this row's share of dγ = Σ g·x̂ and dβ = Σ g.
                    NormaliseRow(xr, T.CreateTruncating(mean[r]), inv, null, null, xHat);
                    var (sumG, sumGXHat) = RowGradientSums(gr, xHat, w, pw, pb);
                    // dx = (1/σ̂)·(ĝ − Σĝ/D − x̂·Σ(ĝ·x̂)/D) = a·ĝ + k·x̂ + c.
                    T a = inv, k = T.CreateTruncating(-invStd[r] * double.CreateTruncating(sumGXHat) / d);
                    T c = T.CreateTruncating(-invStd[r] * double.CreateTruncating(sumG) / d);
                    InputGradientRow(gr, xHat, w, a, k, c, dx.AsSpan(r * d, d));
                }
            }
        });
        for (int block = 0; block < blocks; block++)
            for (int j = 0; j < d; j++)
            {
                dw[j] += double.CreateTruncating(partW[block * d + j]);
                db[j] += double.CreateTruncating(partB[block * d + j]);
            }
    }

    /// <summary>Σ x over a row, on vectors of <see cref="Vector{T}"/> lanes.</summary>
    private static T RowSum<T>(ReadOnlySpan<T> x)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ref T px = ref MemoryMarshal.GetReference(x);
        int n = x.Length, i = 0, lanes = Vector<T>.Count;
        var acc = Vector<T>.Zero;
        for (; i <= n - lanes; i += lanes) acc += Vector.LoadUnsafe(ref px, (nuint)i);
        T s = Vector.Sum(acc);
        for (; i < n; i++) s += x[i];
        return s;
    }

    /// <summary>Σ (x − μ)² over a row.</summary>
    private static T RowCentredSquares<T>(ReadOnlySpan<T> x, T mu)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ref T px = ref MemoryMarshal.GetReference(x);
        int n = x.Length, i = 0, lanes = Vector<T>.Count;
        var acc = Vector<T>.Zero;
        var vm = new Vector<T>(mu);
        for (; i <= n - lanes; i += lanes)
        {
            var t = Vector.LoadUnsafe(ref px, (nuint)i) - vm;
            acc += t * t;
        }
        T s = Vector.Sum(acc);
        for (; i < n; i++) s += (x[i] - mu) * (x[i] - mu);
        return s;
    }

    /// <summary>y = (x − μ)·inv·γ + β over a row (γ = 1 and β = 0 where null).</summary>
    private static void NormaliseRow<T>(ReadOnlySpan<T> x, T mu, T inv, T[]? w, T[]? b, Span<T> y)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ref T px = ref MemoryMarshal.GetReference(x);
        ref T py = ref MemoryMarshal.GetReference(y);
        int n = x.Length, i = 0, lanes = Vector<T>.Count;
        Vector<T> vm = new(mu), vi = new(inv);
        if (w is null && b is null)
        {
            for (; i <= n - lanes; i += lanes) ((Vector.LoadUnsafe(ref px, (nuint)i) - vm) * vi).StoreUnsafe(ref py, (nuint)i);
            for (; i < n; i++) y[i] = (x[i] - mu) * inv;
            return;
        }
        ref T pw = ref w is null ? ref Unsafe.NullRef<T>() : ref MemoryMarshal.GetArrayDataReference(w);
        ref T pb = ref b is null ? ref Unsafe.NullRef<T>() : ref MemoryMarshal.GetArrayDataReference(b);
        for (; i <= n - lanes; i += lanes)
        {
            var t = (Vector.LoadUnsafe(ref px, (nuint)i) - vm) * vi;
            if (w is not null) t *= Vector.LoadUnsafe(ref pw, (nuint)i);
            if (b is not null) t += Vector.LoadUnsafe(ref pb, (nuint)i);
            t.StoreUnsafe(ref py, (nuint)i);
        }
        for (; i < n; i++) y[i] = (x[i] - mu) * inv * (w is null ? T.One : w[i]) + (b is null ? T.Zero : b[i]);
    }

    /// <summary>
    /// For one row: (Σĝ, Σĝ·x̂) with ĝ = g·γ (γ = 1 where null), and g·x̂ and g added into the row's block sums
    /// <paramref name="pw"/> and <paramref name="pb"/>.
    /// </summary>
    private static (T SumG, T SumGXHat) RowGradientSums<T>(ReadOnlySpan<T> g, ReadOnlySpan<T> xHat, T[]? w, Span<T> pw, Span<T> pb)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ref T pg = ref MemoryMarshal.GetReference(g);
        ref T px = ref MemoryMarshal.GetReference(xHat);
        ref T ppw = ref MemoryMarshal.GetReference(pw);
        ref T ppb = ref MemoryMarshal.GetReference(pb);
        ref T pwt = ref w is null ? ref Unsafe.NullRef<T>() : ref MemoryMarshal.GetArrayDataReference(w);
        int n = g.Length, i = 0, lanes = Vector<T>.Count;
        Vector<T> sg = Vector<T>.Zero, sgx = Vector<T>.Zero;
        for (; i <= n - lanes; i += lanes)
        {
            var vg = Vector.LoadUnsafe(ref pg, (nuint)i);
            var vx = Vector.LoadUnsafe(ref px, (nuint)i);
            var gx = vg * vx;
            (Vector.LoadUnsafe(ref ppw, (nuint)i) + gx).StoreUnsafe(ref ppw, (nuint)i);
            (Vector.LoadUnsafe(ref ppb, (nuint)i) + vg).StoreUnsafe(ref ppb, (nuint)i);
            var gh = w is null ? vg : vg * Vector.LoadUnsafe(ref pwt, (nuint)i);
            sg += gh;
            sgx += gh * vx;
        }
        T sumG = Vector.Sum(sg), sumGx = Vector.Sum(sgx);
        for (; i < n; i++)
        {
            pw[i] += g[i] * xHat[i];
            pb[i] += g[i];
            T gh = w is null ? g[i] : g[i] * w[i];
            sumG += gh;
            sumGx += gh * xHat[i];
        }
        return (sumG, sumGx);
    }

    /// <summary>dx = a·ĝ + k·x̂ + c over a row, with ĝ = g·γ (γ = 1 where null).</summary>
    private static void InputGradientRow<T>(ReadOnlySpan<T> g, ReadOnlySpan<T> xHat, T[]? w, T a, T k, T c, Span<T> dx)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ref T pg = ref MemoryMarshal.GetReference(g);
        ref T px = ref MemoryMarshal.GetReference(xHat);
        ref T pd = ref MemoryMarshal.GetReference(dx);
        ref T pwt = ref w is null ? ref Unsafe.NullRef<T>() : ref MemoryMarshal.GetArrayDataReference(w);
        int n = g.Length, i = 0, lanes = Vector<T>.Count;
        Vector<T> va = new(a), vk = new(k), vc = new(c);
        for (; i <= n - lanes; i += lanes)
        {
            var gh = Vector.LoadUnsafe(ref pg, (nuint)i);
            if (w is not null) gh *= Vector.LoadUnsafe(ref pwt, (nuint)i);
            (va * gh + vk * Vector.LoadUnsafe(ref px, (nuint)i) + vc).StoreUnsafe(ref pd, (nuint)i);
        }
        for (; i < n; i++) dx[i] = a * (w is null ? g[i] : g[i] * w[i]) + k * xHat[i] + c;
    }
}
