using System.Buffers;
using System.Collections.Concurrent;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Fovea.Kernels.Simd;

namespace Fovea.Kernels.Fft;

/// <summary>
/// Precomputed tables for complex DFTs of one length, applied to a batch of interleaved columns:
/// element <c>j</c> of column <c>c</c> lives at <c>j·stride + c</c> in split real/imaginary arrays, and all
/// <c>count</c> columns are transformed at once, so the butterflies vectorise across columns.
/// Powers of two use iterative radix-2 (decimation in time); other lengths use Bluestein's chirp-z
/// algorithm on a power-of-two length <c>m ≥ 2n − 1</c>. Plans are cached per length and immutable.
/// </summary>
internal sealed unsafe class FftPlan
{
    private static readonly ConcurrentDictionary<int, FftPlan> Cache = new();

    public int Length { get; }

    // Radix-2: twiddles cos(2πk/n), sin(2πk/n) for k < n/2, and the bit-reversal permutation.
    private readonly double[] _cos = [], _sin = [];
    private readonly int[] _bitReverse = [];

    // Bluestein: chirp w[j] = exp(−iπ j²/n), and the spectra of the wrapped conj-chirp filter for both signs.
    private readonly FftPlan? _inner;
    private readonly double[] _chirpRe = [], _chirpIm = [];
    private readonly double[] _filterRe = [], _filterIm = [], _filterInvRe = [], _filterInvIm = [];

    public static FftPlan Get(int n)
    {
        if (n < 1) throw new ArgumentOutOfRangeException(nameof(n), n, "FFT length must be at least 1.");
        return Cache.GetOrAdd(n, static len => new FftPlan(len));
    }

    private FftPlan(int n)
    {
        Length = n;
        if (BitOperations.IsPow2(n))
        {
            int half = Math.Max(1, n / 2);
            _cos = new double[half];
            _sin = new double[half];
            for (int k = 0; k < half; k++)
            {
                double a = 2 * Math.PI * k / n;
                _cos[k] = Math.Cos(a);
                _sin[k] = Math.Sin(a);
            }
            _bitReverse = new int[n];
            int bits = BitOperations.Log2((uint)n);
            for (int i = 0; i < n; i++)
                _bitReverse[i] = bits == 0 ? 0 : (int)(ReverseBits((uint)i) >> (32 - bits));
            return;
        }

        int m = (int)BitOperations.RoundUpToPowerOf2((uint)(2 * n - 1));
        _inner = Get(m);
        _chirpRe = new double[n];
        _chirpIm = new double[n];
        for (int j = 0; j < n; j++)
        {
            // j² mod 2n keeps the angle small, so the chirp is accurate for large n.
            long q = (long)j * j % (2L * n);
            double a = -Math.PI * q / n;
            _chirpRe[j] = Math.Cos(a);
            _chirpIm[j] = Math.Sin(a);
        }
        // Forward: X[k] = w[k] Σ_j (x[j] w[j]) conj(w[k − j]), a circular convolution of length m with
        // b[l] = conj(w[|l|]) placed at l mod m. The inverse uses conj(w) throughout, i.e. filter conj(b).
        _filterRe = new double[m];
        _filterIm = new double[m];
        _filterInvRe = new double[m];
        _filterInvIm = new double[m];
        for (int l = 0; l < n; l++)
        {
            _filterRe[l] = _chirpRe[l];
            _filterIm[l] = -_chirpIm[l];
            if (l > 0)
            {
                _filterRe[m - l] = _chirpRe[l];
                _filterIm[m - l] = -_chirpIm[l];
            }
        }
        for (int l = 0; l < m; l++)
        {
            _filterInvRe[l] = _filterRe[l];
            _filterInvIm[l] = -_filterIm[l];
        }
        fixed (double* fr = _filterRe, fi = _filterIm, gr = _filterInvRe, gi = _filterInvIm)
        {
            _inner.Columns(fr, fi, 1, 1, inverse: false);
            _inner.Columns(gr, gi, 1, 1, inverse: false);
        }
    }

    private static uint ReverseBits(uint v)
    {
        v = ((v >> 1) & 0x55555555u) | ((v & 0x55555555u) << 1);
        v = ((v >> 2) & 0x33333333u) | ((v & 0x33333333u) << 2);
        v = ((v >> 4) & 0x0F0F0F0Fu) | ((v & 0x0F0F0F0Fu) << 4);
        v = ((v >> 8) & 0x00FF00FFu) | ((v & 0x00FF00FFu) << 8);
        return (v >> 16) | (v << 16);
    }

    /// <summary>
    /// Unnormalised DFT of <paramref name="count"/> columns in place: <c>X[k] = Σ_j x[j] e^{∓2πi jk/n}</c>
    /// (minus sign forward, plus sign for <paramref name="inverse"/>).
    /// </summary>
    public void Columns(double* re, double* im, int stride, int count, bool inverse)
    {
        if (Length == 1 || count == 0) return;
        if (_inner == null) Radix2(re, im, stride, count, inverse);
        else Bluestein(re, im, stride, count, inverse);
    }

