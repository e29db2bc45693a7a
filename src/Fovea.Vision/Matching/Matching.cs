using Fovea.Backends;

namespace Fovea.Vision;

/// <summary>
/// Template matching on tensors (<c>[H, W]</c> or <c>[1, H, W]</c>; float64 is converted to float32), equal to OpenCV's
/// <c>matchTemplate</c> to 1e-4, with scikit-image's centred same-size mode as an option.
/// <para>Conventions where the libraries disagree: a flat template or a flat window scores 0 under NCC (OpenCV gives 1 for
/// a flat template, scikit-image NaN or 0); normalised scores are clamped to [−1, 1] (SQDIFF_NORMED to [0, 1]); CCORR_NORMED
/// is 0 where either energy is 0 and SQDIFF_NORMED is 1 there.</para>
/// </summary>
public static partial class Matching
{
    /// <summary>
    /// Scores every placement of <paramref name="template"/> (<c>[h, w]</c>) in <paramref name="image"/> (<c>[H, W]</c>) by
    /// <paramref name="method"/> (default NCC, OpenCV's TM_CCOEFF_NORMED; see <see cref="TemplateMatchMethod"/> for the formulas).
    /// <para>Without <paramref name="padInput"/> the map is <c>[H − h + 1, W − w + 1]</c>, entry <c>(y, x)</c> scoring the template
    /// with its top-left corner at <c>(x, y)</c> (OpenCV's layout).</para>
    /// <para>With <paramref name="padInput"/> the map is <c>[H, W]</c> and entry <c>(y, x)</c> scores the template with its centre
    /// <c>(h / 2, w / 2)</c> (integer division) at <c>(x, y)</c>, i.e. its top-left corner at <c>(x − w / 2, y − h / 2)</c>, as
    /// scikit-image's <c>match_template(image, template, pad_input=True, mode='constant', constant_values=padValue)</c>:
    /// the image is extended by the constant <paramref name="padValue"/> (scikit-image's default 0; its early releases
    /// used the image mean, which <c>padValue: image.Mean().ToScalar()</c> reproduces), so windows that hang over the edge
    /// are scored against that constant.</para>
    /// </summary>
    public static Tensor MatchTemplate(Tensor image, Tensor template, TemplateMatchMethod method = TemplateMatchMethod.CCoeffNormed,
        bool padInput = false, double padValue = 0)
    {
        var (img, tpl) = MatchInputs(image, template, method);
        int h = img.Size(0), w = img.Size(1), th = tpl.Size(0), tw = tpl.Size(1);
        var src = img;
        if (padInput)
        {
            // Output (y, x) has top-left (y − h/2, x − w/2), so rows −th/2 .. H − 1 − th/2 + th − 1 are read: th/2 rows of
            // padding above and th − 1 − th/2 below (same along x).
            src = Tensor.Full([h + th - 1, w + tw - 1], (float)padValue);
            src.Narrow(0, th / 2, h).Narrow(1, tw / 2, w).CopyFrom(img);
        }
        return Backend.Current.MatchTemplate(src, tpl, method);
    }

    /// <summary>
    /// <see cref="MatchTemplate(Tensor, Tensor, TemplateMatchMethod, bool, double)"/> without padding, written into
    /// <paramref name="output"/> and returned, as OpenCV's <c>matchTemplate(image, templ, result, method)</c>: a loop over the
    /// frames of a video reuses one score map instead of allocating <c>(H − h + 1)·(W − w + 1)</c> floats a call (16 MB for
    /// a 64x64 template in a 2048² image). <paramref name="output"/> must be a contiguous float32 <c>[H − h + 1, W − w + 1]</c>
    /// tensor that shares no memory with the image or the template.
    /// </summary>
    public static Tensor MatchTemplate(Tensor image, Tensor template, Tensor output, TemplateMatchMethod method = TemplateMatchMethod.CCoeffNormed)
    {
        ArgumentNullException.ThrowIfNull(output);
        var (img, tpl) = MatchInputs(image, template, method);
        return Backend.Current.MatchTemplate(img, tpl, method, output);
    }

    /// <summary>The image and template as float32 planes <c>[H, W]</c>, checked: the template fits, the method is one.</summary>
    private static (Tensor Image, Tensor Template) MatchInputs(Tensor image, Tensor template, TemplateMatchMethod method)
    {
        var (img, h, w) = Plane("match_template", image, "image");
        var (tpl, th, tw) = Plane("match_template", template, "template");
        if (th > h || tw > w)
            throw new ShapeException("match_template", $"template must fit inside the image, got template {ShapeChecks.Format(template.Shape)} and image {ShapeChecks.Format(image.Shape)}");
        if (!Enum.IsDefined(method)) throw new ArgumentOutOfRangeException(nameof(method), method, "match_template: unknown method.");
        return (img, tpl);
    }

    /// <summary>
    /// Up to <paramref name="k"/> best peaks of a score map <c>[H, W]</c> (or <c>[1, H, W]</c>), best first, with non-maximum
    /// suppression: a peak closer than <paramref name="minDistance"/> (Chebyshev) to a better accepted one is dropped. Use
    /// <paramref name="lowerIsBetter"/> for SQDIFF maps. Ties go to the earlier row-major position.
    /// </summary>
    public static Peak[] FindPeaks(Tensor map, int k, int minDistance = 1, bool lowerIsBetter = false)
    {
        var (m, h, w) = Plane("find_peaks", map, "map");
        return PeakFinder.FindPeaks(m.Contiguous().AsSpan<float>(), w, h, k, minDistance, lowerIsBetter);
    }

    /// <summary>True for the methods where a lower score is a better match (the SQDIFF family).</summary>
    public static bool LowerIsBetter(TemplateMatchMethod method) => method is TemplateMatchMethod.SqDiff or TemplateMatchMethod.SqDiffNormed;

    private static (Tensor Plane, int H, int W) Plane(string op, Tensor t, string name)
    {
        ArgumentNullException.ThrowIfNull(t, name);
        bool ok = t.Rank == 2 || (t.Rank == 3 && t.Size(0) == 1);
        if (!ok)
            throw new ShapeException(op, $"{name} must be one plane [H, W] or [1, H, W], got {ShapeChecks.Format(t.Shape)} (convert colour with Grayscale.ToGray)");
        if (t.Numel == 0) throw new ShapeException(op, $"{name} must not be empty, got {ShapeChecks.Format(t.Shape)}");
        if (!t.DType.IsFloating()) throw new DTypeException(op, $"{name} must be float32 or float64, got {t.DType.Name()}");
        var f = t.DType == DType.Float32 ? t : t.To(DType.Float32);
        return (f.Reshape(t.Size(-2), t.Size(-1)), t.Size(-2), t.Size(-1));
    }
}
