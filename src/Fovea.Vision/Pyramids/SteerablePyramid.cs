using KPyramid = Fovea.Kernels.Pyramids.SteerablePyramid;

namespace Fovea.Vision;

/// <summary>
/// Steerable pyramid (Simoncelli &amp; Freeman 1995) of an image <c>[H, W]</c> or <c>[C, H, W]</c> (float32), built in the
/// frequency domain per plane: a high-pass residual, <see cref="Scales"/> scales of <see cref="Orientations"/> oriented bands
/// (scale <c>s</c> is <c>⌈H / 2^s⌉ x ⌈W / 2^s⌉</c>) and a low-pass residual. The masks are a tight frame, so
/// <see cref="Reconstruct"/> returns the image to float rounding at every size, odd included, without padding.
/// The band tensors may be edited (coring, reweighting) before reconstructing.
/// </summary>
public sealed class SteerablePyramid
{
    private readonly KPyramid[] _planes;
    private readonly int[] _imageShape;

    private SteerablePyramid(KPyramid[] planes, int[] imageShape)
    {
        _planes = planes;
        _imageShape = imageShape;
        var p0 = planes[0];
        Scales = p0.Scales;
        Orientations = p0.Orientations;
        HighPass = Gather(p => p.HighPass, p0.Height, p0.Width);
        Bands = new Tensor[Scales, Orientations];
        for (int s = 0; s < Scales; s++)
            for (int k = 0; k < Orientations; k++) Bands[s, k] = Gather(p => p.Band(s, k), p0.BandHeight(s), p0.BandWidth(s));
        LowPass = Gather(p => p.LowPass, p0.BandHeight(Scales), p0.BandWidth(Scales));
    }

    /// <summary>Number of band-pass scales.</summary>
    public int Scales { get; }

    /// <summary>Orientations per scale; band <c>k</c> responds to structure varying along angle <c>π·k / K</c>.</summary>
    public int Orientations { get; }

    /// <summary>High-pass residual, the image's shape.</summary>
    public Tensor HighPass { get; }

    /// <summary>Oriented bands indexed <c>[scale, orientation]</c>, each <c>[.., ⌈H / 2^s⌉, ⌈W / 2^s⌉]</c>.</summary>
    public Tensor[,] Bands { get; }

    /// <summary>Low-pass residual, <c>[.., ⌈H / 2^S⌉, ⌈W / 2^S⌉]</c>.</summary>
    public Tensor LowPass { get; }

    /// <summary>The band of <paramref name="scale"/> and <paramref name="orientation"/>.</summary>
    public Tensor Band(int scale, int orientation) => Bands[scale, orientation];

    /// <summary>Largest scale count for a <paramref name="width"/> x <paramref name="height"/> image: <c>⌊log2 min(W, H)⌋</c>.</summary>
    public static int MaxScales(int width, int height) => KPyramid.MaxScales(width, height);

    /// <summary>Decomposes <paramref name="image"/> into <paramref name="scales"/> scales of <paramref name="orientations"/> bands (1 to 16).</summary>
    public static SteerablePyramid Build(Tensor image, int scales, int orientations = 4)
    {
        var (x, planes, h, w) = SteerableFilter.Planes("steerable_pyramid", image);
        if (scales < 0 || scales > MaxScales(w, h))
            throw new ArgumentOutOfRangeException(nameof(scales), scales, $"steerable_pyramid: scales must be in [0, {MaxScales(w, h)}] for {ShapeChecks.Format(image.Shape)}, got {scales}.");
        if (orientations < 1 || orientations > 16)
            throw new ArgumentOutOfRangeException(nameof(orientations), orientations, $"steerable_pyramid: orientations must be in [1, 16], got {orientations}.");
        ReadOnlySpan<float> s = x.AsSpan<float>();
        var built = new KPyramid[planes];
        for (int p = 0; p < planes; p++) built[p] = KPyramid.Build(s.Slice(p * h * w, h * w), w, h, scales, orientations);
        return new SteerablePyramid(built, image.Shape);
    }

    /// <summary>Collapses the (possibly edited) bands and residuals into an image of the original shape.</summary>
    public Tensor Reconstruct()
    {
        Scatter(HighPass, p => p.HighPass);
        for (int s = 0; s < Scales; s++)
            for (int k = 0; k < Orientations; k++) Scatter(Bands[s, k], p => p.Band(s, k));
        Scatter(LowPass, p => p.LowPass);
        var y = Tensor.Zeros(_imageShape, DType.Float32);
        Span<float> d = y.AsSpan<float>();
        int n = _planes[0].Width * _planes[0].Height;
        for (int p = 0; p < _planes.Length; p++) _planes[p].Reconstruct(d.Slice(p * n, n));
        return y;
    }

    private Tensor Gather(Func<KPyramid, float[]> part, int h, int w)
    {
        int[] shape = (int[])_imageShape.Clone();
        shape[^2] = h;
        shape[^1] = w;
        var t = Tensor.Zeros(shape, DType.Float32);
        Span<float> d = t.AsSpan<float>();
        for (int p = 0; p < _planes.Length; p++) part(_planes[p]).CopyTo(d.Slice(p * h * w, h * w));
        return t;
    }

    private void Scatter(Tensor t, Func<KPyramid, float[]> part)
    {
        var c = t.Contiguous();
        int n = part(_planes[0]).Length;
        if (c.Numel != n * _planes.Length || c.DType != DType.Float32)
            throw new ShapeException("steerable_pyramid.reconstruct", $"a band was replaced by a tensor of shape {ShapeChecks.Format(t.Shape)} ({t.DType.Name()}); keep each band's shape and float32");
        ReadOnlySpan<float> s = c.AsSpan<float>();
        for (int p = 0; p < _planes.Length; p++) s.Slice(p * n, n).CopyTo(part(_planes[p]));
    }
}
