using System.Buffers;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Fovea.Kernels;

/// <summary>
/// Float32 3x3 stride-1 convolution by Winograd's F(4x4, 3x3) (<see cref="WinogradTransforms"/>): each 4x4 output tile
/// costs 36 multiplies per (input, output) channel pair instead of 144, so the multiply-adds drop fourfold. The 36
/// element-wise products over channels are 36 GEMMs, M_ξ [K x tiles] = U_ξ [K x C] · V_ξ [C x tiles], run by the GEMM's own
/// register tiles on operands laid out the way they read them, so nothing is packed twice.
/// <para>
/// Tiles are processed in blocks of up to 32 (the flattened (image, tile row, tile column) order; see
/// <see cref="Blocking"/>). A block first copies the input rows its tiles read into a zero-padded band in which every
/// tile's 6x6 window lies inside (no edge cases); for each input channel the block's 6x6 input tiles are transformed
/// straight into the GEMM's B slivers; then the 36 GEMMs; then the output transform adds the bias and writes the 4x4
/// tiles (cut at the image edge). A block's transformed input and products stay in L2. The kernel transform
/// U = G g Gᵀ runs in float64, once per call, or once for all calls where the caller keeps it
/// (<see cref="PreparedConvWeights"/>, inference).
/// Each block is computed the same way whichever thread takes it, so results do not depend on the thread count.
/// </para>
/// <para>
/// Float32 error: the transforms multiply by up to 5 (Bᵀ) and 8 (Aᵀ) and G has sixths, and an output's rounding error
/// comes from its whole 6x6 tile, not only from its 3x3 window, so Winograd rounds worse than direct summation (whose
/// error is in practice a few eps·Σ|x||w|). Against the float64 reference on dense random inputs and kernels
/// (C = 1 … 130, paddings 0 … 2, forward and input gradient) every output satisfies
/// <c>|y − y_ref| ≤ c · eps · Σ_{c,u,v} |x| |w|</c> (eps = 2⁻²³, the sum over the output's 3x3 window and all input
/// channels) with c at most 17.2 measured; the tests check c = 32. (A strict worst-case bound needs the tile's sums
/// instead of the window's: an input spike inside an output's tile but outside its window adds rounding error to that
/// output.) Float64 convolutions never take this path, so gradient checks see the exact algorithm.
/// </para>
/// </summary>
internal static unsafe class WinogradConv
{
    /// <summary>Tiles per block: the columns of one block's GEMMs (one 32-wide sliver, or two 16-wide ones).</summary>
    internal const int BlockTiles = 32;

    /// <summary>Below this many (direct) multiply-adds a call stays on the calling thread.</summary>
    private const long ThreadingMinMacs = 1L << 22;

    /// <summary>Whether the dispatch may take this path; tests switch it off to compare with the other paths.</summary>
    internal static bool Enabled = true;

    /// <summary>
    /// True where the forward runs here: one group, 3x3, stride 1, no dilation, padding at most 2, a machine with a
    /// SIMD GEMM tile, and enough channels and tiles that the transforms are a small part of the work: see
    /// <see cref="MinTiles"/>, or <see cref="MinTilesPrepared"/> when the transformed kernel is kept between calls
    /// (<paramref name="kernelPrepared"/>).
    /// </summary>
    public static bool Applies(in ConvShape s, bool kernelPrepared = false) =>
        Enabled && Gemm.Selected != GemmKernelKind.Scalar && Geometry(s) && OffsetsFit(s)
        && Worthwhile(s.InChannels, s.OutChannels, s.OutH, s.OutW, s.Batch, kernelPrepared ? MinTilesPrepared : MinTiles);

    /// <summary>True where the input gradient runs here (as the forward of the flipped kernel, see <see cref="BackwardInput(in ConvShape, float*, float*, float*)"/>).</summary>
    public static bool AppliesToInputGradient(in ConvShape s) =>
        Enabled && Gemm.Selected != GemmKernelKind.Scalar && Geometry(s) && OffsetsFit(Transposed(s)) && Worthwhile(s.OutChannels, s.InChannels, s.Height, s.Width, s.Batch);

    /// <summary>The geometry F(4x4, 3x3) computes: one group, 3x3, stride 1, no dilation, padding 0 … 2 in each dim.</summary>
    internal static bool Geometry(in ConvShape s)
    {
        var w = s.Window;
        return s.Groups == 1 && w.KernelH == 3 && w.KernelW == 3 && w.StrideH == 1 && w.StrideW == 1 && w.DilationH == 1 && w.DilationW == 1
            && (uint)w.PadH <= 2 && (uint)w.PadW <= 2 && s.OutH > 0 && s.OutW > 0 && s.InChannels > 0 && s.OutChannels > 0;
    }

