using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Fovea.Kernels;

/// <summary>
/// Float32 3x3 stride-1 convolution by Winograd's F(2x2, 3x3), for layers with few output pixels and prepared weights
/// (a ResNet's 14x14 stage at batch 1: 49 tiles of 2x2).
/// <para>
/// Why a second tile size: <see cref="WinogradConv"/>'s F(4x4, 3x3) does 36 multiplies per 4x4 tile and channel pair,
/// F(2x2, 3x3) 16 per 2x2 tile, so at 14x14 the larger tile does 16 x 36 = 576 multiplies per channel pair against
/// 49 x 16 = 784. But its transformed kernel U is 36/9 = 4 times the weights, against 16/9 here, and at batch 1 a
/// layer's U is read from memory on every call (ResNet-18's weights and transformed kernels do not fit the L3 together),
/// while each value of it serves only 16 tiles: a 256-channel layer reads 9.4 MB of U for 75 M multiply-adds. Here it
/// reads 4.2 MB for 103 M, each value serving all 49 tiles.
/// </para>
/// <para>
/// The 16 products are GEMMs with the tiles as rows: Mᵀ_ξ [tiles x K] = Vᵀ_ξ [tiles x C] · Uᵀ_ξ [C x K], with the GEMM's
/// register tile of MR tiles by NR output channels (7 x 32 on AVX-512: a 14x14 plane's seven tile rows are seven
/// tiles each). The input transform V = Bᵀ d B writes Vᵀ straight into the MR-row slivers the tile reads, one tile
/// row at a time, eight tiles to a vector; U = G g Gᵀ is kept per sliver of NR output channels, its 16 ξ one after
/// another, so a thread's share of U is one contiguous stream. A thread takes whole slivers: all 16 products of its
/// channels, then the output transform Y = Aᵀ M A of those channels from its own cache. Each output is computed by the
/// same operations whichever thread takes it, so results do not depend on the thread count.
/// </para>
/// <para>
/// Float32 error: Bᵀ and Aᵀ hold only ±1 and G halves, so an output's rounding error is at most that of
/// <see cref="WinogradConv"/>'s larger tile (whose bound, c · eps · Σ |x| |w| over the output's window with c = 32, the
/// tests check here too).
/// </para>
/// </summary>
internal static unsafe class WinogradF2Conv
{
    /// <summary>Whether the dispatch may take this path; tests switch it off to compare with the other paths.</summary>
    internal static bool Enabled = true;

    /// <summary>The 4x4 input tile's transformed points: 16 GEMMs a call.</summary>
    private const int Points = 16;

    /// <summary>
    /// Fewest 2x2 tiles over the batch this path takes: fewer leave the GEMM's rows short (a 7x7 plane has 16 tiles, and
    /// its U would be 16.8 MB for 512 channels, where the pixel-row path reads the 9.4 MB of weights).
    /// </summary>
    internal const long MinTiles = 32;

    /// <summary>
    /// Most 2x2 tiles over the batch this path takes: with more, F(4x4, 3x3) has blocks of 32 tiles or more and each
    /// value of its U serves as many tiles as here (a 28x28 plane: 49 tiles of 4x4, 196 of 2x2).
    /// </summary>
    internal const long MaxTiles = 64;

    /// <summary>Fewest channels on each side: with fewer the transforms are a large part of the work.</summary>
    internal const int MinChannels = 64;

    /// <summary>Below this many (direct) multiply-adds a call stays on the calling thread.</summary>
    private const long ThreadingMinMacs = 1L << 22;

    /// <summary>
    /// True where the forward with prepared weights runs here: one group, 3x3, stride 1, no dilation, padding at most 2
    /// (<see cref="WinogradConv.Geometry"/>), a SIMD GEMM tile, at least <see cref="MinChannels"/> channels on each side
    /// and <see cref="MinTiles"/> … <see cref="MaxTiles"/> 2x2 tiles over the batch.
    /// </summary>
    public static bool Applies(in ConvShape s) =>
        Enabled && Gemm.Selected != GemmKernelKind.Scalar && WinogradConv.Geometry(s) && s.InChannels >= MinChannels && s.OutChannels >= MinChannels
        && Tiles(s) is >= MinTiles and <= MaxTiles;

