using System.Buffers;
using System.Numerics;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Fovea.Kernels.Fft;

namespace Fovea.Kernels.Matching;

/// <summary>
/// Sliding cross-correlation by FFT for large templates, in double precision, tile by tile (overlap-save):
/// each <c>bh x bw</c> image tile gives <c>(bh − th + 1) x (bw − tw + 1)</c> valid outputs of
/// <c>IFFT(FFT(tile) · conj(FFT(template)))</c>. Two real tiles share one complex transform (one in the real part,
/// one in the imaginary part: the template spectrum is applied to both at once and the results separate again
/// because both correlations are real).
/// <para>
/// The 2-D transform is cut into passes that each keep a small block in cache, because a whole 256 x 256 complex plane
/// (1 MB) plus the template spectrum (1 MB) overflows a core's L2 and plane-wide passes ran at a third of the in-cache
/// speed. Forward: a strip of <see cref="Strip"/> columns is loaded from the image, transformed along y and transposed into
/// the spectrum plane <c>[x][ky]</c>. Then each block of <see cref="Strip"/> ky-columns of that plane is transformed along
/// x, multiplied by the template spectrum and transformed back along x while it is in cache. Inverse: strips of the valid
/// output columns are transposed back, transformed along y and stored. Transforms run unordered (no bit reversal).
/// </para>
/// </summary>
internal static unsafe class FftCorrelation
{
    /// <summary>Columns per strip and block: 16 doubles (two 512-bit vectors) of real and imaginary parts per row.</summary>
    private const int Strip = 16;

    /// <summary>
    /// Row padding of the spectrum plane, in doubles: 256 rows 2 KB apart map to a few L1 sets; 64 more bytes a row spread
    /// them over all sets.
    /// </summary>
    private const int PlanePad = 8;

    public static void Run(float* img, int width, int height, float* templ, int tw, int th, float* result, int ow, int oh)
    {
        (int bh, int bw) = ChooseTile(ow, oh, tw, th);
        var geo = new Geometry(FftPlan.Get(bh), FftPlan.Get(bw), bh, bw, th, tw);
        // conj(FFT(zero-padded template)) in the [kx][ky] plane layout. Pooled: at 256 x 256 the two parts are 1 MB, which a
        // fresh array would page-fault and clear on every call.
        double[] specRe = ArrayPool<double>.Shared.Rent(geo.PlaneLength), specIm = ArrayPool<double>.Shared.Rent(geo.PlaneLength);
        double[] strip = ArrayPool<double>.Shared.Rent(2 * bh * Strip);
        try
        {
            fixed (double* sr = specRe, si = specIm, s = strip)
            {
                ForwardY(geo, templ, tw, th, 0, 0, null, 0, 0, sr, si, s, s + bh * Strip);
                for (int k0 = 0; k0 < bh; k0 += Strip)
                    geo.PlanW.ColumnsUnordered(sr + k0, si + k0, geo.Ld, Math.Min(Strip, bh - k0), inverse: false);
                for (int k = 0; k < geo.PlaneLength; k++) si[k] = -si[k];
            }
        }
        finally
        {
            ArrayPool<double>.Shared.Return(strip);
        }
        try
        {
            Tiles(img, width, height, result, ow, oh, specRe, specIm, geo);
        }
        finally
        {
            ArrayPool<double>.Shared.Return(specRe);
            ArrayPool<double>.Shared.Return(specIm);
        }
    }

    /// <summary>Tile extents, plans and the spectrum plane's row length <c>Ld = bh + PlanePad</c> (bw rows).</summary>
    private readonly record struct Geometry(FftPlan PlanH, FftPlan PlanW, int Bh, int Bw, int Th, int Tw)
    {
        public int Ld => Bh + PlanePad;
        public int PlaneLength => Bw * Ld;
        public int Vh => Bh - Th + 1;
        public int Vw => Bw - Tw + 1;
    }