    /// <summary>
    /// Fewest 4x4 output tiles (over the whole batch) for which the transforms pay off. Each call transforms every
    /// (input, output) channel pair of the kernel once (unless it is kept), a cost that grows with C·K but not with the
    /// image; the GEMMs save 108 of 144 multiply-adds per pair and tile. Since the kernel transform runs eight pairs
    /// to a vector (<see cref="PackBody"/>), about 45 ns a pair instead of 190, it pays off from 32 tiles, kept or not.
    /// Forward, thread time on AVX-512, against the implicit GEMM or the lowered GEMM (1 / 2 threads, ms): batch 32,
    /// 512@4² (32 tiles) 27–29 → 21 / 14–16 → 16; batch 32, 256@7² (128 tiles) 20 → 13–14 / 10–11 → 7; batch 1,
    /// 128@28² (49 tiles) 2.8 → 1.5 / 1.9 → 1.0; batch 1, 64@56² (196 tiles) 3.5 → 1.4 / 1.5 → 0.9. Below 32 it loses:
    /// batch 16, 512@4² (16 tiles) 14 → 21; batch 1, 256@14² (16 tiles) 3.3 → 5.0; batch 1, 512@7² (4 tiles) 4 → 19.
    /// </summary>
    private const long MinTiles = 32;

    /// <summary>
    /// Fewest tiles when the transformed kernel is kept (<see cref="PreparedConvWeights"/>, inference): with no kernel
    /// transform per call, 16 tiles pay off too. Forward with prepared weights against the dispatch's other paths, batch 1
    /// (1 / 2 threads, ms): 256@14² (16 tiles) 2.44–2.85 → 1.91–2.43 / 1.58–1.91 → 1.47–1.73; 512@14² 12.0 → 8.7 / 6.6 →
    /// 6.0; 64@14² 0.33 → 0.22 / 0.29 → 0.22; batch 16, 512@4² 12.4 → 8.5 / 7.3 → 7.1. At 4 tiles it still loses: batch
    /// 1, 512@7² 2.8 → 7.5, 256@8² 0.9 → 1.9; batch 4, 512@4² 4.2 → 10.1.
    /// </summary>
    private const long MinTilesPrepared = 16;

    /// <summary>
    /// Shapes where this path measured faster than the direct and implicit-GEMM ones: at least 16 channels on each side
    /// (fewer leave the transforms dominant), outputs of at least 4x4 (a 4x4 plane is exactly one tile; smaller ones
    /// waste most of it), and at least <paramref name="minTiles"/> tiles in the batch (fewer leave the kernel transform,
    /// or the transformed kernel's four times larger traffic, dominant).
    /// </summary>
    private static bool Worthwhile(int inChannels, int outChannels, int outH, int outW, int batch, long minTiles = MinTiles) =>
        inChannels >= 16 && outChannels >= 16 && outH >= 4 && outW >= 4
        && (long)batch * ((outH + 3) / 4) * ((outW + 3) / 4) >= minTiles;

    /// <summary>
    /// True where the whole batch has at most 16 tiles (a ResNet's 14x14 stage at batch 1), so one block holds them all:
    /// the 16-wide GEMM tile (AVX2) then computes only the 16 columns that hold tiles, where the 32-wide one (AVX-512)
    /// computes 32, half of them for nothing. The 16-wide tile never does more work than the 32-wide one here; on
    /// cores that run a 512-bit FMA as two 256-bit halves (AMD Zen 4) it runs as many multiply-adds a cycle, so the
    /// call's GEMMs take half the time. ResNet-18 at batch 1 (its three 256@14² convolutions with the transformed kernel
    /// kept, each timed inside the network on a 2-core AMD EPYC, Zen 4): 1.96–2.01 → 1.27–1.33 ms on one thread and
    /// 1.47–1.51 → 0.97–1.01 ms on two; the whole forward 31.5 → 29.4 ms and 19.9 → 18.3 ms.
    /// </summary>
    internal static bool FitsNarrowBlock(in ConvShape s) => (long)s.Batch * ((s.OutH + 3) / 4) * ((s.OutW + 3) / 4) <= SgemmKernel6x16.NR;

    /// <summary>y = conv(x, w) + bias for contiguous NCHW buffers; <paramref name="bias"/> may be null.</summary>
    public static void Forward(in ConvShape s, float* x, float* w, float* bias, float* y) => Forward(Gemm.Selected, s, x, w, bias, y);

    /// <summary>
    /// The forward with the transformed kernel taken from (and on first use stored in) <paramref name="prepared"/>;
    /// null transforms it for this call only.
    /// </summary>
    public static void Forward(in ConvShape s, float* x, float* w, float* bias, float* y, PreparedConvWeights? prepared, ConvEpilogue epilogue = default) =>
        Forward(Gemm.Selected, s, x, w, bias, y, prepared, epilogue);

    /// <summary><see cref="Forward(in ConvShape, float*, float*, float*, float*)"/> with a given GEMM tile (tests cover both on any machine).</summary>
    internal static void Forward(GemmKernelKind kind, in ConvShape s, float* x, float* w, float* bias, float* y, PreparedConvWeights? prepared = null, ConvEpilogue epilogue = default)
    {
        if (kind == GemmKernelKind.Vector512 && !FitsNarrowBlock(s))
            Run<SgemmKernel6x32>(s, x, w, flipped: false, bias, y, prepared?.WinogradU(s, w, SgemmKernel6x32.MR), epilogue);
        else
            Run<SgemmKernel6x16>(s, x, w, flipped: false, bias, y, prepared?.WinogradU(s, w, SgemmKernel6x16.MR), epilogue);
    }

