using System.Buffers;
using System.Numerics;
using System.Runtime.InteropServices;

namespace Fovea.Kernels;

/// <summary>
/// Batched 2-d convolution (cross-correlation, as in every deep-learning library) as im2col + GEMM, in the three
/// forms training needs. All buffers are contiguous NCHW; the weight is [OutChannels, InChannels/Groups, KH, KW].
/// <list type="bullet">
/// <item>forward: per image and group, y_g = W_g · col(x_g) (a 1x1 stride-1 conv skips im2col: col(x) = x);</item>
/// <item>backward-input: per image and group, dx_g = col2im(W_gᵀ · dy_g), the full convolution of the upstream
/// gradient with the flipped kernel;</item>
/// <item>backward-weight: dW_g = Σ_n dy_{n,g} · col(x_{n,g})ᵀ, the cross-correlation of the input with the upstream gradient.</item>
/// </list>
/// Images are spread over threads (each with its own pooled column buffer, so GEMM runs serially inside);
/// a single image leaves the threads to GEMM. The weight gradient sums per-chunk partials in chunk order with
/// a chunking that does not depend on the thread count, so its bits do not either.
/// </summary>
public static class Conv2dKernels
{
    /// <summary>Below this many multiply-adds in all, a call stays on the calling thread.</summary>
    private const long ParallelMinMacs = 1L << 20;

    /// <summary>The weight gradient is split into at most this many batch chunks (fixed, for thread-independent sums).</summary>
    private const int WeightChunks = 8;

    /// <summary>y = conv(x, w) + bias. <paramref name="bias"/> may be empty (no bias).</summary>
    public static void Forward<T>(in ConvShape s, ReadOnlyMemory<T> x, ReadOnlyMemory<T> w, ReadOnlyMemory<T> bias, Memory<T> y)
        where T : unmanaged, INumber<T>
    {
        var shape = s;
        int inImage = s.InChannels * s.Height * s.Width, outImage = s.OutChannels * s.OutPlane;
        bool pointwise = s.Window.IsPointwise;
        ForImages(shape, (start, end) =>
        {
            T[]? col = pointwise ? null : ArrayPool<T>.Shared.Rent(shape.ColRows * shape.OutPlane);
            try
            {
                for (int n = start; n < end; n++)
                    ForwardImage(shape, x.Span.Slice(n * inImage, inImage), w.Span, bias.Span, y.Span.Slice(n * outImage, outImage), col);
            }
            finally
            {
                if (col is not null) ArrayPool<T>.Shared.Return(col);
            }
        });
    }

    private static void ForwardImage<T>(in ConvShape s, ReadOnlySpan<T> x, ReadOnlySpan<T> w, ReadOnlySpan<T> bias, Span<T> y, T[]? col)
        where T : unmanaged, INumber<T>
    {
        int plane = s.OutPlane, colRows = s.ColRows, gin = s.GroupIn, gout = s.GroupOut, hw = s.Height * s.Width;
        T beta = T.Zero;
        if (!bias.IsEmpty)
        {
            // Start every output row at its bias and let GEMM accumulate onto it (beta = 1).
            for (int co = 0; co < s.OutChannels; co++) y.Slice(co * plane, plane).Fill(bias[co]);
            beta = T.One;
        }
        for (int g = 0; g < s.Groups; g++)
        {
            var xg = x.Slice(g * gin * hw, gin * hw);
            ReadOnlySpan<T> b = xg;
            if (col is not null)
            {
                Im2Col.Forward(xg, gin, s.Height, s.Width, s.Window, s.OutH, s.OutW, col.AsSpan(0, colRows * plane));
                b = col.AsSpan(0, colRows * plane);
            }
            GemmT.Run(false, false, gout, plane, colRows, w.Slice(g * gout * colRows, gout * colRows), colRows, b, plane, beta, y.Slice(g * gout * plane, gout * plane), plane);
        }
    }