    /// <summary>2x2 output tiles over the batch (the last row and column of tiles cut at odd sizes).</summary>
    internal static long Tiles(in ConvShape s) => (long)s.Batch * ((s.OutH + 1) / 2) * ((s.OutW + 1) / 2);

    /// <summary>
    /// y = conv(x, w) + bias for contiguous NCHW buffers with the GEMM tile of <paramref name="kind"/> (tests run both on
    /// any machine); U is taken from (and on first use stored in) <paramref name="prepared"/>, or transformed for this
    /// call when it is null. <paramref name="bias"/> may be null.
    /// </summary>
    internal static void Forward(GemmKernelKind kind, in ConvShape s, float* x, float* w, float* bias, float* y, PreparedConvWeights? prepared)
    {
        if (kind == GemmKernelKind.Vector512) Run<SgemmKernel7x32>(s, x, w, bias, y, prepared);
        else Run<SgemmKernel6x16>(s, x, w, bias, y, prepared);
    }

    /// <summary>The forward on spans (tests).</summary>
    internal static void Forward(GemmKernelKind kind, in ConvShape s, ReadOnlySpan<float> x, ReadOnlySpan<float> w, ReadOnlySpan<float> bias, Span<float> y, PreparedConvWeights? prepared = null)
    {
        fixed (float* px = x)
        fixed (float* pw = w)
        fixed (float* pb = bias)
        fixed (float* py = y)
            Forward(kind, s, px, pw, bias.IsEmpty ? null : pb, py, prepared);
    }

    /// <summary>Floats of U for register tiles <paramref name="nr"/> output channels wide.</summary>
    internal static long PackedKernelLength(in ConvShape s, int nr) => (long)((s.OutChannels + nr - 1) / nr) * Points * s.InChannels * nr;

    /// <summary>
    /// U_ξ = G g Gᵀ for every (output, input) channel pair, in float64 and then rounded: per sliver of
    /// <paramref name="nr"/> output channels, per ξ, C rows of NR values (the GEMM's packed B operand; channels past
    /// the last are zero). G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1].
    /// </summary>
    internal static void PackKernels(in ConvShape s, float* w, int nr, float* u)
    {
        int c = s.InChannels, k = s.OutChannels;
        long length = PackedKernelLength(s, nr), perPoint = (long)c * nr;
        NativeMemory.Clear(u, (nuint)(length * sizeof(float)));
        double* gg = stackalloc double[12];
        for (int o = 0; o < k; o++)
        {
            float* dst = u + (long)(o / nr) * Points * perPoint + o % nr;
            for (int i = 0; i < c; i++)
            {
                float* g = w + ((long)o * c + i) * 9;
                // (G g) row by row: each row of G combines g's three rows.
                for (int j = 0; j < 3; j++)
                {
                    double g0 = g[j], g1 = g[3 + j], g2 = g[6 + j];
                    gg[j] = g0;
                    gg[3 + j] = 0.5 * (g0 + g1 + g2);
                    gg[6 + j] = 0.5 * (g0 - g1 + g2);
                    gg[9 + j] = g2;
                }
                // (G g) Gᵀ: the same combination of each row's three values.
                for (int r = 0; r < 4; r++)
                {
                    double a = gg[3 * r], b = gg[3 * r + 1], e = gg[3 * r + 2];
                    float* d = dst + (long)(4 * r) * perPoint + (long)i * nr;
                    d[0] = (float)a;
                    d[perPoint] = (float)(0.5 * (a + b + e));
                    d[2 * perPoint] = (float)(0.5 * (a - b + e));
                    d[3 * perPoint] = (float)e;
                }
            }
        }
    }