    /// <summary>
    /// dx = the input gradient for output gradient <paramref name="dy"/>: for stride 1 it is the convolution of dy with the
    /// kernel turned 180° and its channel axes swapped, padded by 2 − p, which is again a 3x3 stride-1 forward.
    /// </summary>
    public static void BackwardInput(in ConvShape s, float* dy, float* w, float* dx) => BackwardInput(Gemm.Selected, s, dy, w, dx);

    /// <summary><see cref="BackwardInput(in ConvShape, float*, float*, float*)"/> with a given GEMM tile.</summary>
    internal static void BackwardInput(GemmKernelKind kind, in ConvShape s, float* dy, float* w, float* dx)
    {
        var t = Transposed(s);
        if (kind == GemmKernelKind.Vector512 && !FitsNarrowBlock(t)) Run<SgemmKernel6x32>(t, dy, w, flipped: true, null, dx, null);
        else Run<SgemmKernel6x16>(t, dy, w, flipped: true, null, dx, null);
    }

    /// <summary>The forward on spans with a given GEMM tile (tests run both tiles on any machine); <paramref name="bias"/> may be empty.</summary>
    internal static void Forward(GemmKernelKind kind, in ConvShape s, ReadOnlySpan<float> x, ReadOnlySpan<float> w, ReadOnlySpan<float> bias, Span<float> y)
    {
        fixed (float* px = x)
        fixed (float* pw = w)
        fixed (float* pb = bias)
        fixed (float* py = y)
            Forward(kind, s, px, pw, bias.IsEmpty ? null : pb, py);
    }

    /// <summary>The input gradient on spans with a given GEMM tile.</summary>
    internal static void BackwardInput(GemmKernelKind kind, in ConvShape s, ReadOnlySpan<float> dy, ReadOnlySpan<float> w, Span<float> dx)
    {
        fixed (float* pd = dy)
        fixed (float* pw = w)
        fixed (float* px = dx)
            BackwardInput(kind, s, pd, pw, px);
    }

    /// <summary>The 3x3 stride-1 forward whose output is the input gradient of <paramref name="s"/>: dy in, dx out, padding 2 − p.</summary>
    private static ConvShape Transposed(in ConvShape s) =>
        new(s.Batch, s.OutChannels, s.OutH, s.OutW, s.InChannels, 1, new Window2d(3, 3, 1, 1, 2 - s.Window.PadH, 2 - s.Window.PadW, 1, 1), s.Height, s.Width);

    /// <summary>
    /// The forward of shape <paramref name="s"/>. With <paramref name="flipped"/>, <paramref name="w"/> is the weight of the
    /// transposed convolution ([s.InChannels, s.OutChannels, 3, 3]) and the kernel used is w[i, o] turned 180°.
    /// A non-null <paramref name="preparedU"/> is the kernel already transformed (<see cref="PackKernels"/>).
    /// </summary>
    private static void Run<TKernel>(in ConvShape s, float* x, float* w, bool flipped, float* bias, float* y, float* preparedU, ConvEpilogue epilogue = default)
        where TKernel : struct, IMicroKernel<float>
    {
        if (s.Batch == 0) return;
        int c = s.InChannels, k = s.OutChannels, mr = TKernel.MR;
        int kSlivers = (k + mr - 1) / mr;
        int tilesY = (s.OutH + 3) / 4, tilesX = (s.OutW + 3) / 4;
        int hp = 4 * tilesY + 2, wp = 4 * tilesX + 2;
        long tiles = (long)s.Batch * tilesY * tilesX;
        int threads = ParallelFor.ChunkCount((long)s.Batch * s.MacsPerImage, ThreadingMinMacs);
        bool threaded = threads > 1;
        var tileBlocks = Blocking(tiles, threads);
        int blocks = tileBlocks.Count;
        // Fewer blocks than twice the threads, and not a whole number of blocks a thread (a ResNet's 4x4 last stage at
        // batch 32 is one block of 32 tiles): each block's output channels are split too. Where each thread can take
        // whole blocks (two blocks on two threads: a ResNet's 28² stage at batch 1), it transforms its blocks' input in
        // its own cache, which measured faster than sharing the transformed input of split blocks (128@28², two threads:
        // 0.41–0.47 -> 0.35–0.43 ms a layer inside the network).
        int kParts = threaded && blocks < 2 * threads && blocks % threads != 0 ? Math.Min(kSlivers, (2 * threads + blocks - 1) / blocks) : 1;
        // Parts of one block would each transform the block's whole input: it is transformed once instead, split by
        // input channels (see InputBody), and the parts read it.
        long vLen = 36L * VStride(c);
        float[]? transformed = kParts > 1 ? ArrayPool<float>.Shared.Rent((int)(blocks * vLen + 16)) : null;
        float[]? packed = preparedU is null ? ArrayPool<float>.Shared.Rent((int)PackedKernelLength(s, mr) + 16) : null;
        // The padded input is shared only by the input transform split by channels; blocks that transform their own
        // input pad the rows they read in their thread's scratch (see BlockBody).
        float[]? padded = kParts > 1 ? ArrayPool<float>.Shared.Rent((int)((long)s.Batch * c * hp * wp + 32)) : null;
        fixed (float* pu = packed)
        fixed (float* pp = padded)
        fixed (float* pv = transformed)
        {
            float* u = preparedU is null ? Align(pu) : preparedU, sharedV = transformed is null ? null : Align(pv);
            if (sharedV is not null)
            {
                var input = new InputBody
                {
                    X = x,
                    Xp = Align(pp),
                    V = sharedV,
                    Shape = s,
                    Hp = hp,
                    Wp = wp,
                    TilesY = tilesY,
                    TilesX = tilesX,
                    Blocks = tileBlocks,
                    Nr = TKernel.NR,
                    Chunks = Math.Min(c, InputChunksPerThread * threads),
                };
                ParallelFor.ForChunks(input.Chunks, input);
            }
            if (preparedU is null) PackKernels(s, w, flipped, mr, u);
            var body = new BlockBody<TKernel>
            {
                X = x,
                Y = y,
                Bias = bias,
                Epilogue = epilogue,
                U = u,
                Shape = s,
                KSlivers = kSlivers,
                TilesY = tilesY,
                TilesX = tilesX,
                Wp = wp,
                KParts = kParts,
                Blocks = tileBlocks,
                SharedV = sharedV,
            };
            if (threaded) ParallelFor.ForChunks(blocks * kParts, body);
            else for (int b = 0; b < blocks; b++) body.Invoke(b);
        }
        if (transformed is not null) ArrayPool<float>.Shared.Return(transformed);
        if (packed is not null) ArrayPool<float>.Shared.Return(packed);
        if (padded is not null) ArrayPool<float>.Shared.Return(padded);
    }

