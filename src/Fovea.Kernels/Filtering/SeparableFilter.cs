using System.Buffers;
using System.Runtime.Intrinsics;
using Fovea.Kernels.Simd;

namespace Fovea.Kernels.Filtering;

/// <summary>
/// Separable 2-D correlation of a float plane with BORDER_REFLECT_101 (OpenCV's <c>sepFilter2D</c> default):
/// <c>dst(y, x) = Σ_i Σ_j ky[i] kx[j] src(r(y + i − ry), r(x + j − rx))</c> with centred odd-length kernels
/// (<c>rx = (len(kx) − 1)/2</c>). Two passes (rows, then columns) through a pooled intermediate plane,
/// each vectorised along x and split over rows; the row pass reads through a precomputed border index map.
/// </summary>
public static unsafe class SeparableFilter
{
    /// <summary>Filters <paramref name="src"/> (<c>[height, width]</c>) into <paramref name="dst"/> (same size, must not overlap src).</summary>
    public static void Apply(ReadOnlySpan<float> src, int width, int height, ReadOnlySpan<float> kernelX, ReadOnlySpan<float> kernelY, Span<float> dst)
    {
        PyrKernels.CheckPlane(src.Length, width, height, nameof(src), "SeparableFilter");
        PyrKernels.CheckPlane(dst.Length, width, height, nameof(dst), "SeparableFilter");
        if (kernelX.Length % 2 == 0 || kernelY.Length % 2 == 0)
            throw new ArgumentException($"SeparableFilter: kernels must have odd length, got {kernelX.Length} and {kernelY.Length}.");
        int n = width * height;
        int rx = kernelX.Length / 2;
        float[] tmp = ArrayPool<float>.Shared.Rent(n);
        int[] map = ArrayPool<int>.Shared.Rent(width + 2 * rx);
        float[] kx = kernelX.ToArray(), ky = kernelY.ToArray();
        try
        {
            BorderReflect101.FillMap(map.AsSpan(0, width + 2 * rx), width, rx);
            fixed (float* ps = src, pd = dst, pt = tmp)
            {
                nint s = (nint)ps, d = (nint)pd, t = (nint)pt;
                int grain = Math.Max(1, (1 << 14) / width);
                ParallelFor.For(height, grain, (y0, y1) => RowPass((float*)s, (float*)t, width, kx, map, y0, y1));
                ParallelFor.For(height, grain, (y0, y1) => ColumnPass((float*)t, (float*)d, width, height, ky, y0, y1));
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(tmp);
            ArrayPool<int>.Shared.Return(map);
        }
    }

    private static void RowPass(float* src, float* dst, int width, float[] k, int[] map, int y0, int y1)
    {
        int padded = width + k.Length - 1;
        float[] rented = ArrayPool<float>.Shared.Rent(padded);
        try
        {
            fixed (float* row = rented)
            fixed (float* pk = k)
            fixed (int* pm = map)
            {
                for (int y = y0; y < y1; y++)
                {
                    float* s = src + (long)y * width;
                    for (int i = 0; i < padded; i++) row[i] = s[pm[i]];
                    Taps(row, 1, pk, k.Length, dst + (long)y * width, width);
                }
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(rented);
        }
    }

    private static void ColumnPass(float* src, float* dst, int width, int height, float[] k, int y0, int y1)
    {
        int r = k.Length / 2;
        var rows = new nint[k.Length];
        fixed (float* pk = k)
        {
            for (int y = y0; y < y1; y++)
            {
                for (int i = 0; i < k.Length; i++) rows[i] = (nint)(src + (long)BorderReflect101.Index(y + i - r, height) * width);
                RowTaps(rows, pk, dst + (long)y * width, width);
            }
        }
    }

    // dst[x] = Σ_i k[i] src[x + i·step] (step 1: taps along a padded row).
    private static void Taps(float* src, int step, float* k, int taps, float* dst, int n)
    {
        int x = 0;
        if (SimdWidth.Use512 && n >= 16)
        {
            for (; ; x += 16)
            {
                if (x > n - 16) x = n - 16;
                var acc = Vector512<float>.Zero;
                for (int i = 0; i < taps; i++) acc = Vector512.MultiplyAddEstimate(Vector512.Load(src + x + i * step), Vector512.Create(k[i]), acc);
                acc.Store(dst + x);
                if (x == n - 16) return;
            }
        }
        if (SimdWidth.Use256 && n >= 8)
        {
            for (; ; x += 8)
            {
                if (x > n - 8) x = n - 8;
                var acc = Vector256<float>.Zero;
                for (int i = 0; i < taps; i++) acc = Vector256.MultiplyAddEstimate(Vector256.Load(src + x + i * step), Vector256.Create(k[i]), acc);
                acc.Store(dst + x);
                if (x == n - 8) return;
            }
        }
        for (; x < n; x++)
        {
            float acc = 0;
            for (int i = 0; i < taps; i++) acc += k[i] * src[x + i * step];
            dst[x] = acc;
        }
    }

    // dst[x] = Σ_i k[i] rows[i][x].
    private static void RowTaps(nint[] rows, float* k, float* dst, int n)
    {
        int taps = rows.Length;
        int x = 0;
        if (SimdWidth.Use512 && n >= 16)
        {
            for (; ; x += 16)
            {
                if (x > n - 16) x = n - 16;
                var acc = Vector512<float>.Zero;
                for (int i = 0; i < taps; i++) acc = Vector512.MultiplyAddEstimate(Vector512.Load((float*)rows[i] + x), Vector512.Create(k[i]), acc);
                acc.Store(dst + x);
                if (x == n - 16) return;
            }
        }
        if (SimdWidth.Use256 && n >= 8)
        {
            for (; ; x += 8)
            {
                if (x > n - 8) x = n - 8;
                var acc = Vector256<float>.Zero;
                for (int i = 0; i < taps; i++) acc = Vector256.MultiplyAddEstimate(Vector256.Load((float*)rows[i] + x), Vector256.Create(k[i]), acc);
                acc.Store(dst + x);
                if (x == n - 8) return;
            }
        }
        for (; x < n; x++)
        {
            float acc = 0;
            for (int i = 0; i < taps; i++) acc += k[i] * ((float*)rows[i])[x];
            dst[x] = acc;
        }
    }
}
