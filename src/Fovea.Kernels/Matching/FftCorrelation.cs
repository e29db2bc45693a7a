using System.Buffers;
using System.Numerics;
using System.Runtime.Intrinsics;
using Fovea.Kernels.Fft;

namespace Fovea.Kernels.Matching;

/// <summary>
/// Sliding cross-correlation by FFT for large templates, in double precision, tile by tile (overlap-save):
/// each <c>bh x bw</c> image tile gives <c>(bh − th + 1) x (bw − tw + 1)</c> valid outputs of
/// <c>IFFT(FFT(tile) · conj(FFT(template)))</c>. Two real tiles share one complex transform (one in the real part,
/// one in the imaginary part: the template spectrum is applied to both at once and the results separate again
/// because both correlations are real). The 2-D transform runs column-wise (vectorised across columns) with one
/// transpose each way, and the spectrum is multiplied in the transposed layout, so no transpose is spent on it.
/// </summary>
internal static unsafe class FftCorrelation
{
    public static void Run(float* img, int width, int height, float* templ, int tw, int th, float* result, int ow, int oh)
    {
        (int bh, int bw) = ChooseTile(ow, oh, tw, th);
        int n = bh * bw;
        var planH = FftPlan.Get(bh);
        var planW = FftPlan.Get(bw);

        // conj(FFT(zero-padded template)) in the [kx][ky] layout the tiles reach after their forward transform. Pooled: at
        // 256 x 256 the two parts are 1 MB, which a fresh array would page-fault and clear on every call.
        double[] specRe = ArrayPool<double>.Shared.Rent(n), specIm = ArrayPool<double>.Shared.Rent(n);
        try
        {
            double[] re = ArrayPool<double>.Shared.Rent(n), im = ArrayPool<double>.Shared.Rent(n);
            try
            {
                Array.Clear(re, 0, n);
                Array.Clear(im, 0, n);
                for (int j = 0; j < th; j++)
                    for (int i = 0; i < tw; i++)
                        re[j * bw + i] = templ[j * tw + i];
                fixed (double* r = re, m = im, sr = specRe, si = specIm)
                    Forward(planH, planW, r, m, sr, si, bh, bw);
                for (int k = 0; k < n; k++) specIm[k] = -specIm[k];
            }
            finally
            {
                ArrayPool<double>.Shared.Return(re);
                ArrayPool<double>.Shared.Return(im);
            }

            Tiles(img, width, height, result, ow, oh, specRe, specIm, planH, planW, bh, bw, th, tw);
        }
        finally
        {
            ArrayPool<double>.Shared.Return(specRe);
            ArrayPool<double>.Shared.Return(specIm);
        }
    }

