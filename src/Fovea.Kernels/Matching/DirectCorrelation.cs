using System.Runtime.Intrinsics;
using Fovea.Kernels.Simd;

namespace Fovea.Kernels.Matching;

/// <summary>
/// Sliding cross-correlation computed directly, <c>out(y, x) = Σ_j Σ_i t(j, i)·img(y + j, x + i)</c>, for small templates.
/// Each step broadcasts one template value and multiply-adds it into four vector accumulators of consecutive outputs,
/// so the image row is streamed from cache with one load per FMA.
/// </summary>
internal static unsafe class DirectCorrelation
{
    public static void Run(float* img, int width, float* templ, int tw, int th, float* result, int ow, int oh)
    {
        long perRow = (long)ow * tw * th;
        int grain = (int)Math.Max(1, (1L << 18) / Math.Max(1, perRow));
        nint pi = (nint)img, pt = (nint)templ, pr = (nint)result;
        if (ParallelFor.ChunkCount(oh, grain) <= 1)
            Rows(img, width, templ, tw, th, result, ow, 0, oh);
        else
            ParallelFor.For(oh, grain, (y0, y1) => Rows((float*)pi, width, (float*)pt, tw, th, (float*)pr, ow, y0, y1));
    }

    private static void Rows(float* img, int width, float* templ, int tw, int th, float* result, int ow, int y0, int y1)
    {
        for (int y = y0; y < y1; y++)
        {
            float* src = img + (long)y * width;
            float* dst = result + (long)y * ow;
            int x = 0;
            if (SimdWidth.Use512 && ow >= 16)
            {
                for (; x <= ow - 64; x += 64) Block512x4(src + x, width, templ, tw, th, dst + x);
                // Single vectors; the last one overlaps the previous outputs (recomputed, not accumulated).
                for (; x < ow; x += 16)
                {
                    if (x > ow - 16) x = ow - 16;
                    Block512(src + x, width, templ, tw, th, dst + x);
                }
                continue;
            }
            if (SimdWidth.Use256 && ow >= 8)
            {
                for (; x <= ow - 32; x += 32) Block256x4(src + x, width, templ, tw, th, dst + x);
                for (; x < ow; x += 8)
                {
                    if (x > ow - 8) x = ow - 8;
                    Block256(src + x, width, templ, tw, th, dst + x);
                }
                continue;
            }
            for (; x < ow; x++)
            {
                float acc = 0;
                for (int j = 0; j < th; j++)
                {
                    float* s = src + (long)j * width + x;
                    float* t = templ + j * tw;
                    for (int i = 0; i < tw; i++) acc += t[i] * s[i];
                }
                dst[x] = acc;
            }
        }
    }

    private static void Block256x4(float* src, int width, float* templ, int tw, int th, float* dst)
    {
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
        for (int j = 0; j < th; j++)
        {
            float* s = src + (long)j * width;
            float* t = templ + j * tw;
            for (int i = 0; i < tw; i++)
            {
                var v = Vector256.Create(t[i]);
                a0 = Vector256.MultiplyAddEstimate(Vector256.Load(s + i), v, a0);
                a1 = Vector256.MultiplyAddEstimate(Vector256.Load(s + i + 8), v, a1);
                a2 = Vector256.MultiplyAddEstimate(Vector256.Load(s + i + 16), v, a2);
                a3 = Vector256.MultiplyAddEstimate(Vector256.Load(s + i + 24), v, a3);
            }
        }
        a0.Store(dst);
        a1.Store(dst + 8);
        a2.Store(dst + 16);
        a3.Store(dst + 24);
    }

    private static void Block256(float* src, int width, float* templ, int tw, int th, float* dst)
    {
        Vector256<float> a0 = default;
        for (int j = 0; j < th; j++)
        {
            float* s = src + (long)j * width;
            float* t = templ + j * tw;
            for (int i = 0; i < tw; i++) a0 = Vector256.MultiplyAddEstimate(Vector256.Load(s + i), Vector256.Create(t[i]), a0);
        }
        a0.Store(dst);
    }

    private static void Block512x4(float* src, int width, float* templ, int tw, int th, float* dst)
    {
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
        for (int j = 0; j < th; j++)
        {
            float* s = src + (long)j * width;
            float* t = templ + j * tw;
            for (int i = 0; i < tw; i++)
            {
                var v = Vector512.Create(t[i]);
                a0 = Vector512.MultiplyAddEstimate(Vector512.Load(s + i), v, a0);
                a1 = Vector512.MultiplyAddEstimate(Vector512.Load(s + i + 16), v, a1);
                a2 = Vector512.MultiplyAddEstimate(Vector512.Load(s + i + 32), v, a2);
                a3 = Vector512.MultiplyAddEstimate(Vector512.Load(s + i + 48), v, a3);
            }
        }
        a0.Store(dst);
        a1.Store(dst + 16);
        a2.Store(dst + 32);
        a3.Store(dst + 48);
    }

    private static void Block512(float* src, int width, float* templ, int tw, int th, float* dst)
    {
        Vector512<float> a0 = default;
        for (int j = 0; j < th; j++)
        {
            float* s = src + (long)j * width;
            float* t = templ + j * tw;
            for (int i = 0; i < tw; i++) a0 = Vector512.MultiplyAddEstimate(Vector512.Load(s + i), Vector512.Create(t[i]), a0);
        }
        a0.Store(dst);
    }
}