    private static void Tiles(float* img, int width, int height, float* result, int ow, int oh, double[] specRe, double[] specIm, Geometry geo)
    {
        int bh = geo.Bh, vh = geo.Vh, vw = geo.Vw;
        int tilesY = (oh + vh - 1) / vh, tilesX = (ow + vw - 1) / vw;
        int tiles = tilesY * tilesX, pairs = (tiles + 1) / 2;
        nint pImg = (nint)img, pRes = (nint)result;
        ParallelFor.ForBalanced(pairs, 1, (p0, p1) =>
        {
            double[] planeRe = ArrayPool<double>.Shared.Rent(geo.PlaneLength), planeIm = ArrayPool<double>.Shared.Rent(geo.PlaneLength);
            double[] strip = ArrayPool<double>.Shared.Rent(2 * bh * Strip);
            try
            {
                fixed (double* re = planeRe, im = planeIm, s = strip, sr = specRe, si = specIm)
                {
                    for (int p = p0; p < p1; p++)
                    {
                        int a = 2 * p, b = 2 * p + 1;
                        int ay = (a / tilesX) * vh, ax = (a % tilesX) * vw;
                        int by = (b / tilesX) * vh, bx = (b % tilesX) * vw;
                        ForwardY(geo, (float*)pImg, width, height, ay, ax, b < tiles ? (float*)pImg : null, by, bx, re, im, s, s + bh * Strip);
                        // Along x, times conj(T) (both tiles at once: (x + iy)·conj(T)), back along x, one block of ky at a time.
                        for (int k0 = 0; k0 < bh; k0 += Strip)
                        {
                            int cb = Math.Min(Strip, bh - k0);
                            geo.PlanW.ColumnsUnordered(re + k0, im + k0, geo.Ld, cb, inverse: false);
                            MultiplySpectrum(re + k0, im + k0, sr + k0, si + k0, geo.Ld, geo.Bw, cb);
                            geo.PlanW.ColumnsUnordered(re + k0, im + k0, geo.Ld, cb, inverse: true);
                        }
                        InverseY(geo, re, im, s, s + bh * Strip, (float*)pRes, ow, oh, ay, ax, b < tiles, by, bx);
                    }
                }
            }
            finally
            {
                ArrayPool<double>.Shared.Return(planeRe);
                ArrayPool<double>.Shared.Return(planeIm);
                ArrayPool<double>.Shared.Return(strip);
            }
        });
    }

    /// <summary>
    /// Strip by strip of <see cref="Strip"/> columns: the tile at (ay, ax) of <paramref name="imgA"/> into the real part and the
    /// one at (by, bx) of <paramref name="imgB"/> (null: zero) into the imaginary part, transformed along y and transposed into
    /// rows x of the plane (<c>plane[x·Ld + ky]</c>).
    /// </summary>
    private static void ForwardY(Geometry geo, float* imgA, int width, int height, int ay, int ax, float* imgB, int by, int bx,
        double* planeRe, double* planeIm, double* stripRe, double* stripIm)
    {
        int bh = geo.Bh;
        for (int c0 = 0; c0 < geo.Bw; c0 += Strip)
        {
            LoadStrip(imgA, width, height, ay, ax + c0, bh, stripRe);
            if (imgB != null) LoadStrip(imgB, width, height, by, bx + c0, bh, stripIm);
            else new Span<double>(stripIm, bh * Strip).Clear();
            // Tiles narrower than a strip (bw < 16) load a whole strip but transform and keep only its first bw columns.
            int cb = Math.Min(Strip, geo.Bw - c0);
            geo.PlanH.ColumnsUnordered(stripRe, stripIm, Strip, cb, inverse: false);
            Fft.Fft.Transpose(stripRe, Strip, planeRe + (long)c0 * geo.Ld, geo.Ld, bh, cb);
            Fft.Fft.Transpose(stripIm, Strip, planeIm + (long)c0 * geo.Ld, geo.Ld, bh, cb);
        }
    }

    /// <summary>
    /// Strip by strip over the valid output columns: plane rows x transposed back into a <c>[ky][x]</c> strip, transformed
    /// back along y, and the first <c>vh</c> rows stored, scaled by <c>1/(bh·bw)</c> (the inverse transforms are unnormalised).
    /// </summary>
    private static void InverseY(Geometry geo, double* planeRe, double* planeIm, double* stripRe, double* stripIm,
        float* result, int ow, int oh, int ay, int ax, bool hasB, int by, int bx)
    {
        int bh = geo.Bh, vw = geo.Vw;
        double scale = 1.0 / ((double)bh * geo.Bw);
        for (int c0 = 0; c0 < vw; c0 += Strip)
        {
            int cb = Math.Min(Strip, vw - c0);
            if (ax + c0 >= ow && (!hasB || bx + c0 >= ow)) break;
            Fft.Fft.Transpose(planeRe + (long)c0 * geo.Ld, geo.Ld, stripRe, Strip, cb, bh);
            Fft.Fft.Transpose(planeIm + (long)c0 * geo.Ld, geo.Ld, stripIm, Strip, cb, bh);
            geo.PlanH.ColumnsUnordered(stripRe, stripIm, Strip, cb, inverse: true);
            StoreStrip(stripRe, result, ow, oh, ay, ax + c0, geo.Vh, cb, scale);
            if (hasB) StoreStrip(stripIm, result, ow, oh, by, bx + c0, geo.Vh, cb, scale);
        }
    }