    private static void Run<TKernel>(in ConvShape s, float* x, float* w, float* bias, float* y, PreparedConvWeights? prepared)
        where TKernel : struct, IMicroKernel<float>
    {
        if (s.Batch == 0) return;
        int c = s.InChannels, k = s.OutChannels, mr = TKernel.MR, nr = TKernel.NR;
        int tilesY = (s.OutH + 1) / 2, tilesX = (s.OutW + 1) / 2;
        int tiles = s.Batch * tilesY * tilesX, rowTiles = (tiles + mr - 1) / mr, slivers = (k + nr - 1) / nr;
        int threads = ParallelFor.ChunkCount((long)s.Batch * s.MacsPerImage, ThreadingMinMacs);
        float[]? packed = prepared is null ? ArrayPool<float>.Shared.Rent((int)PackedKernelLength(s, nr) + 16) : null;
        fixed (float* pu = packed)
        {
            float* u = prepared is null ? Align(pu) : prepared.WinogradF2U(s, w, nr);
            if (prepared is null) PackKernels(s, w, nr, u);
            var body = new ProductBody<TKernel>
            {
                U = u,
                X = x,
                Y = y,
                Bias = bias,
                Shape = s,
                TilesX = tilesX,
                TilesY = tilesY,
                Tiles = tiles,
                RowTiles = rowTiles,
                // One MR-row sliver of Vᵀ_ξ per (ξ, row tile): C steps of MR values, and room for an eight-lane store's spill.
                SliverStride = (long)c * mr + 16,
                Kc = PixelRowGemmConv<TKernel>.BlockDepth(c),
                Call = Interlocked.Increment(ref s_calls),
            };
            if (threads > 1 && slivers > 1) ParallelFor.ForChunks(slivers, body);
            else for (int j = 0; j < slivers; j++) body.Invoke(j);
        }
        if (packed is not null) ArrayPool<float>.Shared.Return(packed);
    }

    /// <summary>Whether groups of tiles that are not one whole sliver are stored a sliver at a time (tests switch it off).</summary>
    internal static bool VectorPieces = true;

    /// <summary>Calls so far: a thread's transformed input is that of the call it was made for.</summary>
    private static long s_calls;

    /// <summary>
    /// The last sliver's rows past the last tile are multiplied too (their products are never read): zeros, not
    /// whatever the buffer held.
    /// </summary>
    private static void ClearPastLastTile(float* v, int tiles, int mr, int rowTiles, long sliverStride, int c)
    {
        if (tiles % mr == 0) return;
        for (int xi = 0; xi < Points; xi++)
        {
            float* last = v + ((long)xi * rowTiles + rowTiles - 1) * sliverStride;
            for (int ci = 0; ci < c; ci++)
                for (int l = tiles % mr; l < mr; l++) last[(long)ci * mr + l] = 0f;
        }
    }

    private static float* Align(float* p) => (float*)(((nint)p + 63) & ~(nint)63);

