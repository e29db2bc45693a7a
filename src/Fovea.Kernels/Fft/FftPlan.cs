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
        if (_inner != null)
        {
            Bluestein(re, im, stride, count, inverse);
            return;
        }
        // Every radix-2 stage sweeps all n rows; across a wide batch that is log2(n) passes over memory larger than L2
        // (256 x 256 columns: 1 MB per pass). Blocks of ColumnBlock columns run all stages while their n x ColumnBlock
        // slab (64 KB at n = 256) stays in cache, and are still wide enough for full vectors.
        for (int c0 = 0; c0 < count; c0 += ColumnBlock)
        {
            int block = Math.Min(ColumnBlock, count - c0);
            BitReverse(re + c0, im + c0, stride, block);
            DitStages(re + c0, im + c0, stride, block, inverse);
        }
    }

    /// <summary>
    /// The same transform without the bit-reversal permutation, for power-of-two lengths: forward takes natural order and
    /// leaves the spectrum in bit-reversed order (decimation in frequency), inverse takes bit-reversed order and returns
    /// natural order (decimation in time). For pointwise products of spectra (correlation) the order never matters, and the
    /// permutation, a scattered pass over every row, is saved both ways.
    /// </summary>
    public void ColumnsUnordered(double* re, double* im, int stride, int count, bool inverse)
    {
        if (_inner != null) throw new InvalidOperationException($"FFT: the unordered transform needs a power-of-two length, got {Length}.");
        if (Length == 1 || count == 0) return;
        for (int c0 = 0; c0 < count; c0 += ColumnBlock)
        {
            int block = Math.Min(ColumnBlock, count - c0);
            if (inverse) DitStages(re + c0, im + c0, stride, block, inverse);
            else DifStages(re + c0, im + c0, stride, block);
        }
    }

    /// <summary>The unordered transform on spans (tests; the kernels call the pointer form on pinned buffers).</summary>
    internal void ColumnsUnordered(Span<double> re, Span<double> im, int stride, int count, bool inverse)
    {
        if (Length > 0 && ((long)(Length - 1) * stride + count > re.Length || (long)(Length - 1) * stride + count > im.Length))
            throw new ArgumentException($"FFT: {Length} rows of stride {stride} and {count} columns do not fit spans of {re.Length} and {im.Length}.");
        fixed (double* r = re, i = im) ColumnsUnordered(r, i, stride, count, inverse);
    }

    private const int ColumnBlock = 16;

    private void BitReverse(double* re, double* im, int stride, int count)
    {
        for (int i = 0; i < Length; i++)
        {
            int j = _bitReverse[i];
            if (i < j)
            {
                SwapRows(re + (long)i * stride, re + (long)j * stride, count);
                SwapRows(im + (long)i * stride, im + (long)j * stride, count);
            }
        }
    }

    // Decimation in frequency (Gentleman–Sande), natural order in, bit-reversed out, forward sign: for span L from n down to 2,
    // (a, b) ← (a + b, (a − b)·W_L^k). Two spans per pass (radix 2²); an odd stage count ends with one span-2 stage.
    // Passes go in pairs (h, h/4): both touch only the 16 rows b + r + j·h/4 (j < 16) of one block b (a multiple of 4h) and one
    // residue r < h/4, so the pair runs sub-problem by sub-problem on 16 rows that stay in L1, and a column block larger than
    // L1 is swept from L2 once per two passes instead of once per pass. The butterflies and their order within each row set
    // are unchanged, so the result is the same to the bit.
    private void DifStages(double* re, double* im, int stride, int count)
    {
        int n = Length;
        int h = n / 4;
        for (; h >= 4; h /= 16)
        {
            int q = h / 4, step4 = n / (4 * h), step2 = n / (2 * h), step4q = n / (4 * q), step2q = n / (2 * q);
            long dh = (long)h * stride, dq = (long)q * stride;
            for (int b = 0; b < n; b += 4 * h)
                for (int r = 0; r < q; r++)
                {
                    for (int k = r; k < h; k += q)
                    {
                        long a = (long)(b + k) * stride;
                        Radix4Dif(re + a, im + a, dh, _cos[k * step4], -_sin[k * step4], _cos[k * step2], -_sin[k * step2], count);
                    }
                    for (int s = b; s < b + 4 * h; s += h)
                    {
                        long a = (long)(s + r) * stride;
                        Radix4Dif(re + a, im + a, dq, _cos[r * step4q], -_sin[r * step4q], _cos[r * step2q], -_sin[r * step2q], count);
                    }
                }
        }
        if (h >= 1)
        {
            // One pass left over (h = 1 or 2 when the stage count is not a multiple of four).
            int step4 = n / (4 * h), step2 = n / (2 * h);
            for (int start = 0; start < n; start += 4 * h)
            {
                for (int k = 0; k < h; k++)
                {
                    long a = (long)(start + k) * stride, d = (long)h * stride;
                    Radix4Dif(re + a, im + a, d, _cos[k * step4], -_sin[k * step4], _cos[k * step2], -_sin[k * step2], count);
                }
            }
        }
        if ((BitOperations.Log2((uint)n) & 1) == 1)
        {
            for (int start = 0; start < n; start += 2)
            {
                long a = (long)start * stride, b = a + stride;
                DifButterfly(re + a, im + a, re + b, im + b, count);
            }
        }
    }

    // The span-2 DIF stage: (a, b) ← (a + b, a − b).
    private static void DifButterfly(double* ar, double* ai, double* br, double* bi, int count)
    {
        for (int c = 0; c < count; c++)
        {
            double xr = ar[c], xi = ai[c], yr = br[c], yi = bi[c];
            ar[c] = xr + yr; ai[c] = xi + yi;
            br[c] = xr - yr; bi[c] = xi - yi;
        }
    }

    // Decimation in time on bit-reversed input, natural order out.
    private void DitStages(double* re, double* im, int stride, int count, bool inverse)
    {
        int n = Length;
        double sign = inverse ? 1 : -1;
        // An odd number of stages starts with one radix-2 stage (span 2, twiddle 1); the rest go two at a time (radix 2²).
        int first = 1;
        if ((BitOperations.Log2((uint)n) & 1) == 1)
        {
            for (int start = 0; start < n; start += 2)
            {
                long a = (long)start * stride, b = a + stride;
                Butterfly(re + a, im + a, re + b, im + b, 1, 0, count);
            }
            first = 2;
        }
        // Passes in pairs (h, 4h), as in DifStages mirrored: both touch only the 16 rows b + r + j·h (j < 16) of one block b
        // (a multiple of 16h) and one residue r < h.
        int hh = first;
        for (; 16 * hh <= n; hh *= 16)
        {
            int h = hh, g = 4 * h, step1 = n / (2 * h), step2 = n / (4 * h), step1g = n / (2 * g), step2g = n / (4 * g);
            long dh = (long)h * stride, dg = (long)g * stride;
            for (int b = 0; b < n; b += 4 * g)
                for (int r = 0; r < h; r++)
                {
                    for (int s = b; s < b + 4 * g; s += 4 * h)
                    {
                        long a = (long)(s + r) * stride;
                        Radix4(re + a, im + a, dh, _cos[r * step1], sign * _sin[r * step1], _cos[r * step2], sign * _sin[r * step2], sign, count);
                    }
                    for (int k = r; k < g; k += h)
                    {
                        long a = (long)(b + k) * stride;
                        Radix4(re + a, im + a, dg, _cos[k * step1g], sign * _sin[k * step1g], _cos[k * step2g], sign * _sin[k * step2g], sign, count);
                    }
                }
        }
        if (4 * hh <= n)
        {
            int h = hh, step1 = n / (2 * h), step2 = n / (4 * h);
            for (int start = 0; start < n; start += 4 * h)
            {
                for (int k = 0; k < h; k++)
                {
                    long a = (long)(start + k) * stride, d = (long)h * stride;
                    Radix4(re + a, im + a, d, _cos[k * step1], sign * _sin[k * step1], _cos[k * step2], sign * _sin[k * step2], sign, count);
                }
            }
        }
    }

    // Two radix-2 stages in one pass over points x0..x3 at distance d: stage 1 (span 2h) pairs (x0, x1) and (x2, x3) with
    // w1 = W_{2h}^k; stage 2 (span 4h) pairs (b0, b2) with w2 = W_{4h}^k and (b1, b3) with w3 = W_{4h}^{k+h} = w2·(sign·i).
    // Same arithmetic as two radix-2 passes (minus one multiply, w3 being a quarter turn of w2), half the loads and stores.
    private static void Radix4(double* re, double* im, long d, double w1r, double w1i, double w2r, double w2i, double sign, int count)
    {
        double w3r = -sign * w2i, w3i = sign * w2r;
        double* r0 = re, r1 = re + d, r2 = re + 2 * d, r3 = re + 3 * d;
        double* i0 = im, i1 = im + d, i2 = im + 2 * d, i3 = im + 3 * d;
        int c = 0;
        if (SimdWidth.Use512)
        {
            var a1r = Vector512.Create(w1r); var a1i = Vector512.Create(w1i);
            var a2r = Vector512.Create(w2r); var a2i = Vector512.Create(w2i);
            var a3r = Vector512.Create(w3r); var a3i = Vector512.Create(w3i);
            for (; c <= count - 8; c += 8)
            {
                var x0r = Vector512.Load(r0 + c); var x0i = Vector512.Load(i0 + c);
                var x1r = Vector512.Load(r1 + c); var x1i = Vector512.Load(i1 + c);
                var x2r = Vector512.Load(r2 + c); var x2i = Vector512.Load(i2 + c);
                var x3r = Vector512.Load(r3 + c); var x3i = Vector512.Load(i3 + c);
                var t1r = x1r * a1r - x1i * a1i; var t1i = x1r * a1i + x1i * a1r;
                var t3r = x3r * a1r - x3i * a1i; var t3i = x3r * a1i + x3i * a1r;
                var b0r = x0r + t1r; var b0i = x0i + t1i; var b1r = x0r - t1r; var b1i = x0i - t1i;
                var b2r = x2r + t3r; var b2i = x2i + t3i; var b3r = x2r - t3r; var b3i = x2i - t3i;
                var u2r = b2r * a2r - b2i * a2i; var u2i = b2r * a2i + b2i * a2r;
                var u3r = b3r * a3r - b3i * a3i; var u3i = b3r * a3i + b3i * a3r;
                (b0r + u2r).Store(r0 + c); (b0i + u2i).Store(i0 + c);
                (b1r + u3r).Store(r1 + c); (b1i + u3i).Store(i1 + c);
                (b0r - u2r).Store(r2 + c); (b0i - u2i).Store(i2 + c);
                (b1r - u3r).Store(r3 + c); (b1i - u3i).Store(i3 + c);
            }
        }
        else if (SimdWidth.Use256)
        {
            var a1r = Vector256.Create(w1r); var a1i = Vector256.Create(w1i);
            var a2r = Vector256.Create(w2r); var a2i = Vector256.Create(w2i);
            var a3r = Vector256.Create(w3r); var a3i = Vector256.Create(w3i);
            for (; c <= count - 4; c += 4)
            {
                var x0r = Vector256.Load(r0 + c); var x0i = Vector256.Load(i0 + c);
                var x1r = Vector256.Load(r1 + c); var x1i = Vector256.Load(i1 + c);
                var x2r = Vector256.Load(r2 + c); var x2i = Vector256.Load(i2 + c);
                var x3r = Vector256.Load(r3 + c); var x3i = Vector256.Load(i3 + c);
                var t1r = x1r * a1r - x1i * a1i; var t1i = x1r * a1i + x1i * a1r;
                var t3r = x3r * a1r - x3i * a1i; var t3i = x3r * a1i + x3i * a1r;
                var b0r = x0r + t1r; var b0i = x0i + t1i; var b1r = x0r - t1r; var b1i = x0i - t1i;
                var b2r = x2r + t3r; var b2i = x2i + t3i; var b3r = x2r - t3r; var b3i = x2i - t3i;
                var u2r = b2r * a2r - b2i * a2i; var u2i = b2r * a2i + b2i * a2r;
                var u3r = b3r * a3r - b3i * a3i; var u3i = b3r * a3i + b3i * a3r;
                (b0r + u2r).Store(r0 + c); (b0i + u2i).Store(i0 + c);
                (b1r + u3r).Store(r1 + c); (b1i + u3i).Store(i1 + c);
                (b0r - u2r).Store(r2 + c); (b0i - u2i).Store(i2 + c);
                (b1r - u3r).Store(r3 + c); (b1i - u3i).Store(i3 + c);
            }
        }
        for (; c < count; c++)
        {
            double t1r = r1[c] * w1r - i1[c] * w1i, t1i = r1[c] * w1i + i1[c] * w1r;
            double t3r = r3[c] * w1r - i3[c] * w1i, t3i = r3[c] * w1i + i3[c] * w1r;
            double b0r = r0[c] + t1r, b0i = i0[c] + t1i, b1r = r0[c] - t1r, b1i = i0[c] - t1i;
            double b2r = r2[c] + t3r, b2i = i2[c] + t3i, b3r = r2[c] - t3r, b3i = i2[c] - t3i;
            double u2r = b2r * w2r - b2i * w2i, u2i = b2r * w2i + b2i * w2r;
            double u3r = b3r * w3r - b3i * w3i, u3i = b3r * w3i + b3i * w3r;
            r0[c] = b0r + u2r; i0[c] = b0i + u2i;
            r1[c] = b1r + u3r; i1[c] = b1i + u3i;
            r2[c] = b0r - u2r; i2[c] = b0i - u2i;
            r3[c] = b1r - u3r; i3[c] = b1i - u3i;
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

    // Two DIF stages over x0..x3 at distance d (forward sign): span 4h pairs (x0, x2) with w4 = W_{4h}^k and (x1, x3) with
    // W_{4h}^{k+h} = w4·(−i); span 2h pairs (b0, b1) and (b2, b3) with w2 = W_{2h}^k.
    private static void Radix4Dif(double* re, double* im, long d, double w4r, double w4i, double w2r, double w2i, int count)
    {
        // w4·(−i) = w4i − i·w4r.
        double v4r = w4i, v4i = -w4r;
        double* r0 = re, r1 = re + d, r2 = re + 2 * d, r3 = re + 3 * d;
        double* i0 = im, i1 = im + d, i2 = im + 2 * d, i3 = im + 3 * d;
        int c = 0;
        if (SimdWidth.Use512)
        {
            var a4r = Vector512.Create(w4r); var a4i = Vector512.Create(w4i);
            var b4r = Vector512.Create(v4r); var b4i = Vector512.Create(v4i);
            var a2r = Vector512.Create(w2r); var a2i = Vector512.Create(w2i);
            for (; c <= count - 8; c += 8)
            {
                var x0r = Vector512.Load(r0 + c); var x0i = Vector512.Load(i0 + c);
                var x1r = Vector512.Load(r1 + c); var x1i = Vector512.Load(i1 + c);
                var x2r = Vector512.Load(r2 + c); var x2i = Vector512.Load(i2 + c);
                var x3r = Vector512.Load(r3 + c); var x3i = Vector512.Load(i3 + c);
                var b0r = x0r + x2r; var b0i = x0i + x2i;
                var b1r = x1r + x3r; var b1i = x1i + x3i;
                var e2r = x0r - x2r; var e2i = x0i - x2i;
                var e3r = x1r - x3r; var e3i = x1i - x3i;
                var b2r = e2r * a4r - e2i * a4i; var b2i = e2r * a4i + e2i * a4r;
                var b3r = e3r * b4r - e3i * b4i; var b3i = e3r * b4i + e3i * b4r;
                (b0r + b1r).Store(r0 + c); (b0i + b1i).Store(i0 + c);
                var f1r = b0r - b1r; var f1i = b0i - b1i;
                (f1r * a2r - f1i * a2i).Store(r1 + c); (f1r * a2i + f1i * a2r).Store(i1 + c);
                (b2r + b3r).Store(r2 + c); (b2i + b3i).Store(i2 + c);
                var f3r = b2r - b3r; var f3i = b2i - b3i;
                (f3r * a2r - f3i * a2i).Store(r3 + c); (f3r * a2i + f3i * a2r).Store(i3 + c);
            }
        }
        else if (SimdWidth.Use256)
        {
            var a4r = Vector256.Create(w4r); var a4i = Vector256.Create(w4i);
            var b4r = Vector256.Create(v4r); var b4i = Vector256.Create(v4i);
            var a2r = Vector256.Create(w2r); var a2i = Vector256.Create(w2i);
            for (; c <= count - 4; c += 4)
            {
                var x0r = Vector256.Load(r0 + c); var x0i = Vector256.Load(i0 + c);
                var x1r = Vector256.Load(r1 + c); var x1i = Vector256.Load(i1 + c);
                var x2r = Vector256.Load(r2 + c); var x2i = Vector256.Load(i2 + c);
                var x3r = Vector256.Load(r3 + c); var x3i = Vector256.Load(i3 + c);
                var b0r = x0r + x2r; var b0i = x0i + x2i;
                var b1r = x1r + x3r; var b1i = x1i + x3i;
                var e2r = x0r - x2r; var e2i = x0i - x2i;
                var e3r = x1r - x3r; var e3i = x1i - x3i;
                var b2r = e2r * a4r - e2i * a4i; var b2i = e2r * a4i + e2i * a4r;
                var b3r = e3r * b4r - e3i * b4i; var b3i = e3r * b4i + e3i * b4r;
                (b0r + b1r).Store(r0 + c); (b0i + b1i).Store(i0 + c);
                var f1r = b0r - b1r; var f1i = b0i - b1i;
                (f1r * a2r - f1i * a2i).Store(r1 + c); (f1r * a2i + f1i * a2r).Store(i1 + c);
                (b2r + b3r).Store(r2 + c); (b2i + b3i).Store(i2 + c);
                var f3r = b2r - b3r; var f3i = b2i - b3i;
                (f3r * a2r - f3i * a2i).Store(r3 + c); (f3r * a2i + f3i * a2r).Store(i3 + c);
            }
        }
        for (; c < count; c++)
        {
            double b0r = r0[c] + r2[c], b0i = i0[c] + i2[c], b1r = r1[c] + r3[c], b1i = i1[c] + i3[c];
            double e2r = r0[c] - r2[c], e2i = i0[c] - i2[c], e3r = r1[c] - r3[c], e3i = i1[c] - i3[c];
            double b2r = e2r * w4r - e2i * w4i, b2i = e2r * w4i + e2i * w4r;
            double b3r = e3r * v4r - e3i * v4i, b3i = e3r * v4i + e3i * v4r;
            double f1r = b0r - b1r, f1i = b0i - b1i, f3r = b2r - b3r, f3i = b2i - b3i;
            r0[c] = b0r + b1r; i0[c] = b0i + b1i;
            r1[c] = f1r * w2r - f1i * w2i; i1[c] = f1r * w2i + f1i * w2r;
            r2[c] = b2r + b3r; i2[c] = b2i + b3i;
            r3[c] = f3r * w2r - f3i * w2i; i3[c] = f3r * w2i + f3i * w2r;
        }
    }

    private static void SwapRows(double* a, double* b, int count)
    {
        int c = 0;
        if (SimdWidth.Use256 || SimdWidth.Use512)
        {
            for (; c <= count - 4; c += 4)
            {
                var x = Vector256.Load(a + c);
                Vector256.Load(b + c).Store(a + c);
                x.Store(b + c);
            }
        }
        for (; c < count; c++) (a[c], b[c]) = (b[c], a[c]);
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
