using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Fovea.Kernels;

/// <summary>Blocks of floats transposed in registers, for kernels that turn a [pixel][channel] tile into NCHW rows or back (AVX-512, AVX).</summary>
internal static unsafe class RegisterTranspose
{
    /// <summary>
    /// dst[j·dstStride + i] = src[i·srcStride + j] for i &lt; <paramref name="rows"/> and j &lt; <paramref name="cols"/>:
    /// 16 x 16 blocks in registers (<see cref="Transpose16"/>, AVX-512), or 8 x 8 ones (<see cref="Transpose8"/>, AVX), the
    /// rows or columns past the last whole block (everything, without either) one element at a time. Neither matrix is
    /// read or written outside its own rows and columns.
    /// </summary>
    public static void Transpose(float* src, long srcStride, float* dst, long dstStride, int rows, int cols)
    {
        int block = Avx512F.IsSupported ? 16 : Avx.IsSupported ? 8 : 0;
        int wholeRows = block > 0 ? rows / block * block : 0, wholeCols = block > 0 ? cols / block * block : 0;
        for (int i0 = 0; i0 < wholeRows; i0 += block)
            for (int j0 = 0; j0 < wholeCols; j0 += block)
                if (block == 16) Transpose16(src + i0 * srcStride + j0, srcStride, dst + j0 * dstStride + i0, dstStride);
                else Transpose8(src + i0 * srcStride + j0, srcStride, dst + j0 * dstStride + i0, dstStride);
        for (int i = 0; i < rows; i++)
            for (int j = i < wholeRows ? wholeCols : 0; j < cols; j++)
                dst[j * dstStride + i] = src[i * srcStride + j];
    }

    /// <summary>
    /// dst[j·dstStride + i] = src[i·srcStride + j] for i, j &lt; 16: a 16 x 16 block transposed in registers (pairs of
    /// rows interleaved, then pairs of pairs, then 128-bit lanes twice).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Transpose16(float* src, long srcStride, float* dst, long dstStride)
    {
        Vector512<float> r0 = Vector512.Load(src), r1 = Vector512.Load(src + srcStride), r2 = Vector512.Load(src + 2 * srcStride), r3 = Vector512.Load(src + 3 * srcStride);
        Vector512<float> r4 = Vector512.Load(src + 4 * srcStride), r5 = Vector512.Load(src + 5 * srcStride), r6 = Vector512.Load(src + 6 * srcStride), r7 = Vector512.Load(src + 7 * srcStride);
        Vector512<float> r8 = Vector512.Load(src + 8 * srcStride), r9 = Vector512.Load(src + 9 * srcStride), r10 = Vector512.Load(src + 10 * srcStride), r11 = Vector512.Load(src + 11 * srcStride);
        Vector512<float> r12 = Vector512.Load(src + 12 * srcStride), r13 = Vector512.Load(src + 13 * srcStride), r14 = Vector512.Load(src + 14 * srcStride), r15 = Vector512.Load(src + 15 * srcStride);
        // Within each 128-bit lane: rows 2i and 2i + 1 interleaved.
        var t0 = Avx512F.UnpackLow(r0, r1); var t1 = Avx512F.UnpackHigh(r0, r1);
        var t2 = Avx512F.UnpackLow(r2, r3); var t3 = Avx512F.UnpackHigh(r2, r3);
        var t4 = Avx512F.UnpackLow(r4, r5); var t5 = Avx512F.UnpackHigh(r4, r5);
        var t6 = Avx512F.UnpackLow(r6, r7); var t7 = Avx512F.UnpackHigh(r6, r7);
        var t8 = Avx512F.UnpackLow(r8, r9); var t9 = Avx512F.UnpackHigh(r8, r9);
        var t10 = Avx512F.UnpackLow(r10, r11); var t11 = Avx512F.UnpackHigh(r10, r11);
        var t12 = Avx512F.UnpackLow(r12, r13); var t13 = Avx512F.UnpackHigh(r12, r13);
        var t14 = Avx512F.UnpackLow(r14, r15); var t15 = Avx512F.UnpackHigh(r14, r15);
        // Within each lane: 4 x 4 blocks complete (column c of rows 4i … 4i + 3).
        r0 = Avx512F.Shuffle(t0, t2, 0x44); r1 = Avx512F.Shuffle(t0, t2, 0xEE); r2 = Avx512F.Shuffle(t1, t3, 0x44); r3 = Avx512F.Shuffle(t1, t3, 0xEE);
        r4 = Avx512F.Shuffle(t4, t6, 0x44); r5 = Avx512F.Shuffle(t4, t6, 0xEE); r6 = Avx512F.Shuffle(t5, t7, 0x44); r7 = Avx512F.Shuffle(t5, t7, 0xEE);
        r8 = Avx512F.Shuffle(t8, t10, 0x44); r9 = Avx512F.Shuffle(t8, t10, 0xEE); r10 = Avx512F.Shuffle(t9, t11, 0x44); r11 = Avx512F.Shuffle(t9, t11, 0xEE);
        r12 = Avx512F.Shuffle(t12, t14, 0x44); r13 = Avx512F.Shuffle(t12, t14, 0xEE); r14 = Avx512F.Shuffle(t13, t15, 0x44); r15 = Avx512F.Shuffle(t13, t15, 0xEE);
        // The 128-bit lanes: rows 0–7, then all 16.
        t0 = Avx512F.Shuffle4x128(r0, r4, 0x88); t1 = Avx512F.Shuffle4x128(r1, r5, 0x88); t2 = Avx512F.Shuffle4x128(r2, r6, 0x88); t3 = Avx512F.Shuffle4x128(r3, r7, 0x88);
        t4 = Avx512F.Shuffle4x128(r0, r4, 0xDD); t5 = Avx512F.Shuffle4x128(r1, r5, 0xDD); t6 = Avx512F.Shuffle4x128(r2, r6, 0xDD); t7 = Avx512F.Shuffle4x128(r3, r7, 0xDD);
        t8 = Avx512F.Shuffle4x128(r8, r12, 0x88); t9 = Avx512F.Shuffle4x128(r9, r13, 0x88); t10 = Avx512F.Shuffle4x128(r10, r14, 0x88); t11 = Avx512F.Shuffle4x128(r11, r15, 0x88);
        t12 = Avx512F.Shuffle4x128(r8, r12, 0xDD); t13 = Avx512F.Shuffle4x128(r9, r13, 0xDD); t14 = Avx512F.Shuffle4x128(r10, r14, 0xDD); t15 = Avx512F.Shuffle4x128(r11, r15, 0xDD);
        Avx512F.Shuffle4x128(t0, t8, 0x88).Store(dst); Avx512F.Shuffle4x128(t1, t9, 0x88).Store(dst + dstStride);
        Avx512F.Shuffle4x128(t2, t10, 0x88).Store(dst + 2 * dstStride); Avx512F.Shuffle4x128(t3, t11, 0x88).Store(dst + 3 * dstStride);
        Avx512F.Shuffle4x128(t4, t12, 0x88).Store(dst + 4 * dstStride); Avx512F.Shuffle4x128(t5, t13, 0x88).Store(dst + 5 * dstStride);
        Avx512F.Shuffle4x128(t6, t14, 0x88).Store(dst + 6 * dstStride); Avx512F.Shuffle4x128(t7, t15, 0x88).Store(dst + 7 * dstStride);
        Avx512F.Shuffle4x128(t0, t8, 0xDD).Store(dst + 8 * dstStride); Avx512F.Shuffle4x128(t1, t9, 0xDD).Store(dst + 9 * dstStride);
        Avx512F.Shuffle4x128(t2, t10, 0xDD).Store(dst + 10 * dstStride); Avx512F.Shuffle4x128(t3, t11, 0xDD).Store(dst + 11 * dstStride);
        Avx512F.Shuffle4x128(t4, t12, 0xDD).Store(dst + 12 * dstStride); Avx512F.Shuffle4x128(t5, t13, 0xDD).Store(dst + 13 * dstStride);
        Avx512F.Shuffle4x128(t6, t14, 0xDD).Store(dst + 14 * dstStride); Avx512F.Shuffle4x128(t7, t15, 0xDD).Store(dst + 15 * dstStride);
    }

