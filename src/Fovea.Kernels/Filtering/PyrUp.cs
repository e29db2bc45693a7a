using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Fovea.Kernels.Simd;

namespace Fovea.Kernels.Filtering;

/// <summary>How <see cref="PyrKernels.PyrUp(ReadOnlySpan{float}, int, int, Span{float}, int, int, ReadOnlySpan{float}, PyrUpCombine)"/> writes its result.</summary>
public enum PyrUpCombine
{
    /// <summary><c>dst = up(src)</c>.</summary>
    Store,
    /// <summary><c>dst = addend + up(src)</c> (Laplacian collapse).</summary>
    Add,
    /// <summary><c>dst = addend - up(src)</c> (Laplacian band); <c>addend</c> may be <c>dst</c> itself.</summary>
    Subtract,
}

public static unsafe partial class PyrKernels
{
    /// <summary>True when <paramref name="up"/> is a valid <see cref="PyrUp(ReadOnlySpan{float}, int, int, Span{float}, int, int)"/>
    /// output extent for a source extent <paramref name="n"/>: <c>2n</c>, or <c>2n ± 1</c> (OpenCV's rule <c>|up − 2n| = up mod 2</c>).</summary>
    public static bool IsValidUpSize(int n, int up) => n >= 1 && up >= 1 && Math.Abs(up - 2 * n) == (up & 1);

    /// <summary>
    /// Upsamples by inserting zeros and filtering with the 5x5 binomial kernel times 4, as OpenCV's <c>pyrUp</c>:
    /// <c>dst(y, x) = Σ_{i,j} k_i k_j u(y + i − 2, x + j − 2) / 64</c> with <c>u(2y, 2x) = src(y, x)</c>, zero elsewhere,
    /// and <c>u</c> reflected (BORDER_REFLECT_101) over the <c>2·srcHeight × 2·srcWidth</c> grid. A requested extent of
    /// <c>2n − 1</c> drops the last row/column; <c>2n + 1</c> adds a copy of column <c>2n − 1</c> or of row <c>2n − 2</c>,
    /// as OpenCV does (for a 1-pixel-wide source OpenCV leaves that column uninitialised; here it is the copy).
    /// </summary>
    public static void PyrUp(ReadOnlySpan<float> src, int srcWidth, int srcHeight, Span<float> dst, int dstWidth, int dstHeight)
        => PyrUp(src, srcWidth, srcHeight, dst, dstWidth, dstHeight, default, PyrUpCombine.Store);

    /// <summary>
    /// <see cref="PyrUp(ReadOnlySpan{float}, int, int, Span{float}, int, int)"/> fused with an addition or subtraction
    /// (<paramref name="combine"/>), so a Laplacian band or a collapse step is one pass over memory.
    /// <paramref name="addend"/> is a <c>[dstHeight, dstWidth]</c> plane (ignored for <see cref="PyrUpCombine.Store"/>);
    /// it may be the same memory as <paramref name="dst"/>.
    /// </summary>
    public static void PyrUp(ReadOnlySpan<float> src, int srcWidth, int srcHeight, Span<float> dst, int dstWidth, int dstHeight,
        ReadOnlySpan<float> addend, PyrUpCombine combine)
    {
        CheckPlane(src.Length, srcWidth, srcHeight, nameof(src), "PyrUp");
        if (!IsValidUpSize(srcWidth, dstWidth) || !IsValidUpSize(srcHeight, dstHeight))
            throw new ArgumentException(
                $"PyrUp: output size must be within 1 of twice the input (|out - 2 in| = out mod 2), got {srcWidth}x{srcHeight} -> {dstWidth}x{dstHeight}.",
                nameof(dstWidth));
        CheckPlane(dst.Length, dstWidth, dstHeight, nameof(dst), "PyrUp");
        if (combine != PyrUpCombine.Store) CheckPlane(addend.Length, dstWidth, dstHeight, nameof(addend), "PyrUp");
        fixed (float* ps = src)
        fixed (float* pd = dst)
        fixed (float* pa = addend)
        {
            nint s = (nint)ps, d = (nint)pd, a = (nint)pa;
            // Each task produces two output rows per source row; aim for ~256K output pixels per task (see PyrDown).
            int grain = Math.Max(1, (1 << 17) / Math.Max(1, dstWidth));
            if (ParallelFor.ChunkCount(srcHeight, grain) <= 1)
                UpRows(ps, srcWidth, srcHeight, pd, dstWidth, dstHeight, pa, combine, 0, srcHeight);
            else
                ParallelFor.ForBalanced(srcHeight, grain, (y0, y1) =>
                    UpRows((float*)s, srcWidth, srcHeight, (float*)d, dstWidth, dstHeight, (float*)a, combine, y0, y1));
        }
    }