    /// <summary>
    /// The blocks of a call: <see cref="Count"/> blocks of at most <see cref="BlockTiles"/> consecutive tiles, block b
    /// holding tiles [<see cref="First"/>(b), <see cref="First"/>(b) + <see cref="Size"/>(b)). Either every block
    /// holds <see cref="EvenSize"/> tiles (the last fewer), or the tiles are cut into <see cref="Shares"/> even shares
    /// of <see cref="PerShare"/> blocks each, full blocks first (a share's last block may hold fewer, or none).
    /// </summary>
    internal readonly record struct TileBlocks(int Count, long Tiles, int EvenSize, int Shares, int PerShare)
    {
        /// <summary>The first tile of block <paramref name="b"/>.</summary>
        public long First(int b) => Shares == 0 ? (long)b * EvenSize : ShareStart(b / PerShare) + (long)(b % PerShare) * BlockTiles;

        /// <summary>The tiles block <paramref name="b"/> holds (0 for a share's spare last block).</summary>
        public int Size(int b) => (int)(Shares == 0 ? Math.Min(EvenSize, Tiles - First(b)) : Math.Clamp(ShareStart(b / PerShare + 1) - First(b), 0, BlockTiles));

        private long ShareStart(int share) => Tiles * share / Shares;
    }

    /// <summary>
    /// The blocks of a call. A block's GEMMs cost whole slivers of the tile's columns (16 tiles with AVX2, 32 with
    /// AVX-512) whatever its tile count, and its transforms groups of 8 tiles, so blocks are full where that leaves the
    /// threads even: on one thread, blocks of 32 and one of the rest (196 tiles at 56²: six of 32 and one of 4, 13
    /// AVX2 slivers, where seven of 28 took 14); where there are at least two blocks a thread but not a whole number a
    /// thread, the tiles are shared out evenly among the threads first and each share cut into full blocks (196 tiles
    /// on two threads: 32 + 32 + 32 + 2 a thread, 7 AVX2 slivers and 13 transform groups a thread, where four blocks of
    /// 25 took 8 and 16; ParallelFor gives each thread its own range of blocks, a share). Otherwise (a whole number of
    /// blocks a thread, or fewer blocks than twice the threads, whose output channels are split instead, see
    /// <c>Run</c>) as few blocks as fit with the tiles shared out evenly: 49 tiles (28²) on two threads are 25 + 24,
    /// one a thread. Every tile is computed the same way in any block, so the blocking does not change the result.
    /// </summary>
    internal static TileBlocks Blocking(long tiles, int threads)
    {
        long fewest = (tiles + BlockTiles - 1) / BlockTiles;
        if (threads <= 1) return new TileBlocks((int)fewest, tiles, BlockTiles, 0, 0);
        if (fewest >= 2 * threads && fewest % threads != 0)
        {
            int perShare = (int)(((tiles + threads - 1) / threads + BlockTiles - 1) / BlockTiles);
            return new TileBlocks(threads * perShare, tiles, 0, threads, perShare);
        }
        int size = (int)((tiles + fewest - 1) / fewest);
        return new TileBlocks((int)((tiles + size - 1) / size), tiles, size, 0, 0);
    }

