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

    /// <summary>
    /// Output slivers that share one pass over the packed weights: each MR x KC weight panel, once in L1, serves this
    /// many slivers before the next is read. With one sliver at a time a layer with many weights and few pixels (a
    /// ResNet's last stage: 9.4 MB of weights, 49 pixels at batch 1, 784 at batch 16) streams all its weights from L3
    /// once per 32 pixels; eight slivers of B (kc x NR each, 200 KB at most) stay in L2. The 6x64 tile's slivers are
    /// four times larger (KC 384 x 64), so it takes two: eight would fill a 1.25 MB L2 and, in a training step on two
    /// threads, made its convolutions slower than the 6x32 tile's.
    /// </summary>
    private static int SliversPerItem => Math.Max(1, 8 * 32 * 192 / (TKernel.NR * TKernel.KC));

    /// <summary>y = conv(x, w) + bias for contiguous NCHW buffers; <paramref name="bias"/> may be null.</summary>
    /// <param name="s">The convolution.</param>
    /// <param name="x">The input.</param>
    /// <param name="w">The weights.</param>
    /// <param name="bias">The bias, or null.</param>
    /// <param name="y">The output.</param>
    /// <param name="preparedW">
    /// The weights already packed (<see cref="PreparedConvWeights.GemmA"/>, with this kernel's MR and
    /// <see cref="BlockDepth"/>), or null to pack them for this call.
    /// </param>
    public static void Forward(in ConvShape s, T* x, T* w, T* bias, T* y, T* preparedW = null)
    {
        int colRows = s.ColRows, gout = s.GroupOut;
        int kc = GemmDriver<T, TKernel>.BlockDepth(colRows);
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
        if (preparedW is null && UsesLoweredGemm(s))
        {
            LoweredForward(s, x, w, bias, y);
            return;
        }
        // Weights packed once per call unless prepared: for each group, for each K block, mPad x kc (the last block shorter).
        T[]? packed = preparedW is null ? ArrayPool<T>.Shared.Rent(s.Groups * mPad * colRows) : null;
        // Where the packing reads: the image itself, or its column phases (see PolyphaseSource).
        bool polyphase = UsesPolyphase(s);
        var src = polyphase ? PolyphaseSource(s) : new Source(s.Height, s.Width, s.Window.StrideW, 1);
        // The phases' slack: a run's copy, rounded up to whole vectors, may read past the last element.
        T[]? phases = polyphase ? ArrayPool<T>.Shared.Rent((int)(s.Batch * src.InImage(s.InChannels)) + PhaseSlack) : null;
        // Row k of the column matrix is tap (channel, i, j): its channel offset and its row and column shifts in the
        // source, computed once here so the packing loop does no division.
        int[] taps = ArrayPool<int>.Shared.Rent(3 * colRows);
        // Nested loops, not k's quotients: four integer divisions a tap cost tens of microseconds a call at 512 channels.
        var win = s.Window;
        for (int ci = 0, k = 0; ci < s.GroupIn; ci++)
            for (int i = 0; i < win.KernelH; i++)
                for (int j = 0; j < win.KernelW; j++, k++)
                {
                    int dy = i * win.DilationH - win.PadH, dx = j * win.DilationW - win.PadW;
                    if (polyphase)
                    {
                        // Padded coordinates: column dx + PadW lies in phase (dx + PadW) % stride, at (dx + PadW) / stride.
                        int cx = dx + win.PadW;
                        taps[3 * k] = (ci * src.Phases + cx % src.Phases) * src.Plane;
                        taps[3 * k + 1] = dy + win.PadH;
                        taps[3 * k + 2] = cx / src.Phases;
                    }
                    else
                    {
                        taps[3 * k] = ci * src.Plane;
                        taps[3 * k + 1] = dy;
                        taps[3 * k + 2] = dx;
                    }
                }
        fixed (int* pt = taps)
        fixed (T* pp = packed)
        fixed (T* pph = phases)
        {
            if (pph is not null) WritePhases(s, src, x, pph);
            T* pw = preparedW;
            if (pw is null)
            {
                pw = pp;
                PreparedConvWeights.PackGemmA(s, w, TKernel.MR, kc, pw);
            }
            if (polyphase && ReadsPhasesInPlace)
            {
                PhaseRowsForward(s, src, pph, pw, pt, bias, y, kc, mPad);
            }
            else
            {
                int slivers = (int)((columns + TKernel.NR - 1) / TKernel.NR);
                int perItem = Math.Min(SliversPerItem, slivers), sliverGroups = (slivers + perItem - 1) / perItem;
                int threads = ParallelFor.ThreadsForMultiplyAdds((long)s.Batch * s.MacsPerImage);
                // Two to four items per thread: whole items leave the threads unevenly loaded (ResNet-18's 64 -> 128 stride-2
                // layers at batch 1: 25 slivers in items of 8, 8, 8 and 1, two a thread, so one thread did 16 slivers and the
                // other 9). Smaller items, taken on demand, even that out for a second pass over the weights per item.
                if (threads > 1 && s.Groups * sliverGroups >= 2 * threads && s.Groups * sliverGroups < 4 * threads)
                {
                    int groupsWanted = (4 * threads + s.Groups - 1) / s.Groups;
                    perItem = (slivers + groupsWanted - 1) / groupsWanted;
                    sliverGroups = (slivers + perItem - 1) / perItem;
                }
                // Too few (group, sliver group) items to keep the threads busy (small planes, batch 1): the output channels
                // are split too, each part packing the same slivers. Which rows go together does not change any result.
                int rowTiles = mPad / TKernel.MR, rowChunks = 1;
                if (threads > 1 && s.Groups * sliverGroups < 2 * threads)
                    rowChunks = Math.Clamp((2 * threads + s.Groups * sliverGroups - 1) / (s.Groups * sliverGroups), 1, Math.Max(1, rowTiles / 4));
                // Split rows read one copy of the slivers, packed beforehand by all threads, not a copy per row chunk: packing
                // a sliver walks every tap of the window for short runs of pixels (7 per row of a 7x7 plane), which at batch 1
                // costs as much as the multiply-adds of a few rows, so per-chunk packing kept a ResNet's last two stages from
                // running any faster on two threads than on one.
                long sharedLen = (long)(colRows + 1) * TKernel.NR;
                T[]? shared = rowChunks > 1 ? ArrayPool<T>.Shared.Rent((int)(s.Groups * slivers * sharedLen + 64 / sizeof(T))) : null;
                var body = new SliverBody
                {
                    X = pph is null ? x : pph,
                    Src = src,
                    Y = y,
                    Bias = bias,
                    PackedW = pw,
                    Taps = pt,
                    Shape = s,
                    Kc = kc,
                    MPad = mPad,
                    Slivers = slivers,
                    PerItem = perItem,
                    SliverGroups = sliverGroups,
                    RowChunks = rowChunks,
                };
                int items = s.Groups * sliverGroups * rowChunks;
                fixed (T* ps = shared)
                {
                    if (shared is not null)
                    {
                        body.Shared = (T*)(((nint)ps + 63) & ~(nint)63);
                        body.SharedLen = sharedLen;
                        var pack = new PackBody { Conv = body, Chunks = Math.Min(s.Groups * slivers, 4 * threads) };
                        ParallelFor.ForChunks(pack.Chunks, pack);
                    }
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
                if (shared is not null) ArrayPool<T>.Shared.Return(shared);
            }
        }
        if (packed is not null) ArrayPool<T>.Shared.Return(packed);
        if (phases is not null) ArrayPool<T>.Shared.Return(phases);
        ArrayPool<int>.Shared.Return(taps);
    }

    /// <summary>
    /// Whether the column-phase path multiplies straight from the phase planes instead of packing slivers: float32 on the
    /// 6x64 AVX-512 tile, whose <see cref="SgemmKernel6x64.RunRows"/> reads each step's 64 values where they lie. With
    /// the phases, a tap's values for consecutive output pixels of one output row are consecutive floats, so a sliver
    /// that stays within an output row needs no copy: packing them cost an eighth of ResNet-18's stem, and scattering
    /// the tiles from a buffer into the output planes another fourteenth.
    /// </summary>
    private static bool ReadsPhasesInPlace => typeof(T) == typeof(float) && typeof(TKernel) == typeof(SgemmKernel6x64) && PhaseRows.Enabled;

    /// <summary>
    /// The column-phase forward without packing (see <see cref="ReadsPhasesInPlace"/>). Items are (image, group, output
    /// row, run of NR output columns); an item runs every row tile of the packed weights over its run. A full run's tiles
    /// are written into y directly (its rows are output planes, NR consecutive pixels each) and the bias added there;
    /// a run cut short at the row's end, or the row tile past the last output channel, goes through a tile buffer.
    /// The multiply-adds, their order and the bias's are those of the packed path, so the bits are too.
    /// </summary>
    private static void PhaseRowsForward(in ConvShape s, Source src, T* phases, T* packedW, int* taps, T* bias, T* y, int kc, int mPad)
    {
        int colRows = s.ColRows;
        // Step k of the GEMM reads phase plane tap[0], row tap[1] + the output row's first source row, column tap[2] + the run's first output column.
        int[] offsets = ArrayPool<int>.Shared.Rent(colRows);
        for (int k = 0; k < colRows; k++) offsets[k] = taps[3 * k] + taps[3 * k + 1] * src.Width + taps[3 * k + 2];
        int perRow = (s.OutW + TKernel.NR - 1) / TKernel.NR;
        long items = (long)s.Batch * s.Groups * s.OutH * perRow;
        int threads = ParallelFor.ThreadsForMultiplyAdds((long)s.Batch * s.MacsPerImage);
        fixed (int* po = offsets)
        {
            var body = new PhaseRowBody
            {
                Phases = phases,
                Src = src,
                Y = y,
                Bias = bias,
                PackedW = packedW,
                Offsets = po,
                Shape = s,
                Kc = kc,
                MPad = mPad,
                PerRow = perRow,
                Items = items,
                Chunks = (int)Math.Min(items, threads <= 1 ? 1 : 16 * threads),
            };
            if (body.Chunks <= 1)
                body.Invoke(0);
            else
                ParallelFor.ForChunks(body.Chunks, body);
        }
        ArrayPool<int>.Shared.Return(offsets);
    }

    /// <summary>Chunk c of <see cref="Chunks"/>: a contiguous range of (image, group, output row, run) items.</summary>
    private struct PhaseRowBody : IChunkBody
    {
        public T* Phases, Y, Bias, PackedW;
        public int* Offsets;
        public Source Src;
        public ConvShape Shape;
        public int Kc, MPad, PerRow, Chunks;
        public long Items;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        [SkipLocalsInit] // the tile buffer is written by the kernel before it is read
        public readonly void Invoke(int chunk)
        {
            ref readonly ConvShape s = ref Shape;
            const int mr = 6, nr = 64;
            int colRows = s.ColRows, gout = s.GroupOut, plane = s.OutPlane, ow = s.OutW, oh = s.OutH;
            long i0 = Items * chunk / Chunks, i1 = Items * (chunk + 1) / Chunks;
            float* buffer = stackalloc float[mr * nr + 16];
            float* tile = (float*)(((nint)buffer + 63) & ~(nint)63);
            for (long item = i0; item < i1; item++)
            {
                int run = (int)(item % PerRow);
                long rest = item / PerRow;
                int oy = (int)(rest % oh);
                rest /= oh;
                int g = (int)(rest % s.Groups), n = (int)(rest / s.Groups);
                int ox0 = run * nr, cols = Math.Min(nr, ow - ox0);
                float* b = (float*)Phases + n * Src.InImage(s.InChannels) + g * Src.InImage(s.GroupIn) + (long)oy * s.Window.StrideH * Src.Width + ox0;
                T* yRun = Y + ((long)n * s.OutChannels + (long)g * gout) * plane + (long)oy * ow + ox0;
                float* a = (float*)PackedW + (long)g * MPad * colRows;
                for (int ir = 0; ir < MPad; ir += mr)
                {
                    bool direct = cols == nr && ir + mr <= gout;
                    float* c = direct ? (float*)(yRun + (long)ir * plane) : tile;
                    nint ldc = direct ? plane : nr;
                    for (int p0 = 0; p0 < colRows; p0 += Kc)
                    {
                        int kcb = Math.Min(Kc, colRows - p0);
                        SgemmKernel6x64.RunRows(kcb, a + (long)MPad * p0 + (long)ir * kcb, b, Offsets + p0, c, ldc, p0 == 0 ? 0f : 1f);
                    }
                    int rows = Math.Min(mr, gout - ir);
                    for (int r = 0; r < rows; r++)
                    {
                        T add = Bias is null ? T.Zero : Bias[g * gout + ir + r];
                        T* dst = yRun + (long)(ir + r) * plane;
                        if (!direct)
                            AddRun((T*)tile + r * nr, dst, cols, add);
                        else if (Bias is not null)
                            AddRun(dst, dst, nr, add);
                    }
                }
            }
        }
    }

    /// <summary>
    /// The image the packing reads: <see cref="Height"/> x <see cref="Width"/> planes, <see cref="Phases"/> of them per
    /// input channel, sampled every <see cref="StrideW"/> columns (the window's stride on the image itself, 1 on its
    /// column phases).
    /// </summary>
    internal readonly record struct Source(int Height, int Width, int StrideW, int Phases)
    {
        /// <summary>Elements of one plane.</summary>
        public int Plane => Height * Width;

        /// <summary>Elements of one image of <paramref name="channels"/> channels.</summary>
        public long InImage(int channels) => (long)channels * Phases * Plane;
    }

    /// <summary>
    /// True where the packing reads the image's column phases instead of the image: a strided window whose taps each
    /// sample the image at least four times over (KH·KW ≥ 4·SH·SW: the 7x7 stride-2 stem, 49 against 16), so the one
    /// pass that writes the phases costs a fraction of the packing it simplifies. A stride-2 tap reads every other
    /// input column, which the packing gathered element by element or by narrowing pairs of vectors, with bounds
    /// checked against the padding on every run; in a phase plane the same tap reads consecutive elements, and the
    /// padding is already there.
    /// </summary>
    internal static bool UsesPolyphase(in ConvShape s) =>
        s.Window.StrideW > 1 && s.Window.KernelH * s.Window.KernelW >= 4 * s.Window.StrideH * s.Window.StrideW;

    /// <summary>Elements after the column phases that a vector copy may read (and whose values land nowhere).</summary>
    private const int PhaseSlack = 64;

    /// <summary>The phases' geometry: each padded row (W + 2·PadW columns) split into StrideW planes of every StrideW-th column.</summary>
    private static Source PolyphaseSource(in ConvShape s)
    {
        int sw = s.Window.StrideW;
        return new Source(s.Height + 2 * s.Window.PadH, (s.Width + 2 * s.Window.PadW + sw - 1) / sw, 1, sw);
    }

    /// <summary>
    /// Writes the column phases of the zero-padded image: phase ph of row r of channel c holds padded columns
    /// ph, ph + SW, ph + 2·SW, … of that row (zeros in the padding and past its end). Rows are split over the threads
    /// in (image, row, channel) order, the order of the forward's items (image, output row, ...), so that each thread
    /// writes the rows its own output rows read and finds them in its own core's cache; split channel by channel, half
    /// of every thread's rows came from the other core.
    /// </summary>
    private static void WritePhases(in ConvShape s, Source src, T* x, T* phases)
    {
        int rows = s.Batch * s.InChannels * src.Height;
        int threads = ParallelFor.ThreadsForBytes(2L * s.Batch * src.InImage(s.InChannels) * sizeof(T));
        var body = new PhaseBody { X = x, Phases = phases, Shape = s, Src = src, Rows = rows, Chunks = threads <= 1 ? 1 : Math.Min(rows, 4 * threads) };
        if (threads <= 1)
            body.Invoke(0);
        else
            ParallelFor.ForChunks(body.Chunks, body);
    }

    /// <summary>Chunk c of <see cref="Chunks"/>: a range of (image, padded row, channel) rows, each written as its phase rows.</summary>
    private struct PhaseBody : IChunkBody
    {
        public T* X, Phases;
        public ConvShape Shape;
        public Source Src;
        public int Rows, Chunks;

        public readonly void Invoke(int chunk)
        {
            int r1 = ParallelFor.ChunkStart(Rows, Chunks, chunk + 1);
            int channels = Shape.InChannels, height = Src.Height;
            for (int i = ParallelFor.ChunkStart(Rows, Chunks, chunk); i < r1; i++)
            {
                // i = (n·height + r)·channels + c  ->  plane n·channels + c, row r.
                int c = i % channels, nr = i / channels;
                Row((nr / height * channels + c) * height + nr % height);
            }
        }

        private readonly void Row(int row)
        {
            ref readonly ConvShape s = ref Shape;
            int r = row % Src.Height, plane = row / Src.Height;
            int phases = Src.Phases, wq = Src.Width, w = s.Width, padW = s.Window.PadW;
            int iy = r - s.Window.PadH;
            T* dst = Phases + (long)plane * phases * Src.Plane + (long)r * wq;
            if ((uint)iy >= (uint)s.Height)
            {
                for (int ph = 0; ph < phases; ph++) new Span<T>(dst + (long)ph * Src.Plane, wq).Clear();
                return;
            }
            ColumnPhases.SplitRow(X + ((long)plane * s.Height + iy) * w, w, padW, phases, wq, dst, Src.Plane);
        }
    }

    /// <summary>The K block depth this kernel packs the weights in, for <paramref name="colRows"/> rows of the column matrix.</summary>
    internal static int BlockDepth(int colRows) => GemmDriver<T, TKernel>.BlockDepth(colRows);

    private static int RoundUp(int x, int m) => (x + m - 1) / m * m;

    /// <summary>
    /// dst[t] = src[t] + add for t &lt; len (src may be dst): the bias on one run of output pixels, vector moves and
    /// then the tail. Runs are short (at most NR in the scatter, a 7x7 plane in the lowered form), so this is inlined
    /// rather than a span kernel with its per-call checks; the scalar loop it replaced took a tenth of the stem's time.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void AddRun(T* src, T* dst, int len, T add)
    {
        int t = 0;
        if (Vector256.IsHardwareAccelerated && Vector256<T>.IsSupported)
        {
            var addV = Vector256.Create(add);
            for (; t <= len - Vector256<T>.Count; t += Vector256<T>.Count) Vector256.Store(Vector256.Load(src + t) + addV, dst + t);
        }
        for (; t < len; t++) dst[t] = src[t] + add;
    }

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
        var shape = s;
        nint px = (nint)x;
        // The column matrix (9.4 MB for a 512-channel 4x4 layer at batch 32) is written image by image, split over the threads.
        int im2colThreads = ParallelFor.ThreadsForBytes((long)colRows * columns * sizeof(T));
        for (int g = 0; g < s.Groups; g++)
        {
            int group = g;
            void Images(int n0, int n1)
            {
                for (int n = n0; n < n1; n++)
                    Im2Col.Forward(new ReadOnlySpan<T>((T*)px + ((long)n * shape.InChannels + (long)group * shape.GroupIn) * hw, shape.GroupIn * hw),
                        shape.GroupIn, shape.Height, shape.Width, shape.Window, shape.OutH, shape.OutW, col.AsSpan(n * plane), columns);
            }
            if (im2colThreads > 1 && s.Batch > 1) ParallelFor.For(s.Batch, Math.Max(1, (s.Batch + im2colThreads - 1) / im2colThreads), Images);
            else Images(0, s.Batch);
            Span<T> c = direct ? new Span<T>(y + (long)g * gout * plane, gout * plane) : product.AsSpan(0, gout * columns);
            GemmT.Run(false, false, gout, columns, colRows, new ReadOnlySpan<T>(w + (long)g * gout * colRows, gout * colRows), colRows,
                col.AsSpan(0, colRows * columns), columns, T.Zero, c, columns);
            for (int n = 0; n < s.Batch; n++)
                for (int o = 0; o < gout; o++)
                {
                    T add = bias is null ? T.Zero : bias[g * gout + o];
                    if (direct && bias is null) break;
                    T* dst = y + ((long)n * s.OutChannels + (long)g * gout + o) * plane;
                    fixed (T* src = c.Slice(o * columns + n * plane, plane)) AddRun(src, dst, plane, add);
                }
        }
        ArrayPool<T>.Shared.Return(col);
        if (product is not null) ArrayPool<T>.Shared.Return(product);
    }

    /// <summary>
    /// Chunk c of <see cref="Chunks"/>: a contiguous range of (group, sliver group, row chunk) work items. An item packs
    /// up to <see cref="PerItem"/> slivers of the column matrix, K block by K block, and runs its rows of the packed
    /// weights over all of them.
    /// </summary>
    private struct SliverBody : IChunkBody
    {
        /// <summary>The image the packing reads (<see cref="Src"/>: the input or its column phases).</summary>
        public T* X;
        public T* Y, Bias, PackedW;
        public Source Src;
        public int* Taps;
        public ConvShape Shape;
        public int Kc, MPad, Slivers, Chunks, PerItem, SliverGroups, RowChunks;

        /// <summary>
        /// Every sliver of every group packed whole ([ColRows][NR] each, <see cref="SharedLen"/> apart, group-major), or
        /// null when each item packs its own slivers block by block.
        /// </summary>
        public T* Shared;
        public long SharedLen;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public readonly void Invoke(int chunk)
        {
            int nr = TKernel.NR;
            int items = Shape.Groups * SliverGroups * RowChunks;
            int i0 = ParallelFor.ChunkStart(items, Chunks, chunk), i1 = ParallelFor.ChunkStart(items, Chunks, chunk + 1);
            // This thread's scratch: PerItem B slivers (kc x NR each) and their C tiles (MPad x NR each).
            // (Each sliver gets NR elements of slack: its packing may write a vector past its last row.)
            long sliverLen = (long)(Kc + 1) * nr, tileLen = (long)MPad * nr;
            long need = PerItem * (sliverLen + tileLen) + 64 / sizeof(T);
            if (_scratch is null || _scratch.Length < need) _scratch = GC.AllocateUninitializedArray<T>((int)need, pinned: true);
            T* slivers = (T*)(((nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_scratch)) + 63) & ~(nint)63);
            T* tiles = slivers + PerItem * sliverLen;
            Span<int> segments = stackalloc int[RunFields * nr * PerItem];
            Span<int> runs = stackalloc int[PerItem];
            int rowTiles = MPad / TKernel.MR;
            for (int item = i0; item < i1; item++)
            {
                int rc = item % RowChunks, rest = item / RowChunks;
                int g = rest / SliverGroups, sg = rest % SliverGroups;
                int m0 = ParallelFor.ChunkStart(rowTiles, RowChunks, rc) * TKernel.MR, m1 = ParallelFor.ChunkStart(rowTiles, RowChunks, rc + 1) * TKernel.MR;
                int sv0 = sg * PerItem, count = Math.Min(PerItem, Slivers - sv0);
                Item(g, sv0, count, m0, m1, slivers, sliverLen, tiles, tileLen, segments, runs);
            }
        }

        /// <summary>Fields per run of a sliver: first column, length, image, output row, first output column.</summary>
        private const int RunFields = 5;

        /// <summary><see cref="RunFields"/>, for <see cref="PackBody"/>.</summary>
        internal const int RunFieldCount = RunFields;

        /// <summary>
        /// Computes rows [m0, m1) of the NR output columns of slivers [sv0, sv0 + count) of group <paramref name="g"/>.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private readonly void Item(int g, int sv0, int count, int m0, int m1, T* slivers, long sliverLen, T* tiles, long tileLen, Span<int> segments, Span<int> runs)
        {
            ref readonly ConvShape s = ref Shape;
            int nr = TKernel.NR, mr = TKernel.MR, plane = s.OutPlane, ow = s.OutW;
            int colRows = s.ColRows, gout = s.GroupOut;
            long columns = (long)s.Batch * plane;
            // Each sliver's columns as runs of consecutive output pixels on one output row of one image:
            // (first column, length, image, output row, first output column) — at most a few per sliver.
            for (int j = 0; j < count; j++)
                runs[j] = Runs(sv0 + j, segments.Slice(j * RunFields * nr, RunFields * nr));
            T* pw = PackedW + (long)g * MPad * colRows;
            // The item's slivers: packed here, a K block at a time, or read from the copy packed before the region.
            T* b0 = Shared is null ? slivers : Shared + (g * (long)Slivers + sv0) * SharedLen;
            long bStride = Shared is null ? sliverLen : SharedLen;
            for (int p0 = 0, b = 0; p0 < colRows; p0 += Kc, b++)
            {
                int kcb = Math.Min(Kc, colRows - p0);
                long bOffset = Shared is null ? 0 : (long)p0 * nr;
                if (Shared is null)
                    for (int j = 0; j < count; j++)
                    {
                        int cols = (int)Math.Min(nr, columns - (long)(sv0 + j) * nr);
                        PackSliver(g, p0, kcb, cols, runs[j], segments.Slice(j * RunFields * nr, RunFields * nr), slivers + j * sliverLen);
                    }
                T beta = b == 0 ? T.Zero : T.One;
                T* a = pw + (long)MPad * p0;
                // One MR x kc panel of weights (in L1) against every sliver of the item (in L2).
                for (int ir = m0; ir < m1; ir += mr)
                    for (int j = 0; j < count; j++)
                        TKernel.Run(kcb, a + (long)ir * kcb, b0 + j * bStride + bOffset, tiles + j * tileLen + ir * nr, nr, T.One, beta);
            }
            for (int j = 0; j < count; j++)
                Scatter(g, runs[j], segments.Slice(j * RunFields * nr, RunFields * nr), tiles + j * tileLen, m0, Math.Min(m1, gout));
        }

        /// <summary>
        /// Splits sliver <paramref name="sliver"/>'s columns into runs of consecutive output pixels on one output row of one
        /// image, (first column, length, image, output row, first output column) each, into <paramref name="segments"/>;
        /// returns how many (a few per sliver).
        /// </summary>
        internal readonly int Runs(int sliver, Span<int> segments)
        {
            int nr = TKernel.NR, plane = Shape.OutPlane, ow = Shape.OutW;
            long columns = (long)Shape.Batch * plane, q0 = (long)sliver * nr;
            int cols = (int)Math.Min(nr, columns - q0), runCount = 0;
            for (int c = 0; c < cols;)
            {
                long q = q0 + c;
                int n = (int)(q / plane), pix = (int)(q % plane), oy = pix / ow, ox = pix % ow;
                int len = Math.Min(cols - c, ow - ox);
                int f = RunFields * runCount;
                segments[f] = c; segments[f + 1] = len; segments[f + 2] = n; segments[f + 3] = oy; segments[f + 4] = ox;
                runCount++;
                c += len;
            }
            return runCount;
        }

        /// <summary>Writes rows [o0, o1) of one sliver's tiles to y, adding the bias: one contiguous row piece per run and output channel.</summary>
        private readonly void Scatter(int g, int runs, Span<int> segments, T* tiles, int o0, int o1)
        {
            ref readonly ConvShape s = ref Shape;
            int nr = TKernel.NR, plane = s.OutPlane, ow = s.OutW, gout = s.GroupOut;
            int outImage = s.OutChannels * plane;
            for (int r = 0; r < runs; r++)
            {
                int f = RunFields * r;
                int c = segments[f], len = segments[f + 1], n = segments[f + 2], pix = segments[f + 3] * ow + segments[f + 4];
                T* yRun = Y + (long)n * outImage + (long)g * gout * plane + pix;
                for (int o = o0; o < o1; o++)
                    AddRun(tiles + o * nr + c, yRun + (long)o * plane, len, Bias is null ? T.Zero : Bias[g * gout + o]);
            }
        }

        /// <summary>
        /// Packs rows [p0, p0 + kc) of the sliver's column matrix: row p is tap (channel, i, j) of the window, and
        /// column c the input pixel that tap sees from output pixel c (zero in the padding), in the layout
        /// [kc][NR] the micro-kernel streams.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        internal readonly void PackSliver(int g, int p0, int kc, int cols, int runs, Span<int> segments, T* dst)
        {
            ref readonly ConvShape s = ref Shape;
            int nr = TKernel.NR, h = Src.Height, w = Src.Width;
            int sh = s.Window.StrideH, sw = Src.StrideW;
            long inImage = Src.InImage(s.InChannels);
            T* xg = X + g * Src.InImage(s.GroupIn);
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
            if (Src.Phases > 1 && vectors)
            {
                // Column phases: every tap of every run reads consecutive elements inside the padded planes, so a run is
                // whole vector moves, no bounds. What a move writes past its run is overwritten by the next run, or by
                // the zeros after the last column, or is the sliver's slack.
                for (int p = 0; p < kc; p++)
                {
                    int* tap = Taps + 3 * (p0 + p);
                    T* tapBase = xg + tap[0] + (nint)tap[1] * w + tap[2];
                    T* row = dst + (long)p * nr;
                    for (int r = 0; r < runs; r++)
                    {
                        T* src = tapBase + rowBase[r], d = row + first[r];
                        for (int v = 0; v < length[r]; v += Vector256<T>.Count)
                            Vector256.Store(Vector256.Load(src + v), d + v);
                    }
                    for (int c = cols; c < nr; c += Vector256<T>.Count) Vector256.Store(Vector256<T>.Zero, row + c);
                }
                return;
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
                        // The run rounded up to whole vectors: on small planes (7 or 14 pixels a row at batch 1) a run
                        // is a fraction of the sliver, and copying the whole sliver width per run cost 2-4x the moves.
                        int span = (len + Vector256<T>.Count - 1) & -Vector256<T>.Count;
                        if (vectors && src >= X && src + span <= xEnd)
                        {
                            // What lands past the run is overwritten by the next run or row (they are packed in order),
                            // or is slack after the buffer's last row.
                            for (int v = 0; v < span; v += Vector256<T>.Count)
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
                            // Stride 2 (every downsampling layer of a ResNet). The last group may pass hi: what it
                            // writes there is zeroed below or lands on the next run or row (a run of 7 pixels, batch 1
                            // at 7x7, is then one group, not seven scalar moves).
                            for (; t < hi && src + 2 * t + 16 <= xEnd; t += 8) ColumnPhases.StoreEvens(src + 2 * t, d + t);
                        }
                        for (; t < hi; t++) d[t] = src[t * sw];
                        for (int u = 0; u < lo; u++) d[u] = T.Zero;
                        for (int u = hi; u < len; u++) d[u] = T.Zero;
                    }
                }
                // Columns past the batch's last pixel (the last sliver): zeros, in vector stores where they may spill
                // into the next row (packed after this one) or the slack.
                if (vectors)
                    for (int c = cols; c < nr; c += Vector256<T>.Count) Vector256.Store(Vector256<T>.Zero, row + c);
                else
                    for (int c = cols; c < nr; c++) row[c] = T.Zero;
            }
        }
    }

    /// <summary>
    /// Chunk c of <see cref="Chunks"/>: packs a contiguous range of (group, sliver) pairs whole into
    /// <see cref="SliverBody.Shared"/>, each by one thread in row order (a row's vector moves may spill into the next row,
    /// which the same thread then overwrites).
    /// </summary>
    private struct PackBody : IChunkBody
    {
        public SliverBody Conv;
        public int Chunks;

        public readonly void Invoke(int chunk)
        {
            int nr = TKernel.NR, pairs = Conv.Shape.Groups * Conv.Slivers;
            int i0 = ParallelFor.ChunkStart(pairs, Chunks, chunk), i1 = ParallelFor.ChunkStart(pairs, Chunks, chunk + 1);
            long columns = (long)Conv.Shape.Batch * Conv.Shape.OutPlane;
            Span<int> segments = stackalloc int[SliverBody.RunFieldCount * nr];
            for (int i = i0; i < i1; i++)
            {
                int g = i / Conv.Slivers, sv = i % Conv.Slivers;
                int runs = Conv.Runs(sv, segments);
                int cols = (int)Math.Min(nr, columns - (long)sv * nr);
                Conv.PackSliver(g, 0, Conv.Shape.ColRows, cols, runs, segments, Conv.Shared + (long)i * Conv.SharedLen);
            }
        }
    }
}

/// <summary>Switch shared by every <see cref="ImplicitGemmConv{T, TKernel}"/> instantiation (tests turn the in-place phase path off to compare).</summary>
internal static class PhaseRows
{
    /// <summary>Whether the column-phase path reads the phase planes in place where the tile allows it.</summary>
    public static bool Enabled = true;
}
