using System.Buffers;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Fovea.Kernels;

/// <summary>
/// C = alpha·A·Bᵀ + beta·C for a small C and a long inner dimension, as a weight gradient is
/// (dW = dY · colᵀ: a few output channels times a few kernel taps, summed over every pixel of a batch).
/// Both operands then have their k values contiguous, so each C element is a dot product of two rows.
/// <para>
/// The packed GEMM is the wrong tool there: with m and n near one register tile, packing reads and writes
/// every element of both long operands for only a handful of multiply-adds each. Here each 3 x 3 tile of C
/// keeps 12 vector accumulators and streams its 3 rows of A and 4 rows of B once (7 loads for 12 FMAs), in
/// k blocks that stay in L2 while every tile of C passes over them.
/// </para>
/// Every C element is summed in the same order (vector lanes over all k blocks, then the lanes, then the tail)
/// whatever the thread count, which only splits the tiles.
/// </summary>
internal static unsafe class GemmDotNT
{
    private const int TileM = 3, TileN = 3;

    /// <summary>k values per block: the 6 rows of a tile stay in L1, and every row of A and B (a few hundred) in L2.</summary>
    private const int BlockK = 256;

    /// <summary>
    /// True when this path beats packing: no transposed A, transposed B (rows of B are contiguous in k), and either at
    /// most a few tiles of C with a k long enough that streaming dominates, or one row tile of C whatever its width (a
    /// linear layer at batch 1: the packed GEMM would copy all of B, 2 MB for ResNet-18's classifier, to use each
    /// element once; here each row of B is read once, straight from the weights).
    /// </summary>
    public static bool Applies<T>(bool transA, bool transB, int m, int n, int k)
        => !transA && transB && Vector256.IsHardwareAccelerated && Vector256<T>.IsSupported
           && (m <= TileM ? k >= 64 : (long)m * n <= 4096 && k >= 256 && k >= 2 * Math.Max(m, n));

    public static void Run<T>(int m, int n, int k, T alpha, T* a, int lda, T* b, int ldb, T beta, T* c, int ldc)
        where T : unmanaged, INumber<T>
    {
        int tilesM = (m + TileM - 1) / TileM, tilesN = (n + TileN - 1) / TileN;
        var body = new TileBody<T> { M = m, N = n, K = k, Alpha = alpha, Beta = beta, A = a, Lda = lda, B = b, Ldb = ldb, C = c, Ldc = ldc, TilesN = tilesN };
        int tiles = tilesM * tilesN;
        int chunks = ParallelFor.ThreadsForMultiplyAdds((long)m * n * k);
        // One row tile of C (a linear layer at batch 1) reads all of B for a few multiply-adds per element: it is bound
        // by memory, so it takes the memory-bound rule too. ResNet-18's classifier (2 MB of weights, 0.5 M
        // multiply-adds) ran on one thread in 0.09 ms, where ONNX Runtime's takes 0.05 on two.
        if (m <= TileM) chunks = Math.Max(chunks, ParallelFor.ThreadsForBytes((long)n * k * sizeof(T)));
        if (chunks <= 1)
        {
            body.Invoke(-1);
            return;
        }
        body.Chunks = Math.Min(tiles, chunks);
        ParallelFor.ForChunks(body.Chunks, body);
    }

    /// <summary>Chunk c of <see cref="Chunks"/> takes a contiguous range of tiles (chunk -1: all of them).</summary>
    private struct TileBody<T> : IChunkBody where T : unmanaged, INumber<T>
    {
        public T* A, B, C;
        public int M, N, K, Lda, Ldb, Ldc, TilesN, Chunks;
        public T Alpha, Beta;

        public readonly void Invoke(int chunk)
        {
            const int PerTile = TileM * TileN;
            int tiles = (M + TileM - 1) / TileM * TilesN;
            int t0 = chunk < 0 ? 0 : ParallelFor.ChunkStart(tiles, Chunks, chunk);
            int t1 = chunk < 0 ? tiles : ParallelFor.ChunkStart(tiles, Chunks, chunk + 1);
            // Per tile element: a vector of lane partials carried across k blocks (reduced to one value only at
            // the end, so a block costs no horizontal sums) and a scalar for the k values past the last full vector.
            var lanes = ArrayPool<Vector256<T>>.Shared.Rent((t1 - t0) * PerTile);
            var tails = ArrayPool<T>.Shared.Rent((t1 - t0) * PerTile);
            Array.Clear(lanes, 0, (t1 - t0) * PerTile);
            Array.Clear(tails, 0, (t1 - t0) * PerTile);
            fixed (Vector256<T>* pl = lanes)
            fixed (T* pt = tails)
            {
                // k blocks outside, tiles inside: each block of A's and B's rows is read from L2 by every tile.
                // With one row tile nothing of B is read twice, so each tile takes all of k at once: its rows of B are then
                // read start to end, the pattern the hardware prefetcher follows, instead of 1 KB at a time 2 KB apart.
                int blockK = M <= TileM ? K : BlockK;
                for (int p0 = 0; p0 < K; p0 += blockK)
                {
                    int kb = Math.Min(blockK, K - p0);
                    for (int t = t0; t < t1; t++)
                        Tile(t / TilesN * TileM, t % TilesN * TileN, p0, kb, pl + (t - t0) * PerTile, pt + (t - t0) * PerTile);
                }
                for (int t = t0; t < t1; t++)
                {
                    int i0 = t / TilesN * TileM, j0 = t % TilesN * TileN;
                    for (int i = 0; i < TileM && i0 + i < M; i++)
                        for (int j = 0; j < TileN && j0 + j < N; j++)
                        {
                            int e = (t - t0) * PerTile + i * TileN + j;
                            T* cij = C + (nint)(i0 + i) * Ldc + j0 + j;
                            T v = Alpha * (Vector256.Sum(pl[e]) + pt[e]);
                            *cij = T.IsZero(Beta) ? v : v + Beta * *cij;
                        }
                }
            }
            ArrayPool<Vector256<T>>.Shared.Return(lanes);
            ArrayPool<T>.Shared.Return(tails);
        }

