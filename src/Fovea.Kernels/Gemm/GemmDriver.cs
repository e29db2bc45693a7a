using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Fovea.Kernels;

/// <summary>
/// The blocked GEMM loop nest (Goto / BLIS order), generic over element type and micro-kernel so the JIT
/// emits one specialised copy per kernel with the tile and block sizes folded to constants.
/// <para>
/// Threading, for large products on three or more threads, shares each packed A block and hands out ranges of C
/// columns as work items; otherwise it gives each thread its own rectangle of C and loop nest (one region, no barriers). Every
/// element of C is computed by the same sequence of operations (same KC blocks, same FMA order, same tile
/// kind: tiles are aligned to MR / NR multiples of C whatever the split) whatever the thread count, so
/// results are bit-identical between 1 and N threads.
/// </para>
/// </summary>
internal static unsafe class GemmDriver<T, TKernel>
    where T : unmanaged
    where TKernel : struct, IMicroKernel<T>
{
    // Per-thread packing buffers, pinned so their addresses stay valid while a kernel streams them;
    // they only grow, so a steady state of repeated calls allocates nothing.
    [ThreadStatic] private static T[]? _packA;
    [ThreadStatic] private static T[]? _packB;

    /// <summary>Computes C = alpha * op(A) * op(B) + beta * C for already validated arguments with m, n, k &gt; 0.</summary>
    public static void Run(bool transA, bool transB, int m, int n, int k, T alpha, T* a, int lda, T* b, int ldb, T beta, T* c, int ldc)
    {
        long macs = (long)m * n * k;
        int threads = ParallelFor.ThreadsForMultiplyAdds(macs);
        if (threads <= 1 || (m <= TKernel.MR && n <= TKernel.NR))
            Region(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, 0, 0);
        else if (macs < SharedPanelMinMacs || threads < SharedPanelMinThreads)
            Split(threads, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        else
            Parallel(threads, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    }

    /// <summary>
    /// From this many multiply-adds on (and <see cref="SharedPanelMinThreads"/> threads), threads share packed A blocks
    /// (two regions per block: packing, then column items). Below it each thread runs the whole loop nest on its own
    /// rectangle of C in one parallel region: a little packing is duplicated, but the regions would cost more than
    /// that on small and medium products.
    /// Lives in a non-generic holder so tests can lower it to cover the shared-panel path with small shapes.
    /// </summary>
    private static long SharedPanelMinMacs => GemmTuning.SharedPanelMinMacs;

    /// <summary>
    /// Fewest threads with which large products share packed A blocks. On two threads each thread's own rectangle
    /// (<see cref="Split"/>) is the safer choice: sharing makes each thread read the half of every A block the other
    /// core packed, which is cheap while the machine's two virtual CPUs sit on nearby cores and dear when the host
    /// puts them far apart (a cache line's round trip between them 500–580 ns instead of 220), as it does for long
    /// spells on the 2-core AMD EPYC (Zen 5) virtual machines Fovea is measured on. Float32 square products on two
    /// threads there, the two paths alternating call by call (medians), shared → own rectangles: far apart, 512²
    /// 0.835 → 0.758 ms, 1024² 6.36 → 6.19, 2048² 47.4 → 45.8 (0.81 → 0.83 of the FMA peak), 576 x 3136 x 64 (a
    /// ResNet layer's weight gradient) 0.784 → 0.703; near, 512² 0.664 → 0.669, 1024² 5.20 → 5.35, 2048² 41.1 →
    /// 42.4 (0.93 → 0.90), 576 x 3136 x 64 0.645 → 0.582. The rectangles' cost is packing duplicated between
    /// threads, (m / gm + n / gn) · k values per thread against (m + n) · k / T shared: half as much again on two
    /// threads, but four times as much on sixteen in a 4 x 4 grid, so from three threads on the blocks are shared.
    /// </summary>
    private static int SharedPanelMinThreads => GemmTuning.SharedPanelMinThreads;

    /// <summary>
    /// Medium products: C is cut into one tile-aligned rectangle per thread, each computed by <see cref="Region"/>
    /// with that thread's own packing buffers, in a single parallel region.
    /// </summary>
    private static void Split(int threads, bool transA, bool transB, int m, int n, int k, T alpha,
        T* a, int lda, T* b, int ldb, T beta, T* c, int ldc)
    {
        int mTiles = (m + TKernel.MR - 1) / TKernel.MR, nTiles = (n + TKernel.NR - 1) / TKernel.NR;
        (int gm, int gn) = Grid(threads, mTiles, nTiles, m, n, k);
        var body = new RegionBody
        {
            TransA = transA,
            TransB = transB,
            M = m,
            N = n,
            K = k,
            Alpha = alpha,
            Beta = beta,
            A = a,
            Lda = lda,
            B = b,
            Ldb = ldb,
            C = c,
            Ldc = ldc,
            MTiles = mTiles,
            NTiles = nTiles,
            Gm = gm,
            Gn = gn,
        };
        ParallelFor.ForChunks(gm * gn, body);
    }

    /// <summary>The gm x gn grid of C that <see cref="Split"/> gives <paramref name="threads"/> threads for an m x n x k product (tests check it).</summary>
    internal static (int gm, int gn) GridFor(int threads, int m, int n, int k) =>
        Grid(threads, (m + TKernel.MR - 1) / TKernel.MR, (n + TKernel.NR - 1) / TKernel.NR, m, n, k);

    /// <summary>
    /// Factors <paramref name="chunks"/> into a gm x gn grid of C. Products of one K block (k ≤ KC: a linear layer's
    /// weight gradient, whose depth is the batch) take <see cref="BalancedGrid"/>; deeper ones <see cref="SquareGrid"/>.
    /// </summary>
    private static (int gm, int gn) Grid(int chunks, int mTiles, int nTiles, int m, int n, int k) =>
        k <= TKernel.KC && GemmTuning.BalanceShallowProducts ? BalancedGrid(chunks, mTiles, nTiles, m, n) : SquareGrid(chunks, mTiles, nTiles, m, n);

    /// <summary>
    /// The grid whose cells are as square as possible, so each thread packs as little of A and B as possible relative
    /// to its share of the work. Ties go to more row blocks: then each thread packs all of B (row copies) and its own
    /// share of A (a transpose into slivers, the dearer packing), rather than all of A.
    /// </summary>
    private static (int gm, int gn) SquareGrid(int chunks, int mTiles, int nTiles, int m, int n)
    {
        (int gm, int gn) best = mTiles >= nTiles ? (Math.Min(chunks, mTiles), 1) : (1, Math.Min(chunks, nTiles));
        double bestScore = double.MaxValue;
        for (int gm = 1; gm <= chunks; gm++)
        {
            if (chunks % gm != 0) continue;
            int gn = chunks / gm;
            if (gm > mTiles || gn > nTiles) continue;
            double score = Math.Abs(Math.Log((double)m / gm / ((double)n / gn)));
            if (score <= bestScore) { bestScore = score; best = (gm, gn); }
        }
        return best;
    }

    /// <summary>
    /// The grid for a product of one K block: <see cref="SquareGrid"/>'s, unless more row blocks of at least
    /// <see cref="MinRowsPerBlock"/> rows each leave the busiest cell as few register tiles or fewer (within 2%; the
    /// fewest of them, then the most row blocks). A cell of C is cut at tile multiples, so the square grid can leave
    /// one thread a whole tile more: 784 columns of 64-wide tiles split 6 + 7, while 256 rows of 6-row tiles split
    /// 21 + 22. Row blocks also give each thread one contiguous part of C, which the element-wise passes after it (an
    /// optimizer's update of a weight gradient) split alike. Measured on a 2-core AMD EPYC (Zen 5), two threads,
    /// float32, the two grids alternating call by call (medians; m x n x k, A transposed): 256 x 784 x 64 (an MLP's
    /// first weight gradient at batch 64) 0.090 → 0.080 ms, 128 x 256 x 64 (its second) 0.017 → 0.015, 512 x 1000 x
    /// 32 0.130 → 0.107; that MLP's training step on two threads 0–5% faster (100-step rounds alternating, five
    /// processes). Thinner row blocks lose, each thread packing all of B (96 x 2048 x 64: 0.070 ms in column blocks,
    /// 0.077 in row blocks of 48; 64 x 4096 x 32: 0.062 against 0.082), and so do deeper products, where each thread's
    /// copy of B grows with k (128 x 1152 x 4096: 4.54 against 5.26 ms in row blocks).
    /// </summary>
    private static (int gm, int gn) BalancedGrid(int chunks, int mTiles, int nTiles, int m, int n)
    {
        var square = SquareGrid(chunks, mTiles, nTiles, m, n);
        var best = square;
        long limit = BusiestCell(square.gm, square.gn, mTiles, nTiles) * 51 / 50, fewest = long.MaxValue;
        for (int gm = square.gm + 1; gm <= chunks; gm++)
        {
            int gn = chunks / gm;
            if (chunks % gm != 0 || gm > mTiles || gn > nTiles || m / gm < MinRowsPerBlock) continue;
            long busiest = BusiestCell(gm, gn, mTiles, nTiles);
            if (busiest <= limit && busiest <= fewest) (best, fewest) = ((gm, gn), busiest);
        }
        return best;
    }

    /// <summary>Register tiles in the largest cell of a gm x gn grid over mTiles x nTiles tiles.</summary>
    private static long BusiestCell(int gm, int gn, int mTiles, int nTiles) =>
        (long)((mTiles + gm - 1) / gm) * ((nTiles + gn - 1) / gn);

    /// <summary>Fewest rows of C in each row block <see cref="BalancedGrid"/> turns to.</summary>
    private const int MinRowsPerBlock = 64;

    /// <summary>One rectangle of <see cref="Split"/>: rows and columns cut at tile multiples so rounding matches one thread.</summary>
    private struct RegionBody : IChunkBody
    {
        public T* A, B, C;
        public int Lda, Ldb, Ldc, M, N, K, MTiles, NTiles, Gm, Gn;
        public bool TransA, TransB;
        public T Alpha, Beta;

        public readonly void Invoke(int chunk)
        {
            int bi = chunk / Gn, bj = chunk % Gn;
            int m0 = Math.Min(M, ParallelFor.ChunkStart(MTiles, Gm, bi) * TKernel.MR);
            int m1 = Math.Min(M, ParallelFor.ChunkStart(MTiles, Gm, bi + 1) * TKernel.MR);
            int n0 = Math.Min(N, ParallelFor.ChunkStart(NTiles, Gn, bj) * TKernel.NR);
            int n1 = Math.Min(N, ParallelFor.ChunkStart(NTiles, Gn, bj + 1) * TKernel.NR);
            if (m1 > m0 && n1 > n0)
                Region(TransA, TransB, m1 - m0, n1 - n0, K, Alpha, A, Lda, B, Ldb, Beta, C, Ldc, m0, n0);
        }
    }

    /// <summary>
    /// The single-threaded loop nest over the <paramref name="m"/> x <paramref name="n"/> rectangle of C whose top-left
    /// element is (<paramref name="i0"/>, <paramref name="j0"/>): K blocks, then A blocks (packed once per K block),
    /// then B panels (packed into L2), then the register tiles of <see cref="Macro"/>.
    /// </summary>
    /// <remarks>Fully optimised at first call: it runs only a few times per GEMM, so tiering would leave it slow for long.</remarks>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Region(bool transA, bool transB, int m, int n, int k, T alpha,
        T* a, int lda, T* b, int ldb, T beta, T* c, int ldc, int i0, int j0)
    {
        int mr = TKernel.MR, nr = TKernel.NR, kcMax = BlockDepth(k), mcMax = TKernel.MC, ncMax = TKernel.NC;
        T* packA = Buffer(ref _packA, (long)Math.Min(mcMax, RoundUp(m, mr)) * Math.Min(kcMax, k));
        T* packB = Buffer(ref _packB, (long)Math.Min(ncMax, RoundUp(n, nr)) * Math.Min(kcMax, k));
        T* edge = stackalloc T[mr * nr];
        for (int pc = 0; pc < k; pc += kcMax)
        {
            int kc = Math.Min(kcMax, k - pc);
            // Later K blocks accumulate onto what the first block wrote.
            T betaBlock = pc == 0 ? beta : T1();
            for (int ic = 0; ic < m; ic += mcMax)
            {
                int mc = Math.Min(mcMax, m - ic);
                GemmPacking.PackA(packA, a, lda, transA, i0 + ic, mc, pc, kc, mr);
                for (int jc = 0; jc < n; jc += ncMax)
                {
                    int nc = Math.Min(ncMax, n - jc);
                    GemmPacking.PackB(packB, b, ldb, transB, pc, kc, j0 + jc, nc, nr);
                    Macro(0, mc, nc, kc, packA, packB, c + (nint)(i0 + ic) * ldc + j0 + jc, ldc, alpha, betaBlock, edge);
                }
            }
        }
    }

    /// <summary>
    /// The threaded loop nest. For each (KC, MC) block the threads first pack A together into one shared buffer,
    /// then take work items (a range of C columns, and for narrow C also a range of rows) dynamically, each packing
    /// its B panel into its thread's buffer. More items than threads, taken on demand, keep both cores busy even
    /// when the machine is shared and one of them is slowed down.
    /// </summary>
    private static void Parallel(int threads, bool transA, bool transB, int m, int n, int k, T alpha,
        T* a, int lda, T* b, int ldb, T beta, T* c, int ldc)
    {
        int mr = TKernel.MR, nr = TKernel.NR, kcMax = BlockDepth(k), mcMax = TKernel.MC, ncMax = TKernel.NC;
        int kcCap = Math.Min(kcMax, k);
        T* packA = Buffer(ref _packA, (long)Math.Min(mcMax, RoundUp(m, mr)) * kcCap);
        // About four column items per thread balance a core that another process slows down; an item keeps at least
        // two B slivers so each A sliver loaded into L1 is reused, and at most one L2 panel.
        int slivers = (n + nr - 1) / nr;
        int itemSlivers = Math.Clamp((slivers + 4 * threads - 1) / (4 * threads), Math.Min(2, slivers), ncMax / nr);
        int colItems = (slivers + itemSlivers - 1) / itemSlivers;
        var pack = new PackABody { A = a, Lda = lda, TransA = transA, Packed = packA };
        var items = new ItemBody { B = b, Ldb = ldb, TransB = transB, N = n, ItemSlivers = itemSlivers, ColItems = colItems, PackedA = packA, Alpha = alpha, Ldc = ldc };
        for (int pc = 0; pc < k; pc += kcMax)
        {
            int kc = Math.Min(kcMax, k - pc);
            for (int ic = 0; ic < m; ic += mcMax)
            {
                int mc = Math.Min(mcMax, m - ic);
                int aSlivers = (mc + mr - 1) / mr;
                pack.Pc = pc; pack.Kc = kc; pack.Ic = ic; pack.Mc = mc; pack.Slivers = aSlivers;
                // Packing is split finer than the thread count for the same reason as the items.
                pack.Chunks = Math.Clamp(aSlivers / 8, 1, 4 * threads);
                ParallelFor.ForChunks(pack.Chunks, pack);

                // Narrow C (few column items) also splits the rows so every thread gets work.
                items.RowSplits = colItems >= 2 * threads ? 1 : Math.Min(aSlivers, (2 * threads + colItems - 1) / colItems);
                items.Pc = pc; items.Kc = kc; items.Mc = mc; items.ASlivers = aSlivers;
                items.C = c + (nint)ic * ldc;
                // Later K blocks accumulate onto what the first block wrote.
                items.Beta = pc == 0 ? beta : T1();
                ParallelFor.ForChunks(items.RowSplits * colItems, items);
            }
        }
    }

    /// <summary>Packs a contiguous range of A slivers of the shared block (one chunk of the threaded packing).</summary>
    private struct PackABody : IChunkBody
    {
        public T* A, Packed;
        public int Lda, Pc, Kc, Ic, Mc, Slivers, Chunks;
        public bool TransA;

        public readonly void Invoke(int chunk)
        {
            int mr = TKernel.MR;
            int i0 = ParallelFor.ChunkStart(Slivers, Chunks, chunk) * mr;
            int i1 = Math.Min(Mc, ParallelFor.ChunkStart(Slivers, Chunks, chunk + 1) * mr);
            GemmPacking.PackA(Packed + (nint)i0 * Kc, A, Lda, TransA, Ic + i0, i1 - i0, Pc, Kc, mr);
        }
    }

    /// <summary>One work item of the threaded compute: a range of C columns of the block, and of its rows when C is narrow.</summary>
    private struct ItemBody : IChunkBody
    {
        public T* B, PackedA, C;
        public int Ldb, Ldc, N, Mc, Pc, Kc, ASlivers, ItemSlivers, ColItems, RowSplits;
        public bool TransB;
        public T Alpha, Beta;

        public readonly void Invoke(int item)
        {
            int colItem = item % ColItems, rowSplit = item / ColItems;
            int j0 = colItem * ItemSlivers * TKernel.NR, j1 = Math.Min(N, j0 + ItemSlivers * TKernel.NR);
            int i0 = ParallelFor.ChunkStart(ASlivers, RowSplits, rowSplit) * TKernel.MR;
            int i1 = Math.Min(Mc, ParallelFor.ChunkStart(ASlivers, RowSplits, rowSplit + 1) * TKernel.MR);
            if (i1 > i0)
                Item(TransB, B, Ldb, Pc, Kc, j0, j1 - j0, PackedA, i0, i1, C + j0, Ldc, Alpha, Beta);
        }
    }

    /// <summary>One work item of the threaded path: pack the B panel of columns [j0, j0 + nc), then run its tiles for rows [i0, i1).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Item(bool transB, T* b, int ldb, int pc, int kc, int j0, int nc, T* packA, int i0, int i1,
        T* c, int ldc, T alpha, T beta)
    {
        T* packB = Buffer(ref _packB, (long)RoundUp(nc, TKernel.NR) * kc);
        T* edge = stackalloc T[TKernel.MR * TKernel.NR];
        GemmPacking.PackB(packB, b, ldb, transB, pc, kc, j0, nc, TKernel.NR);
        Macro(i0, i1, nc, kc, packA, packB, c, ldc, alpha, beta, edge);
    }

    /// <summary>
    /// Runs the register tiles for rows [<paramref name="i0"/>, <paramref name="i1"/>) of one packed A block against
    /// the packed B panel (<paramref name="nc"/> columns); <paramref name="c"/> points at the block's (row 0, panel
    /// column 0). Each A sliver stays in L1 while the B slivers stream from L2, and C is walked along its rows, so
    /// the hardware prefetchers see one sequential stream per row of the tile.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Macro(int i0, int i1, int nc, int kc, T* packA, T* packB, T* c, int ldc, T alpha, T beta, T* edge)
    {
        int mr = TKernel.MR, nr = TKernel.NR;
        for (int ir = i0; ir < i1; ir += mr)
        {
            int rows = Math.Min(mr, i1 - ir);
            T* aSliver = packA + (nint)ir * kc;
            for (int jr = 0; jr < nc; jr += nr)
            {
                int cols = Math.Min(nr, nc - jr);
                T* bSliver = packB + (nint)jr * kc;
                T* cTile = c + (nint)ir * ldc + jr;
                if (rows == mr && cols == nr)
                {
                    TKernel.Run(kc, aSliver, bSliver, cTile, ldc, alpha, beta);
                }
                else
                {
                    // Edge tiles run the same kernel on a copy of the partial C tile, so they cost no more than
                    // full tiles and round exactly like them.
                    CopyTile(cTile, ldc, edge, nr, rows, cols);
                    TKernel.Run(kc, aSliver, bSliver, edge, nr, alpha, beta);
                    CopyTile(edge, nr, cTile, ldc, rows, cols);
                }
            }
        }
    }

    /// <summary>
    /// Depth of the K blocks: at most KC, and equal blocks rather than full ones plus a sliver (k = 784 is four
    /// blocks of 196, not three of 256 and one of 16, which would cost a whole pass over C for 2% of the work).
    /// Depends on k alone, so every thread count cuts K the same way.
    /// </summary>
    internal static int BlockDepth(int k)
    {
        int blocks = (k + TKernel.KC - 1) / TKernel.KC;
        return (k + blocks - 1) / blocks;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static T T1() => typeof(T) == typeof(float) ? (T)(object)1f : (T)(object)1.0;

    private static void CopyTile(T* src, nint lds, T* dst, nint ldd, int rows, int cols)
    {
        for (int r = 0; r < rows; r++)
            new ReadOnlySpan<T>(src + r * lds, cols).CopyTo(new Span<T>(dst + r * ldd, cols));
    }

    private static int RoundUp(int x, int multiple) => (x + multiple - 1) / multiple * multiple;

    /// <summary>Returns a 64-byte aligned pointer into this thread's pinned buffer, growing it when too small.</summary>
    private static T* Buffer(ref T[]? slot, long elements)
    {
        int pad = 64 / sizeof(T);
        if (slot is null || slot.Length < elements + pad)
            slot = GC.AllocateUninitializedArray<T>((int)elements + pad, pinned: true);
        nint p = (nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(slot));
        return (T*)((p + 63) & ~(nint)63);
    }
}

/// <summary>Tuning switches shared by every <see cref="GemmDriver{T, TKernel}"/> instantiation.</summary>
internal static class GemmTuning
{
    /// <summary>Multiply-adds from which threaded GEMMs share packed B panels (see <c>GemmDriver.Run</c>).</summary>
    public static long SharedPanelMinMacs = 1L << 27;

    /// <summary>Fewest threads with which threaded GEMMs share packed A blocks (see <c>GemmDriver.SharedPanelMinThreads</c>).</summary>
    public static int SharedPanelMinThreads = 3;

    /// <summary>Whether products of one K block balance their tiles between threads (see <c>GemmDriver.BalancedGrid</c>); tests and probes compare.</summary>
    public static bool BalanceShallowProducts = true;

    /// <summary>Whether AVX2's last row tile may be a short one (<see cref="SgemmKernel6x16.TakesShortTile"/>); tests and probes compare.</summary>
    public static bool ShortRowTiles = true;
}