    /// <summary>
    /// The input transform of every channel and tile into <paramref name="v"/> (Vᵀ_ξ in MR-row slivers). Each padded
    /// input plane is split into its even and odd columns (E, O), row by row, so that tile tx's four columns are E[tx],
    /// O[tx], E[tx + 1], O[tx + 1] and eight tiles' values are plain loads of each row: with t = Bᵀ d the row
    /// combination (d0 − d2, d1 + d2, d2 − d1, d1 − d3), V = t B is (t[E] − t[E+1], t[O] + t[E+1], t[E+1] − t[O],
    /// t[O] − t[O+1]) lane by lane. Where a group of eight tiles is the whole of one MR-row sliver (a 14x14 plane's
    /// tile rows with MR = 7), each point is one vector store whose eighth lane spills into the next channel's first
    /// lane, written next; elsewhere one vector store per sliver the group touches, or lane by lane
    /// (<see cref="GroupStores"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    [SkipLocalsInit] // every buffer below is written before it is read
    private static void TransformInput(in ConvShape s, float* x, float* v, int mr, int tilesY, int tilesX, int rowTiles, long sliverStride)
    {
        int c = s.InChannels, h = s.Height, w = s.Width, ph = s.Window.PadH, pw = s.Window.PadW;
        // E and O hold tilesX + 1 columns each (the padded row is 2·tilesX + 2 wide), rounded up for whole loads;
        // each input row is first copied into a line whose borders stay zero.
        int half = ((tilesX + 1 + 7) & ~7) + 8, rows = 2 * tilesY + 2;
        float* split = stackalloc float[2 * half * rows];
        float* line = stackalloc float[2 * half + 16];
        for (int j = 0; j < 2 * half + 16; j++) line[j] = 0f;
        // Where each group of eight tiles goes (relative to its channel's slot; see GroupStores).
        int groups = (tilesX + 7) / 8, tileRows = s.Batch * tilesY, perImage = tilesY * tilesX;
        long pointStride = rowTiles * sliverStride;
        var plans = stackalloc GroupStores[tileRows * groups];
        for (int g = 0; g < tileRows * groups; g++)
        {
            int tile = g / groups * tilesX + 8 * (g % groups), count = Math.Min(8, tilesX - 8 * (g % groups));
            ref var plan = ref plans[g];
            plan.PointStride = pointStride;
            plan.Count = count;
            for (int l = 0; l < 8; l++)
            {
                int t = tile + Math.Min(l, count - 1);
                plan.Lanes[l] = (long)(t / mr) * sliverStride + t % mr;
            }
            // One piece per sliver the group touches (at most three with MR of 6 or more).
            int covered = 0;
            plan.PieceCount = 0;
            while (covered < count && plan.PieceCount < GroupStores.MaxPieces)
            {
                int t = tile + covered;
                plan.PieceBase[plan.PieceCount] = (long)(t / mr) * sliverStride + t % mr;
                plan.PieceLane[plan.PieceCount++] = covered;
                covered += Math.Min(count - covered, mr - t % mr);
            }
            // Spilling stores write lanes past their piece into later tiles of the channel, or into the next channel's
            // first tiles of the sliver: both are written after this group, unless that sliver began in an earlier image
            // (never so for a group that is one whole sliver).
            plan.BySliver = VectorPieces && covered == count && tile / mr * mr >= tile / perImage * perImage;
            plan.Shift1 = Shift(plan.PieceLane[Math.Min(1, plan.PieceCount - 1)]);
            plan.Shift2 = Shift(plan.PieceLane[Math.Min(2, plan.PieceCount - 1)]);
        }
        for (int n = 0; n < s.Batch; n++)
            for (int ci = 0; ci < c; ci++)
            {
                float* plane = x + ((long)n * c + ci) * h * w;
                for (int r = 0; r < rows; r++)
                {
                    int sy = r - ph;
                    float* even = split + 2 * r * half, odd = even + half;
                    if ((uint)sy >= (uint)h)
                    {
                        for (int j = 0; j < half; j += 8)
                        {
                            Vector256<float>.Zero.Store(even + j);
                            Vector256<float>.Zero.Store(odd + j);
                        }
                        continue;
                    }
                    Buffer.MemoryCopy(plane + (long)sy * w, line + pw, (long)w * sizeof(float), (long)w * sizeof(float));
                    for (int j = 0; j < half; j += 8)
                    {
                        // Sixteen padded columns into eight even and eight odd ones.
                        var a = Vector256.Shuffle(Vector256.Load(line + 2 * j), Vector256.Create(0, 2, 4, 6, 1, 3, 5, 7));
                        var b = Vector256.Shuffle(Vector256.Load(line + 2 * j + 8), Vector256.Create(0, 2, 4, 6, 1, 3, 5, 7));
                        Vector256.Create(a.GetLower(), b.GetLower()).Store(even + j);
                        Vector256.Create(a.GetUpper(), b.GetUpper()).Store(odd + j);
                    }
                }
                float* dst = v + (long)ci * mr;
                bool last = ci == c - 1;
                for (int ty = 0; ty < tilesY; ty++)
                    for (int gi = 0; gi < groups; gi++)
                    {
                        int g = (n * tilesY + ty) * groups + gi;
                        float* rowsAt = split + 2 * ty * 2 * half;
                        TransformEight(rowsAt, half, 8 * gi, dst, plans + g, last);
                    }
            }
    }

