using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;

namespace Fovea.Kernels;

/// <summary>
/// Convolution forward with the output pixels as the GEMM's rows: Yᵀ = col(X)ᵀ · Wᵀ, for layers with few output pixels
/// (a ResNet's last stages at batch 1: 49 or 196 pixels) and prepared weights.
/// <para>
/// The implicit GEMM (<see cref="ImplicitGemmConv{T, TKernel}"/>) puts the pixels in the register tile's columns, NR at a
/// time: 49 pixels fill two 32-wide slivers to 77 % and 196 fill seven to 88 %, and each run of 7 or 14 pixels is packed
/// tap by tap. Here the pixels are the tile's MR = 6 rows (196 → 198, 99 %; 49 → 54, 91 %, or eight full tiles and a
/// short one of a single row with AVX2, <see cref="SgemmKernel6x16.TakesShortTile"/>) and the output channels,
/// a multiple of NR in every network that reaches this path, are its columns. The column matrix is written once (im2col,
/// whole rows at a time) and packed once into MR-row slivers shared by every thread; the weights are packed once, when
/// prepared, as NR-column slivers of Wᵀ (<see cref="PreparedConvWeights"/>), and each is read once per call.
/// </para>
/// Threads split the output channels (slivers of Wᵀ), and the rows too when there are few slivers; every element of Yᵀ
/// is computed by the same operations in the same order whatever the split, so results do not depend on the thread count.
/// </summary>
internal static unsafe class PixelRowGemmConv<TKernel>
    where TKernel : struct, IMicroKernel<float>
{
    /// <summary>Most output pixels (over the batch) this path takes: beyond it the implicit GEMM's slivers are nearly full.</summary>
    internal const int MaxColumns = 1024;

    /// <summary>
    /// Largest packed col(X)ᵀ (bytes): every sliver of Wᵀ passes over all of it, so it must stay in L2 (1 MiB a core on
    /// AMD Zen 4 and 5). A ResNet's last stage at batch 1 packs 0.9 MB (49 rows x 4,608 taps); at batch 16 it would pack
    /// 14 MB and stream it from memory once per sliver, where the implicit GEMM streams the weights instead. Its
    /// 64 → 128 stride-2 layer at batch 1 packs 1.8 MB (784 rows x 576 taps), and runs faster as the implicit GEMM
    /// (measured inside the network on a 2-core AMD EPYC, Zen 5; mean of 60 forwards, one / two threads):
    /// 0.94–0.98 → 0.86 ms / 0.79–0.86 → 0.63–0.65 ms.
    /// </summary>
    internal const long MaxPackedBytes = 1L << 20;

    /// <summary>
    /// Fewest taps (input channels x window) this path takes. Each MR x NR tile of Yᵀ runs one multiply-add step per
    /// tap and is then written out transposed, and the columns are written by im2col and then packed, two passes the
    /// implicit GEMM folds into one; with few taps those costs are not paid back. A ResNet's 64 → 128 1x1 stride-2
    /// shortcut at batch 1 (64 taps, 784 pixels) runs faster as the implicit GEMM (alone, prepared weights, medians of
    /// 500 calls on a 2-core AMD EPYC, Zen 5, one / two threads): 0.175–0.180 → 0.108–0.122 ms / 0.166–0.182 →
    /// 0.089–0.107 ms; its 128 → 256 one (128 taps) runs even on both paths, and the 256 → 512 one (256 taps) faster on
    /// this one.
    /// </summary>
    internal const int MinTaps = 128;

    /// <summary>
    /// True where this path runs: one group, at most <see cref="MaxColumns"/> output pixels over the batch whose packed
    /// columns fit <see cref="MaxPackedBytes"/>, at least two slivers of output channels and at least
    /// <see cref="MinTaps"/> taps.
    /// </summary>
    public static bool Applies(in ConvShape s) =>
        PixelRowGemm.Enabled && s.Groups == 1 && s.Batch > 0 && s.OutPlane > 0 && (long)s.Batch * s.OutPlane <= MaxColumns && s.GroupOut >= 2 * TKernel.NR && s.ColRows >= MinTaps
        && (long)RoundUp(s.Batch * s.OutPlane, TKernel.MR) * s.ColRows * sizeof(float) <= MaxPackedBytes;

    /// <summary>
    /// True where the multiply phase reads col(X)ᵀ straight from the padded input instead of packing it first: AVX-512's
    /// 7-row tile, stride 1, output rows a multiple of 7 pixels wide (so each tile is 7 adjacent pixels of one output
    /// row, its tap-k values 7 consecutive floats at one address: <see cref="InputRows"/>), and more than one
    /// thread. Each thread then pads the input into its own scratch, once per call, and reads only what it wrote: the
    /// packed form pads and packs in two parallel regions of their own, after which each thread's tiles read the half
    /// of col(X)ᵀ the other thread packed from that core's cache. On one thread the packed slivers' sequential reads
    /// are as fast, and at stride 2 (7 values spread over 13 floats) the pack wins. Inside the exported ResNet-18 at
    /// batch 1 on a 2-core AMD EPYC (Zen 5), the two forms alternating forward by forward (medians of 300 each, two
    /// threads): the three 512@7² layers 0.846–0.872 → 0.802–0.811 ms each with the padded input shared, and, in
    /// another run, 0.794–0.821 → 0.750–0.773 ms with it padded by each thread (the pretrained file's five such layers
    /// 0.927–0.958 → 0.871–0.909); the 256@14² → 512 stride-2 layer 0.461 → 0.504 (hence stride 1 only); one thread
    /// unchanged. Both forms make the same operations in the same order, so the results are the same bits.
    /// </summary>
    internal static bool ReadsInput(in ConvShape s, int threads) =>
        PixelRowGemm.FromInput && threads > 1 && typeof(TKernel) == typeof(SgemmKernel7x32) && s.Window.StrideW == 1 && s.OutW % 7 == 0;

    /// <summary>
    /// The K block depth the weights are packed in, for <paramref name="colRows"/> taps: equal blocks of at most
    /// <see cref="MaxBlockDepth"/>, so one block's sliver of Wᵀ (kc x NR: 32 KiB for NR = 64) stays in L1 while the row
    /// tiles' slivers of col(X)ᵀ stream past it.
    /// </summary>
    public static int BlockDepth(int colRows)
    {
        int blocks = Math.Max(1, (colRows + MaxBlockDepth - 1) / MaxBlockDepth);
        return (colRows + blocks - 1) / blocks;
    }

    /// <summary>Deepest K block: 128 x 64 floats of Wᵀ is 32 KiB of a 48 KiB L1.</summary>
    private const int MaxBlockDepth = 128;

    /// <summary>Length of the packed Wᵀ: <see cref="PackWeights"/> writes RoundUp(gout, NR) x colRows floats.</summary>
    public static long PackedLength(in ConvShape s) => (long)RoundUp(s.GroupOut, TKernel.NR) * s.ColRows;

    /// <summary>
    /// Packs Wᵀ ([colRows, gout], from <paramref name="w"/> [gout, colRows]) as, per K block of <see cref="BlockDepth"/>,
    /// slivers of NR output channels (kcb x NR each; channels past gout are zero).
    /// </summary>
    public static void PackWeights(in ConvShape s, float* w, float* dst)
    {
        int colRows = s.ColRows, kc = BlockDepth(colRows), nPad = RoundUp(s.GroupOut, TKernel.NR);
        for (int p0 = 0; p0 < colRows; p0 += kc)
            GemmPacking.PackB(dst + (long)nPad * p0, w, colRows, transB: true, p0, Math.Min(kc, colRows - p0), 0, s.GroupOut, TKernel.NR);
    }

    /// <summary>y = conv(x, w) + bias for contiguous NCHW buffers, with Wᵀ packed by <see cref="PackWeights"/>; <paramref name="bias"/> may be null.</summary>
    public static void Forward(in ConvShape s, float* x, float* packedWT, float* bias, float* y)
    {
        int mr = TKernel.MR, nr = TKernel.NR;
        var win = s.Window;
        int columns = s.Batch * s.OutPlane, colRows = s.ColRows, gout = s.GroupOut;
        int kc = BlockDepth(colRows), mPad = RoundUp(columns, mr), nPad = RoundUp(gout, nr);
        int hp = s.Height + 2 * win.PadH, wp = s.Width + 2 * win.PadW;
        bool padded = win.PadH > 0 || win.PadW > 0;
        int threads = ParallelFor.ThreadsForMultiplyAdds((long)s.Batch * s.MacsPerImage);
        // The input with its zero border (so every tap is one load), col(X)ᵀ's MR-row slivers per K block, and Yᵀ.
        bool fromInput = ReadsInput(s, threads);
        // Reading the input in place, each thread pads it into its own scratch (see ReadsInput); the packed form pads it once, shared.
        bool ownPadding = fromInput && padded;
        float[]? xPadded = padded && !ownPadding ? ArrayPool<float>.Shared.Rent(s.Batch * s.InChannels * hp * wp) : null;
        float[] packedA = ArrayPool<float>.Shared.Rent(fromInput ? 16 : mPad * colRows + 16);
        float[] yT = ArrayPool<float>.Shared.Rent(mPad * nPad + 16);
        // Tap k = (channel, i, j) is at offset tap[k] from a pixel's window corner, pixel r's corner at corner[r].
        int[] taps = ArrayPool<int>.Shared.Rent(colRows);
        int[] corners = ArrayPool<int>.Shared.Rent(mPad);
        win.TapOffsets(s.GroupIn, hp * wp, wp, taps);
        for (int r = 0; r < mPad; r++)
        {
            // Rows past the last pixel repeat pixel 0: their results fill Yᵀ's padding and are never read.
            int rr = r < columns ? r : 0, n = rr / s.OutPlane, q = rr % s.OutPlane;
            corners[r] = (n * s.InChannels * hp + q / s.OutW * win.StrideH) * wp + q % s.OutW * win.StrideW;
        }
        fixed (float* pp = xPadded, pa = packedA, pt = yT)
        fixed (int* ptap = taps, pcorner = corners)
        {
            var body = new Body
            {
                Shape = s,
                X = x,
                XPadded = padded ? pp : x,
                PackedA = (float*)(((nint)pa + 63) & ~(nint)63),
                PackedWT = packedWT,
                YT = (float*)(((nint)pt + 63) & ~(nint)63),
                Bias = bias,
                Y = y,
                Taps = ptap,
                Corners = pcorner,
                Kc = kc,
                MPad = mPad,
                NPad = nPad,
                Hp = hp,
                Wp = wp,
            };
            int slivers = nPad / nr, rowTiles = mPad / mr, kBlocks = (colRows + kc - 1) / kc;
            body.OwnPadding = ownPadding;
            body.Call = ownPadding ? Interlocked.Increment(ref s_calls) : 0;
            if (padded && !ownPadding)
            {
                body.Phase = 0;
                Run(s.Batch * s.InChannels, threads, body);
            }
            // col(X)ᵀ packed straight from the (padded) input, by (K block, row range), unless the tiles read it from there.
            body.RowTiles = rowTiles;
            body.LastTileRows = columns - (rowTiles - 1) * mr;
            body.FromInput = fromInput;
            if (!fromInput)
            {
                body.Phase = 1;
                body.RowChunks = threads > 1 && kBlocks < 4 * threads ? Math.Min(rowTiles, (4 * threads + kBlocks - 1) / kBlocks) : 1;
                Run(kBlocks * body.RowChunks, threads, body);
            }
            // Yᵀ tiles and the transpose into y, by (sliver range, row range).
            body.Phase = 2;
            body.SliverChunks = threads > 1 ? Math.Min(slivers, SliverChunksPerThread * threads) : 1;
            body.RowChunks = threads > 1 && body.SliverChunks < 2 * threads ? Math.Min(rowTiles, (2 * threads + body.SliverChunks - 1) / body.SliverChunks) : 1;
            body.Slivers = slivers;
            Run(body.SliverChunks * body.RowChunks, threads, body);
        }
        if (xPadded is not null) ArrayPool<float>.Shared.Return(xPadded);
        ArrayPool<float>.Shared.Return(packedA);
        ArrayPool<float>.Shared.Return(yT);
        ArrayPool<int>.Shared.Return(taps);
        ArrayPool<int>.Shared.Return(corners);
    }

    /// <summary>
    /// Chunks of slivers per thread in the multiply phase (each of one sliver or more). Threads claim chunks as they come
    /// free, so the thread that finishes first waits for the other's last chunk, on average half a chunk: with 4 a
    /// thread, ResNet-18's batch-1 pixel-row calls on two threads (the `lay` probe, each chunk timed, 200 forwards)
    /// left the helper idle 51–62 µs at the end of each region, with 8 23–37 µs, and the phase took 3.84–3.95 → 3.66–3.83
    /// ms a forward. Smaller chunks gain only while each chunk's first sliver is prefetched like the rest (the
    /// prefetch reaches into the next chunk), or the first weights of every chunk come from memory unannounced.
    /// </summary>
    internal const int SliverChunksPerThread = 8;

    private static long s_calls;

    [ThreadStatic] private static float[]? _padded;

    [ThreadStatic] private static long _paddedCall;

    private static void Run(int chunks, int threads, Body body)
    {
        if (threads > 1 && chunks > 1) ParallelFor.ForChunks(chunks, body);
        else for (int i = 0; i < chunks; i++) body.Invoke(i);
    }

    private struct Body : IChunkBody
    {
        public ConvShape Shape;
        public float* X, XPadded, PackedA, PackedWT, YT, Bias, Y;
        public int* Taps, Corners;
        public bool FromInput, OwnPadding;
        public long Call;
        public int Phase, Kc, MPad, NPad, Hp, Wp, SliverChunks, RowChunks, RowTiles, Slivers, LastTileRows;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public readonly void Invoke(int chunk)
        {
            switch (Phase)
            {
                case 0: Pad(chunk); break;
                case 1: Pack(chunk / RowChunks, chunk % RowChunks); break;
                default: Tiles(chunk / RowChunks, chunk % RowChunks); break;
            }
        }

        /// <summary>
        /// The padded input in this thread's scratch, padded by this thread once per call (<see cref="Call"/>): a thread
        /// then reads only what it wrote itself.
        /// </summary>
        private readonly float* PaddedForThisThread()
        {
            ref readonly ConvShape s = ref Shape;
            int planes = s.Batch * s.InChannels, length = planes * Hp * Wp;
            float* xp = ThreadScratch.Floats(ref _padded, length);
            if (_paddedCall != Call)
            {
                for (int plane = 0; plane < planes; plane++)
                    WinogradTransforms.PadPlane(X + (long)plane * s.Height * s.Width, s.Height, s.Width, s.Window.PadH, s.Window.PadW, xp + (long)plane * Hp * Wp, Hp, Wp);
                _paddedCall = Call;
            }
            return xp;
        }

        /// <summary>Plane <paramref name="plane"/> (image·channels + channel) copied inside its zero border.</summary>
        private readonly void Pad(int plane)
        {
            ref readonly ConvShape s = ref Shape;
            int h = s.Height, w = s.Width;
            WinogradTransforms.PadPlane(X + (long)plane * h * w, h, w, s.Window.PadH, s.Window.PadW, XPadded + (long)plane * Hp * Wp, Hp, Wp);
        }

        /// <summary>The MR-row slivers of col(X)ᵀ for K block <paramref name="block"/> and row tiles of chunk <paramref name="rowChunk"/>.</summary>
        private readonly void Pack(int block, int rowChunk)
        {
            int mr = TKernel.MR, colRows = Shape.ColRows, p0 = block * Kc, kcb = Math.Min(Kc, colRows - p0);
            int t0 = ParallelFor.ChunkStart(RowTiles, RowChunks, rowChunk), t1 = ParallelFor.ChunkStart(RowTiles, RowChunks, rowChunk + 1);
            int* taps = Taps + p0;
            for (int t = t0; t < t1; t++)
            {
                float* d = PackedA + (long)MPad * p0 + (long)t * mr * kcb;
                int* c = Corners + t * mr;
                if (mr == 6)
                {
                    int c0 = c[0], c1 = c[1], c2 = c[2], c3 = c[3], c4 = c[4], c5 = c[5];
                    for (int k = 0; k < kcb; k++, d += 6)
                    {
                        float* src = XPadded + taps[k];
                        d[0] = src[c0]; d[1] = src[c1]; d[2] = src[c2]; d[3] = src[c3]; d[4] = src[c4]; d[5] = src[c5];
                    }
                }
                else if (mr == 7)
                {
                    int c0 = c[0], c1 = c[1], c2 = c[2], c3 = c[3], c4 = c[4], c5 = c[5], c6 = c[6];
                    for (int k = 0; k < kcb; k++, d += 7)
                    {
                        float* src = XPadded + taps[k];
                        d[0] = src[c0]; d[1] = src[c1]; d[2] = src[c2]; d[3] = src[c3]; d[4] = src[c4]; d[5] = src[c5]; d[6] = src[c6];
                    }
                }
                else
                {
                    for (int k = 0; k < kcb; k++, d += mr)
                    {
                        float* src = XPadded + taps[k];
                        for (int r = 0; r < mr; r++) d[r] = src[c[r]];
                    }
                }
            }
        }

        /// <summary>Yᵀ for slivers of chunk <paramref name="sliverChunk"/> and row tiles of <paramref name="rowChunk"/>, then their part of y.</summary>
        private readonly void Tiles(int sliverChunk, int rowChunk)
        {
            ref readonly ConvShape s = ref Shape;
            int mr = TKernel.MR, nr = TKernel.NR, colRows = s.ColRows, gout = s.GroupOut, plane = s.OutPlane, columns = s.Batch * plane;
            int j0 = ParallelFor.ChunkStart(Slivers, SliverChunks, sliverChunk), j1 = ParallelFor.ChunkStart(Slivers, SliverChunks, sliverChunk + 1);
            float* xp = OwnPadding ? PaddedForThisThread() : XPadded;
            int t0 = ParallelFor.ChunkStart(RowTiles, RowChunks, rowChunk), t1 = ParallelFor.ChunkStart(RowTiles, RowChunks, rowChunk + 1);
            for (int j = j0; j < j1; j++)
            {
                for (int p0 = 0; p0 < colRows; p0 += Kc)
                {
                    int kcb = Math.Min(Kc, colRows - p0);
                    float* b = PackedWT + (long)NPad * p0 + (long)j * nr * kcb;
                    float* a = PackedA + (long)MPad * p0;
                    // The next sliver of Wᵀ (next K block, or the next sliver's first) is fetched while this one is used:
                    // each is read from memory once per call, and the hardware prefetcher alone leaves the FMAs waiting.
                    // Past this chunk's last sliver that is the first of the next chunk, which this thread usually takes
                    // too (threads claim consecutive chunks of their own range).
                    int pn = p0 + Kc < colRows ? p0 + Kc : 0, jn = pn == 0 ? j + 1 : j;
                    byte* next = jn < Slivers ? (byte*)(PackedWT + (long)NPad * pn + (long)jn * nr * Math.Min(Kc, colRows - pn)) : null;
                    long lines = (long)nr * Math.Min(Kc, colRows - pn) * sizeof(float) / 64;
                    int tiles = t1 - t0;
                    float beta = p0 == 0 ? 0f : 1f;
                    for (int t = t0; t < t1; t++)
                    {
                        if (next is not null && Sse.IsSupported)
                            for (long l = (t - t0) * lines / tiles, e = (t - t0 + 1) * lines / tiles; l < e; l++) Sse.Prefetch1(next + l * 64);
                        float* c = YT + (long)t * mr * NPad + j * nr;
                        if (FromInput) SgemmKernel7x32.Run(kcb, new InputRows(xp + Corners[t * mr], Taps + p0), b, c, NPad, 1f, beta);
                        else RowTile.Run<TKernel>(t == RowTiles - 1 ? LastTileRows : mr, kcb, a + (long)t * mr * kcb, b, c, NPad, beta);
                    }
                }
                // y[n, o, q] = Yᵀ[n·plane + q, o] + bias[o] for this sliver's channels and these rows.
                // Each row of Yᵀ is read once, along its channels; the NR output rows it feeds stay in L1 meanwhile.
                int oBegin = j * nr, oEnd = Math.Min(gout, oBegin + nr), r1 = Math.Min(columns, t1 * mr);
                int n = t0 * mr / plane, q = t0 * mr - n * plane;
                for (int r = t0 * mr; r < r1; r++)
                {
                    float* src = YT + (long)r * NPad;
                    float* dst = Y + (long)n * s.OutChannels * plane + q;
                    for (int o = oBegin; o < oEnd; o++) dst[(long)o * plane] = src[o] + (Bias is null ? 0f : Bias[o]);
                    if (++q == plane) (n, q) = (n + 1, 0);
                }
            }
        }
    }

    private static int RoundUp(int x, int m) => (x + m - 1) / m * m;
}

/// <summary>Switch shared by every <see cref="PixelRowGemmConv{TKernel}"/> instantiation (tests turn the path off to compare).</summary>
internal static class PixelRowGemm
{
    /// <summary>Whether layers with few output pixels take the pixel-row path.</summary>
    public static bool Enabled = true;

    /// <summary>Whether <see cref="PixelRowGemmConv{TKernel}.ReadsInput"/> may read col(X)ᵀ from the input (tests turn it off to compare).</summary>
    public static bool FromInput = true;
}

/// <summary>
/// The A operand of <see cref="SgemmKernel7x32"/> read from the padded input instead of a packed sliver: step p's 7
/// values are the 7 consecutive floats at <c>src + taps[p]</c> (7 adjacent output pixels of one row at stride 1; taps[p]
/// is the tap's offset from a pixel's window corner).
/// </summary>
internal readonly unsafe struct InputRows(float* src, int* taps) : SgemmKernel7x32.ISevenRows
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float* At(int p) => src + taps[p];
}
