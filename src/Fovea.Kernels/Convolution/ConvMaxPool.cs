using System.Buffers;
using System.Runtime.CompilerServices;

namespace Fovea.Kernels;

/// <summary>
/// A kernel that computes any few output rows of a convolution's image into a buffer of the caller's:
/// <see cref="PhaseRowConv.Body"/> and <see cref="DirectConv.ChannelBody"/>, whose callers are their own forwards and
/// <see cref="ConvMaxPool"/>.
/// </summary>
internal unsafe interface IConvRows
{
    /// <summary>Most output rows one <see cref="Rows"/> call takes.</summary>
    int RowsPerCall { get; }

    /// <summary>
    /// Output rows [<paramref name="oy0"/>, <paramref name="oy1"/>) of image <paramref name="n"/> (at most
    /// <see cref="RowsPerCall"/>), bias and epilogue applied: channel o's row oy at
    /// dst + o·<paramref name="dstPlane"/> + (oy − oy0)·OutW. Each output gets the same operations as in the kernel's
    /// own forward, whichever rows a call takes. Called concurrently for different rows.
    /// </summary>
    void Rows(int n, int oy0, int oy1, float* dst, long dstPlane);

    /// <summary>
    /// The row maxima of <paramref name="pool"/> (<see cref="Pool2dKernels.RowMaximaF32"/>'s values, bit for bit) of
    /// output rows [<paramref name="oy0"/>, <paramref name="oy1"/>) after the ReLU, without storing the rows: channel
    /// o's maxima of row oy at dst + o·<paramref name="channelStride"/> + (oy − oy0)·<paramref name="poolW"/>. False,
    /// writing nothing, where the kernel has no such form (the caller then takes <see cref="Rows"/> and the pooling's pass).
    /// </summary>
    bool RowMaxima(int n, int oy0, int oy1, in Window2d pool, int poolW, float* dst, long channelStride);
}

/// <summary>
/// y = max_pool(relu(conv(x, w) + b)) without writing the convolution's output: a network's stem (ResNet's 7x7
/// stride-2 layer, its ReLU and its 3x3 stride-2 max pool), whose 64 x 112² output (3.2 MB an image) the separate
/// pooling then reads back from memory, and on two threads half of it from the other core's writes. Here each worker
/// takes a block of pooled rows at a time, computes the convolution rows their windows read (those it does not hold
/// yet) into a scratch in L2 (<see cref="IConvRows"/>, the stem kernels' own row blocks), turns each into its row
/// maxima at once (the separable pooling's first pass, <see cref="Pool2dKernels.RowMaximaF32"/>) and pools the
/// block's rows (the second pass); the row maxima the next block still needs stay, the rest is overwritten.
/// <para>
/// The values are those of the three ops in turn, bit for bit: each convolution output is computed by the same
/// operations as in the stem's own forward, rectified as its epilogue rectifies it, and pooled by the same two passes
/// as <see cref="Pool2dKernels.MaxForwardValues{T}"/>.
/// </para>
/// </summary>
internal static unsafe class ConvMaxPool
{
    /// <summary>Whether the fused path may run; tests switch it off to compare with the ops in turn.</summary>
    internal static bool Enabled = true;

    /// <summary>
    /// Whether a stem kernel that can (<see cref="IConvRows.RowMaxima"/>) hands over its rows' maxima instead of the
    /// rows; tests switch it off to run the pooling's own first pass on the same shapes.
    /// </summary>
    internal static bool RowMaximaInKernel = true;

    [ThreadStatic] private static float[]? _conv;

    [ThreadStatic] private static float[]? _maxima;

    /// <summary>
    /// True where the fused path runs: float32, a convolution the stem kernels take (<see cref="DirectConv.StridedByChannels"/>
    /// with AVX2, <see cref="PhaseRowConv"/> with AVX-512, as the convolution's own dispatch picks them), and a pooling
    /// window of the separable form (<see cref="Pool2dKernels.SeparableRows"/>) whose rows do not stride past its height.
    /// </summary>
    public static bool Applies(in ConvShape s, in Window2d pool, int poolH, int poolW) =>
        Enabled && s.Batch > 0 && s.OutH > 0 && s.OutW > 0 && poolH > 0 && poolW > 0 && pool.StrideH <= pool.KernelH
        && Pool2dKernels.SeparableRows(pool, poolW) && (DirectConv.StridedByChannels(s) || (!DirectConv.Applies(s) && PhaseRowConv.Applies(s)));