    private static void Tiles(float* img, int width, int height, float* result, int ow, int oh, double[] specRe, double[] specIm,
        FftPlan planH, FftPlan planW, int bh, int bw, int th, int tw)
    {
        int vh = bh - th + 1, vw = bw - tw + 1;
        int tilesY = (oh + vh - 1) / vh, tilesX = (ow + vw - 1) / vw;
        int tiles = tilesY * tilesX, pairs = (tiles + 1) / 2;
        int n = bh * bw;
        nint pImg = (nint)img, pRes = (nint)result;
        ParallelFor.ForBalanced(pairs, 1, (p0, p1) =>
        {
            double[] bufRe = ArrayPool<double>.Shared.Rent(n), bufIm = ArrayPool<double>.Shared.Rent(n);
            double[] trRe = ArrayPool<double>.Shared.Rent(n), trIm = ArrayPool<double>.Shared.Rent(n);
            try
            {
                fixed (double* re = bufRe, im = bufIm, tr = trRe, ti = trIm, sr = specRe, si = specIm)
                {
                    for (int p = p0; p < p1; p++)
                    {
                        int a = 2 * p, b = 2 * p + 1;
                        LoadTile((float*)pImg, width, height, re, bh, bw, (a / tilesX) * vh, (a % tilesX) * vw);
                        if (b < tiles) LoadTile((float*)pImg, width, height, im, bh, bw, (b / tilesX) * vh, (b % tilesX) * vw);
                        else new Span<double>(im, n).Clear();
                        Forward(planH, planW, re, im, tr, ti, bh, bw);
                        // (x + iy)·conj(T): both tiles times the same template spectrum.
                        MultiplySpectrum(tr, ti, sr, si, n);
                        // Inverse along x (still transposed), transpose back only the vw valid columns, inverse along y.
                        planW.ColumnsUnordered(tr, ti, bh, bh, inverse: true);
                        Fft.Fft.Transpose(tr, re, vw, bh);
                        Fft.Fft.Transpose(ti, im, vw, bh);
                        planH.ColumnsUnordered(re, im, vw, vw, inverse: true);
                        double scale = 1.0 / n;
                        StoreTile(re, vw, (float*)pRes, ow, oh, (a / tilesX) * vh, (a % tilesX) * vw, vh, scale);
                        if (b < tiles) StoreTile(im, vw, (float*)pRes, ow, oh, (b / tilesX) * vh, (b % tilesX) * vw, vh, scale);
                    }
                }
            }
            finally
            {
                ArrayPool<double>.Shared.Return(bufRe);
                ArrayPool<double>.Shared.Return(bufIm);
                ArrayPool<double>.Shared.Return(trRe);
                ArrayPool<double>.Shared.Return(trIm);
            }
        });
    }

    // (tr + i·ti) ← (tr + i·ti)·(sr + i·si), four at a time.
    private static void MultiplySpectrum(double* tr, double* ti, double* sr, double* si, int n)
    {
        int k = 0;
        if (Simd.SimdWidth.Use256 || Simd.SimdWidth.Use512)
        {
            for (; k <= n - 4; k += 4)
            {
                var xr = Vector256.Load(tr + k);
                var xi = Vector256.Load(ti + k);
                var yr = Vector256.Load(sr + k);
                var yi = Vector256.Load(si + k);
                (xr * yr - xi * yi).Store(tr + k);
                (xr * yi + xi * yr).Store(ti + k);
            }
        }
        for (; k < n; k++)
        {
            double xr = tr[k], xi = ti[k];
            tr[k] = xr * sr[k] - xi * si[k];
            ti[k] = xr * si[k] + xi * sr[k];
        }
    }

    // Forward 2-D DFT of a [bh][bw] plane (re, im), result left transposed as [kx][ky] in (outRe, outIm).
    private static void Forward(FftPlan planH, FftPlan planW, double* re, double* im, double* outRe, double* outIm, int bh, int bw)
    {
        planH.ColumnsUnordered(re, im, bw, bw, inverse: false);
        Fft.Fft.Transpose(re, outRe, bh, bw);
        Fft.Fft.Transpose(im, outIm, bh, bw);
        planW.ColumnsUnordered(outRe, outIm, bh, bh, inverse: false);
    }

    private static void LoadTile(float* img, int width, int height, double* dst, int bh, int bw, int ty, int tx)
    {
        int rows = Math.Min(bh, height - ty), cols = Math.Min(bw, width - tx);
        for (int y = 0; y < bh; y++)
        {
            double* d = dst + (long)y * bw;
            if (y >= rows)
            {
                new Span<double>(d, bw).Clear();
                continue;
            }
            float* s = img + (long)(ty + y) * width + tx;
            int x = 0;
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
            new Span<double>(d + cols, bw - cols).Clear();
        }
    }

    private static void StoreTile(double* src, int vw, float* result, int ow, int oh, int ty, int tx, int vh, double scale)
    {
        int rows = Math.Min(vh, oh - ty), cols = Math.Min(vw, ow - tx);
        for (int y = 0; y < rows; y++)
        {
            double* s = src + (long)y * vw;
            float* d = result + (long)(ty + y) * ow + tx;
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