    /// <summary>dx = the input gradient of the convolution given the output gradient <paramref name="dy"/> (dx is overwritten).</summary>
    public static void BackwardInput<T>(in ConvShape s, ReadOnlyMemory<T> dy, ReadOnlyMemory<T> w, Memory<T> dx)
        where T : unmanaged, INumber<T>
    {
        var shape = s;
        int inImage = s.InChannels * s.Height * s.Width, outImage = s.OutChannels * s.OutPlane;
        bool pointwise = s.Window.IsPointwise;
        ForImages(shape, (start, end) =>
        {
            T[]? col = pointwise ? null : ArrayPool<T>.Shared.Rent(shape.ColRows * shape.OutPlane);
            try
            {
                for (int n = start; n < end; n++)
                    BackwardInputImage(shape, dy.Span.Slice(n * outImage, outImage), w.Span, dx.Span.Slice(n * inImage, inImage), col);
            }
            finally
            {
                if (col is not null) ArrayPool<T>.Shared.Return(col);
            }
        });
    }

    private static void BackwardInputImage<T>(in ConvShape s, ReadOnlySpan<T> dy, ReadOnlySpan<T> w, Span<T> dx, T[]? col)
        where T : unmanaged, INumber<T>
    {
        int plane = s.OutPlane, colRows = s.ColRows, gin = s.GroupIn, gout = s.GroupOut, hw = s.Height * s.Width;
        if (col is not null) dx.Clear();
        for (int g = 0; g < s.Groups; g++)
        {
            var wg = w.Slice(g * gout * colRows, gout * colRows);
            var dyg = dy.Slice(g * gout * plane, gout * plane);
            var dxg = dx.Slice(g * gin * hw, gin * hw);
            if (col is null)
            {
                GemmT.Run(true, false, colRows, plane, gout, wg, colRows, dyg, plane, T.Zero, dxg, plane);
                continue;
            }
            var c = col.AsSpan(0, colRows * plane);
            GemmT.Run(true, false, colRows, plane, gout, wg, colRows, dyg, plane, T.Zero, c, plane);
            Im2Col.Backward<T>(c, gin, s.Height, s.Width, s.Window, s.OutH, s.OutW, dxg);
        }
    }

    /// <summary>dw = the weight gradient of the convolution given input <paramref name="x"/> and output gradient <paramref name="dy"/> (dw is overwritten).</summary>
    public static void BackwardWeight<T>(in ConvShape s, ReadOnlyMemory<T> x, ReadOnlyMemory<T> dy, Memory<T> dw)
        where T : unmanaged, INumber<T>
    {
        var shape = s;
        int inImage = s.InChannels * s.Height * s.Width, outImage = s.OutChannels * s.OutPlane;
        int wLen = s.OutChannels * s.ColRows;
        bool pointwise = s.Window.IsPointwise;
        int chunks = Math.Min(s.Batch, WeightChunks);
        dw.Span.Clear();
        if (chunks == 0) return;
        // Chunk c accumulates images [start, end) into its own partial; chunk 0 writes straight into dw.
        var partials = new T[chunks - 1][];
        void Chunk(int c)
        {
            int start = ParallelFor.ChunkStart(shape.Batch, chunks, c), end = ParallelFor.ChunkStart(shape.Batch, chunks, c + 1);
            if (c > 0)
            {
                partials[c - 1] = ArrayPool<T>.Shared.Rent(wLen);
                partials[c - 1].AsSpan(0, wLen).Clear();
            }
            var acc = c == 0 ? dw.Span : partials[c - 1].AsSpan(0, wLen);
            T[]? col = pointwise ? null : ArrayPool<T>.Shared.Rent(shape.ColRows * shape.OutPlane);
            try
            {
                for (int n = start; n < end; n++)
                    BackwardWeightImage(shape, x.Span.Slice(n * inImage, inImage), dy.Span.Slice(n * outImage, outImage), acc, col);
            }
            finally
            {
                if (col is not null) ArrayPool<T>.Shared.Return(col);
            }
        }
        if (ParallelFor.ChunkCount(s.Batch, Math.Max(1, ParallelMinMacs / Math.Max(1, 3 * s.MacsPerImage))) > 1)
            ParallelFor.ForChunks(chunks, Chunk);
        else
            for (int c = 0; c < chunks; c++) Chunk(c);
        var sum = dw.Span;
        foreach (var p in partials)
        {
            System.Numerics.Tensors.TensorPrimitives.Add<T>(sum, p.AsSpan(0, wLen), sum);
            ArrayPool<T>.Shared.Return(p);
        }
    }