    /// <summary>
    /// y [N, K, poolH, poolW] = max_pool(relu(conv(x, w) + bias)) for contiguous NCHW buffers (bias may be null), where
    /// <see cref="Applies"/>; <paramref name="pool"/>'s padding counts as −∞, as the pooling's does.
    /// </summary>
    public static void Forward(in ConvShape s, float* x, float* w, float* bias, float* y, in Window2d pool, int poolH, int poolW)
    {
        int threads = ParallelFor.ThreadsForMultiplyAdds((long)s.Batch * s.MacsPerImage);
        // With fewer images than threads, each image's pooled rows are taken by two workers, one from the top and one
        // from the bottom, a block of rows at a time, until they meet: however late one of them starts, or however
        // slowly it runs, the other takes what is left, and the one convolution row both windows read where they meet
        // is the only one computed twice. (Halves fixed in advance waited for the slower thread: on two threads of a
        // 2-core AMD EPYC, Zen 3, in its slow placement, 2.6–2.7 ms against 2.3–2.5 for the three ops apart.) More
        // threads than twice the images cut each image into that many segments, each with its two workers.
        bool split = s.Batch < threads;
        int segments = split ? Math.Clamp((threads + 2 * s.Batch - 1) / (2 * s.Batch), 1, Math.Max(1, poolH / 8)) : 1;
        Run(s, x, w, bias, y, pool, poolH, poolW, split ? 2 : 1, segments, threads > 1, reverse: false);
    }

    /// <summary>
    /// <see cref="Forward"/> with <paramref name="segments"/> segments of two workers an image, run on the calling thread
    /// item after item, in reverse order when <paramref name="reverse"/> (each segment's bottom-up worker then takes
    /// all its blocks): the tests' way to run either worker over a whole segment.
    /// </summary>
    internal static void ForwardSerial(in ConvShape s, float* x, float* w, float* bias, float* y, in Window2d pool, int poolH, int poolW, int segments, bool reverse) =>
        Run(s, x, w, bias, y, pool, poolH, poolW, 2, segments, parallel: false, reverse);

    private static void Run(in ConvShape s, float* x, float* w, float* bias, float* y, in Window2d pool, int poolH, int poolW, int workers, int segments, bool parallel, bool reverse)
    {
        var relu = new ConvEpilogue(null, null, relu: true);
        if (DirectConv.StridedByChannels(s))
        {
            using var plan = new DirectConv.ChannelPlan(s, x, w, bias, null, relu);
            Run(plan.Body, s, y, pool, poolH, poolW, workers, segments, parallel, reverse);
        }
        else
        {
            using var plan = new PhaseRowConv.Plan(s, x, w, bias, null, relu);
            Run(plan.Body, s, y, pool, poolH, poolW, workers, segments, parallel, reverse);
        }
    }

    private static void Run<TRows>(TRows rows, in ConvShape s, float* y, in Window2d pool, int poolH, int poolW, int workers, int segments, bool parallel, bool reverse)
        where TRows : struct, IConvRows
    {
        int chunk = Math.Max(1, rows.RowsPerCall), block = Math.Max(1, chunk / Math.Max(1, pool.StrideH));
        // One claim counter per (image, segment), on the caller's stack unless the batch is large; the workers read it
        // only while this call waits for them.
        int counters = s.Batch * segments;
        int[]? rented = counters > 256 ? ArrayPool<int>.Shared.Rent(counters) : null;
        Span<int> taken = rented is null ? stackalloc int[counters] : rented.AsSpan(0, counters);
        taken.Clear();
        fixed (int* pt = taken)
        {
            var body = new Body<TRows>
            {
                Conv = rows,
                Shape = s,
                Y = y,
                Pool = pool,
                PoolH = poolH,
                PoolW = poolW,
                Segments = segments,
                Workers = workers,
                Chunk = chunk,
                Block = block,
                Taken = pt,
            };
            int items = s.Batch * segments * workers;
            if (parallel)
                ParallelFor.ForChunks(items, body);
            else
                for (int i = 0; i < items; i++) body.Invoke(reverse ? items - 1 - i : i);
        }
        if (rented is not null) ArrayPool<int>.Shared.Return(rented);
    }

    private struct Body<TRows> : IChunkBody where TRows : struct, IConvRows
    {
        public TRows Conv;
        public ConvShape Shape;
        public float* Y;
        public Window2d Pool;
        public int PoolH, PoolW, Segments, Workers, Chunk, Block;

        /// <summary>Blocks claimed so far in each (image, segment), by either worker.</summary>
        public int* Taken;