    /// <summary>
    /// dst[j·dstStride + i] = src[i·srcStride + j] for i, j &lt; 8: an 8 x 8 block transposed in registers (pairs of rows
    /// interleaved, then pairs of pairs, then the 128-bit halves), for machines without AVX-512.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Transpose8(float* src, long srcStride, float* dst, long dstStride)
    {
        Vector256<float> r0 = Vector256.Load(src), r1 = Vector256.Load(src + srcStride), r2 = Vector256.Load(src + 2 * srcStride), r3 = Vector256.Load(src + 3 * srcStride);
        Vector256<float> r4 = Vector256.Load(src + 4 * srcStride), r5 = Vector256.Load(src + 5 * srcStride), r6 = Vector256.Load(src + 6 * srcStride), r7 = Vector256.Load(src + 7 * srcStride);
        // Within each 128-bit half: rows 2i and 2i + 1 interleaved.
        var t0 = Avx.UnpackLow(r0, r1); var t1 = Avx.UnpackHigh(r0, r1);
        var t2 = Avx.UnpackLow(r2, r3); var t3 = Avx.UnpackHigh(r2, r3);
        var t4 = Avx.UnpackLow(r4, r5); var t5 = Avx.UnpackHigh(r4, r5);
        var t6 = Avx.UnpackLow(r6, r7); var t7 = Avx.UnpackHigh(r6, r7);
        // Within each half: 4 x 4 blocks complete (column c of rows 4i … 4i + 3).
        r0 = Avx.Shuffle(t0, t2, 0x44); r1 = Avx.Shuffle(t0, t2, 0xEE); r2 = Avx.Shuffle(t1, t3, 0x44); r3 = Avx.Shuffle(t1, t3, 0xEE);
        r4 = Avx.Shuffle(t4, t6, 0x44); r5 = Avx.Shuffle(t4, t6, 0xEE); r6 = Avx.Shuffle(t5, t7, 0x44); r7 = Avx.Shuffle(t5, t7, 0xEE);
        // The halves: columns 0–3 from the low ones, 4–7 from the high ones.
        Avx.Permute2x128(r0, r4, 0x20).Store(dst); Avx.Permute2x128(r1, r5, 0x20).Store(dst + dstStride);
        Avx.Permute2x128(r2, r6, 0x20).Store(dst + 2 * dstStride); Avx.Permute2x128(r3, r7, 0x20).Store(dst + 3 * dstStride);
        Avx.Permute2x128(r0, r4, 0x31).Store(dst + 4 * dstStride); Avx.Permute2x128(r1, r5, 0x31).Store(dst + 5 * dstStride);
        Avx.Permute2x128(r2, r6, 0x31).Store(dst + 6 * dstStride); Avx.Permute2x128(r3, r7, 0x31).Store(dst + 7 * dstStride);
    }
}
