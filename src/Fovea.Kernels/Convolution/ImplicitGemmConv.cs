using System.Buffers;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Fovea.Kernels;

/// <summary>
/// Convolution forward as an implicit GEMM: Y_g = W_g · col(X_g), where the column matrix is never stored. The
/// GEMM's B operand is packed straight from the image, one sliver of NR output pixels at a time, into a buffer that
/// stays in L1; the packed weights (the A operand, a few kilobytes to a few hundred) stay in L2 for the whole call.
/// <para>
/// The explicit form writes the whole column matrix (KH·KW times the input) and then reads and writes it again to
/// pack it, three passes over memory for what is, with LeNet's few output channels, only a handful of multiply-adds
/// per element. Here each column value is written once, into L1, and consumed at once by the register tiles.
/// </para>
/// Columns run over the whole batch (pixel q of image n is column n·OH·OW + q), so the small images of a LeNet
/// layer still fill every sliver. Each sliver is computed by the same operations whatever the thread count, which
/// only decides who computes which slivers: results are bit-identical on any number of threads.
/// </summary>
internal static unsafe class ImplicitGemmConv<T, TKernel>
    where T : unmanaged, INumber<T>
    where TKernel : struct, IMicroKernel<T>
{
    [ThreadStatic] private static T[]? _scratch;

    /// <summary>Below this many multiply-adds a call stays on the calling thread.</summary>
    private const long ThreadingMinMacs = 1L << 20;

    /// <summary>y = conv(x, w) + bias for contiguous NCHW buffers; <paramref name="bias"/> may be null.</summary>
    public static void Forward(in ConvShape s, T* x, T* w, T* bias, T* y)
    {
        int colRows = s.ColRows, gout = s.GroupOut;
        int kc = GemmDriver<T, TKernel>.BlockDepth(colRows), kBlocks = (colRows + kc - 1) / kc;
        int mPad = RoundUp(gout, TKernel.MR);
        long columns = (long)s.Batch * s.OutPlane;
        if (columns == 0 || gout == 0) return;
        if (colRows == 0)
        {
            // No taps: the output is the bias.
            for (int n = 0; n < s.Batch; n++)
                for (int o = 0; o < s.OutChannels; o++)
                    new Span<T>(y + ((long)n * s.OutChannels + o) * s.OutPlane, s.OutPlane).Fill(bias is null ? T.Zero : bias[o]);
            return;
        }
        if (UsesLoweredGemm(s))
        {
            LoweredForward(s, x, w, bias, y);
            return;
        }
        // Weights packed once per call: for each group, for each K block, mPad x kc (the last block shorter).
        int groupPacked = mPad * colRows;
        T[] packed = ArrayPool<T>.Shared.Rent(s.Groups * groupPacked);
        // Row k of the column matrix is tap (channel, i, j): its channel offset and its row and column shifts,
        // computed once here so the packing loop does no division.
        int[] taps = ArrayPool<int>.Shared.Rent(3 * colRows);
        var win = s.Window;
        for (int k = 0; k < colRows; k++)
        {
            int ci = k / win.KernelSize, rem = k % win.KernelSize;
            taps[3 * k] = ci * s.Height * s.Width;
            taps[3 * k + 1] = rem / win.KernelW * win.DilationH - win.PadH;
            taps[3 * k + 2] = rem % win.KernelW * win.DilationW - win.PadW;
        }
        fixed (int* pt = taps)
        fixed (T* pw = packed)
        {
            for (int g = 0; g < s.Groups; g++)
                for (int b = 0; b < kBlocks; b++)
                {
                    int p0 = b * kc, kcb = Math.Min(kc, colRows - p0);
                    GemmPacking.PackA(pw + (long)g * groupPacked + (long)mPad * p0, w + (long)g * gout * colRows, colRows, false, 0, gout, p0, kcb, TKernel.MR);
                }
            int slivers = (int)((columns + TKernel.NR - 1) / TKernel.NR);
            var body = new SliverBody { X = x, Y = y, Bias = bias, PackedW = pw, Taps = pt, Shape = s, Kc = kc, MPad = mPad, Slivers = slivers };
            int items = s.Groups * slivers;
            int threads = ParallelFor.ChunkCount((long)s.Batch * s.MacsPerImage, ThreadingMinMacs);
            if (threads <= 1)
            {
                body.Chunks = 1;
                body.Invoke(0);
            }
            else
            {
                // A few chunks per thread, taken on demand, so a core slowed by other work takes fewer.
                body.Chunks = Math.Min(items, 4 * threads);
                ParallelFor.ForChunks(body.Chunks, body);
            }
        }
        ArrayPool<T>.Shared.Return(packed);
        ArrayPool<int>.Shared.Return(taps);
    }

    private static int RoundUp(int x, int m) => (x + m - 1) / m * m;

    /// <summary>
    /// True where the lowered form (explicit im2col, then one packed GEMM per group) serves better: no more output
    /// pixels in the whole batch than output channels, as in a ResNet's last stages at batch 1 (49 pixels, 512
    /// channels, 9.4 MB of weights). The implicit form packs all the weights and then streams them once per sliver of
    /// NR pixels; the GEMM driver reads them once, a cache-sized block at a time, and the column matrix it needs
    /// is no larger than the weights.
    /// </summary>
    internal static bool UsesLoweredGemm(in ConvShape s) => (long)s.Batch * s.OutPlane <= s.GroupOut;

    /// <summary>y = conv(x, w) + bias through im2col + GEMM: Y_g [gout, N·OH·OW] = W_g · col(X_g), images side by side.</summary>
    private static void LoweredForward(in ConvShape s, T* x, T* w, T* bias, T* y)
    {
        int plane = s.OutPlane, columns = s.Batch * plane, colRows = s.ColRows, gout = s.GroupOut, hw = s.Height * s.Width;
        // One image: the GEMM writes y's channels directly; several: a [gout, columns] product scattered per image.
        bool direct = s.Batch == 1;
        T[] col = ArrayPool<T>.Shared.Rent(colRows * columns);
        T[]? product = direct ? null : ArrayPool<T>.Shared.Rent(gout * columns);
        for (int g = 0; g < s.Groups; g++)
        {
            for (int n = 0; n < s.Batch; n++)
                Im2Col.Forward(new ReadOnlySpan<T>(x + ((long)n * s.InChannels + (long)g * s.GroupIn) * hw, s.GroupIn * hw),
                    s.GroupIn, s.Height, s.Width, s.Window, s.OutH, s.OutW, col.AsSpan(n * plane), columns);
            Span<T> c = direct ? new Span<T>(y + (long)g * gout * plane, gout * plane) : product.AsSpan(0, gout * columns);
            GemmT.Run(false, false, gout, columns, colRows, new ReadOnlySpan<T>(w + (long)g * gout * colRows, gout * colRows), colRows,
                col.AsSpan(0, colRows * columns), columns, T.Zero, c, columns);
            for (int n = 0; n < s.Batch; n++)
                for (int o = 0; o < gout; o++)
                {
                    T add = bias is null ? T.Zero : bias[g * gout + o];
                    if (direct && bias is null) break;
                    T* dst = y + ((long)n * s.OutChannels + (long)g * gout + o) * plane;
                    Span<T> src = c.Slice(o * columns + n * plane, plane);
                    for (int t = 0; t < plane; t++) dst[t] = src[t] + add;
                }
        }
        ArrayPool<T>.Shared.Return(col);
        if (product is not null) ArrayPool<T>.Shared.Return(product);
    }

    /// <summary>Chunk c of <see cref="Chunks"/>: a contiguous range of (group, sliver) work items.</summary>
    private struct SliverBody : IChunkBody
    {
        public T* X, Y, Bias, PackedW;
        public int* Taps;
        public ConvShape Shape;
        public int Kc, MPad, Slivers, Chunks;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public readonly void Invoke(int chunk)
        {
            int nr = TKernel.NR;
            int items = Shape.Groups * Slivers;
            int i0 = ParallelFor.ChunkStart(items, Chunks, chunk), i1 = ParallelFor.ChunkStart(items, Chunks, chunk + 1);
            // This thread's scratch: one B sliver (kc x NR) and the sliver's C tiles (MPad x NR).
            // (The sliver gets NR elements of slack: its packing may write a vector past its last row.)
            int need = (Kc + 1) * nr + MPad * nr + 64 / sizeof(T);
            if (_scratch is null || _scratch.Length < need) _scratch = GC.AllocateUninitializedArray<T>(need, pinned: true);
            T* sliver = (T*)(((nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_scratch)) + 63) & ~(nint)63);
            T* tiles = sliver + (Kc + 1) * nr;
            Span<int> segments = stackalloc int[RunFields * nr];
            for (int item = i0; item < i1; item++)
                Sliver(item / Slivers, item % Slivers, sliver, tiles, segments);
        }

        /// <summary>Fields per run of a sliver: first column, length, image, output row, first output column.</summary>
        private const int RunFields = 5;

        /// <summary>Computes the NR output columns of sliver <paramref name="sv"/> of group <paramref name="g"/>.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private readonly void Sliver(int g, int sv, T* sliver, T* tiles, Span<int> segments)
        {
            ref readonly ConvShape s = ref Shape;
            int nr = TKernel.NR, mr = TKernel.MR, plane = s.OutPlane, ow = s.OutW;
            int colRows = s.ColRows, gout = s.GroupOut;
            long q0 = (long)sv * nr;
            int cols = (int)Math.Min(nr, (long)s.Batch * plane - q0);
            // The sliver's columns as runs of consecutive output pixels on one output row of one image:
            // (first column, length, image, output row, first output column) — at most a few per sliver.
            int runs = 0;
            for (int c = 0; c < cols;)
            {
                long q = q0 + c;
                int n = (int)(q / plane), pix = (int)(q % plane), oy = pix / ow, ox = pix % ow;
                int len = Math.Min(cols - c, ow - ox);
                int f = RunFields * runs;
                segments[f] = c; segments[f + 1] = len; segments[f + 2] = n; segments[f + 3] = oy; segments[f + 4] = ox;
                runs++;
                c += len;
            }
            T* pw = PackedW + (long)g * MPad * colRows;
            for (int p0 = 0, b = 0; p0 < colRows; p0 += Kc, b++)
            {
                int kcb = Math.Min(Kc, colRows - p0);
                PackSliver(g, p0, kcb, cols, runs, segments, sliver);
                T beta = b == 0 ? T.Zero : T.One;
                T* a = pw + (long)MPad * p0;
                for (int ir = 0; ir < MPad; ir += mr)
                    TKernel.Run(kcb, a + (long)ir * kcb, sliver, tiles + ir * nr, nr, T.One, beta);
            }
            // Scatter the tiles to y, adding the bias: one contiguous row piece per run and output channel.
            int outImage = s.OutChannels * plane;
            for (int r = 0; r < runs; r++)
            {
                int f = RunFields * r;
                int c = segments[f], len = segments[f + 1], n = segments[f + 2], pix = segments[f + 3] * ow + segments[f + 4];
                T* yRun = Y + (long)n * outImage + (long)g * gout * plane + pix;
                // Runs are short (at most NR): plain loops, no per-call overhead of a span kernel.
                for (int o = 0; o < gout; o++)
                {
                    T* src = tiles + o * nr + c, dst = yRun + (long)o * plane;
                    T add = Bias is null ? T.Zero : Bias[g * gout + o];
                    for (int t = 0; t < len; t++) dst[t] = src[t] + add;
                }
            }
        }

        /// <summary>
        /// Packs rows [p0, p0 + kc) of the sliver's column matrix: row p is tap (channel, i, j) of the window, and
        /// column c the input pixel that tap sees from output pixel c (zero in the padding), in the layout
        /// [kc][NR] the micro-kernel streams.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private readonly void PackSliver(int g, int p0, int kc, int cols, int runs, Span<int> segments, T* dst)
        {
            ref readonly ConvShape s = ref Shape;
            int nr = TKernel.NR, h = s.Height, w = s.Width, hw = h * w;
            int sh = s.Window.StrideH, sw = s.Window.StrideW;
            long inImage = (long)s.InChannels * hw;
            T* xg = X + (long)g * s.GroupIn * hw;
            T* xEnd = X + s.Batch * inImage;
            bool vectors = Vector256.IsHardwareAccelerated && Vector256<T>.IsSupported && nr % Vector256<T>.Count == 0;
            // Per run: its first column and length, the input row and column its first output pixel's window
            // starts at, and the address of that input row in the group's first channel.
            Span<int> first = stackalloc int[runs], length = stackalloc int[runs], iy0 = stackalloc int[runs], ix0 = stackalloc int[runs];
            Span<nint> rowBase = stackalloc nint[runs];
            for (int r = 0; r < runs; r++)
            {
                int f = RunFields * r;
                first[r] = segments[f];
                length[r] = segments[f + 1];
                iy0[r] = segments[f + 3] * sh;
                ix0[r] = segments[f + 4] * sw;
                rowBase[r] = (nint)(segments[f + 2] * inImage + (long)iy0[r] * w + ix0[r]);
            }
            for (int p = 0; p < kc; p++)
            {
                int* tap = Taps + 3 * (p0 + p);
                int chan = tap[0], dy = tap[1], dx = tap[2];
                T* row = dst + (long)p * nr;
                for (int r = 0; r < runs; r++)
                {
                    int len = length[r];
                    T* d = row + first[r];
                    if ((uint)(iy0[r] + dy) >= (uint)h)
                    {
                        for (int t = 0; t < len; t++) d[t] = T.Zero;
                        continue;
                    }
                    T* src = xg + rowBase[r] + chan + (nint)dy * w + dx;
                    int ix = ix0[r] + dx;
                    if (sw == 1)
                    {
                        // Output columns t whose input column ix + t lies inside the image: [lo, hi).
                        int lo = Math.Clamp(-ix, 0, len), hi = Math.Clamp(w - ix, lo, len);
                        if (vectors && src >= X && src + nr <= xEnd)
                        {
                            // A whole sliver width in vector moves: what lands past the run is overwritten by the
                            // next run or row (they are packed in order), or is slack after the buffer's last row.
                            for (int v = 0; v < nr; v += Vector256<T>.Count)
                                Vector256.Store(Vector256.Load(src + v), d + v);
                        }
                        else
                        {
                            for (int t = lo; t < hi; t++) d[t] = src[t];
                        }
                        for (int t = 0; t < lo; t++) d[t] = T.Zero;
                        for (int t = hi; t < len; t++) d[t] = T.Zero;
                    }
                    else
                    {
                        // Output columns t whose input column ix + t·sw lies inside the image: [lo, hi).
                        int lo = ix >= 0 ? 0 : Math.Min(len, (-ix + sw - 1) / sw);
                        int hi = ix >= w ? lo : Math.Clamp((w - 1 - ix) / sw + 1, lo, len);
                        int t = lo;
                        if (sw == 2 && sizeof(T) == sizeof(uint) && Vector256.IsHardwareAccelerated)
                        {
                            // Stride 2 (the stem and every downsampling layer of a ResNet): the even elements of 16
                            // consecutive floats are the low halves of 8 64-bit lanes, which Narrow gathers in order.
                            for (; t + 8 <= hi && src + 2 * t + 16 <= xEnd; t += 8)
                            {
                                var pairs0 = Vector256.Load((ulong*)(src + 2 * t));
                                var pairs1 = Vector256.Load((ulong*)(src + 2 * t + 8));
                                Vector256.Store(Vector256.Narrow(pairs0, pairs1), (uint*)(d + t));
                            }
                        }
                        for (; t < hi; t++) d[t] = src[t * sw];
                        for (int u = 0; u < lo; u++) d[u] = T.Zero;
                        for (int u = hi; u < len; u++) d[u] = T.Zero;
                    }
                }
                for (int c = cols; c < nr; c++) row[c] = T.Zero;
            }
        }
    }
}
