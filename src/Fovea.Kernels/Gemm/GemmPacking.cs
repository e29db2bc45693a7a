using System.Runtime.CompilerServices;

namespace Fovea.Kernels;

/// <summary>
/// Packing of GEMM operands into the sliver layouts the micro-kernels stream through.
/// Each routine reads op(X) straight from the caller's layout (plain or transposed), so a transposed
/// operand is never copied as a whole. Partial slivers are padded with zeros, which lets every tile run
/// the full-width kernel; the padded lanes only ever produce values that are thrown away.
/// </summary>
internal static unsafe class GemmPacking
{
    /// <summary>
    /// Packs the <paramref name="mc"/> x <paramref name="kc"/> block of op(A) at (<paramref name="i0"/>, <paramref name="p0"/>)
    /// as slivers of <paramref name="mr"/> rows: sliver s holds, for each p, op(A)[i0 + s*mr + r, p0 + p] for r in [0, mr).
    /// </summary>
    // Hot loops called a handful of times per GEMM: compile them fully optimised at once rather than
    // waiting for tiering (the on-stack-replacement code they would otherwise run first is much slower).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void PackA<T>(T* dst, T* a, nint lda, bool transA, int i0, int mc, int p0, int kc, int mr) where T : unmanaged
    {
        for (int ir = 0; ir < mc; ir += mr)
        {
            int rows = Math.Min(mr, mc - ir);
            if (transA)
            {
                // op(A)[i, p] = A[p, i]: each step p is a short contiguous run of the stored row p.
                T* src = a + (nint)p0 * lda + i0 + ir;
                for (int p = 0; p < kc; p++)
                {
                    T* s = src + p * lda;
                    T* d = dst + p * mr;
                    int r = 0;
                    for (; r < rows; r++) d[r] = s[r];
                    for (; r < mr; r++) d[r] = default;
                }
            }
            else
            {
                // op(A)[i, p] = A[i, p]: walk each stored row sequentially and scatter it with stride mr.
                for (int r = 0; r < rows; r++)
                {
                    T* s = a + (nint)(i0 + ir + r) * lda + p0;
                    T* d = dst + r;
                    int p = 0;
                    for (; p + 4 <= kc; p += 4)
                    {
                        d[0] = s[p];
                        d[mr] = s[p + 1];
                        d[2 * mr] = s[p + 2];
                        d[3 * mr] = s[p + 3];
                        d += 4 * mr;
                    }
                    for (; p < kc; p++, d += mr) *d = s[p];
                }
                for (int r = rows; r < mr; r++)
                {
                    T* d = dst + r;
                    for (int p = 0; p < kc; p++, d += mr) *d = default;
                }
            }
            dst += (nint)mr * kc;
        }
    }

    /// <summary>
    /// Packs the <paramref name="kc"/> x <paramref name="nc"/> block of op(B) at (<paramref name="p0"/>, <paramref name="j0"/>)
    /// as slivers of <paramref name="nr"/> columns: sliver s holds, for each p, op(B)[p0 + p, j0 + s*nr + c] for c in [0, nr).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void PackB<T>(T* dst, T* b, nint ldb, bool transB, int p0, int kc, int j0, int nc, int nr) where T : unmanaged
    {
        for (int jr = 0; jr < nc; jr += nr)
        {
            int cols = Math.Min(nr, nc - jr);
            if (transB)
            {
                // op(B)[p, j] = B[j, p]: read each stored row sequentially, scatter with stride nr.
                for (int c = 0; c < cols; c++)
                {
                    T* s = b + (nint)(j0 + jr + c) * ldb + p0;
                    T* d = dst + c;
                    int p = 0;
                    for (; p + 4 <= kc; p += 4)
                    {
                        d[0] = s[p];
                        d[nr] = s[p + 1];
                        d[2 * nr] = s[p + 2];
                        d[3 * nr] = s[p + 3];
                        d += 4 * nr;
                    }
                    for (; p < kc; p++, d += nr) *d = s[p];
                }
                for (int c = cols; c < nr; c++)
                {
                    T* d = dst + c;
                    for (int p = 0; p < kc; p++, d += nr) *d = default;
                }
            }
            else
            {
                // op(B)[p, j] = B[p, j]: each step p is a contiguous run of the stored row p.
                T* src = b + (nint)p0 * ldb + j0 + jr;
                if (cols == nr)
                {
                    uint bytes = (uint)(nr * sizeof(T));
                    for (int p = 0; p < kc; p++)
                        Unsafe.CopyBlockUnaligned(dst + p * nr, src + p * ldb, bytes);
                }
                else
                {
                    for (int p = 0; p < kc; p++)
                    {
                        T* s = src + p * ldb;
                        T* d = dst + p * nr;
                        int c = 0;
                        for (; c < cols; c++) d[c] = s[c];
                        for (; c < nr; c++) d[c] = default;
                    }
                }
            }
            dst += (nint)nr * kc;
        }
    }
}
