namespace Fovea.Backends;

/// <summary>
/// Scores of <see cref="IBackend.MatchTemplate"/>, named and defined as OpenCV's <c>TM_*</c> methods, with
/// <c>I</c> the image window under the template <c>T</c> (both <c>h x w</c>, <c>n = h·w</c>) and <c>I'</c>, <c>T'</c> their
/// mean-subtracted versions.
/// </summary>
public enum TemplateMatchMethod
{
    /// <summary><c>Σ (T − I)²</c> (TM_SQDIFF); lower is better.</summary>
    SqDiff,
    /// <summary><c>Σ (T − I)² / sqrt(Σ T² · Σ I²)</c>, clamped to [0, 1] (TM_SQDIFF_NORMED); lower is better.
    /// Where <c>Σ T²·Σ I²</c> is zero the score is 1.</summary>
    SqDiffNormed,
    /// <summary><c>Σ T·I</c> (TM_CCORR).</summary>
    CCorr,
    /// <summary><c>Σ T·I / sqrt(Σ T² · Σ I²)</c>, clamped to [−1, 1] (TM_CCORR_NORMED); 0 where either energy is zero.</summary>
    CCorrNormed,
    /// <summary><c>Σ T'·I'</c> (TM_CCOEFF).</summary>
    CCoeff,
    /// <summary>
    /// Normalised cross-correlation <c>Σ T'·I' / sqrt(Σ T'² · Σ I'²)</c>, clamped to [−1, 1] (TM_CCOEFF_NORMED).
    /// A flat template or a flat window scores 0 (OpenCV gives 1 for a flat template; scikit-image gives NaN or 1).
    /// A window is flat when <c>Σ I'² ≤ min(0.5, 10·FLT_EPSILON·Σ I²)</c>, a template when <c>Σ T'² ≤ 10·FLT_EPSILON·Σ T²</c>.
    /// </summary>
    CCoeffNormed,
}

/// <summary>
/// The score map a caller passes to <see cref="IBackend.MatchTemplate"/> to be written into, checked the same way by every
/// backend: float32, contiguous, exactly the map's shape, sharing no memory with the inputs, and not a tensor that
/// requires grad while grad mode is on.
/// </summary>
internal static class MatchTemplateOutput
{
    /// <summary>
    /// <paramref name="output"/> once checked against the map of <paramref name="image"/> and <paramref name="template"/>
    /// (<c>[H − h + 1, W − w + 1]</c>), or a new float32 map (uninitialised: every entry is written) when it is null.
    /// </summary>
    public static Tensor Prepare(Tensor? output, Tensor image, Tensor template)
    {
        int oh = image.Size(-2) - template.Size(-2) + 1, ow = image.Size(-1) - template.Size(-1) + 1;
        if (output is null) return Tensor.Allocate(DType.Float32, [oh, ow], clear: false);
        if (output.DType != DType.Float32)
            throw new DTypeException("match_template", $"output must be float32, got {output.DType.Name()}");
        if (output.Rank != 2 || output.Size(0) != oh || output.Size(1) != ow)
            throw new ShapeException("match_template",
                $"output must be [{oh}, {ow}] (image {ShapeChecks.Format(image.Shape)} minus template {ShapeChecks.Format(template.Shape)} plus one), got {ShapeChecks.Format(output.Shape)}");
        if (!output.IsContiguous)
            throw new ShapeException("match_template", $"output must be contiguous, got a strided view of shape {ShapeChecks.Format(output.Shape)}");
        if (ReferenceEquals(output.Storage, image.Storage) || ReferenceEquals(output.Storage, template.Storage))
            throw new ArgumentException("match_template: output must not share memory with the image or the template.", nameof(output));
        if (output.RequiresGrad && GradMode.IsEnabled)
            throw new InvalidOperationException($"match_template: output requires grad (shape {ShapeChecks.Format(output.Shape)}) and cannot be written while grad mode is on; wrap the call in GradMode.Disable()");
        return output;
    }
}

/// <summary>
/// The size rules of OpenCV's image pyramids, shared by the contract's callers and its implementations:
/// <see cref="IBackend.PyrDown"/> halves rounding up, <see cref="IBackend.PyrUp"/> doubles give or take one.
/// </summary>
public static class PyramidGeometry
{
    /// <summary>Output extent of PyrDown along one axis: <c>(n + 1) / 2</c>, as OpenCV's <c>pyrDown</c>.</summary>
    public static int DownSize(int n) => (n + 1) / 2;

