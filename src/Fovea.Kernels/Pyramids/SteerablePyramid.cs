using FftApi = Fovea.Kernels.Fft.Fft;

namespace Fovea.Kernels.Pyramids;

/// <summary>
/// Steerable pyramid (Simoncelli &amp; Freeman 1995) built in the frequency domain, like pyrtools' SteerablePyramidFreq:
/// a high-pass residual, <see cref="Scales"/> scales of <see cref="Orientations"/> oriented bands, and a low-pass residual.
/// With <c>r</c> the radial frequency (1 at the axis Nyquist frequency of the image) and <c>θ</c> its angle (y down),
/// <list type="bullet">
/// <item>high/low split: <c>hi0 = sin(π/2·t)</c>, <c>lo0 = cos(π/2·t)</c>, <c>t = clamp(log2 r + 1, 0, 1)</c> (raised cosine in log r);</item>
/// <item>scale <c>s</c>: <c>hi_s</c>, <c>lo_s</c> the same with <c>t = clamp(log2 r + 2 + s, 0, 1)</c>, one octave lower each scale;</item>
/// <item>orientation <c>k</c>: <c>A_k(θ) = α_K cos^{K−1}(θ − πk/K)</c>, <c>α_K = 2^{K−1}(K−1)! / sqrt(K·(2K−2)!)</c>, so <c>Σ_k A_k² = 1</c>.</item>
/// </list>
/// Band <c>(s, k)</c> is the real inverse DFT of <c>Y_s·hi_s·A_k·(−i)^{K−1}</c> (Hermitian, so real), and
/// <c>Y_{s+1}</c> keeps the central <c>⌈M/2⌉</c> frequencies of <c>Y_s·lo_s</c>. Since <c>hi² + lo² = 1</c> at every split and
/// <c>lo_s</c> vanishes outside the kept block (and on its unpaired Nyquist row), collapsing with the conjugate masks
/// returns the image to double rounding at every size, odd or even, with no padding. Spectra are rescaled on each crop
/// so that the bands of every scale keep the image's amplitude.
/// </summary>
public sealed class SteerablePyramid
{
    private readonly int[] _w, _h;

    private SteerablePyramid(int width, int height, int scales, int orientations)
    {
        Scales = scales;
        Orientations = orientations;
        _w = new int[scales + 1];
        _h = new int[scales + 1];
        _w[0] = width;
        _h[0] = height;
        for (int s = 1; s <= scales; s++)
        {
            _w[s] = (_w[s - 1] + 1) / 2;
            _h[s] = (_h[s - 1] + 1) / 2;
        }
        HighPass = new float[width * height];
        Bands = new float[scales * orientations][];
        for (int s = 0; s < scales; s++)
            for (int k = 0; k < orientations; k++) Bands[s * orientations + k] = new float[_w[s] * _h[s]];
        LowPass = new float[_w[scales] * _h[scales]];
    }

    /// <summary>Number of band-pass scales.</summary>
    public int Scales { get; }

    /// <summary>Number of orientations per scale.</summary>
    public int Orientations { get; }

    /// <summary>Image width.</summary>
    public int Width => _w[0];

    /// <summary>Image height.</summary>
    public int Height => _h[0];

    /// <summary>High-pass residual, <c>[Height, Width]</c>.</summary>
    public float[] HighPass { get; }

    /// <summary>Oriented bands, index <c>scale·Orientations + orientation</c>; band of scale <c>s</c> is <c>[BandHeight(s), BandWidth(s)]</c>.</summary>
    public float[][] Bands { get; }

    /// <summary>Low-pass residual, <c>[BandHeight(Scales), BandWidth(Scales)]</c>.</summary>
    public float[] LowPass { get; }

    /// <summary>Width of the bands of scale <paramref name="scale"/> (<c>Scales</c> gives the low-pass residual's): <c>⌈W / 2^s⌉</c>.</summary>
    public int BandWidth(int scale) => _w[scale];

    /// <summary>Height of the bands of scale <paramref name="scale"/>: <c>⌈H / 2^s⌉</c>.</summary>
    public int BandHeight(int scale) => _h[scale];

    /// <summary>The band of scale <paramref name="scale"/> and orientation <paramref name="orientation"/> (angle π·orientation/K).</summary>
    public float[] Band(int scale, int orientation) => Bands[scale * Orientations + orientation];

    /// <summary>Largest scale count for which every band is at least 1x1 and distinct: <c>⌊log2 min(W, H)⌋</c>.</summary>
    public static int MaxScales(int width, int height) => Math.Max(0, (int)Math.Floor(Math.Log2(Math.Min(width, height))));

