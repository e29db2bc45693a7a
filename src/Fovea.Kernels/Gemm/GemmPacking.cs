using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

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
            else if (typeof(T) == typeof(float) && mr == 6 && rows == 6 && Avx.IsSupported && kc > 8)
            {
                PackA6F32((float*)dst, (float*)(a + (nint)(i0 + ir) * lda + p0), lda, kc);
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
            if (transB && typeof(T) == typeof(float) && Avx.IsSupported && cols == nr && nr % 8 == 0)
            {
                PackBTransposedF32((float*)dst, (float*)(b + (nint)(j0 + jr) * ldb + p0), ldb, kc, nr);
            }
            else if (transB)
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

    /// <summary>
    /// One full 6-row float sliver of a plain A (op(A)[i, p] = A[i, p]): 8 consecutive p of the 6 rows are loaded as
    /// 6 row vectors (two zero rows complete the 8 x 8 block) and transposed in registers, so each step p is one
    /// 8-float store of its 6 values instead of 6 scattered scalar writes. The 2 extra floats of each store land on
    /// the next step's first two, which the next store overwrites; the vector loop stops while at least one step is
    /// left, so the last overhang is always overwritten by the scalar tail inside this sliver.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackA6F32(float* dst, float* src, nint lda, int kc)
    {
        var zero = Vector256<float>.Zero;
        int p = 0;
        for (; p + 8 < kc; p += 8)
        {
            var r0 = Avx.LoadVector256(src + p); var r1 = Avx.LoadVector256(src + lda + p);
            var r2 = Avx.LoadVector256(src + 2 * lda + p); var r3 = Avx.LoadVector256(src + 3 * lda + p);
            var r4 = Avx.LoadVector256(src + 4 * lda + p); var r5 = Avx.LoadVector256(src + 5 * lda + p);
            var t0 = Avx.UnpackLow(r0, r1); var t1 = Avx.UnpackHigh(r0, r1);
            var t2 = Avx.UnpackLow(r2, r3); var t3 = Avx.UnpackHigh(r2, r3);
            var t4 = Avx.UnpackLow(r4, r5); var t5 = Avx.UnpackHigh(r4, r5);
            var u0 = Avx.Shuffle(t0, t2, 0x44); var u1 = Avx.Shuffle(t0, t2, 0xEE);
            var u2 = Avx.Shuffle(t1, t3, 0x44); var u3 = Avx.Shuffle(t1, t3, 0xEE);
            var u4 = Avx.Shuffle(t4, zero, 0x44); var u5 = Avx.Shuffle(t4, zero, 0xEE);
            var u6 = Avx.Shuffle(t5, zero, 0x44); var u7 = Avx.Shuffle(t5, zero, 0xEE);
            float* o = dst + (nint)p * 6;
            Avx.Store(o, Avx.Permute2x128(u0, u4, 0x20));
            Avx.Store(o + 6, Avx.Permute2x128(u1, u5, 0x20));
            Avx.Store(o + 12, Avx.Permute2x128(u2, u6, 0x20));
            Avx.Store(o + 18, Avx.Permute2x128(u3, u7, 0x20));
            Avx.Store(o + 24, Avx.Permute2x128(u0, u4, 0x31));
            Avx.Store(o + 30, Avx.Permute2x128(u1, u5, 0x31));
            Avx.Store(o + 36, Avx.Permute2x128(u2, u6, 0x31));
            Avx.Store(o + 42, Avx.Permute2x128(u3, u7, 0x31));
        }
        for (; p < kc; p++)
            for (int r = 0; r < 6; r++) dst[(nint)p * 6 + r] = src[r * lda + p];
    }

    /// <summary>
    /// One full float sliver of a transposed B (op(B)[p, c] = B[c, p]): 8 x 8 blocks are loaded as 8 row vectors
    /// (8 consecutive p of 8 stored rows) and transposed in registers with the AVX unpack / shuffle / lane-permute
    /// sequence, so each output row of 8 columns is one store instead of 8 scattered scalar writes.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackBTransposedF32(float* dst, float* src, nint ldb, int kc, int nr)
    {
        for (int c0 = 0; c0 < nr; c0 += 8)
        {
            float* s = src + c0 * ldb;
            float* d = dst + c0;
            int p = 0;
            for (; p + 8 <= kc; p += 8)
            {
                var r0 = Avx.LoadVector256(s + p); var r1 = Avx.LoadVector256(s + ldb + p);
                var r2 = Avx.LoadVector256(s + 2 * ldb + p); var r3 = Avx.LoadVector256(s + 3 * ldb + p);
                var r4 = Avx.LoadVector256(s + 4 * ldb + p); var r5 = Avx.LoadVector256(s + 5 * ldb + p);
                var r6 = Avx.LoadVector256(s + 6 * ldb + p); var r7 = Avx.LoadVector256(s + 7 * ldb + p);
                // Pairs of rows interleaved, then quadruples, then the 128-bit halves swapped into place.
                var t0 = Avx.UnpackLow(r0, r1); var t1 = Avx.UnpackHigh(r0, r1);
                var t2 = Avx.UnpackLow(r2, r3); var t3 = Avx.UnpackHigh(r2, r3);
                var t4 = Avx.UnpackLow(r4, r5); var t5 = Avx.UnpackHigh(r4, r5);
                var t6 = Avx.UnpackLow(r6, r7); var t7 = Avx.UnpackHigh(r6, r7);
                var u0 = Avx.Shuffle(t0, t2, 0x44); var u1 = Avx.Shuffle(t0, t2, 0xEE);
                var u2 = Avx.Shuffle(t1, t3, 0x44); var u3 = Avx.Shuffle(t1, t3, 0xEE);
                var u4 = Avx.Shuffle(t4, t6, 0x44); var u5 = Avx.Shuffle(t4, t6, 0xEE);
                var u6 = Avx.Shuffle(t5, t7, 0x44); var u7 = Avx.Shuffle(t5, t7, 0xEE);
                float* o = d + (nint)p * nr;
                Avx.Store(o, Avx.Permute2x128(u0, u4, 0x20));
                Avx.Store(o + nr, Avx.Permute2x128(u1, u5, 0x20));
                Avx.Store(o + 2 * nr, Avx.Permute2x128(u2, u6, 0x20));
                Avx.Store(o + 3 * nr, Avx.Permute2x128(u3, u7, 0x20));
                Avx.Store(o + 4 * nr, Avx.Permute2x128(u0, u4, 0x31));
                Avx.Store(o + 5 * nr, Avx.Permute2x128(u1, u5, 0x31));
                Avx.Store(o + 6 * nr, Avx.Permute2x128(u2, u6, 0x31));
                Avx.Store(o + 7 * nr, Avx.Permute2x128(u3, u7, 0x31));
            }
            for (; p < kc; p++)
                for (int c = 0; c < 8; c++) d[(nint)p * nr + c] = s[c * ldb + p];
        }
    }
}