        /// <summary>
        /// Adds the dot products of rows i0..i0+2 of A with rows j0..j0+2 of B over k in [p0, p0 + kb): full vectors
        /// into the lane partials <paramref name="lanes"/>, the rest into <paramref name="tails"/>.
        /// </summary>
        /// <remarks>Rows past the edge of C repeat the last row (the results are computed and then not stored), so every tile is full.</remarks>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private readonly void Tile(int i0, int j0, int p0, int kb, Vector256<T>* lanes, T* tails)
        {
            T* a0 = A + (nint)Math.Min(i0, M - 1) * Lda + p0, a1 = A + (nint)Math.Min(i0 + 1, M - 1) * Lda + p0, a2 = A + (nint)Math.Min(i0 + 2, M - 1) * Lda + p0;
            T* b0 = B + (nint)Math.Min(j0, N - 1) * Ldb + p0, b1 = B + (nint)Math.Min(j0 + 1, N - 1) * Ldb + p0, b2 = B + (nint)Math.Min(j0 + 2, N - 1) * Ldb + p0;
            Vector256<T> s00 = lanes[0], s01 = lanes[1], s02 = lanes[2];
            Vector256<T> s10 = lanes[3], s11 = lanes[4], s12 = lanes[5];
            Vector256<T> s20 = lanes[6], s21 = lanes[7], s22 = lanes[8];
            int w = Vector256<T>.Count, p = 0;
            // One row tile (a linear layer at batch 1) reads each row of B once, from memory: while this tile's three rows
            // stream in, the next tile's three (the next 3·ldb elements) are fetched three times as fast.
            byte* ahead = M <= TileM && Sse.IsSupported ? (byte*)(B + (nint)(j0 + TileN) * Ldb + p0) : null;
            for (; p + w <= kb; p += w)
            {
                if (ahead is not null)
                {
                    Sse.Prefetch0(ahead + 3 * p * sizeof(T));
                    Sse.Prefetch0(ahead + 3 * p * sizeof(T) + 64);
                }
                var y0 = Vector256.Load(b0 + p); var y1 = Vector256.Load(b1 + p); var y2 = Vector256.Load(b2 + p);
                var x = Vector256.Load(a0 + p);
                s00 = Fma(x, y0, s00); s01 = Fma(x, y1, s01); s02 = Fma(x, y2, s02);
                x = Vector256.Load(a1 + p);
                s10 = Fma(x, y0, s10); s11 = Fma(x, y1, s11); s12 = Fma(x, y2, s12);
                x = Vector256.Load(a2 + p);
                s20 = Fma(x, y0, s20); s21 = Fma(x, y1, s21); s22 = Fma(x, y2, s22);
            }
            lanes[0] = s00; lanes[1] = s01; lanes[2] = s02;
            lanes[3] = s10; lanes[4] = s11; lanes[5] = s12;
            lanes[6] = s20; lanes[7] = s21; lanes[8] = s22;
            for (; p < kb; p++)
            {
                T y0 = b0[p], y1 = b1[p], y2 = b2[p], x0 = a0[p], x1 = a1[p], x2 = a2[p];
                tails[0] += x0 * y0; tails[1] += x0 * y1; tails[2] += x0 * y2;
                tails[3] += x1 * y0; tails[4] += x1 * y1; tails[5] += x1 * y2;
                tails[6] += x2 * y0; tails[7] += x2 * y1; tails[8] += x2 * y2;
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<T> Fma<T>(Vector256<T> x, Vector256<T> y, Vector256<T> acc)
    {
        if (typeof(T) == typeof(float))
            return Vector256.FusedMultiplyAdd(x.As<T, float>(), y.As<T, float>(), acc.As<T, float>()).As<float, T>();
        if (typeof(T) == typeof(double))
            return Vector256.FusedMultiplyAdd(x.As<T, double>(), y.As<T, double>(), acc.As<T, double>()).As<double, T>();
        return x * y + acc;
    }
}
