using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Fovea.Kernels.Simd;

namespace Fovea.Kernels.Filtering;

/// <summary>
/// Gaussian pyramid resampling of single float planes (row-major <c>[height, width]</c>) with OpenCV's exact
/// conventions: the separable 5-tap binomial <c>[1 4 6 4 1] / 16</c>, BORDER_REFLECT_101, and OpenCV's output sizes.
/// </summary>
public static unsafe partial class PyrKernels
{
    /// <summary>Output extent of <see cref="PyrDown"/> along one axis: <c>(n + 1) / 2</c>, as OpenCV's <c>pyrDown</c>.</summary>
    public static int DownSize(int n) => (n + 1) / 2;

    /// <summary>
    /// Blurs with the 5x5 binomial kernel and keeps every second sample:
    /// <c>dst(y, x) = Σ_{i,j} k_i k_j src(r(2y + i - 2), r(2x + j - 2)) / 256</c>, <c>k = [1 4 6 4 1]</c>,
    /// <c>r</c> = BORDER_REFLECT_101. <paramref name="dst"/> is <c>[DownSize(height), DownSize(width)]</c>.
    /// Runs over output rows in parallel.
    /// </summary>
    public static void PyrDown(ReadOnlySpan<float> src, int width, int height, Span<float> dst)
    {
        CheckPlane(src.Length, width, height, nameof(src), "PyrDown");
        int dw = DownSize(width), dh = DownSize(height);
        CheckPlane(dst.Length, dw, dh, nameof(dst), "PyrDown");
        fixed (float* ps = src)
        fixed (float* pd = dst)
        {
            nint s = (nint)ps, d = (nint)pd;
            // About 256K source pixels (~0.1 ms) per task: a pyramid is mostly small levels, and on a shared machine waking a
            // worker for less costs more than it saves (measured: 2048² to 8x8 on 2 busy cores ran slower with 32K grains
            // than serially). Only the two finest levels of a 2048² pyramid go parallel.
            int grain = Math.Max(1, (1 << 18) / Math.Max(1, 2 * width));
            if (ParallelFor.ChunkCount(dh, grain) <= 1)
                DownRows(ps, width, height, pd, 0, dh);
            else
                ParallelFor.ForBalanced(dh, grain, (y0, y1) => DownRows((float*)s, width, height, (float*)d, y0, y1));
        }
    }

    internal static void CheckPlane(int length, int width, int height, string name, string op)
    {
        if (width < 1 || height < 1)
            throw new ArgumentException($"{op}: plane size must be at least 1x1, got {width}x{height}.", name);
        if (length < (long)width * height)
            throw new ArgumentException($"{op}: {name} holds {length} values, a {width}x{height} plane needs {(long)width * height}.", name);
    }

