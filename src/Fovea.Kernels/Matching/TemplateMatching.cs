using System.Buffers;
using System.Runtime.CompilerServices;

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

    // 10·FLT_EPSILON: below this relative variance a window is indistinguishable from flat in float data.
    private const double FlatWindowEpsilon = 10 * 1.1920928955078125e-7;

    /// <summary>Extent of the score map: <c>(width − templateWidth + 1, height − templateHeight + 1)</c>.</summary>
    public static (int Width, int Height) ResultSize(int width, int height, int templateWidth, int templateHeight)
        => (width - templateWidth + 1, height - templateHeight + 1);

    /// <summary>
    /// Scores every placement of <paramref name="template"/> (<c>[templateHeight, templateWidth]</c>) in
    /// <paramref name="image"/> (<c>[height, width]</c>) by <paramref name="method"/> into <paramref name="result"/>
    /// (<see cref="ResultSize"/>). See <see cref="TemplateMatchMethod"/> for the formulas and the flat-input rules.
    /// </summary>
    public static void Match(ReadOnlySpan<float> image, int width, int height, ReadOnlySpan<float> template, int templateWidth, int templateHeight,
        TemplateMatchMethod method, Span<float> result)
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
        bool centred = method is TemplateMatchMethod.CCoeff or TemplateMatchMethod.CCoeffNormed;
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
                bool flatTemplate = tSum2 <= FlatWindowEpsilon * tEnergy;
                if (method == TemplateMatchMethod.CCoeffNormed && flatTemplate)
                    result.Slice(0, ow * oh).Clear();
                else if (method != TemplateMatchMethod.CCorr && method != TemplateMatchMethod.CCoeff)
                    Normalise(pi, width, templateWidth, templateHeight, pr, ow, oh, method, tSum2);
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

    // Turns the correlation in `result` into the method's score, row by row. Per output row, column sums of I and I²
    // over the template height are formed in double, then slid along x; chunks of rows run in parallel.
    private static void Normalise(float* image, int width, int tw, int th, float* result, int ow, int oh, TemplateMatchMethod method, double tSum2)
    {
        nint pi = (nint)image, pr = (nint)result;
        int grain = Math.Max(8, (1 << 16) / Math.Max(1, width));
        ParallelFor.For(oh, grain, (y0, y1) =>
        {
            double[] cols = ArrayPool<double>.Shared.Rent(2 * width);
            try
            {
                fixed (double* cs = cols)
                    NormaliseRows((float*)pi, width, tw, th, (float*)pr, ow, method, tSum2, cs, cs + width, y0, y1);
            }
            finally
            {
                ArrayPool<double>.Shared.Return(cols);
            }
        });
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void NormaliseRows(float* image, int width, int tw, int th, float* result, int ow, TemplateMatchMethod method, double tSum2,
        double* colSum, double* colSum2, int y0, int y1)
    {
        double area = (double)tw * th;
        double tNorm = Math.Sqrt(tSum2);
        for (int y = y0; y < y1; y++)
        {
            // Column sums over rows [y, y + th): summed afresh every 64 rows so the running update cannot drift.
            if (y == y0 || (y - y0) % 64 == 0)
            {
                new Span<double>(colSum, width).Clear();
                new Span<double>(colSum2, width).Clear();
                for (int j = 0; j < th; j++) AddRow(image + (long)(y + j) * width, colSum, colSum2, width, 1);
            }
            else
            {
                AddRow(image + (long)(y - 1) * width, colSum, colSum2, width, -1);
                AddRow(image + (long)(y + th - 1) * width, colSum, colSum2, width, 1);
            }
            float* r = result + (long)y * ow;
            double s1 = 0, s2 = 0;
            for (int i = 0; i < tw; i++) { s1 += colSum[i]; s2 += colSum2[i]; }
            for (int x = 0; x < ow; x++)
            {
                if (x > 0)
                {
                    s1 += colSum[x + tw - 1] - colSum[x - 1];
                    s2 += colSum2[x + tw - 1] - colSum2[x - 1];
                }
                r[x] = Score(method, r[x], s1, s2, area, tSum2, tNorm);
            }
        }
    }

    private static void AddRow(float* row, double* colSum, double* colSum2, int width, double sign)
    {
        for (int x = 0; x < width; x++)
        {
            double v = row[x];
            colSum[x] += sign * v;
            colSum2[x] += sign * v * v;
        }
    }

    // s1 = Σ I, s2 = Σ I² over the window; corr = Σ T·I (Σ T'·I for the CCOEFF methods).
    private static float Score(TemplateMatchMethod method, double corr, double s1, double s2, double area, double tSum2, double tNorm)
    {
        switch (method)
        {
            case TemplateMatchMethod.SqDiff:
                return (float)Math.Max(s2 - 2 * corr + tSum2, 0);
            case TemplateMatchMethod.SqDiffNormed:
            {
                double num = Math.Max(s2 - 2 * corr + tSum2, 0);
                double den = Math.Sqrt(Math.Max(s2, 0)) * tNorm;
                return den > 0 ? (float)Math.Min(num / den, 1) : 1f;
            }
            case TemplateMatchMethod.CCorrNormed:
            {
                double den = Math.Sqrt(Math.Max(s2, 0)) * tNorm;
                return den > 0 ? (float)Math.Clamp(corr / den, -1, 1) : 0f;
            }
            default: // CCoeffNormed
            {
                // Σ I'² = Σ I² − (Σ I)²/n. A window whose variance is within float rounding of its energy is flat
                // (OpenCV's test: ≤ min(0.5, 10·FLT_EPSILON·Σ I²)), and so is a template with no variance.
                double var = s2 - s1 * s1 / area;
                if (var <= Math.Min(0.5, FlatWindowEpsilon * s2)) return 0f;
                double den = Math.Sqrt(var) * tNorm;
                return (float)Math.Clamp(corr / den, -1, 1);
            }
        }
    }
}
