using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
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