    private static void BackwardWeightImage<T>(in ConvShape s, ReadOnlySpan<T> x, ReadOnlySpan<T> dy, Span<T> dw, T[]? col)
        where T : unmanaged, INumber<T>
    {
        int plane = s.OutPlane, colRows = s.ColRows, gin = s.GroupIn, gout = s.GroupOut, hw = s.Height * s.Width;
        for (int g = 0; g < s.Groups; g++)
        {
            var xg = x.Slice(g * gin * hw, gin * hw);
            ReadOnlySpan<T> b = xg;
            if (col is not null)
            {
                Im2Col.Forward(xg, gin, s.Height, s.Width, s.Window, s.OutH, s.OutW, col.AsSpan(0, colRows * plane));
                b = col.AsSpan(0, colRows * plane);
            }
            // dW_g [gout, colRows] += dy_g [gout, plane] · col_gᵀ [plane, colRows]
            GemmT.Run(false, true, gout, colRows, plane, dy.Slice(g * gout * plane, gout * plane), plane, b, plane, T.One, dw.Slice(g * gout * colRows, gout * colRows), colRows);
        }
    }

    /// <summary>Runs body(start, end) over image ranges: several threads when the batch allows, else one call over all images.</summary>
    private static void ForImages(in ConvShape s, Action<int, int> body)
    {
        int batch = s.Batch;
        if (batch == 0) return;
        long grain = Math.Max(1, ParallelMinMacs / Math.Max(1, s.MacsPerImage));
        int threads = ParallelFor.ChunkCount(batch, grain);
        if (threads <= 1 || batch < 2)
        {
            body(0, batch);
            return;
        }
        // More chunks than threads, taken on demand, keep both cores busy when one of them is shared.
        int chunks = Math.Min(batch, 4 * threads);
        ParallelFor.ForChunks(chunks, c => body(ParallelFor.ChunkStart(batch, chunks, c), ParallelFor.ChunkStart(batch, chunks, c + 1)));
    }
}

/// <summary>GEMM for a generic element type: float32 and float64 go to the packed kernels.</summary>
internal static class GemmT
{
    public static void Run<T>(bool transA, bool transB, int m, int n, int k, ReadOnlySpan<T> a, int lda, ReadOnlySpan<T> b, int ldb, T beta, Span<T> c, int ldc)
        where T : unmanaged, INumber<T>
    {
        if (typeof(T) == typeof(float))
            Gemm.Sgemm(transA, transB, m, n, k, 1f, MemoryMarshal.Cast<T, float>(a), lda, MemoryMarshal.Cast<T, float>(b), ldb,
                float.CreateTruncating(beta), MemoryMarshal.Cast<T, float>(c), ldc);
        else if (typeof(T) == typeof(double))
            Gemm.Dgemm(transA, transB, m, n, k, 1.0, MemoryMarshal.Cast<T, double>(a), lda, MemoryMarshal.Cast<T, double>(b), ldb,
                double.CreateTruncating(beta), MemoryMarshal.Cast<T, double>(c), ldc);
        else
            throw new NotSupportedException($"GEMM is defined for float and double, not {typeof(T).Name}");
    }
}
