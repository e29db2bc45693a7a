using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Fovea.Kernels;

/// <summary>
/// The blocked GEMM loop nest (Goto / BLIS order), generic over element type and micro-kernel so the JIT
/// emits one specialised copy per kernel with the tile and block sizes folded to constants.
/// <para>
/// Threading, for large products, shares each packed B panel and hands out blocks of C rows as work items; for
/// medium ones it gives each thread its own rectangle of C and loop nest (one region, no barriers). Every
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

    /// <summary>Below this many multiply-adds a call stays on the calling thread.</summary>
    private const long ThreadingMinMacs = 1L << 21;

    /// <summary>Computes C = alpha * op(A) * op(B) + beta * C for already validated arguments with m, n, k &gt; 0.</summary>
    public static void Run(bool transA, bool transB, int m, int n, int k, T alpha, T* a, int lda, T* b, int ldb, T beta, T* c, int ldc)
    {
        long macs = (long)m * n * k;
        int threads = ParallelFor.ChunkCount(macs, ThreadingMinMacs);
        if (threads <= 1 || (m <= TKernel.MR && n <= TKernel.NR))
            Region(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, 0, 0);
        else if (macs < SharedPanelMinMacs)
            Split(threads, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        else
            Parallel(threads, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    }

    /// <summary>
    /// From this many multiply-adds on, threads share packed B panels (two barriers per KC block). Below it each
    /// thread runs the whole loop nest on its own rectangle of C in one parallel region: a little packing is
    /// duplicated, but the barriers would cost more than that on small and medium products.
    /// Lives in a non-generic holder so tests can lower it to cover the shared-panel path with small shapes.
    /// </summary>
    private static long SharedPanelMinMacs => GemmTuning.SharedPanelMinMacs;

    /// <summary>
    /// Medium products: C is cut into one tile-aligned rectangle per thread, each computed by <see cref="Region"/>
    /// with that thread's own packing buffers, in a single parallel region.
    /// </summary>
    private static void Split(int threads, bool transA, bool transB, int m, int n, int k, T alpha,
        T* a, int lda, T* b, int ldb, T beta, T* c, int ldc)
    {
        int mTiles = (m + TKernel.MR - 1) / TKernel.MR, nTiles = (n + TKernel.NR - 1) / TKernel.NR;
        (int gm, int gn) = Grid(threads, mTiles, nTiles, m, n);
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

    /// <summary>
    /// Factors <paramref name="chunks"/> into a gm x gn grid whose cells are as square as possible, so each thread
    /// packs as little of A and B as possible relative to its share of the work.
    /// </summary>
    private static (int gm, int gn) Grid(int chunks, int mTiles, int nTiles, int m, int n)
    {
        (int gm, int gn) best = mTiles >= nTiles ? (Math.Min(chunks, mTiles), 1) : (1, Math.Min(chunks, nTiles));
        double bestScore = double.MaxValue;
        for (int gm = 1; gm <= chunks; gm++)
        {
            if (chunks % gm != 0) continue;
            int gn = chunks / gm;
            if (gm > mTiles || gn > nTiles) continue;
            double score = Math.Abs(Math.Log((double)m / gm / ((double)n / gn)));
            if (score < bestScore) { bestScore = score; best = (gm, gn); }
        }
        return best;
    }

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
    /// The single-threaded loop nest (B panel, then A blocks, then register tiles) over the <paramref name="m"/> x
    /// <paramref name="n"/> rectangle of C whose top-left element is (<paramref name="i0"/>, <paramref name="j0"/>).
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
        for (int jc = 0; jc < n; jc += ncMax)
        {
            int nc = Math.Min(ncMax, n - jc);
            for (int pc = 0; pc < k; pc += kcMax)
            {
                int kc = Math.Min(kcMax, k - pc);
                // Later K blocks accumulate onto what the first block wrote.
                T betaBlock = pc == 0 ? beta : T1();
                GemmPacking.PackB(packB, b, ldb, transB, pc, kc, j0 + jc, nc, nr);
                for (int ic = 0; ic < m; ic += mcMax)
                {
                    int mc = Math.Min(mcMax, m - ic);
                    GemmPacking.PackA(packA, a, lda, transA, i0 + ic, mc, pc, kc, mr);
                    Macro(mc, 0, nc, kc, packA, packB, c + (nint)(i0 + ic) * ldc + j0 + jc, ldc, alpha, betaBlock, edge);
                }
            }
        }
    }

    /// <summary>
    /// The threaded loop nest. For each (NC, KC) panel the threads first pack B together into one shared
    /// buffer, then take work items (a block of rows, or for very short C a range of B slivers) dynamically,
    /// each packing its own A block into its thread's buffer. More items than threads, taken on demand, keep
    /// both cores busy even when the machine is shared and one of them is slowed down.
    /// </summary>
    private static void Parallel(int threads, bool transA, bool transB, int m, int n, int k, T alpha,
        T* a, int lda, T* b, int ldb, T beta, T* c, int ldc)
    {
        int mr = TKernel.MR, nr = TKernel.NR, kcMax = BlockDepth(k), mcMax = TKernel.MC, ncMax = TKernel.NC;
        int mTiles = (m + mr - 1) / mr;
        // About four items per thread balance a core that another process slows down; blocks keep at least eight
        // tiles of rows so each B sliver loaded into L1 is still reused several times.
        int minBlocks = (m + mcMax - 1) / mcMax;
        int rowBlocks = Math.Max(minBlocks, Math.Min(4 * threads, (m + 8 * mr - 1) / (8 * mr)));
        rowBlocks = Math.Min(mTiles, rowBlocks);
        int mc = RoundUp((m + rowBlocks - 1) / rowBlocks, mr);
        rowBlocks = (m + mc - 1) / mc;
        int kcCap = Math.Min(kcMax, k);
        T* packB = Buffer(ref _packB, (long)Math.Min(ncMax, RoundUp(n, nr)) * kcCap);
        var pack = new PackBBody { B = b, Ldb = ldb, TransB = transB, Packed = packB };
        var items = new ItemBody { A = a, Lda = lda, TransA = transA, M = m, Mc = mc, PackedB = packB, Alpha = alpha };

        for (int jc = 0; jc < n; jc += ncMax)
        {
            int nc = Math.Min(ncMax, n - jc);
            int slivers = (nc + nr - 1) / nr;
            // Short C (few row blocks) also splits the columns so every thread gets work.
            int colSplits = rowBlocks >= 2 * threads ? 1 : Math.Min(slivers, (2 * threads + rowBlocks - 1) / rowBlocks);
            for (int pc = 0; pc < k; pc += kcMax)
            {
                int kc = Math.Min(kcMax, k - pc);
                pack.Pc = pc; pack.Kc = kc; pack.Jc = jc; pack.Nc = nc; pack.Slivers = slivers;
                // Packing is split finer than the thread count for the same reason.
                pack.Chunks = Math.Clamp(slivers / 4, 1, 4 * threads);
                ParallelFor.ForChunks(pack.Chunks, pack);

                items.Pc = pc; items.Kc = kc; items.Nc = nc; items.Slivers = slivers; items.ColSplits = colSplits;
                items.C = c + jc;
                items.Ldc = ldc;
                // Later K blocks accumulate onto what the first block wrote.
                items.Beta = pc == 0 ? beta : T1();
                ParallelFor.ForChunks(rowBlocks * colSplits, items);
            }
        }
    }

    /// <summary>Packs a contiguous range of B slivers of the shared panel (one chunk of the threaded packing).</summary>
    private struct PackBBody : IChunkBody
    {
        public T* B, Packed;
        public int Ldb, Pc, Kc, Jc, Nc, Slivers, Chunks;
        public bool TransB;

        public readonly void Invoke(int chunk)
        {
            int nr = TKernel.NR;
            int j0 = ParallelFor.ChunkStart(Slivers, Chunks, chunk) * nr;
            int j1 = Math.Min(Nc, ParallelFor.ChunkStart(Slivers, Chunks, chunk + 1) * nr);
            GemmPacking.PackB(Packed + (nint)j0 * Kc, B, Ldb, TransB, Pc, Kc, Jc + j0, j1 - j0, nr);
        }
    }

    /// <summary>One work item of the threaded compute: a block of C rows, or a column range of it when C is short.</summary>
    private struct ItemBody : IChunkBody
    {
        public T* A, PackedB, C;
        public int Lda, Ldc, M, Mc, Pc, Kc, Nc, Slivers, ColSplits;
        public bool TransA;
        public T Alpha, Beta;

        public readonly void Invoke(int item)
        {
            int ic = item / ColSplits * Mc, split = item % ColSplits;
            int j0 = ParallelFor.ChunkStart(Slivers, ColSplits, split) * TKernel.NR;
            int j1 = Math.Min(Nc, ParallelFor.ChunkStart(Slivers, ColSplits, split + 1) * TKernel.NR);
            Item(TransA, A, Lda, ic, Math.Min(Mc, M - ic), Pc, Kc, PackedB, j0, j1, C + (nint)ic * Ldc, Ldc, Alpha, Beta);
        }
    }

    /// <summary>One work item of the threaded path: pack an A block, then run its tiles against B slivers [j0, j1).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Item(bool transA, T* a, int lda, int ic, int mc, int pc, int kc, T* packB, int j0, int j1,
        T* c, int ldc, T alpha, T beta)
    {
        T* packA = Buffer(ref _packA, (long)RoundUp(mc, TKernel.MR) * kc);
        T* edge = stackalloc T[TKernel.MR * TKernel.NR];
        GemmPacking.PackA(packA, a, lda, transA, ic, mc, pc, kc, TKernel.MR);
        Macro(mc, j0, j1, kc, packA, packB, c, ldc, alpha, beta, edge);
    }

    /// <summary>
    /// Runs the register tiles of one packed A block (mc rows) against packed B slivers covering columns
    /// [j0, j1) of the panel; <paramref name="c"/> points at the block's (row 0, panel column 0).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Macro(int mc, int j0, int j1, int kc, T* packA, T* packB, T* c, int ldc, T alpha, T beta, T* edge)
    {
        int mr = TKernel.MR, nr = TKernel.NR;
        for (int jr = j0; jr < j1; jr += nr)
        {
            int cols = Math.Min(nr, j1 - jr);
            T* bSliver = packB + (nint)jr * kc;
            for (int ir = 0; ir < mc; ir += mr)
            {
                int rows = Math.Min(mr, mc - ir);
                T* aSliver = packA + (nint)ir * kc;
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
}