    /// <summary>
    /// Tiles tx … tx + 7 of the split rows: their 16 points, point ξ stored by <paramref name="plan"/> relative to the
    /// channel's slot <paramref name="dst"/> (lane by lane in the <paramref name="lastChannel"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void TransformEight(float* split, int half, int tx, float* dst, GroupStores* plan, bool lastChannel)
    {
        // The last channel's spills would land in the sliver's padding or in rows past the last tile: lane by lane.
        bool bySliver = plan->BySliver && !lastChannel;
        // t_i = (Bᵀ d)_i over the four rows, for the even and odd columns at tx and tx + 1.
        float* e = split + tx, o = split + half + tx;
        Vector256<float> r0 = Vector256.Load(e), r1 = Vector256.Load(e + 2 * half), r2 = Vector256.Load(e + 4 * half), r3 = Vector256.Load(e + 6 * half);
        Vector256<float> e0 = r0 - r2, e1 = r1 + r2, e2 = r2 - r1, e3 = r1 - r3;
        r0 = Vector256.Load(e + 1); r1 = Vector256.Load(e + 2 * half + 1); r2 = Vector256.Load(e + 4 * half + 1); r3 = Vector256.Load(e + 6 * half + 1);
        Vector256<float> f0 = r0 - r2, f1 = r1 + r2, f2 = r2 - r1, f3 = r1 - r3;
        r0 = Vector256.Load(o); r1 = Vector256.Load(o + 2 * half); r2 = Vector256.Load(o + 4 * half); r3 = Vector256.Load(o + 6 * half);
        Vector256<float> o0 = r0 - r2, o1 = r1 + r2, o2 = r2 - r1, o3 = r1 - r3;
        r0 = Vector256.Load(o + 1); r1 = Vector256.Load(o + 2 * half + 1); r2 = Vector256.Load(o + 4 * half + 1); r3 = Vector256.Load(o + 6 * half + 1);
        Vector256<float> p0 = r0 - r2, p1 = r1 + r2, p2 = r2 - r1, p3 = r1 - r3;
        // V_{i,j} = (t_i B)_j: the columns (E, O, E+1, O+1) combined as the rows were.
        plan->Put(e0 - f0, dst, 0, bySliver); plan->Put(o0 + f0, dst, 1, bySliver);
        plan->Put(f0 - o0, dst, 2, bySliver); plan->Put(o0 - p0, dst, 3, bySliver);
        plan->Put(e1 - f1, dst, 4, bySliver); plan->Put(o1 + f1, dst, 5, bySliver);
        plan->Put(f1 - o1, dst, 6, bySliver); plan->Put(o1 - p1, dst, 7, bySliver);
        plan->Put(e2 - f2, dst, 8, bySliver); plan->Put(o2 + f2, dst, 9, bySliver);
        plan->Put(f2 - o2, dst, 10, bySliver); plan->Put(o2 - p2, dst, 11, bySliver);
        plan->Put(e3 - f3, dst, 12, bySliver); plan->Put(o3 + f3, dst, 13, bySliver);
        plan->Put(f3 - o3, dst, 14, bySliver); plan->Put(o3 - p3, dst, 15, bySliver);
    }

