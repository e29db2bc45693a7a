namespace Fovea.Kernels.Matching;

/// <summary>
/// Scores of <see cref="TemplateMatching.Match"/> (the kernels' side of <c>Fovea.Backends.TemplateMatchMethod</c>, which the
/// kernels sit below and cannot name; the CPU backend maps one onto the other), named and defined as OpenCV's <c>TM_*</c> methods, with
/// <c>I</c> the image window under the template <c>T</c> (both <c>h x w</c>, <c>n = h·w</c>) and <c>I'</c>, <c>T'</c> their
/// mean-subtracted versions.
/// </summary>
public enum TemplateScore
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
    /// </summary>
    CCoeffNormed,
}
