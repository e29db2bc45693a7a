using System.Buffers;

namespace Fovea.Kernels.Matching;

/// <summary>
/// Template matching on float planes, equal to OpenCV's <c>matchTemplate</c>: the score map is
/// <c>(H − h + 1) x (W − w + 1)</c>, entry <c>(y, x)</c> scoring the template placed with its top-left corner at
/// <c>(x, y)</c>. The correlation <c>Σ T·I</c> is computed directly (SIMD) for small templates and by FFT (double
/// precision, tiled) for large ones; the window sums and energies come from running sums in double precision, so
/// the normalised scores lose no accuracy on large images.
/// </summary>
public static unsafe class TemplateMatching
{
    /// <summary>Templates with at most this many pixels are correlated directly, larger ones by FFT.</summary>
    public const int DirectMaxArea = 144;


    /// <summary>Extent of the score map: <c>(width − templateWidth + 1, height − templateHeight + 1)</c>.</summary>
    public static (int Width, int Height) ResultSize(int width, int height, int templateWidth, int templateHeight)
        => (width - templateWidth + 1, height - templateHeight + 1);

    /// <summary>
    /// Scores every placement of <paramref name="template"/> (<c>[templateHeight, templateWidth]</c>) in
    /// <paramref name="image"/> (<c>[height, width]</c>) by <paramref name="method"/> into <paramref name="result"/>
    /// (<see cref="ResultSize"/>). See <see cref="TemplateScore"/> for the formulas and the flat-input rules.
    /// </summary>
    public static void Match(ReadOnlySpan<float> image, int width, int height, ReadOnlySpan<float> template, int templateWidth, int templateHeight,
        TemplateScore method, Span<float> result)
    {
        Filtering.PyrKernels.CheckPlane(image.Length, width, height, nameof(image), "MatchTemplate");
        Filtering.PyrKernels.CheckPlane(template.Length, templateWidth, templateHeight, nameof(template), "MatchTemplate");
        if (templateWidth > width || templateHeight > height)
            throw new ArgumentException(
                $"MatchTemplate: template must fit inside the image, got template {templateWidth}x{templateHeight} and image {width}x{height}.", nameof(template));
        if (!Enum.IsDefined(method)) throw new ArgumentOutOfRangeException(nameof(method), method, "MatchTemplate: unknown method.");
        (int ow, int oh) = ResultSize(width, height, templateWidth, templateHeight);
        Filtering.PyrKernels.CheckPlane(result.Length, ow, oh, nameof(result), "MatchTemplate");

        int area = templateWidth * templateHeight;
        bool centred = method is TemplateScore.CCoeff or TemplateScore.CCoeffNormed;
        // Template statistics in double. For the CCOEFF methods the template is centred first: Σ T'·I = Σ T'·I', and the
        // correlation of a zero-mean template is much smaller than Σ T·I, so its float rounding is too.
        double tSum = 0, tSum2 = 0, tEnergy = 0;
        for (int i = 0; i < area; i++)
        {
            tSum += template[i];
            tEnergy += (double)template[i] * template[i];
        }
        double tMean = tSum / area;
        float[] t = ArrayPool<float>.Shared.Rent(area);
        try
        {
            for (int i = 0; i < area; i++)
            {
                double v = centred ? template[i] - tMean : template[i];
                t[i] = (float)v;
                tSum2 += v * v;
            }
            fixed (float* pi = image, pt = t, pr = result)
            {
                if (area <= DirectMaxArea)
                    DirectCorrelation.Run(pi, width, pt, templateWidth, templateHeight, pr, ow, oh);
                else
                    FftCorrelation.Run(pi, width, height, pt, templateWidth, templateHeight, pr, ow, oh);
                // The template is flat under the same relative rule as the windows (variance within rounding of its energy).
                bool flatTemplate = tSum2 <= TemplateScores.FlatWindowEpsilon * tEnergy;
                if (method == TemplateScore.CCoeffNormed && flatTemplate)
                    result.Slice(0, ow * oh).Clear();
                else if (method != TemplateScore.CCorr && method != TemplateScore.CCoeff)
                    TemplateScores.Normalise(pi, width, templateWidth, templateHeight, pr, ow, oh, method, tSum2);
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(t);
        }
    }

    /// <summary>The raw sliding correlation by the chosen path (tests hold the two paths against each other).</summary>
    internal static void Correlate(ReadOnlySpan<float> image, int width, int height, ReadOnlySpan<float> template, int tw, int th,
        Span<float> result, bool useFft)
    {
        (int ow, int oh) = ResultSize(width, height, tw, th);
        fixed (float* pi = image, pt = template, pr = result)
        {
            if (useFft) FftCorrelation.Run(pi, width, height, pt, tw, th, pr, ow, oh);
            else DirectCorrelation.Run(pi, width, pt, tw, th, pr, ow, oh);
        }
    }
}