    /// <summary>
    /// Where one group of up to eight consecutive tiles of one channel goes in V: offsets relative to the channel's slot
    /// (<c>v + ci·MR</c>), the same for every channel. With <see cref="BySliver"/>, one vector store per sliver the group
    /// touches (one for a group that is a whole MR-row sliver, at most three: 1 + MR + 1 lanes), each piece's first lane
    /// moved to lane 0, the lanes past the piece landing on tiles or channels written after it; otherwise lane by lane.
    /// With MR = 6 a 7-tile row (a 14x14 plane on AVX2) takes two stores a point instead of seven: the transform stored
    /// 112 single floats a channel into 144 separate lines of V, and took 16% of the 256@14² layer on one thread.
    /// </summary>
    private struct GroupStores
    {
        public const int MaxPieces = 3;

        public bool BySliver;
        public int Count, PieceCount;
        public long PointStride;
        public fixed long Lanes[8];
        public fixed long PieceBase[MaxPieces];
        public fixed int PieceLane[MaxPieces];

        /// <summary>The lane moves of the second and third pieces (<see cref="Shift"/>), made once per group.</summary>
        public Vector256<int> Shift1, Shift2;

        /// <summary>Point <paramref name="xi"/> of the group's tiles (lane l = tile l) into V.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Put(Vector256<float> v, float* dst, int xi, bool bySliver)
        {
            float* d = dst + xi * PointStride;
            if (bySliver)
            {
                v.Store(d + PieceBase[0]);
                if (PieceCount > 1) Permute(v, Shift1).Store(d + PieceBase[1]);
                if (PieceCount > 2) Permute(v, Shift2).Store(d + PieceBase[2]);
                return;
            }
            for (int l = 0; l < Count; l++) d[Lanes[l]] = v.GetElement(l);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static Vector256<float> Permute(Vector256<float> v, Vector256<int> index) =>
            Avx2.IsSupported ? Avx2.PermuteVar8x32(v, index) : Vector256.Shuffle(v, index);
    }

    /// <summary>Lane indices that move lanes <paramref name="first"/> … 7 to lanes 0 … 7 − first (the rest repeat lane 7).</summary>
    private static Vector256<int> Shift(int first) =>
        Vector256.Min(Vector256.Create(first) + Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7), Vector256.Create(7));

