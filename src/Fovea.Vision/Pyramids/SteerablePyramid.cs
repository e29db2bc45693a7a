using Fovea.Backends;

namespace Fovea.Vision;

/// <summary>
/// Steerable pyramid (Simoncelli &amp; Freeman 1995) of an image <c>[H, W]</c> or <c>[C, H, W]</c> (float32), built in the
/// frequency domain like pyrtools' SteerablePyramidFreq: a high-pass residual, <see cref="Scales"/> scales of
/// <see cref="Orientations"/> oriented bands (scale <c>s</c> is <c>⌈H / 2^s⌉ x ⌈W / 2^s⌉</c>) and a low-pass residual.
/// With <c>r</c> the radial frequency (1 at the axis Nyquist frequency of the image) and <c>θ</c> its angle (y down),
/// <list type="bullet">
/// <item>high/low split: <c>hi0 = sin(π/2·t)</c>, <c>lo0 = cos(π/2·t)</c>, <c>t = clamp(log2 r + 1, 0, 1)</c> (raised cosine in log r);</item>
/// <item>scale <c>s</c>: <c>hi_s</c>, <c>lo_s</c> the same with <c>t = clamp(log2 r + 2 + s, 0, 1)</c>, one octave lower each scale;</item>
/// <item>orientation <c>k</c>: <c>A_k(θ) = α_K cos^{K−1}(θ − πk/K)</c>, <c>α_K = 2^{K−1}(K−1)! / sqrt(K·(2K−2)!)</c>, so <c>Σ_k A_k² = 1</c>.</item>
/// </list>
/// Band <c>(s, k)</c> is the real inverse DFT of <c>Y_s·hi_s·A_k·(−i)^{K−1}</c> (Hermitian, so real), and <c>Y_{s+1}</c> keeps the
/// central <c>⌈M/2⌉</c> frequencies of <c>Y_s·lo_s</c>, rescaled so every scale keeps the image's amplitude. Since
/// <c>hi² + lo² = 1</c> at every split and <c>lo_s</c> vanishes outside the kept block (and on its unpaired Nyquist row), the
/// masks are a tight frame: <see cref="Reconstruct"/> returns the image to float rounding at every size, odd included, without
/// padding. The DFTs run on the current backend (<see cref="IBackend.Fft2d"/>), every plane at once.
/// The band tensors may be edited (coring, reweighting) before reconstructing.
/// </summary>
public sealed class SteerablePyramid
{
    private readonly int[] _imageShape;
    private readonly int[] _w, _h;
    private readonly int _planes;

    private SteerablePyramid(int[] imageShape, int scales, int orientations)
    {
        _imageShape = imageShape;
        Scales = scales;
        Orientations = orientations;
        _w = new int[scales + 1];
        _h = new int[scales + 1];
        _w[0] = imageShape[^1];
        _h[0] = imageShape[^2];
        for (int s = 1; s <= scales; s++)
        {
            _w[s] = (_w[s - 1] + 1) / 2;
            _h[s] = (_h[s - 1] + 1) / 2;
        }
        _planes = imageShape.Aggregate(1, (a, b) => a * b) / (_w[0] * _h[0]);
        Bands = new Tensor[scales, orientations];
        HighPass = LowPass = null!; // set by Build
    }

    /// <summary>Number of band-pass scales.</summary>
    public int Scales { get; }

    /// <summary>Orientations per scale; band <c>k</c> responds to structure varying along angle <c>π·k / K</c>.</summary>
    public int Orientations { get; }

    /// <summary>High-pass residual, the image's shape.</summary>
    public Tensor HighPass { get; private set; }

    /// <summary>Oriented bands indexed <c>[scale, orientation]</c>, each <c>[.., ⌈H / 2^s⌉, ⌈W / 2^s⌉]</c>.</summary>
    public Tensor[,] Bands { get; }

    /// <summary>Low-pass residual, <c>[.., ⌈H / 2^S⌉, ⌈W / 2^S⌉]</c>.</summary>
    public Tensor LowPass { get; private set; }

    /// <summary>The band of <paramref name="scale"/> and <paramref name="orientation"/>.</summary>
    public Tensor Band(int scale, int orientation) => Bands[scale, orientation];

    /// <summary>Largest scale count for a <paramref name="width"/> x <paramref name="height"/> image, for which every band is
    /// at least 1x1 and distinct: <c>⌊log2 min(W, H)⌋</c>.</summary>
    public static int MaxScales(int width, int height) => Math.Max(0, (int)Math.Floor(Math.Log2(Math.Min(width, height))));