    // Vertical pass first on source-width rows: for output rows 2y and 2y+1 the zero-inserted column is
    // e = r(y-1) + 6 r(y) + r(y+1) and o = 4 (r(y) + r(y+1)); then the same two formulas horizontally give the
    // even and odd output columns, interleaved on store.
    private static void UpRows(float* src, int sw, int sh, float* dst, int dw, int dh, float* addend, PyrUpCombine combine, int y0, int y1)
    {
        if (SimdWidth.Use512 && Avx512F.IsSupported && sw >= 48)
        {
            for (int y = y0; y < y1; y++)
            {
                float* rm = src + (long)(BorderReflect101.Index(2 * y - 2, 2 * sh) / 2) * sw;
                float* r0 = src + (long)y * sw;
                float* rp = src + (long)(BorderReflect101.Index(2 * y + 2, 2 * sh) / 2) * sw;
                for (int oy = 2 * y; oy <= 2 * y + 1 && oy < dh; oy++)
                    UpRowInRegisters(rm, r0, rp, (oy & 1) == 1, sw, dst + (long)oy * dw, dw, addend == null ? null : addend + (long)oy * dw, combine);
                if (y == sh - 1 && dh == 2 * sh + 1)
                    UpRowInRegisters(rm, r0, rp, false, sw, dst + (long)(dh - 1) * dw, dw, addend == null ? null : addend + (long)(dh - 1) * dw, combine);
            }
            return;
        }
        int padded = sw + 2;
        float[] rented = ArrayPool<float>.Shared.Rent(2 * padded);
        try
        {
            fixed (float* buf = rented)
            {
                float* ev = buf + 1, od = buf + padded + 1;
                for (int y = y0; y < y1; y++)
                {
                    // Source row of zero-inserted row 2y + 2d, reflected over 2 * sh rows, halved.
                    float* rm = src + (long)(BorderReflect101.Index(2 * y - 2, 2 * sh) / 2) * sw;
                    float* r0 = src + (long)y * sw;
                    float* rp = src + (long)(BorderReflect101.Index(2 * y + 2, 2 * sh) / 2) * sw;
                    VerticalUp(rm, r0, rp, sw, ev, od);
                    int yEven = 2 * y;
                    if (yEven < dh)
                        HorizontalUp(ev, sw, dst + (long)yEven * dw, dw, addend == null ? null : addend + (long)yEven * dw, combine);
                    int yOdd = 2 * y + 1;
                    if (yOdd < dh)
                        HorizontalUp(od, sw, dst + (long)yOdd * dw, dw, addend == null ? null : addend + (long)yOdd * dw, combine);
                    // A (2 sh + 1)-th output row repeats row 2 sh - 2 (the last even one), as OpenCV's pyrUp does.
                    if (y == sh - 1 && dh == 2 * sh + 1)
                        HorizontalUp(ev, sw, dst + (long)(dh - 1) * dw, dw, addend == null ? null : addend + (long)(dh - 1) * dw, combine);
                }
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(rented);
        }
    }

    // One output row without the vertical-pass buffers (AVX-512), like PyrDown's: the buffer was written and re-read one
    // float off alignment, and the output (the bulk of the memory traffic: a band reads its addend and writes as much)
    // went out at whatever alignment the row had. Here the blocks of 16 source columns start where the output row is
    // 64-byte aligned; one unaligned block at each end covers the rest, storing only the columns the aligned blocks did
    // not (the addend may be dst itself, so no column may be combined twice), and a last output past the pairs (an odd
    // output width) is computed alone.
    private static void UpRowInRegisters(float* rm, float* r0, float* rp, bool oddRow, int sw, float* dst, int dw, float* addend, PyrUpCombine combine)
    {
        int pairs = Math.Min(sw, dw / 2); // full (even, odd) output pairs inside dst
        int m = (int)(((nint)dst >> 2) & 15);
        int x0 = (m & 1) == 0 ? ((16 - m) & 15) / 2 : 0;
        int blocks = (pairs - x0) / 16, end = x0 + 16 * blocks;
        UpBlocks(rm, r0, rp, oddRow, sw, x0, blocks, dst, addend, combine, 0, int.MaxValue);
        if (x0 > 0) UpBlocks(rm, r0, rp, oddRow, sw, 0, 1, dst, addend, combine, 0, 2 * x0);
        if (end < pairs) UpBlocks(rm, r0, rp, oddRow, sw, pairs - 16, 1, dst, addend, combine, 2 * end, int.MaxValue);
        for (int i = 2 * pairs; i < dw; i++)
        {
            // An odd width's last output: even column 2 (sw - 1) (dw = 2 sw - 1), or the copy of column 2 sw - 1 (dw = 2 sw + 1).
            int x = Math.Min(i, 2 * sw - 1) / 2;
            float v = VerticalUpAt(rm, r0, rp, oddRow, x), right = VerticalUpAt(rm, r0, rp, oddRow, Math.Min(x + 1, sw - 1));
            float up = (i & 1) == 0 && i < 2 * sw
                ? MathF.FusedMultiplyAdd(v, 6f, VerticalUpAt(rm, r0, rp, oddRow, x > 0 ? x - 1 : Math.Min(1, sw - 1)) + right) * (1f / 64f)
                : (v + right) * (4f / 64f);
            StoreScalar(dst, addend, i, up, combine);
        }
    }

    // Output columns 2x .. 2x + 32n - 1 (those in [lo, hi)) from n blocks of 16 source columns starting at x. With V the vertically combined
    // row (V[-1] = V[1] and V[sw] = V[sw - 1] at the zero-inserted borders), out[2x] = (V[x-1] + 6 V[x] + V[x+1]) / 64 and
    // out[2x+1] = 4 (V[x] + V[x+1]) / 64; V[x-1] and V[x+1] are V shifted by one lane, which valignd takes from the
    // previous and next block (single samples past either end), and two two-source permutes interleave the even and odd
    // columns. The same operations in the same order as the other paths.
    private static void UpBlocks(float* rm, float* r0, float* rp, bool oddRow, int sw, int x, int n, float* dst, float* addend, PyrUpCombine combine,
        int lo, int hi)
    {
        bool masked = lo > 2 * x || hi < 2 * x + 32 * n;
        var six = Vector512.Create(6f);
        var s = Vector512.Create(1f / 64f);
        var s4 = Vector512.Create(4f / 64f);
        var lowPairs = Vector512.Create(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
        var highPairs = Vector512.Create(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
        var v = VerticalUp512(rm + x, r0 + x, rp + x, oddRow);
        var prev = Vector512.Create(VerticalUpAt(rm, r0, rp, oddRow, x > 0 ? x - 1 : Math.Min(1, sw - 1)));
        float* d = dst + 2 * x, a = addend == null ? null : addend + 2 * x;
        for (int k = 0; k < n; k++)
        {
            int next = x + 16 * (k + 1);
            var vNext = k + 1 < n ? VerticalUp512(rm + next, r0 + next, rp + next, oddRow)
                : Vector512.Create(VerticalUpAt(rm, r0, rp, oddRow, Math.Min(next, sw - 1)));
            var left = Avx512F.AlignRight32(v.AsUInt32(), prev.AsUInt32(), 15).AsSingle();
            var right = Avx512F.AlignRight32(vNext.AsUInt32(), v.AsUInt32(), 1).AsSingle();
            var e = Vector512.MultiplyAddEstimate(v, six, left + right) * s;
            var o = (v + right) * s4;
            var low = Avx512F.PermuteVar16x32x2(e, lowPairs, o);
            var high = Avx512F.PermuteVar16x32x2(e, highPairs, o);
            if (masked)
            {
                int column = 2 * x + 32 * k;
                StoreColumns512(d + 32 * k, a == null ? null : a + 32 * k, low, combine, column, lo, hi);
                StoreColumns512(d + 32 * k + 16, a == null ? null : a + 32 * k + 16, high, combine, column + 16, lo, hi);
            }
            else
            {
                Store512(d + 32 * k, a == null ? null : a + 32 * k, low, combine);
                Store512(d + 32 * k + 16, a == null ? null : a + 32 * k + 16, high, combine);
            }
            prev = v;
            v = vNext;
        }
    }

    // The zero-inserted column of an even output row, r(y-1) + 6 r(y) + r(y+1), or of an odd one, 4 (r(y) + r(y+1)).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> VerticalUp512(float* rm, float* r0, float* rp, bool oddRow)
    {
        var b = Vector512.Load(r0);
        var c = Vector512.Load(rp);
        return oddRow ? (b + c) * Vector512.Create(4f) : Vector512.MultiplyAddEstimate(b, Vector512.Create(6f), Vector512.Load(rm) + c);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float VerticalUpAt(float* rm, float* r0, float* rp, bool oddRow, int x)
        => oddRow ? (r0[x] + rp[x]) * 4f : MathF.FusedMultiplyAdd(r0[x], 6f, rm[x] + rp[x]);

    private static void VerticalUp(float* rm, float* r0, float* rp, int sw, float* ev, float* od)
    {
        int x = 0;
        if (SimdWidth.Use512)
        {
            var four = Vector512.Create(4f);
            var six = Vector512.Create(6f);
            for (; x <= sw - 16; x += 16)
            {
                var a = Vector512.Load(rm + x);
                var b = Vector512.Load(r0 + x);
                var c = Vector512.Load(rp + x);
                Vector512.MultiplyAddEstimate(b, six, a + c).Store(ev + x);
                ((b + c) * four).Store(od + x);
            }
        }
        else if (SimdWidth.Use256)
        {
            var four = Vector256.Create(4f);
            var six = Vector256.Create(6f);
            for (; x <= sw - 8; x += 8)
            {
                var a = Vector256.Load(rm + x);
                var b = Vector256.Load(r0 + x);
                var c = Vector256.Load(rp + x);
                Vector256.MultiplyAddEstimate(b, six, a + c).Store(ev + x);
                ((b + c) * four).Store(od + x);
            }
        }
        for (; x < sw; x++)
        {
            ev[x] = r0[x] * 6f + rm[x] + rp[x];
            od[x] = (r0[x] + rp[x]) * 4f;
        }
        // Zero-inserted border: u(-2) = u(2) gives v[-1] = v[1]; u(2 sw) = u(2 sw - 2) gives v[sw] = v[sw - 1].
        int left = sw > 1 ? 1 : 0;
        ev[-1] = ev[left]; od[-1] = od[left];
        ev[sw] = ev[sw - 1]; od[sw] = od[sw - 1];
    }

    // out[2x] = (v[x-1] + 6 v[x] + v[x+1]) / 64, out[2x+1] = 4 (v[x] + v[x+1]) / 64, for 2x+1 < 2 sw;
    // a (2 sw + 1)-th column repeats column 2 sw - 1.
    private static void HorizontalUp(float* v, int sw, float* dst, int dw, float* addend, PyrUpCombine combine)
    {
        const float scale = 1f / 64f;
        int x = 0;
        int pairs = Math.Min(sw, dw / 2); // full (even, odd) output pairs inside dst
        if (SimdWidth.Use512)
        {
            var six = Vector512.Create(6f);
            var s = Vector512.Create(scale);
            var s4 = Vector512.Create(4f * scale);
            for (; x <= pairs - 16; x += 16)
            {
                var a = Vector512.Load(v + x - 1);
                var b = Vector512.Load(v + x);
                var c = Vector512.Load(v + x + 1);
                var e = Vector512.MultiplyAddEstimate(b, six, a + c) * s;
                var o = (b + c) * s4;
                // Interleave e and o: (e0 o0 e1 o1 ...).
                var p = Vector512.Create(e.GetLower(), o.GetLower());
                var q = Vector512.Create(e.GetUpper(), o.GetUpper());
                var idx = Vector512.Create(0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15);
                Store512(dst + 2 * x, addend == null ? null : addend + 2 * x, Vector512.Shuffle(p, idx), combine);
                Store512(dst + 2 * x + 16, addend == null ? null : addend + 2 * x + 16, Vector512.Shuffle(q, idx), combine);
            }
        }
        else if (SimdWidth.Use256)
        {
            var six = Vector256.Create(6f);
            var s = Vector256.Create(scale);
            var s4 = Vector256.Create(4f * scale);
            for (; x <= pairs - 8; x += 8)
            {
                var a = Vector256.Load(v + x - 1);
                var b = Vector256.Load(v + x);
                var c = Vector256.Load(v + x + 1);
                var e = Vector256.MultiplyAddEstimate(b, six, a + c) * s;
                var o = (b + c) * s4;
                var p = Vector256.Create(e.GetLower(), o.GetLower());
                var q = Vector256.Create(e.GetUpper(), o.GetUpper());
                var idx = Vector256.Create(0, 4, 1, 5, 2, 6, 3, 7);
                Store256(dst + 2 * x, addend == null ? null : addend + 2 * x, Vector256.Shuffle(p, idx), combine);
                Store256(dst + 2 * x + 8, addend == null ? null : addend + 2 * x + 8, Vector256.Shuffle(q, idx), combine);
            }
        }
        for (; x < sw; x++)
        {
            int dx = 2 * x;
            if (dx >= dw) break;
            StoreScalar(dst, addend, dx, (v[x] * 6f + v[x - 1] + v[x + 1]) * scale, combine);
            if (dx + 1 < dw) StoreScalar(dst, addend, dx + 1, (v[x] + v[x + 1]) * (4f * scale), combine);
        }
        if (dw == 2 * sw + 1)
            StoreScalar(dst, addend, dw - 1, (v[sw - 1] + v[sw]) * (4f * scale), combine);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreScalar(float* dst, float* addend, int i, float up, PyrUpCombine combine)
    {
        dst[i] = combine switch
        {
            PyrUpCombine.Add => addend[i] + up,
            PyrUpCombine.Subtract => addend[i] - up,
            _ => up,
        };
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store256(float* dst, float* addend, Vector256<float> up, PyrUpCombine combine)
    {
        if (combine == PyrUpCombine.Store) up.Store(dst);
        else if (combine == PyrUpCombine.Add) (Vector256.Load(addend) + up).Store(dst);
        else (Vector256.Load(addend) - up).Store(dst);
    }

    // Store512 for the lanes whose output column (column + lane) lies in [lo, hi); the other lanes keep what dst holds.
    private static void StoreColumns512(float* dst, float* addend, Vector512<float> up, PyrUpCombine combine, int column, int lo, int hi)
    {
        var lanes = Vector512<int>.Indices + Vector512.Create(column);
        var keep = (Vector512.GreaterThanOrEqual(lanes, Vector512.Create(lo)) & Vector512.LessThan(lanes, Vector512.Create(hi))).AsSingle();
        Vector512.ConditionalSelect(keep, Combine512(addend, up, combine), Vector512.Load(dst)).Store(dst);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store512(float* dst, float* addend, Vector512<float> up, PyrUpCombine combine) => Combine512(addend, up, combine).Store(dst);

    // What a store of up writes: up, addend + up or addend − up.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Combine512(float* addend, Vector512<float> up, PyrUpCombine combine) => combine switch
    {
        PyrUpCombine.Add => Vector512.Load(addend) + up,
        PyrUpCombine.Subtract => Vector512.Load(addend) - up,
        _ => up,
    };
}