    // (tr + i·ti) ← (tr + i·ti)·(sr + i·si) over rows x cb elements, rows ld apart.
    private static void MultiplySpectrum(double* tr, double* ti, double* sr, double* si, int ld, int rows, int cb)
    {
        for (int r = 0; r < rows; r++, tr += ld, ti += ld, sr += ld, si += ld)
        {
            int k = 0;
            if (Simd.SimdWidth.Use512)
            {
                for (; k <= cb - 8; k += 8)
                {
                    var xr = Vector512.Load(tr + k);
                    var xi = Vector512.Load(ti + k);
                    var yr = Vector512.Load(sr + k);
                    var yi = Vector512.Load(si + k);
                    (xr * yr - xi * yi).Store(tr + k);
                    (xr * yi + xi * yr).Store(ti + k);
                }
            }
            else if (Simd.SimdWidth.Use256)
            {
                for (; k <= cb - 4; k += 4)
                {
                    var xr = Vector256.Load(tr + k);
                    var xi = Vector256.Load(ti + k);
                    var yr = Vector256.Load(sr + k);
                    var yi = Vector256.Load(si + k);
                    (xr * yr - xi * yi).Store(tr + k);
                    (xr * yi + xi * yr).Store(ti + k);
                }
            }
            for (; k < cb; k++)
            {
                double xr = tr[k], xi = ti[k];
                tr[k] = xr * sr[k] - xi * si[k];
                ti[k] = xr * si[k] + xi * sr[k];
            }
        }
    }

    // dst[y][j] = img(ty + y, tx + j) as double for a bh x Strip strip, zero outside the image.
    private static void LoadStrip(float* img, int width, int height, int ty, int tx, int bh, double* dst)
    {
        int rows = Math.Clamp(height - ty, 0, bh), cols = Math.Clamp(width - tx, 0, Strip);
        for (int y = 0; y < bh; y++)
        {
            double* d = dst + (long)y * Strip;
            int x = 0;
            if (y < rows)
            {
                float* s = img + (long)(ty + y) * width + tx;
                // The next strip reads this row's next 16 floats. Rows are a page or more apart, and hardware prefetchers
                // stop at page boundaries, so without this every row of every strip waited for memory.
                if (Sse.IsSupported)
                {
                    Sse.Prefetch0(s + Strip);
                    Sse.Prefetch0(s + 2 * Strip - 1);
                }
                if (Simd.SimdWidth.Use256 || Simd.SimdWidth.Use512)
                {
                    for (; x <= cols - 8; x += 8)
                    {
                        var v = Vector256.Load(s + x);
                        Vector256.WidenLower(v).Store(d + x);
                        Vector256.WidenUpper(v).Store(d + x + 4);
                    }
                }
                for (; x < cols; x++) d[x] = s[x];
            }
            for (; x < Strip; x++) d[x] = 0;
        }
    }

    // result(ty + y, tx + j) = src[y][j]·scale for the first vh rows and cb columns of a strip, clipped to the score map.
    private static void StoreStrip(double* src, float* result, int ow, int oh, int ty, int tx, int vh, int cb, double scale)
    {
        int rows = Math.Min(vh, oh - ty), cols = Math.Min(cb, ow - tx);
        if (cols <= 0) return;
        for (int y = 0; y < rows; y++)
        {
            double* s = src + (long)y * Strip;
            float* d = result + (long)(ty + y) * ow + tx;
            // As in LoadStrip: the next strip writes this row's next 16 floats, a page or more from the last row's.
            if (Sse.IsSupported)
            {
                Sse.Prefetch0(d + Strip);
                Sse.Prefetch0(d + 2 * Strip - 1);
            }
            int x = 0;
            if (Simd.SimdWidth.Use256 || Simd.SimdWidth.Use512)
            {
                var k = Vector256.Create(scale);
                for (; x <= cols - 8; x += 8)
                    Vector256.Narrow(Vector256.Load(s + x) * k, Vector256.Load(s + x + 4) * k).Store(d + x);
            }
            for (; x < cols; x++) d[x] = (float)(s[x] * scale);
        }
    }

    /// <summary>
    /// Power-of-two tile extents minimising (tiles / 2)·bh·bw·log2(bh·bw), the transform work, capped at 256 so a
    /// tile's buffers stay near cache and the tiles spread over threads.
    /// </summary>
    internal static (int Bh, int Bw) ChooseTile(int ow, int oh, int tw, int th)
    {
        int bestH = 0, bestW = 0;
        double best = double.MaxValue;
        int maxH = (int)Math.Max(BitOperations.RoundUpToPowerOf2((uint)th), Math.Min(256u, BitOperations.RoundUpToPowerOf2((uint)(oh + th - 1))));
        int maxW = (int)Math.Max(BitOperations.RoundUpToPowerOf2((uint)tw), Math.Min(256u, BitOperations.RoundUpToPowerOf2((uint)(ow + tw - 1))));
        for (int bh = (int)BitOperations.RoundUpToPowerOf2((uint)th); bh <= maxH; bh *= 2)
            for (int bw = (int)BitOperations.RoundUpToPowerOf2((uint)tw); bw <= maxW; bw *= 2)
            {
                int vh = bh - th + 1, vw = bw - tw + 1;
                long tiles = (long)((oh + vh - 1) / vh) * ((ow + vw - 1) / vw);
                double cost = (tiles + 1) / 2 * (double)bh * bw * Math.Log2((double)bh * bw + 1);
                if (cost < best)
                {
                    best = cost;
                    bestH = bh;
                    bestW = bw;
                }
            }
        return (bestH, bestW);
    }
}
