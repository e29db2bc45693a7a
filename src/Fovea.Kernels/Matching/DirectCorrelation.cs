using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Fovea.Kernels.Simd;

namespace Fovea.Kernels.Matching;

/// <summary>
/// Sliding cross-correlation computed directly, <c>out(y, x) = Σ_j Σ_i t(j, i)·img(y + j, x + i)</c>, for small templates.
/// Each step broadcasts one template value and multiply-adds it into four vector accumulators of consecutive outputs,
/// so the image row is streamed from cache with one load per FMA. One driver serves every vector width
/// (<see cref="Lanes512"/>, <see cref="Lanes256"/>); the JIT compiles it once per width, so each keeps its own
/// register tile.
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
        if (SimdWidth.Use512 && ow >= Lanes512.Count) VectorRows<Lanes512, Vector512<float>>(img, width, templ, tw, th, result, ow, y0, y1);
        else if (SimdWidth.Use256 && ow >= Lanes256.Count) VectorRows<Lanes256, Vector256<float>>(img, width, templ, tw, th, result, ow, y0, y1);
        else ScalarRows(img, width, templ, tw, th, result, ow, y0, y1);
    }

    private static void VectorRows<TLanes, TVec>(float* img, int width, float* templ, int tw, int th, float* result, int ow, int y0, int y1)
        where TLanes : ILanes<TVec>
        where TVec : struct
    {
        int n = TLanes.Count;
        for (int y = y0; y < y1; y++)
        {
            float* src = img + (long)y * width;
            float* dst = result + (long)y * ow;
            int x = 0;
            for (; x <= ow - 4 * n; x += 4 * n) Block4<TLanes, TVec>(src + x, width, templ, tw, th, dst + x);
            // Single vectors; the last one overlaps the previous outputs (recomputed, not accumulated).
            for (; x < ow; x += n)
            {
                if (x > ow - n) x = ow - n;
                Block1<TLanes, TVec>(src + x, width, templ, tw, th, dst + x);
            }
        }
    }

    private static void ScalarRows(float* img, int width, float* templ, int tw, int th, float* result, int ow, int y0, int y1)
    {
        for (int y = y0; y < y1; y++)
        {
            float* src = img + (long)y * width;
            float* dst = result + (long)y * ow;
            for (int x = 0; x < ow; x++)
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

    // The register tile: 4 vectors of consecutive outputs, one broadcast template value per step.
    private static void Block4<TLanes, TVec>(float* src, int width, float* templ, int tw, int th, float* dst)
        where TLanes : ILanes<TVec>
        where TVec : struct
    {
        int n = TLanes.Count;
        TVec a0 = default, a1 = default, a2 = default, a3 = default;
        for (int j = 0; j < th; j++)
        {
            float* s = src + (long)j * width;
            float* t = templ + j * tw;
            for (int i = 0; i < tw; i++)
            {
                var v = TLanes.Broadcast(t[i]);
                a0 = TLanes.MultiplyAdd(TLanes.Load(s + i), v, a0);
                a1 = TLanes.MultiplyAdd(TLanes.Load(s + i + n), v, a1);
                a2 = TLanes.MultiplyAdd(TLanes.Load(s + i + 2 * n), v, a2);
                a3 = TLanes.MultiplyAdd(TLanes.Load(s + i + 3 * n), v, a3);
            }
        }
        TLanes.Store(a0, dst);
        TLanes.Store(a1, dst + n);
        TLanes.Store(a2, dst + 2 * n);
        TLanes.Store(a3, dst + 3 * n);
    }

    private static void Block1<TLanes, TVec>(float* src, int width, float* templ, int tw, int th, float* dst)
        where TLanes : ILanes<TVec>
        where TVec : struct
    {
        TVec a0 = default;
        for (int j = 0; j < th; j++)
        {
            float* s = src + (long)j * width;
            float* t = templ + j * tw;
            for (int i = 0; i < tw; i++) a0 = TLanes.MultiplyAdd(TLanes.Load(s + i), TLanes.Broadcast(t[i]), a0);
        }
        TLanes.Store(a0, dst);
    }

    /// <summary>The four vector operations the correlation needs, at one width.</summary>
    internal interface ILanes<TVec> where TVec : struct
    {
        static abstract int Count { get; }
        static abstract TVec Load(float* p);
        static abstract TVec Broadcast(float v);
        static abstract TVec MultiplyAdd(TVec a, TVec b, TVec addend);
        static abstract void Store(TVec v, float* p);
    }

    internal readonly struct Lanes256 : ILanes<Vector256<float>>
    {
        public static int Count => Vector256<float>.Count;
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Load(float* p) => Vector256.Load(p);
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Broadcast(float v) => Vector256.Create(v);
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> MultiplyAdd(Vector256<float> a, Vector256<float> b, Vector256<float> addend) => Vector256.MultiplyAddEstimate(a, b, addend);
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(Vector256<float> v, float* p) => v.Store(p);
    }

    internal readonly struct Lanes512 : ILanes<Vector512<float>>
    {
        public static int Count => Vector512<float>.Count;
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Load(float* p) => Vector512.Load(p);
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Broadcast(float v) => Vector512.Create(v);
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<float> MultiplyAdd(Vector512<float> a, Vector512<float> b, Vector512<float> addend) => Vector512.MultiplyAddEstimate(a, b, addend);
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(Vector512<float> v, float* p) => v.Store(p);
    }
}