    /// <summary>
    /// One sliver of NR output channels: the 16 products Mᵀ_ξ = Vᵀ_ξ Uᵀ_ξ for those channels (into this thread's scratch),
    /// then the output transform Y = Aᵀ M A plus the bias, eight channels to a vector, written into their planes.
    /// Aᵀ = [1 1 1 0; 0 1 −1 −1].
    /// </summary>
    private struct ProductBody<TKernel> : IChunkBody
        where TKernel : struct, IMicroKernel<float>
    {
        public float* X, U, Y, Bias;
        public ConvShape Shape;
        public int TilesX, TilesY, Tiles, RowTiles, Kc;
        public long SliverStride, Call;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public readonly void Invoke(int sliver)
        {
            ref readonly ConvShape s = ref Shape;
            int c = s.InChannels, k = s.OutChannels, mr = TKernel.MR, nr = TKernel.NR;
            int rows = RowTiles * mr, lastRows = Tiles - (RowTiles - 1) * mr;
            long mPoint = (long)rows * nr + 16;
            float* m = Scratch(Points * mPoint);
            // The transformed input, made by each thread for itself on its first sliver of the call: every sliver reads
            // all of it, and written by one thread and read by the other it crosses between the cores twice a call (the
            // 256@14² layer alone on two threads: 0.39–0.51 ms with it shared, 0.37–0.43 with a copy per thread).
            long vLength = Points * RowTiles * SliverStride;
            float* v = ThreadScratch.Floats(ref _input, vLength);
            if (_inputCall != Call)
            {
                ClearPastLastTile(v, Tiles, mr, RowTiles, SliverStride, c);
                TransformInput(s, X, v, mr, TilesY, TilesX, RowTiles, SliverStride);
                _inputCall = Call;
            }
            float* uSliver = U + (long)sliver * Points * c * nr;
            for (int xi = 0; xi < Points; xi++)
            {
                float* uXi = uSliver + (long)xi * c * nr, vXi = v + (long)xi * RowTiles * SliverStride, mXi = m + xi * mPoint;
                for (int p0 = 0; p0 < c; p0 += Kc)
                {
                    int kcb = Math.Min(Kc, c - p0);
                    float beta = p0 == 0 ? 0f : 1f;
                    for (int t = 0; t < RowTiles; t++)
                        RowTile.Run<TKernel>(t == RowTiles - 1 ? lastRows : mr, kcb, vXi + t * SliverStride + (long)p0 * mr, uXi + (long)p0 * nr, mXi + (long)t * mr * nr, nr, beta);
                }
            }

            // Output transform: for each tile, the 4x4 products of eight channels at a time.
            int o0 = sliver * nr, outs = Math.Min(nr, k - o0), oh = s.OutH, ow = s.OutW;
            long planeOut = (long)oh * ow;
            int perImage = TilesY * TilesX;
            float* values = stackalloc float[4 * 8];
            // The bias of the sliver's channels, zero past the last channel.
            float* biasLanes = stackalloc float[nr];
            for (int l = 0; l < nr; l++) biasLanes[l] = Bias is null || l >= outs ? 0f : Bias[o0 + l];
            for (int tile = 0; tile < Tiles; tile++)
            {
                int n = tile / perImage, r = tile % perImage, oy = r / TilesX * 2, ox = r % TilesX * 2;
                bool fullH = oy + 2 <= oh, fullW = ox + 2 <= ow;
                float* mt = m + (long)tile * nr;
                for (int l = 0; l < outs; l += 8)
                {
                    // s_r,j = (Aᵀ m)_r over the four rows of the tile, for column j; then Y_r = (s_r A).
                    var m0 = Load4(mt + l, mPoint, 0);
                    var m1 = Load4(mt + l, mPoint, 4);
                    var m2 = Load4(mt + l, mPoint, 8);
                    var m3 = Load4(mt + l, mPoint, 12);
                    var a0 = m0.A + m1.A + m2.A; var a1 = m0.B + m1.B + m2.B; var a2 = m0.C + m1.C + m2.C; var a3 = m0.D + m1.D + m2.D;
                    var b0 = m1.A - m2.A - m3.A; var b1 = m1.B - m2.B - m3.B; var b2 = m1.C - m2.C - m3.C; var b3 = m1.D - m2.D - m3.D;
                    var bias = Vector256.Load(biasLanes + l);
                    (a0 + a1 + a2 + bias).Store(values);
                    (a1 - a2 - a3 + bias).Store(values + 8);
                    (b0 + b1 + b2 + bias).Store(values + 16);
                    (b1 - b2 - b3 + bias).Store(values + 24);
                    int lanes = Math.Min(8, outs - l);
                    for (int lane = 0; lane < lanes; lane++)
                    {
                        float* dst = Y + ((long)n * k + o0 + l + lane) * planeOut + (long)oy * ow + ox;
                        dst[0] = values[lane];
                        if (fullW) dst[1] = values[8 + lane];
                        if (fullH)
                        {
                            dst[ow] = values[16 + lane];
                            if (fullW) dst[ow + 1] = values[24 + lane];
                        }
                    }
                }
            }
        }

        /// <summary>Points ξ0 … ξ0 + 3 (one row of the 4x4 tile) of eight channels.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static (Vector256<float> A, Vector256<float> B, Vector256<float> C, Vector256<float> D) Load4(float* p, long stride, int xi0) =>
            (Vector256.Load(p + xi0 * stride), Vector256.Load(p + (xi0 + 1) * stride), Vector256.Load(p + (xi0 + 2) * stride), Vector256.Load(p + (xi0 + 3) * stride));
    }

    // Per-thread scratch for one sliver's 16 products; only grows, so repeated calls allocate nothing.
    [ThreadStatic] private static float[]? _scratch;
    [ThreadStatic] private static float[]? _input;
    [ThreadStatic] private static long _inputCall;

    private static float* Scratch(long floats) =>
        ThreadScratch.Floats(ref _scratch, floats);
}