    /// <summary>True when <paramref name="up"/> is a valid PyrUp output extent for a source extent <paramref name="n"/>:
    /// <c>2n</c>, or <c>2n ± 1</c> (OpenCV's rule <c>|up − 2n| = up mod 2</c>).</summary>
    public static bool IsValidUpSize(int n, int up) => n >= 1 && up >= 1 && Math.Abs(up - 2 * n) == (up & 1);
}

/// <summary>
/// The image-processing primitives: pyramid resampling and its adjoints, separable filtering, template scores and the
/// 2-D DFT. Every plane is the last two dims of a tensor (row = y), every other dim indexes planes; inputs may be strided.
/// Borders are OpenCV's BORDER_REFLECT_101 (<c>gfedcb|abcdefgh|gfedcba</c>).
/// </summary>
public partial interface IBackend
{
    /// <summary>
    /// OpenCV's <c>pyrDown</c> on every plane of <paramref name="x"/> (float32 or float64): the 5x5 binomial
    /// <c>[1 4 6 4 1]ᵀ[1 4 6 4 1] / 256</c> with BORDER_REFLECT_101, every second sample kept;
    /// <c>[.., H, W] → [.., (H + 1) / 2, (W + 1) / 2]</c>.
    /// </summary>
    Tensor PyrDown(Tensor x);

    /// <summary>The adjoint of <see cref="PyrDown"/>: <c>[.., (H + 1) / 2, (W + 1) / 2] → [.., height, width]</c>.</summary>
    Tensor PyrDownAdjoint(Tensor gradOutput, int height, int width);

    /// <summary>
    /// OpenCV's <c>pyrUp</c> on every plane to <c>[.., height, width]</c>: zero insertion over the <c>2H x 2W</c> grid, then the
    /// same kernel times 4, the grid reflected (BORDER_REFLECT_101). Each extent is <c>2n</c> or <c>2n ± 1</c>
    /// (<see cref="PyramidGeometry.IsValidUpSize"/>); an extra last column repeats column <c>2W − 1</c> and an extra last row
    /// repeats row <c>2H − 2</c>, as OpenCV does.
    /// </summary>
    Tensor PyrUp(Tensor x, int height, int width);

    /// <summary>
    /// <c>addend + PyrUp(x)</c> (or <c>addend − PyrUp(x)</c> when <paramref name="negate"/>) to the plane size of
    /// <paramref name="addend"/>, whose leading dims equal <paramref name="x"/>'s: a Laplacian band or collapse step in one pass.
    /// </summary>
    Tensor PyrUpAdd(Tensor x, Tensor addend, bool negate);

    /// <summary>The adjoint of <see cref="PyrUp"/> from <c>[.., outH, outW]</c> back to source planes <c>[.., height, width]</c>.</summary>
    Tensor PyrUpAdjoint(Tensor gradOutput, int height, int width);

    /// <summary>
    /// Separable correlation of every float32 plane with BORDER_REFLECT_101 (OpenCV's <c>sepFilter2D</c>):
    /// <c>y(r, c) = Σ_i Σ_j kernelY[i]·kernelX[j]·x(r + i − ry, c + j − rx)</c> with odd-length 1-d float32 kernels centred at
    /// <c>rx = (len(kernelX) − 1) / 2</c>, <c>ry = (len(kernelY) − 1) / 2</c>. Same shape as <paramref name="x"/>.
    /// </summary>
    Tensor SeparableFilter2d(Tensor x, Tensor kernelX, Tensor kernelY);

    /// <summary>
    /// OpenCV's <c>matchTemplate</c>: scores every placement of the float32 plane <paramref name="template"/> (<c>[h, w]</c>)
    /// in the float32 plane <paramref name="image"/> (<c>[H, W]</c>, <c>h ≤ H</c>, <c>w ≤ W</c>) by <paramref name="method"/>;
    /// <c>[H − h + 1, W − w + 1]</c>, entry <c>(y, x)</c> for the template's top-left corner at <c>(x, y)</c>. Written into
    /// <paramref name="output"/> (checked by <c>MatchTemplateOutput.Prepare</c>, returned) when given, else into a new tensor.
    /// </summary>
    Tensor MatchTemplate(Tensor image, Tensor template, TemplateMatchMethod method, Tensor? output = null);

    /// <summary>
    /// 2-D DFT of every complex float64 plane <c>re + i·im</c> (same shape): forward <c>X[v, u] = Σ x[y, x] e^{−2πi (vy/H + ux/W)}</c>,
    /// or the inverse (<c>+</c> sign, scaled by <c>1/(H·W)</c>) when <paramref name="inverse"/>.
    /// </summary>
    (Tensor Re, Tensor Im) Fft2d(Tensor re, Tensor im, bool inverse);
}