    private void Radix2(double* re, double* im, int stride, int count, bool inverse)
    {
        int n = Length;
        for (int i = 0; i < n; i++)
        {
            int j = _bitReverse[i];
            if (i < j)
            {
                SwapRows(re + (long)i * stride, re + (long)j * stride, count);
                SwapRows(im + (long)i * stride, im + (long)j * stride, count);
            }
        }
        double sign = inverse ? 1 : -1;
        for (int len = 2; len <= n; len <<= 1)
        {
            int half = len >> 1, step = n / len;
            for (int start = 0; start < n; start += len)
            {
                for (int k = 0; k < half; k++)
                {
                    long a = (long)(start + k) * stride, b = a + (long)half * stride;
                    Butterfly(re + a, im + a, re + b, im + b, _cos[k * step], sign * _sin[k * step], count);
                }
            }
        }
    }

    // (a, b) <- (a + w b, a − w b) for each of count columns.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Butterfly(double* ar, double* ai, double* br, double* bi, double wr, double wi, int count)
    {
        int c = 0;
        if (SimdWidth.Use512)
        {
            var vwr = Vector512.Create(wr);
            var vwi = Vector512.Create(wi);
            for (; c <= count - 8; c += 8)
            {
                var xr = Vector512.Load(br + c);
                var xi = Vector512.Load(bi + c);
                var tr = xr * vwr - xi * vwi;
                var ti = xr * vwi + xi * vwr;
                var ur = Vector512.Load(ar + c);
                var ui = Vector512.Load(ai + c);
                (ur + tr).Store(ar + c);
                (ui + ti).Store(ai + c);
                (ur - tr).Store(br + c);
                (ui - ti).Store(bi + c);
            }
        }
        else if (SimdWidth.Use256)
        {
            var vwr = Vector256.Create(wr);
            var vwi = Vector256.Create(wi);
            for (; c <= count - 4; c += 4)
            {
                var xr = Vector256.Load(br + c);
                var xi = Vector256.Load(bi + c);
                var tr = xr * vwr - xi * vwi;
                var ti = xr * vwi + xi * vwr;
                var ur = Vector256.Load(ar + c);
                var ui = Vector256.Load(ai + c);
                (ur + tr).Store(ar + c);
                (ui + ti).Store(ai + c);
                (ur - tr).Store(br + c);
                (ui - ti).Store(bi + c);
            }
        }
        for (; c < count; c++)
        {
            double tr = br[c] * wr - bi[c] * wi;
            double ti = br[c] * wi + bi[c] * wr;
            double ur = ar[c], ui = ai[c];
            ar[c] = ur + tr; ai[c] = ui + ti;
            br[c] = ur - tr; bi[c] = ui - ti;
        }
    }

    private static void SwapRows(double* a, double* b, int count)
    {
        for (int c = 0; c < count; c++) (a[c], b[c]) = (b[c], a[c]);
    }

    private void Bluestein(double* re, double* im, int stride, int count, bool inverse)
    {
        int n = Length, m = _inner!.Length;
        double conj = inverse ? -1 : 1;
        long size = (long)m * count;
        double[] rentRe = ArrayPool<double>.Shared.Rent((int)size);
        double[] rentIm = ArrayPool<double>.Shared.Rent((int)size);
        try
        {
            fixed (double* sr = rentRe, si = rentIm)
            {
                // a[j] = x[j] · w[j] (conj(w) for the inverse), zero-padded to m rows.
                for (int j = 0; j < n; j++)
                    ScaleRow(re + (long)j * stride, im + (long)j * stride, sr + (long)j * count, si + (long)j * count,
                        _chirpRe[j], conj * _chirpIm[j], count);
                new Span<double>(sr + (long)n * count, (int)((m - n) * (long)count)).Clear();
                new Span<double>(si + (long)n * count, (int)((m - n) * (long)count)).Clear();
                _inner.Columns(sr, si, count, count, inverse: false);
                double[] fr = inverse ? _filterInvRe : _filterRe, fi = inverse ? _filterInvIm : _filterIm;
                for (int r = 0; r < m; r++)
                    ScaleRow(sr + (long)r * count, si + (long)r * count, sr + (long)r * count, si + (long)r * count, fr[r], fi[r], count);
                _inner.Columns(sr, si, count, count, inverse: true);
                // X[k] = w[k] · c[k] / m (the inner inverse is unnormalised).
                double s = 1.0 / m;
                for (int k = 0; k < n; k++)
                    ScaleRow(sr + (long)k * count, si + (long)k * count, re + (long)k * stride, im + (long)k * stride,
                        _chirpRe[k] * s, conj * _chirpIm[k] * s, count);
            }
        }
        finally
        {
            ArrayPool<double>.Shared.Return(rentRe);
            ArrayPool<double>.Shared.Return(rentIm);
        }
    }

    // dst = src · (wr + i wi) for count columns; src and dst may be the same row.
    private static void ScaleRow(double* srcRe, double* srcIm, double* dstRe, double* dstIm, double wr, double wi, int count)
    {
        int c = 0;
        if (SimdWidth.Use256 || SimdWidth.Use512)
        {
            var vwr = Vector256.Create(wr);
            var vwi = Vector256.Create(wi);
            for (; c <= count - 4; c += 4)
            {
                var xr = Vector256.Load(srcRe + c);
                var xi = Vector256.Load(srcIm + c);
                (xr * vwr - xi * vwi).Store(dstRe + c);
                (xr * vwi + xi * vwr).Store(dstIm + c);
            }
        }
        for (; c < count; c++)
        {
            double xr = srcRe[c], xi = srcIm[c];
            dstRe[c] = xr * wr - xi * wi;
            dstIm[c] = xr * wi + xi * wr;
        }
    }
}