    /// <summary>
    /// Largest padded input a call accepts: tile offsets within a block (at most two images apart for blocks of whole
    /// tiles, more when images have fewer tiles than a block) must fit 32-bit gather indices.
    /// </summary>
    internal static bool OffsetsFit(in ConvShape s)
    {
        long tilesY = (s.OutH + 3) / 4, tilesX = (s.OutW + 3) / 4;
        long image = s.InChannels * (4 * tilesY + 2) * (4 * tilesX + 2);
        long imagesPerBlock = BlockTiles / (tilesY * tilesX) + 2;
        return image * imagesPerBlock < int.MaxValue && image * s.Batch < Array.MaxLength - 64;
    }

    /// <summary>
    /// Floats from one ξ's plane of V (the transformed input of a block: C x 32 tiles) to the next's, and of M (the
    /// products: K x 32): 16 more than the plane. A transform call stores (loads) one vector in each of the 36 planes;
    /// with C or K a power of two the planes are a multiple of 4 KiB apart, so all 36 fall into one set of the L1
    /// cache (12 ways on AMD Zen 4 and 5) and evict each other at every call. The input transform of a 64-channel
    /// block (Zen 5, one thread): 27–28 ns a tile and channel at the plane's own stride, 6.4 with 16 floats more.
    /// </summary>
    private const int PlanePad = 16;

    private static long VStride(int inChannels) => (long)inChannels * BlockTiles + PlanePad;

    private static long MStride(int kPad) => (long)kPad * BlockTiles + PlanePad;

    /// <summary>Channel ranges per thread of <see cref="InputBody"/>, taken as threads come free.</summary>
    private const int InputChunksPerThread = 4;

    /// <summary>
    /// Step 1 of <see cref="BlockBody{TKernel}"/> for every block at once, when the blocks' output channels are split
    /// into parts (few blocks, more threads): chunk i pads input channels [c0, c1) of every image and transforms them
    /// for every block into V (one block's V after another), so that no part transforms its block's input again. At
    /// batch 1 a ResNet's 256@14² layer is one block in four parts on two threads, each of which transformed all
    /// 256 channels; the transform then cost as much as a quarter of the layer's GEMMs.
    /// </summary>
    private struct InputBody : IChunkBody
    {
        public float* X, Xp, V;
        public ConvShape Shape;
        public int Hp, Wp, TilesY, TilesX, Nr, Chunks;
        public TileBlocks Blocks;

        [SkipLocalsInit] // offsets are written for every lane before they are read
        public readonly void Invoke(int chunk)
        {
            int c = Shape.InChannels, c0 = ParallelFor.ChunkStart(c, Chunks, chunk), c1 = ParallelFor.ChunkStart(c, Chunks, chunk + 1);
            int h = Shape.Height, w = Shape.Width, hp = Hp, wp = Wp;
            long planeIn = (long)hp * wp, imageIn = c * planeIn;
            for (int n = 0; n < Shape.Batch; n++)
                for (int ci = c0; ci < c1; ci++)
                    WinogradTransforms.PadPlane(X + ((long)n * c + ci) * h * w, h, w, Shape.Window.PadH, Shape.Window.PadW, Xp + n * imageIn + ci * planeIn, hp, wp);
            int* offset = stackalloc int[BlockTiles];
            for (int block = 0; block < Blocks.Count; block++)
            {
                long first = Blocks.First(block);
                int valid = Blocks.Size(block);
                if (valid == 0) continue;
                int img0 = InputOffsets(first, valid, TilesY * TilesX, TilesX, imageIn, wp, offset);
                TransformInput(Xp + img0 * imageIn, offset, valid, c0, c1, c, planeIn, wp, Nr, V + block * 36L * VStride(c));
            }
        }
    }

    /// <summary>
    /// Each lane's tile window in the padded input of a block whose first tile is <paramref name="first"/>: its offset
    /// relative to the block's first image, which is returned. Lanes past the last valid tile repeat it.
    /// </summary>
    private static int InputOffsets(long first, int valid, int perImage, int tilesX, long imageIn, int wp, int* offset)
    {
        int img0 = (int)(first / perImage);
        for (int t = 0; t < BlockTiles; t++)
        {
            long tile = first + Math.Min(t, valid - 1);
            int r = (int)(tile % perImage);
            offset[t] = (int)((tile / perImage - img0) * imageIn + (long)(r / tilesX * 4) * wp + r % tilesX * 4);
        }
        return img0;
    }