        /// <summary>Work item (image, segment, worker): worker 0 takes the segment's blocks from the top, worker 1 from the bottom.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public readonly void Invoke(int item)
        {
            ref readonly ConvShape s = ref Shape;
            int worker = item % Workers, ns = item / Workers, seg = ns % Segments, n = ns / Segments;
            int r0 = (int)((long)seg * PoolH / Segments), r1 = (int)((long)(seg + 1) * PoolH / Segments);
            int k = s.OutChannels, oh = s.OutH, pw = PoolW, kh = Pool.KernelH, sh = Pool.StrideH, ph = Pool.PadH;
            int chunk = Chunk, block = Block, held = block * sh + kh, blocks = (r1 - r0 + block - 1) / block;
            bool up = worker == 1;
            // The row maxima held, [channel][held][pw]: rows [lo, hi) of the convolution, row cy at position cy − origin.
            float* maxima = ThreadScratch.Floats(ref _maxima, (long)k * held * pw);
            int lo = 0, hi = 0, origin = 0;
            for (int done = 0; done < blocks && Interlocked.Increment(ref Taken[ns]) <= blocks; done++)
            {
                int j = up ? blocks - 1 - done : done;
                int first = r0 + j * block, last = Math.Min(r1, first + block) - 1;
                // The convolution rows this block's windows read (the rows of a window outside the image are skipped).
                int a = Math.Clamp(first * sh - ph, 0, oh), b = Math.Clamp(last * sh - ph + kh, 0, oh);
                if (a < b)
                {
                    // Keep what is held of [a, b), at the end the worker moves toward, and compute the rest.
                    int keepLo = Math.Max(lo, a), keepHi = Math.Min(hi, b);
                    if (done == 0 || keepLo >= keepHi) keepLo = keepHi = up ? b : a;
                    int newOrigin = up ? keepHi - held : keepLo;
                    if (newOrigin != origin && keepHi > keepLo)
                        for (int o = 0; o < k; o++)
                        {
                            float* m = maxima + (long)o * held * pw;
                            Buffer.MemoryCopy(m + (long)(keepLo - origin) * pw, m + (long)(keepLo - newOrigin) * pw, (long)held * pw * sizeof(float), (long)(keepHi - keepLo) * pw * sizeof(float));
                        }
                    (lo, hi, origin) = (keepLo, keepHi, newOrigin);
                    while (hi < b) hi += Compute(n, hi, Math.Min(chunk, b - hi), maxima, origin, held);
                    while (lo > a)
                    {
                        int count = Math.Min(chunk, lo - a);
                        lo -= Compute(n, lo - count, count, maxima, origin, held);
                    }
                }
                for (int r = first; r <= last; r++)
                {
                    int ra = Math.Max(0, r * sh - ph), rb = Math.Min(oh, r * sh - ph + kh);
                    float* yr = Y + (long)n * k * PoolH * pw + (long)r * pw;
                    if (rb <= ra)
                    {
                        // No window row inside the input (ceil mode's last row can be all padding): −∞, as the pooling writes.
                        for (int o = 0; o < k; o++) new Span<float>(yr + (long)o * PoolH * pw, pw).Fill(float.NegativeInfinity);
                        continue;
                    }
                    for (int o = 0; o < k; o++)
                        Pool2dKernels.ColumnMaximaF32(maxima + ((long)o * held + ra - origin) * pw, pw, rb - ra, yr + (long)o * PoolH * pw);
                }
            }
        }

        /// <summary>
        /// The row maxima of convolution rows [cy, cy + count) of image n, rectified, at their positions: from the kernel
        /// where it gives them, else from its rows, computed into this thread's buffer ([channel][chunk][ow]); returns count.
        /// </summary>
        private readonly int Compute(int n, int cy, int count, float* maxima, int origin, int held)
        {
            int k = Shape.OutChannels, ow = Shape.OutW, pw = PoolW, chunk = Chunk;
            if (RowMaximaInKernel && Conv.RowMaxima(n, cy, cy + count, Pool, pw, maxima + (long)(cy - origin) * pw, (long)held * pw)) return count;
            float* conv = ThreadScratch.Floats(ref _conv, (long)k * chunk * ow);
            Conv.Rows(n, cy, cy + count, conv, (long)chunk * ow);
            for (int o = 0; o < k; o++)
                for (int t = 0; t < count; t++)
                    Pool2dKernels.RowMaximaF32(conv + ((long)o * chunk + t) * ow, ow, Pool, pw, maxima + ((long)o * held + cy - origin + t) * pw);
            return count;
        }
    }
}