    /// <summary><c>α_K = 2^{K−1}(K−1)! / sqrt(K·(2K−2)!)</c>, which makes <c>Σ_k α_K² cos^{2(K−1)}(θ − πk/K) = 1</c>.</summary>
    public static double AngularConstant(int orientations)
    {
        int o = orientations - 1;
        double f = 1, f2 = 1;
        for (int i = 2; i <= o; i++) f *= i;
        for (int i = 2; i <= 2 * o; i++) f2 *= i;
        return Math.Pow(2, o) * f / Math.Sqrt(orientations * f2);
    }

    /// <summary>Decomposes <paramref name="image"/> into <paramref name="scales"/> scales of <paramref name="orientations"/> bands (1 to 16).</summary>
    public static SteerablePyramid Build(Tensor image, int scales, int orientations = 4)
    {
        var (x, _, h, w) = SteerableFilter.Planes("steerable_pyramid", image);
        if (scales < 0 || scales > MaxScales(w, h))
            throw new ArgumentOutOfRangeException(nameof(scales), scales, $"steerable_pyramid: scales must be in [0, {MaxScales(w, h)}] for {ShapeChecks.Format(image.Shape)}, got {scales}.");
        if (orientations < 1 || orientations > 16)
            throw new ArgumentOutOfRangeException(nameof(orientations), orientations, $"steerable_pyramid: orientations must be in [1, 16], got {orientations}.");
        var p = new SteerablePyramid(image.Shape, scales, orientations);
        var spectrum = p.Transform(new Spectrum(x.To(DType.Float64).ToArray<double>(), new double[x.Numel]), 0, inverse: false);

        // High-pass residual from X·hi0; the rest continues as Y_0 = X·lo0.
        var high = spectrum.Copy();
        p.ApplyRadial(high, 0, shift: 1, high: true);
        p.HighPass = p.ToSpatial(high, 0);
        p.ApplyRadial(spectrum, 0, shift: 1, high: false);
        for (int s = 0; s < scales; s++)
        {
            for (int k = 0; k < orientations; k++)
            {
                var band = spectrum.Copy();
                p.ApplyBand(band, s, k, conjugate: false);
                p.Bands[s, k] = p.ToSpatial(band, s);
            }
            p.ApplyRadial(spectrum, s, shift: 2 + s, high: false);
            spectrum = p.Crop(spectrum, s);
        }
        p.LowPass = p.ToSpatial(spectrum, scales);
        return p;
    }

    /// <summary>Collapses the (possibly edited) bands and residuals into an image of the original shape.</summary>
    public Tensor Reconstruct()
    {
        var spectrum = ToSpectrum(LowPass, Scales);
        for (int s = Scales - 1; s >= 0; s--)
        {
            spectrum = Pad(spectrum, s);
            ApplyRadial(spectrum, s, shift: 2 + s, high: false);
            for (int k = 0; k < Orientations; k++)
            {
                var band = ToSpectrum(Bands[s, k], s);
                ApplyBand(band, s, k, conjugate: true);
                spectrum.Add(band);
            }
        }
        ApplyRadial(spectrum, 0, shift: 1, high: false);
        var high = ToSpectrum(HighPass, 0);
        ApplyRadial(high, 0, shift: 1, high: true);
        spectrum.Add(high);
        return ToSpatial(spectrum, 0);
    }

    // Every plane's spectrum at one scale, planes back to back.
    private sealed record Spectrum(double[] Re, double[] Im)
    {
        public Spectrum Copy() => new((double[])Re.Clone(), (double[])Im.Clone());

        public void Add(Spectrum other)
        {
            for (int i = 0; i < Re.Length; i++)
            {
                Re[i] += other.Re[i];
                Im[i] += other.Im[i];
            }
        }
    }

    private Spectrum Transform(Spectrum x, int scale, bool inverse)
    {
        int[] shape = [_planes, _h[scale], _w[scale]];
        var (re, im) = Backend.Current.Fft2d(Tensor.FromArray(x.Re, shape), Tensor.FromArray(x.Im, shape), inverse);
        return new Spectrum(re.ToArray<double>(), im.ToArray<double>());
    }

    private Tensor ToSpatial(Spectrum x, int scale)
    {
        int[] shape = (int[])_imageShape.Clone();
        shape[^2] = _h[scale];
        shape[^1] = _w[scale];
        return Tensor.FromArray(Transform(x, scale, inverse: true).Re, shape).To(DType.Float32);
    }

    private Spectrum ToSpectrum(Tensor part, int scale)
    {
        int n = _planes * _h[scale] * _w[scale];
        if (part.Numel != n || part.DType != DType.Float32)
            throw new ShapeException("steerable_pyramid.reconstruct", $"a band was replaced by a tensor of shape {ShapeChecks.Format(part.Shape)} ({part.DType.Name()}); keep each band's shape and float32");
        return Transform(new Spectrum(part.To(DType.Float64).Contiguous().ToArray<double>(), new double[n]), scale, inverse: false);
    }