    /// <summary>Decomposes a <c>[height, width]</c> plane.</summary>
    public static SteerablePyramid Build(ReadOnlySpan<float> image, int width, int height, int scales, int orientations = 4)
    {
        Filtering.PyrKernels.CheckPlane(image.Length, width, height, nameof(image), "SteerablePyramid");
        if (scales < 0 || scales > MaxScales(width, height))
            throw new ArgumentOutOfRangeException(nameof(scales), scales, $"SteerablePyramid: scales must be in [0, {MaxScales(width, height)}] for {width}x{height}.");
        if (orientations < 1 || orientations > 16)
            throw new ArgumentOutOfRangeException(nameof(orientations), orientations, "SteerablePyramid: orientations must be in [1, 16].");
        var p = new SteerablePyramid(width, height, scales, orientations);
        int n = width * height;
        var re = new double[n];
        var im = new double[n];
        for (int i = 0; i < n; i++) re[i] = image[i];
        FftApi.Forward2D(re, im, width, height);

        // High-pass residual from X·hi0; the rest continues as Y_0 = X·lo0.
        var hr = (double[])re.Clone();
        var hi = (double[])im.Clone();
        ApplyRadial(hr, hi, width, height, width, height, shift: 1, high: true);
        ToSpatial(hr, hi, width, height, p.HighPass);
        ApplyRadial(re, im, width, height, width, height, shift: 1, high: false);

        for (int s = 0; s < scales; s++)
        {
            int w = p._w[s], h = p._h[s];
            for (int k = 0; k < orientations; k++)
            {
                var br = (double[])re.Clone();
                var bi = (double[])im.Clone();
                ApplyBand(br, bi, w, h, width, height, s, k, orientations, conjugate: false);
                ToSpatial(br, bi, w, h, p.Band(s, k));
            }
            ApplyRadial(re, im, w, h, width, height, shift: 2 + s, high: false);
            (re, im) = Crop(re, im, w, h, p._w[s + 1], p._h[s + 1]);
        }
        ToSpatial(re, im, p._w[scales], p._h[scales], p.LowPass);
        return p;
    }

    /// <summary>Collapses the pyramid into <paramref name="output"/> (<c>[Height, Width]</c>).</summary>
    public void Reconstruct(Span<float> output)
    {
        Filtering.PyrKernels.CheckPlane(output.Length, Width, Height, nameof(output), "SteerablePyramid.Reconstruct");
        int width = Width, height = Height;
        (double[] re, double[] im) = ToSpectrum(LowPass, _w[Scales], _h[Scales]);
        for (int s = Scales - 1; s >= 0; s--)
        {
            int w = _w[s], h = _h[s];
            (re, im) = Pad(re, im, _w[s + 1], _h[s + 1], w, h);
            ApplyRadial(re, im, w, h, width, height, shift: 2 + s, high: false);
            for (int k = 0; k < Orientations; k++)
            {
                (double[] br, double[] bi) = ToSpectrum(Band(s, k), w, h);
                ApplyBand(br, bi, w, h, width, height, s, k, Orientations, conjugate: true);
                for (int i = 0; i < re.Length; i++) { re[i] += br[i]; im[i] += bi[i]; }
            }
        }
        ApplyRadial(re, im, width, height, width, height, shift: 1, high: false);
        (double[] hr, double[] hi) = ToSpectrum(HighPass, width, height);
        ApplyRadial(hr, hi, width, height, width, height, shift: 1, high: true);
        for (int i = 0; i < re.Length; i++) { re[i] += hr[i]; im[i] += hi[i]; }
        FftApi.Inverse2D(re, im, width, height);
        for (int i = 0; i < output.Length && i < re.Length; i++) output[i] = (float)re[i];
    }

    /// <summary><c>α_K = 2^{K−1}(K−1)! / sqrt(K·(2K−2)!)</c>, which makes <c>Σ_k α_K² cos^{2(K−1)}(θ − πk/K) = 1</c>.</summary>
    public static double AngularConstant(int orientations)
    {
        int o = orientations - 1;
        double f = 1, f2 = 1;
        for (int i = 2; i <= o; i++) f *= i;
        for (int i = 2; i <= 2 * o; i++) f2 *= i;
        return Math.Pow(2, o) * f / Math.Sqrt(orientations * f2);
    }

    // Signed frequency of DFT index k on an m-point grid, in cycles per sample of an n-point grid of the same spacing.
    private static double Freq(int k, int m, int n) => (k < (m + 1) / 2 ? k : k - m) / (double)n;