    /// <summary>
    /// V_ξ[ci, t] = (Bᵀ d B)_ξ for input channels [<paramref name="c0"/>, <paramref name="c1"/>) of one block, the 6x6
    /// tiles d gathered from the padded input at <paramref name="offset"/> (relative to <paramref name="xBlock"/>, the
    /// block's first image). V_ξ is the GEMM's packed B operand: per sliver of <paramref name="nr"/> tiles, C steps of
    /// NR values. Only the slivers that hold a tile are transformed (a block of 16 tiles with 16-wide slivers fills one
    /// of two); lanes past the last tile within those repeat it, and their results are never read.
    /// </summary>
    private static void TransformInput(float* xBlock, int* offset, int valid, int c0, int c1, int c, long planeIn, int wp, int nr, float* v)
    {
        int usedSlivers = (valid + nr - 1) / nr;
        for (int l = 0; l < usedSlivers * nr; l += 8)
        {
            float* dst = v + (long)(l / nr) * c * nr + l % nr;
            for (int ci = c0; ci < c1; ci++)
                WinogradTransforms.Input(xBlock + ci * planeIn, offset + l, wp, dst + (long)ci * nr, (nint)VStride(c));
        }
    }

    /// <summary>
    /// U_ξ = G g Gᵀ for every (output, input) channel pair, laid out as the GEMM's packed A operand: for each ξ and each
    /// sliver of MR output channels, C steps of MR values (rows past the last channel are zero). Slivers are spread over
    /// threads from <see cref="PackMinPairsPerThread"/> channel pairs a thread: in training the weights change every step,
    /// so every call transforms them, and at 128 channels on each side a serial transform left the second core idle
    /// for about a tenth of the call.
    /// </summary>
    internal static void PackKernels(in ConvShape s, float* w, bool flipped, int mr, float* u)
    {
        int kSlivers = (s.OutChannels + mr - 1) / mr;
        var body = new PackBody { Shape = s, W = w, Flipped = flipped, Mr = mr, U = u };
        int threads = ParallelFor.ChunkCount((long)s.OutChannels * s.InChannels, PackMinPairsPerThread);
        if (threads > 1) ParallelFor.ForChunks(kSlivers, body);
        else for (int sl = 0; sl < kSlivers; sl++) body.Invoke(sl);
    }

    /// <summary>
    /// (Output, input) channel pairs a thread must get before the kernel transform uses one more: a pair costs about
    /// 45 ns (a float64 6x3 · 3x3 · 3x6 product, eight pairs to a vector, and 36 stores far apart), so 2,048 pairs are about 90 µs, several
    /// times the cost of a parallel region.
    /// </summary>
    private const long PackMinPairsPerThread = 2048;

    /// <summary>Transforms the kernels of one sliver of MR output channels (every input channel, every ξ).</summary>
    private struct PackBody : IChunkBody
    {
        public ConvShape Shape;
        public float* W, U;
        public bool Flipped;
        public int Mr;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public readonly void Invoke(int sliver)
        {
            // Blocks of 8 input channels x MR output channels, one pair per lane (lane = input·MR + output, the order the
            // packed operand keeps them in): the 9 kernel elements are gathered into lanes, transformed together, and each
            // ξ's 8·MR values stored as one contiguous run. Rows past the last output channel get zero kernels, so every
            // value of the sliver is written.
            const int ls = WinogradTransforms.KernelLaneStride;
            int c = Shape.InChannels, k = Shape.OutChannels, mr = Mr, kSlivers = (k + mr - 1) / mr;
            long perXi = (long)kSlivers * mr * c;
            // U larger than the caches (38 MB for 512 channels on each side) is written with stores that bypass them, so
            // no line is read before it is overwritten; a smaller U stays cached for the GEMMs that read it next.
            bool streaming = Avx.IsSupported && 36 * perXi * sizeof(float) >= StreamingMinBytes;
            int o0 = sliver * mr, outs = Math.Min(mr, k - o0);
            Debug.Assert(8 * mr <= ls, "a block of 8 input channels x MR output channels must fit the lanes");
            double* g = stackalloc double[9 * ls];
            double* u = stackalloc double[36 * ls];
            for (int i0 = 0; i0 < c; i0 += 8)
            {
                int ins = Math.Min(8, c - i0), lanes = ins * mr, vectorLanes = (lanes + 7) & ~7;
                for (int e = 0; e < 9; e++)
                    for (int l = lanes; l < vectorLanes; l++) g[e * ls + l] = 0;
                for (int il = 0; il < ins; il++)
                    for (int ol = 0; ol < mr; ol++)
                    {
                        int lane = il * mr + ol, o = o0 + ol, i = i0 + il;
                        if (ol >= outs)
                        {
                            for (int e = 0; e < 9; e++) g[e * ls + lane] = 0;
                            continue;
                        }
                        // Forward: w[o, i, a, b]. Flipped: the weight is [c, k, 3, 3] (the forward's [out, in] swapped), turned 180°.
                        float* src = Flipped ? W + ((long)i * k + o) * 9 : W + ((long)o * c + i) * 9;
                        for (int e = 0; e < 9; e++) g[e * ls + lane] = src[Flipped ? 8 - e : e];
                    }
                WinogradTransforms.KernelLanes(g, u, vectorLanes);
                float* dst = U + ((long)sliver * c + i0) * mr;
                for (int xi = 0; xi < 36; xi++)
                {
                    double* from = u + xi * ls;
                    float* to = dst + xi * perXi;
                    int l = 0;
                    if (streaming && ((nint)to & 31) == 0)
                        for (; l <= lanes - 8; l += 8)
                            Avx.StoreAlignedNonTemporal(to + l, Vector256.Narrow(Vector256.Load(from + l), Vector256.Load(from + l + 4)));
                    for (; l <= lanes - 8; l += 8)
                        Vector256.Narrow(Vector256.Load(from + l), Vector256.Load(from + l + 4)).Store(to + l);
                    for (; l < lanes; l++) to[l] = (float)from[l];
                }
            }
            // The streaming stores are weakly ordered: make them visible before the GEMMs read U on other threads.
            if (streaming) Sse.StoreFence();
        }
    }