    // Vertical pass first (contiguous, so it vectorises), written straight into even/odd halves:
    // E[j] = V[2j - 2], O[j] = V[2j - 1] of the vertically filtered row V padded by two samples each side.
    // The horizontal pass is then dst[x] = E[x] + 4 O[x] + 6 E[x+1] + 4 O[x+1] + E[x+2], again contiguous.
    private static void DownRows(float* src, int width, int height, float* dst, int y0, int y1)
    {
        int dw = DownSize(width);
        if (SimdWidth.Use512 && Avx512F.IsSupported && width >= 64)
        {
            for (int y = y0; y < y1; y++)
                DownRowInRegisters(
                    src + (long)BorderReflect101.Index(2 * y - 2, height) * width,
                    src + (long)BorderReflect101.Index(2 * y - 1, height) * width,
                    src + (long)BorderReflect101.Index(2 * y, height) * width,
                    src + (long)BorderReflect101.Index(2 * y + 1, height) * width,
                    src + (long)BorderReflect101.Index(2 * y + 2, height) * width,
                    width, dst + (long)y * dw);
            return;
        }
        int half = dw + 2;
        float[] rented = ArrayPool<float>.Shared.Rent(2 * half);
        try
        {
            fixed (float* buf = rented)
            {
                float* even = buf, odd = buf + half;
                for (int y = y0; y < y1; y++)
                {
                    float* r0 = src + (long)BorderReflect101.Index(2 * y - 2, height) * width;
                    float* r1 = src + (long)BorderReflect101.Index(2 * y - 1, height) * width;
                    float* r2 = src + (long)BorderReflect101.Index(2 * y, height) * width;
                    float* r3 = src + (long)BorderReflect101.Index(2 * y + 1, height) * width;
                    float* r4 = src + (long)BorderReflect101.Index(2 * y + 2, height) * width;
                    VerticalSplit(r0, r1, r2, r3, r4, width, even, odd);
                    HorizontalDecimate(even, odd, dst + (long)y * dw, dw);
                }
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(rented);
        }
    }

    // One output row without the even/odd buffers (AVX-512). The buffer path wrote and re-read every filtered sample
    // at an offset of one float (a cache-line split on each access); this one keeps them in registers. Its blocks of
    // 32 source columns start where the newest source row is 64-byte aligned: a 2048² level streams its rows from
    // memory, and loads that split cache lines made it about a third slower. One unaligned block at each end covers
    // the columns before and after (their outputs overlap the aligned blocks' with the same bits), and a last output
    // of an odd width is computed alone.
    private static void DownRowInRegisters(float* r0, float* r1, float* r2, float* r3, float* r4, int width, float* dst)
    {
        int dw = DownSize(width);
        int c0 = (16 - (int)(((nint)r4 >> 2) & 15)) & 14;
        int blocks = (width - c0) / 32, end = c0 + 32 * blocks;
        if (c0 > 0) DownBlocks(r0, r1, r2, r3, r4, width, 0, 1, dst);
        DownBlocks(r0, r1, r2, r3, r4, width, c0, blocks, dst);
        if (end / 2 < dw) // the aligned blocks stopped short of the last output
        {
            int ct = (width - 32) & ~1;
            DownBlocks(r0, r1, r2, r3, r4, width, ct, 1, dst);
            if (ct / 2 + 16 < dw) // an odd width: the last output reaches past the block
            {
                int c = 2 * dw - 2; // V[c-2] + 4 V[c-1] + 6 V[c] + 4 V[c+1] + V[c+2], c = width - 1
                float vm2 = VerticalAt(r0, r1, r2, r3, r4, c - 2), vm1 = VerticalAt(r0, r1, r2, r3, r4, c - 1);
                float v0 = VerticalAt(r0, r1, r2, r3, r4, c);
                // Reflect-101 past the last column: V[c+1] = V[c-1], V[c+2] = V[c-2].
                dst[dw - 1] = MathF.FusedMultiplyAdd(v0, 6f, MathF.FusedMultiplyAdd(vm1 + vm1, 4f, vm2 + vm2)) * (1f / 256f);
            }
        }
    }

    // Outputs c/2 .. c/2 + 16n - 1 from n blocks of 32 source columns starting at the even column c. Block k is filtered
    // vertically into two vectors and split by two-source permutes into E_k[j] = V[c + 32k + 2j] and
    // O_k[j] = V[c + 32k + 2j + 1]; output c/2 + 16k + j = V[2x-2] + 4 V[2x-1] + 6 V[2x] + 4 V[2x+1] + V[2x+2] then needs
    // E_k and O_k shifted by one lane, which valignd takes from the previous block (E_{k-1}[15], O_{k-1}[15]) and the
    // next (E_{k+1}[0]); past either end those are single samples, reflected at the borders. Same operations in the
    // same order as the other paths, so the same bits.
    private static void DownBlocks(float* r0, float* r1, float* r2, float* r3, float* r4, int width, int c, int n, float* dst)
    {
        var four = Vector512.Create(4f);
        var six = Vector512.Create(6f);
        var s = Vector512.Create(1f / 256f);
        var evenLanes = Vector512.Create(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
        var oddLanes = Vector512.Create(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
        float* q0 = r0 + c, q1 = r1 + c, q2 = r2 + c, q3 = r3 + c, q4 = r4 + c, out0 = dst + c / 2;
        var a = V5(q0, q1, q2, q3, q4, four, six);
        var b = V5(q0 + 16, q1 + 16, q2 + 16, q3 + 16, q4 + 16, four, six);
        var e = Avx512F.PermuteVar16x32x2(a, evenLanes, b);
        var o = Avx512F.PermuteVar16x32x2(a, oddLanes, b);
        var ePrev = Vector512.Create(VerticalAt(r0, r1, r2, r3, r4, BorderReflect101.IndexNear(c - 2, width)));
        var oPrev = Vector512.Create(VerticalAt(r0, r1, r2, r3, r4, BorderReflect101.IndexNear(c - 1, width)));
        for (int k = 0; k < n; k++)
        {
            Vector512<float> eNext, oNext = default;
            int next = 32 * (k + 1);
            if (k + 1 < n)
            {
                a = V5(q0 + next, q1 + next, q2 + next, q3 + next, q4 + next, four, six);
                b = V5(q0 + next + 16, q1 + next + 16, q2 + next + 16, q3 + next + 16, q4 + next + 16, four, six);
                eNext = Avx512F.PermuteVar16x32x2(a, evenLanes, b);
                oNext = Avx512F.PermuteVar16x32x2(a, oddLanes, b);
            }
            else
            {
                eNext = Vector512.Create(VerticalAt(r0, r1, r2, r3, r4, BorderReflect101.IndexNear(c + next, width)));
            }
            var eLeft = Avx512F.AlignRight32(e.AsUInt32(), ePrev.AsUInt32(), 15).AsSingle();
            var oLeft = Avx512F.AlignRight32(o.AsUInt32(), oPrev.AsUInt32(), 15).AsSingle();
            var eRight = Avx512F.AlignRight32(eNext.AsUInt32(), e.AsUInt32(), 1).AsSingle();
            var v = Vector512.MultiplyAddEstimate(e, six, Vector512.MultiplyAddEstimate(oLeft + o, four, eLeft + eRight));
            (v * s).Store(out0 + 16 * k);
            ePrev = e;
            oPrev = o;
            e = eNext;
            o = oNext;
        }
    }

    // One vertically filtered sample, with the vector path's operations (so a border sample equals its vector twin).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float VerticalAt(float* r0, float* r1, float* r2, float* r3, float* r4, int x)
        => MathF.FusedMultiplyAdd(r2[x], 6f, MathF.FusedMultiplyAdd(r1[x] + r3[x], 4f, r0[x] + r4[x]));

    // V[x] = r0 + 4 r1 + 6 r2 + 4 r3 + r4, stored at padded position x + 2 (even/odd halves), then the
    // border samples V[-2], V[-1], V[width], V[width + 1] copied in from their reflected positions.
    private static void VerticalSplit(float* r0, float* r1, float* r2, float* r3, float* r4, int width, float* even, float* odd)
    {
        int x = 0;
        if (SimdWidth.Use512)
        {
            var four = Vector512.Create(4f);
            var six = Vector512.Create(6f);
            for (; x <= width - 32; x += 32)
            {
                var a = V5(r0 + x, r1 + x, r2 + x, r3 + x, r4 + x, four, six);
                var b = V5(r0 + x + 16, r1 + x + 16, r2 + x + 16, r3 + x + 16, r4 + x + 16, four, six);
                // Gather the even lanes into the low half and the odd lanes into the high half of each vector.
                var idx = Vector512.Create(0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15);
                var p = Vector512.Shuffle(a, idx);
                var q = Vector512.Shuffle(b, idx);
                Vector512.Create(p.GetLower(), q.GetLower()).Store(even + x / 2 + 1);
                Vector512.Create(p.GetUpper(), q.GetUpper()).Store(odd + x / 2 + 1);
            }
        }
        else if (SimdWidth.Use256)
        {
            var four = Vector256.Create(4f);
            var six = Vector256.Create(6f);
            for (; x <= width - 16; x += 16)
            {
                var a = V5(r0 + x, r1 + x, r2 + x, r3 + x, r4 + x, four, six);
                var b = V5(r0 + x + 8, r1 + x + 8, r2 + x + 8, r3 + x + 8, r4 + x + 8, four, six);
                var idx = Vector256.Create(0, 2, 4, 6, 1, 3, 5, 7);
                var p = Vector256.Shuffle(a, idx);
                var q = Vector256.Shuffle(b, idx);
                Vector256.Create(p.GetLower(), q.GetLower()).Store(even + x / 2 + 1);
                Vector256.Create(p.GetUpper(), q.GetUpper()).Store(odd + x / 2 + 1);
            }
        }
        for (; x < width; x++)
        {
            float v = r2[x] * 6f + (r1[x] + r3[x]) * 4f + r0[x] + r4[x];
            int p = x + 2;
            if ((p & 1) == 0) even[p >> 1] = v; else odd[p >> 1] = v;
        }
        // Border: padded position p holds V[Reflect101(p - 2)].
        SetPadded(even, odd, 0, GetPadded(even, odd, 2 + BorderReflect101.Index(-2, width)));
        SetPadded(even, odd, 1, GetPadded(even, odd, 2 + BorderReflect101.Index(-1, width)));
        // The horizontal pass reads up to padded position 2 * DownSize(width) + 2, i.e. V[width] (and V[width+1] when odd).
        int last = 2 * DownSize(width) + 2;
        for (int p = width + 2; p <= last; p++)
            SetPadded(even, odd, p, GetPadded(even, odd, 2 + BorderReflect101.Index(p - 2, width)));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float GetPadded(float* even, float* odd, int p) => (p & 1) == 0 ? even[p >> 1] : odd[p >> 1];

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void SetPadded(float* even, float* odd, int p, float v)
    {
        if ((p & 1) == 0) even[p >> 1] = v; else odd[p >> 1] = v;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> V5(float* a, float* b, float* c, float* d, float* e, Vector512<float> four, Vector512<float> six)
        => Vector512.MultiplyAddEstimate(Vector512.Load(c), six,
            Vector512.MultiplyAddEstimate(Vector512.Load(b) + Vector512.Load(d), four, Vector512.Load(a) + Vector512.Load(e)));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> V5(float* a, float* b, float* c, float* d, float* e, Vector256<float> four, Vector256<float> six)
        => Vector256.MultiplyAddEstimate(Vector256.Load(c), six,
            Vector256.MultiplyAddEstimate(Vector256.Load(b) + Vector256.Load(d), four, Vector256.Load(a) + Vector256.Load(e)));

    private static void HorizontalDecimate(float* even, float* odd, float* dst, int dw)
    {
        const float scale = 1f / 256f;
        int x = 0;
        if (SimdWidth.Use512 && dw >= 16)
        {
            var four = Vector512.Create(4f);
            var six = Vector512.Create(6f);
            var s = Vector512.Create(scale);
            // The last block starts at dw - 16 and may overlap the previous one (safe: dst does not alias the source).
            for (; ; x += 16)
            {
                if (x > dw - 16) x = dw - 16;
                var v = Vector512.MultiplyAddEstimate(Vector512.Load(even + x + 1), six,
                    Vector512.MultiplyAddEstimate(Vector512.Load(odd + x) + Vector512.Load(odd + x + 1), four,
                        Vector512.Load(even + x) + Vector512.Load(even + x + 2)));
                (v * s).Store(dst + x);
                if (x == dw - 16) return;
            }
        }
        if (SimdWidth.Use256 && dw >= 8)
        {
            var four = Vector256.Create(4f);
            var six = Vector256.Create(6f);
            var s = Vector256.Create(scale);
            for (; ; x += 8)
            {
                if (x > dw - 8) x = dw - 8;
                var v = Vector256.MultiplyAddEstimate(Vector256.Load(even + x + 1), six,
                    Vector256.MultiplyAddEstimate(Vector256.Load(odd + x) + Vector256.Load(odd + x + 1), four,
                        Vector256.Load(even + x) + Vector256.Load(even + x + 2)));
                (v * s).Store(dst + x);
                if (x == dw - 8) return;
            }
        }
        for (; x < dw; x++)
            dst[x] = (even[x + 1] * 6f + (odd[x] + odd[x + 1]) * 4f + even[x] + even[x + 2]) * scale;
    }
}