    // Multiplies by the raised-cosine high (sin) or low (cos) mask with t = clamp(log2 r + shift, 0, 1).
    private static void ApplyRadial(double[] re, double[] im, int w, int h, int width, int height, int shift, bool high)
    {
        for (int y = 0; y < h; y++)
        {
            double fy = Freq(y, h, height);
            for (int x = 0; x < w; x++)
            {
                double fx = Freq(x, w, width);
                double r = 2 * Math.Sqrt(fx * fx + fy * fy);
                double m = Radial(r, shift, high);
                re[y * w + x] *= m;
                im[y * w + x] *= m;
            }
        }
    }

    private static double Radial(double r, int shift, bool high)
    {
        double t = r <= 0 ? 0 : Math.Clamp(Math.Log2(r) + shift, 0, 1);
        // Exact 0 and 1 at the ends, so the kept block edge and the unpaired Nyquist row are exactly zero.
        if (t <= 0) return high ? 0 : 1;
        if (t >= 1) return high ? 1 : 0;
        return high ? Math.Sin(Math.PI / 2 * t) : Math.Cos(Math.PI / 2 * t);
    }

    // Band mask hi_s·A_k·(−i)^{K−1} (its conjugate when collapsing).
    private static void ApplyBand(double[] re, double[] im, int w, int h, int width, int height, int s, int k, int orientations, bool conjugate)
    {
        double alpha = AngularConstant(orientations);
        double theta0 = Math.PI * k / orientations;
        int order = orientations - 1;
        // (−i)^order = e^{−iπ order/2}: a quarter-turn per order.
        double pr = Math.Round(Math.Cos(-Math.PI / 2 * order)), pi = Math.Round(Math.Sin(-Math.PI / 2 * order));
        if (conjugate) pi = -pi;
        for (int y = 0; y < h; y++)
        {
            double fy = Freq(y, h, height);
            for (int x = 0; x < w; x++)
            {
                double fx = Freq(x, w, width);
                double r = 2 * Math.Sqrt(fx * fx + fy * fy);
                double radial = Radial(r, 2 + s, high: true);
                int i = y * w + x;
                if (radial == 0)
                {
                    re[i] = 0;
                    im[i] = 0;
                    continue;
                }
                double m = radial * alpha * Math.Pow(Math.Cos(Math.Atan2(fy, fx) - theta0), order);
                double a = re[i], b = im[i];
                re[i] = m * (a * pr - b * pi);
                im[i] = m * (a * pi + b * pr);
            }
        }
    }

    // Keeps the frequencies of a (w2 x h2) grid out of a (w x h) one, scaled by the area ratio so amplitudes carry over.
    private static (double[], double[]) Crop(double[] re, double[] im, int w, int h, int w2, int h2)
    {
        var r2 = new double[w2 * h2];
        var i2 = new double[w2 * h2];
        double scale = (double)w2 * h2 / ((double)w * h);
        for (int y = 0; y < h2; y++)
        {
            int sy = Source(y, h2, h);
            for (int x = 0; x < w2; x++)
            {
                int sx = Source(x, w2, w);
                r2[y * w2 + x] = re[sy * w + sx] * scale;
                i2[y * w2 + x] = im[sy * w + sx] * scale;
            }
        }
        return (r2, i2);
    }

    private static (double[], double[]) Pad(double[] re, double[] im, int w2, int h2, int w, int h)
    {
        var r = new double[w * h];
        var i = new double[w * h];
        double scale = (double)w * h / ((double)w2 * h2);
        for (int y = 0; y < h2; y++)
        {
            int sy = Source(y, h2, h);
            for (int x = 0; x < w2; x++)
            {
                int sx = Source(x, w2, w);
                r[sy * w + sx] = re[y * w2 + x] * scale;
                i[sy * w + sx] = im[y * w2 + x] * scale;
            }
        }
        return (r, i);
    }

    // Index on an m-point grid of the signed frequency held at index k of an m2-point grid (m2 ≤ m).
    private static int Source(int k, int m2, int m)
    {
        int q = k < (m2 + 1) / 2 ? k : k - m2;
        return q >= 0 ? q : q + m;
    }

    private static void ToSpatial(double[] re, double[] im, int w, int h, float[] dst)
    {
        FftApi.Inverse2D(re, im, w, h);
        for (int i = 0; i < dst.Length; i++) dst[i] = (float)re[i];
    }

    private static (double[], double[]) ToSpectrum(float[] src, int w, int h)
    {
        var re = new double[w * h];
        var im = new double[w * h];
        for (int i = 0; i < re.Length; i++) re[i] = src[i];
        FftApi.Forward2D(re, im, w, h);
        return (re, im);
    }
}