    /// <summary>
    /// Smallest transformed kernel written with streaming stores. Kernels alone at batch 32 (one thread, ms): 512@4²,
    /// U of 38 MB, forward 20.3–20.4 → 16.4–17.7 and input gradient 21.8–23.2 → 19.2–19.8 (two threads: 12.4–13.3 →
    /// 10.7–10.8 and 14.0–14.6 → 11.4–13.8); with 64 or 128 channels (U under 2.5 MB) streaming made the 56² and 28²
    /// input gradients slower (29.9–40.1 → 36.4–47.1 in one of two runs).
    /// </summary>
    private const long StreamingMinBytes = 16L << 20;

    /// <summary>Floats of the transformed kernel <see cref="PackKernels"/> writes for MR = <paramref name="mr"/>.</summary>
    internal static long PackedKernelLength(in ConvShape s, int mr) => 36L * ((s.OutChannels + mr - 1) / mr) * mr * s.InChannels;

    private static float* Align(float* p) => (float*)(((nint)p + 63) & ~(nint)63);

    // Per-thread scratch, pinned: the gathered tiles of one channel, the transformed input V, the products M and one
    // group of output tiles. Only grows, so repeated calls allocate nothing.
    [ThreadStatic] private static float[]? _scratch;

    private static float* Scratch(long floats) =>
        ThreadScratch.Floats(ref _scratch, floats);