    // Signed frequency of DFT index k on an m-point grid, in cycles per sample of an n-point grid of the same spacing.
    private static double Freq(int k, int m, int n) => (k < (m + 1) / 2 ? k : k - m) / (double)n;

    // Multiplies every plane by mask(fx, fy) at each frequency of the scale's grid.
    private void ApplyMask(Spectrum x, int scale, Func<double, double, (double Re, double Im)> mask)
    {
        int w = _w[scale], h = _h[scale], n = w * h;
        for (int y = 0; y < h; y++)
        {
            double fy = Freq(y, h, _h[0]);
            for (int u = 0; u < w; u++)
            {
                var (mr, mi) = mask(Freq(u, w, _w[0]), fy);
                for (int p = 0; p < _planes; p++)
                {
                    int i = p * n + y * w + u;
                    double a = x.Re[i], b = x.Im[i];
                    x.Re[i] = a * mr - b * mi;
                    x.Im[i] = a * mi + b * mr;
                }
            }
        }
    }

    // The raised-cosine high (sin) or low (cos) mask with t = clamp(log2 r + shift, 0, 1).
    private void ApplyRadial(Spectrum x, int scale, int shift, bool high)
        => ApplyMask(x, scale, (fx, fy) => (Radial(2 * Math.Sqrt(fx * fx + fy * fy), shift, high), 0));

    private static double Radial(double r, int shift, bool high)
    {
        double t = r <= 0 ? 0 : Math.Clamp(Math.Log2(r) + shift, 0, 1);
        // Exact 0 and 1 at the ends, so the kept block edge and the unpaired Nyquist row are exactly zero.
        if (t <= 0) return high ? 0 : 1;
        if (t >= 1) return high ? 1 : 0;
        return high ? Math.Sin(Math.PI / 2 * t) : Math.Cos(Math.PI / 2 * t);
    }

    // Band mask hi_s·A_k·(−i)^{K−1} (its conjugate when collapsing).
    private void ApplyBand(Spectrum x, int s, int k, bool conjugate)
    {
        double alpha = AngularConstant(Orientations);
        double theta0 = Math.PI * k / Orientations;
        int order = Orientations - 1;
        // (−i)^order = e^{−iπ order/2}: a quarter-turn per order.
        double pr = Math.Round(Math.Cos(-Math.PI / 2 * order)), pi = Math.Round(Math.Sin(-Math.PI / 2 * order));
        if (conjugate) pi = -pi;
        ApplyMask(x, s, (fx, fy) =>
        {
            double radial = Radial(2 * Math.Sqrt(fx * fx + fy * fy), 2 + s, high: true);
            if (radial == 0) return (0, 0);
            double m = radial * alpha * Math.Pow(Math.Cos(Math.Atan2(fy, fx) - theta0), order);
            return (m * pr, m * pi);
        });
    }

    // Keeps the frequencies of scale s + 1's grid out of scale s's, scaled by the area ratio so amplitudes carry over.
    private Spectrum Crop(Spectrum x, int s) => Move(x, s, s + 1, toCoarse: true);

    // Places scale s + 1's frequencies back into scale s's grid (zero elsewhere), the inverse scaling of Crop.
    private Spectrum Pad(Spectrum x, int s) => Move(x, s, s + 1, toCoarse: false);

    private Spectrum Move(Spectrum x, int fine, int coarse, bool toCoarse)
    {
        int w = _w[fine], h = _h[fine], w2 = _w[coarse], h2 = _h[coarse];
        int fineN = w * h, coarseN = w2 * h2;
        var result = new Spectrum(new double[_planes * (toCoarse ? coarseN : fineN)], new double[_planes * (toCoarse ? coarseN : fineN)]);
        double scale = toCoarse ? (double)coarseN / fineN : (double)fineN / coarseN;
        for (int p = 0; p < _planes; p++)
            for (int y = 0; y < h2; y++)
            {
                int sy = Source(y, h2, h);
                for (int u = 0; u < w2; u++)
                {
                    int f = p * fineN + sy * w + Source(u, w2, w), c = p * coarseN + y * w2 + u;
                    (int from, int to) = toCoarse ? (f, c) : (c, f);
                    result.Re[to] = x.Re[from] * scale;
                    result.Im[to] = x.Im[from] * scale;
                }
            }
        return result;
    }

    // Index on an m-point grid of the signed frequency held at index k of an m2-point grid (m2 ≤ m).
    private static int Source(int k, int m2, int m)
    {
        int q = k < (m2 + 1) / 2 ? k : k - m2;
        return q >= 0 ? q : q + m;
    }
}