    private struct BlockBody<TKernel> : IChunkBody
        where TKernel : struct, IMicroKernel<float>
    {
        public float* X, Y, Bias, U;
        public ConvEpilogue Epilogue;

        /// <summary>Every block's transformed input, from <see cref="InputBody"/>; null when each block transforms its own.</summary>
        public float* SharedV;
        public ConvShape Shape;
        public int KSlivers, TilesY, TilesX, Wp, KParts;
        public TileBlocks Blocks;

        /// <summary>
        /// Item = part · blocks + block: part p of the block's output-channel slivers (all of them when KParts is 1). Parts
        /// outside, so that a thread's contiguous range of items is a range of output channels over all the tiles: it
        /// reads only its parts' share of U, and writes whole output planes, which the next layer's threads split the same
        /// way (block-major, each thread read all of U and wrote the top or bottom rows of every plane).
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        [SkipLocalsInit] // the per-tile tables below are written for every lane before they are read
        public readonly void Invoke(int item)
        {
            int part = item / Blocks.Count, block = item % Blocks.Count;
            int ks0 = ParallelFor.ChunkStart(KSlivers, KParts, part), ks1 = ParallelFor.ChunkStart(KSlivers, KParts, part + 1);
            ref readonly ConvShape s = ref Shape;
            const int tb = BlockTiles;
            int c = s.InChannels, k = s.OutChannels, mr = TKernel.MR, nr = TKernel.NR;
            int kPad = KSlivers * mr, oh = s.OutH, ow = s.OutW;
            long vLen = 36L * VStride(c), mLen = 36L * MStride(kPad);
            long first = Blocks.First(block);
            int valid = Blocks.Size(block);
            if (valid == 0) return;
            int perImage = TilesY * TilesX, wp = Wp;

            // The block's input, when it transforms its own: the padded rows its tiles read (a band of each of its
            // images' padded planes), copied into this thread's scratch, channel after channel. Nothing is shared between
            // threads but the input itself, so no thread rewrites lines the other has read (a padded copy of the whole
            // input, written by both threads, made the copy 2.6 times slower on two threads than on one, and half of
            // every block's reads come from the other core's cache; 64@56², batch 1: 26 µs on one thread, 68 on two).
            int images = SharedV is null ? (int)((first + valid - 1) / perImage - first / perImage) + 1 : 0;
            int* bandTop = stackalloc int[tb];
            int* bandStart = stackalloc int[tb];
            int* bandRows = stackalloc int[tb];
            long channelIn = 0;
            for (int i = 0; i < images; i++)
            {
                long r0 = i == 0 ? first % perImage : 0, r1 = i == images - 1 ? (first + valid - 1) % perImage : perImage - 1;
                int ty0 = (int)(r0 / TilesX), ty1 = (int)(r1 / TilesX);
                bandTop[i] = 4 * ty0;
                bandStart[i] = (int)channelIn;
                bandRows[i] = 4 * (ty1 - ty0) + 6;
                channelIn += (long)bandRows[i] * wp;
            }
            channelIn = (channelIn + 15) & ~15L;
            float* scratch = Scratch((SharedV is null ? vLen + c * channelIn + 16 : 0) + mLen + 16 * 8 + 16);
            float* v = SharedV is null ? scratch : SharedV + block * vLen;
            float* m = SharedV is null ? scratch + vLen : scratch, outTile = m + mLen, band = Align(outTile + 16 * 8);

            // Each tile of the block: its image and top-left output position. Lanes past the last tile repeat it; their
            // results are never written.
            int* img = stackalloc int[tb];
            int* oy0 = stackalloc int[tb];
            int* ox0 = stackalloc int[tb];
            long* yOffset = stackalloc long[tb];
            bool* whole = stackalloc bool[tb];
            for (int t = 0; t < tb; t++)
            {
                long tile = first + Math.Min(t, valid - 1);
                int r = (int)(tile % perImage);
                img[t] = (int)(tile / perImage);
                oy0[t] = r / TilesX * 4;
                ox0[t] = r % TilesX * 4;
                yOffset[t] = (long)img[t] * k * oh * ow + (long)oy0[t] * ow + ox0[t];
                whole[t] = t < valid && oy0[t] + 4 <= oh && ox0[t] + 4 <= ow;
            }

            // 1. Input transform, channel by channel (unless InputBody has done it for every block): each tile's window
            // at its offset in its image's band.
            if (SharedV is null)
            {
                int img0 = (int)(first / perImage), ph = s.Window.PadH, pw = s.Window.PadW, h = s.Height, w = s.Width;
                for (int ci = 0; ci < c; ci++)
                    for (int i = 0; i < images; i++)
                        WinogradTransforms.PadRows(X + ((long)(img0 + i) * c + ci) * h * w, h, w, ph, pw,
                            band + ci * channelIn + bandStart[i], wp, bandTop[i], bandRows[i]);
                // A tile's window starts at its output position in the padded plane, so in its band at that row less
                // the band's first.
                int* offset = stackalloc int[tb];
                for (int t = 0; t < tb; t++)
                    offset[t] = bandStart[img[t] - img0] + (oy0[t] - bandTop[img[t] - img0]) * wp + ox0[t];
                TransformInput(band, offset, valid, 0, c, c, channelIn, wp, nr, v);
            }
            // Only the slivers that hold a tile are multiplied.
            int usedSlivers = (valid + nr - 1) / nr;

            // 2. The 36 products over channels: M_ξ [kPad x tb] = U_ξ [kPad x C] · V_ξ [C x tb].
            for (int xi = 0; xi < 36; xi++)
            {
                float* uXi = U + (long)xi * kPad * c, vXi = v + xi * VStride(c), mXi = m + xi * MStride(kPad);
                for (int sl = 0; sl < usedSlivers; sl++)
                    for (int ks = ks0; ks < ks1; ks++)
                        TKernel.Run(c, uXi + (long)ks * c * mr, vXi + (long)sl * c * nr, mXi + (long)ks * mr * tb + sl * nr, tb, 1f, 0f);
            }

            // 3. Output transform and bias, 8 tiles at a time; tiles are cut at the image's right and bottom edges.
            long planeOut = (long)oh * ow;
            for (int ko = ks0 * mr, kEnd = Math.Min(k, ks1 * mr); ko < kEnd; ko++)
            {
                var b = Vector256.Create(Bias is null ? 0f : Bias[ko]);
                for (int l = 0; l < valid; l += 8)
                {
                    if (whole[l] && whole[l + 1] && whole[l + 2] && whole[l + 3] && whole[l + 4] && whole[l + 5] && whole[l + 6] && whole[l + 7])
                    {
                        WinogradTransforms.OutputTo(m + (long)ko * tb + l, (nint)MStride(kPad), b, Y + ko * planeOut, yOffset + l, ow, Epilogue);
                        continue;
                    }
                    WinogradTransforms.Output(m + (long)ko * tb + l, (nint)MStride(kPad), b, outTile);
                    int lanes = Math.Min(8, valid - l);
                    for (int lane = 0; lane < lanes; lane++)
                    {
                        int t = l + lane;
                        int oy = oy0[t], ox = ox0[t];
                        float* dst = Y + ((long)img[t] * k + ko) * planeOut + (long)oy * ow + ox;
                        float* src = outTile + lane;
                        if (oy + 4 <= oh && ox + 4 <= ow)
                            for (int i = 0; i < 4; i++, dst += ow, src += 32)
                            {
                                dst[0] = src[0]; dst[1] = src[8]; dst[2] = src[16]; dst[3] = src[24];
                                Epilogue.Run(dst, 4);
                            }
                        else
                            for (int i = 0; i < Math.Min(4, oh - oy); i++, dst += ow, src += 32)
                            {
                                for (int j = 0; j < Math.Min(4, ow - ox); j++) dst[j] = src[8 * j];
                                Epilogue.Run(dst, Math.Min(4, ow - ox));
                            }
                    }
                }
            }
        }
    }
}
