using Fovea.Backends;

namespace Fovea.Vision;

/// <summary>A match found at some scale, in the original image's coordinates.</summary>
/// <param name="X">Left edge of the matched region in the image.</param>
/// <param name="Y">Top edge of the matched region in the image.</param>
/// <param name="Score">The score at that scale (same method at every scale, so scores compare).</param>
/// <param name="Scale">Size of the object in the image over the size of the template: 2 means the image shows it twice as large.</param>
/// <param name="Width">Width of the matched region in the image (about the template's width times <paramref name="Scale"/>).</param>
/// <param name="Height">Height of the matched region in the image.</param>
public readonly record struct ScaledMatch(int X, int Y, float Score, double Scale, int Width, int Height);

public static partial class Matching
{
    /// <summary>
    /// Template matching over scales, with Gaussian pyramids (the lecture notes: pyramids "add scale invariance to
    /// fixed-size algorithms"). The template is matched against levels <c>0 .. scales − 1</c> of the image's Gaussian
    /// pyramid (an object shown <c>2^s</c> times larger than the template is template-sized at level <c>s</c>), and levels
    /// <c>1 .. scales − 1</c> of the template's Gaussian pyramid are matched against the image (an object shown <c>2^s</c>
    /// times smaller), so scales <c>2^−(scales−1) .. 2^(scales−1)</c> are searched in octaves; <paramref name="scales"/> 1 is
    /// plain <see cref="MatchTemplate(Tensor, Tensor, TemplateMatchMethod, bool, double)"/>. A position <c>(x, y)</c> on image level <c>s</c> is reported as <c>(2^s·x, 2^s·y)</c>,
    /// where that level's sample sits in the image (PyrDown keeps every second sample), so it is exact to <c>2^s</c> pixels.
    /// Levels where the template does not fit, and template levels with a side under 4 pixels, are skipped.
    /// <para>Up to <paramref name="k"/> matches, best first, over all scales: the best <paramref name="k"/> of each scale,
    /// then greedily, dropping a match whose centre is closer than <paramref name="minDistance"/> (Chebyshev, in image pixels)
    /// to a better one's; a negative <paramref name="minDistance"/> means half the template's smaller side. Only the
    /// normalised methods are allowed (NCC, CCORR_NORMED, SQDIFF_NORMED), since the others grow with the template's area
    /// and would not compare across scales.</para>
    /// </summary>
    public static ScaledMatch[] MatchMultiScale(Tensor image, Tensor template, int scales, int k = 1, int minDistance = -1,
        TemplateMatchMethod method = TemplateMatchMethod.CCoeffNormed)
    {
        var (img, h, w) = Plane("match_multi_scale", image, "image");
        var (tpl, th, tw) = Plane("match_multi_scale", template, "template");
        if (scales < 1 || scales > 30)
            throw new ArgumentOutOfRangeException(nameof(scales), scales, "match_multi_scale: scales must be in [1, 30].");
        if (k < 0) throw new ArgumentOutOfRangeException(nameof(k), k, "match_multi_scale: k must not be negative.");
        if (method is not (TemplateMatchMethod.CCoeffNormed or TemplateMatchMethod.CCorrNormed or TemplateMatchMethod.SqDiffNormed))
            throw new ArgumentOutOfRangeException(nameof(method), method, "match_multi_scale: scores must compare across scales, so the method must be a normalised one (CCoeffNormed, CCorrNormed or SqDiffNormed).");
        if (minDistance < 0) minDistance = Math.Max(1, Math.Min(tw, th) / 2);
        bool lower = LowerIsBetter(method);
        var imageLevels = Pyramids.GaussianPyramid(img.Reshape(1, h, w), scales);
        var templateLevels = Pyramids.GaussianPyramid(tpl.Reshape(1, th, tw), scales);
        var candidates = new List<ScaledMatch>();
        // factor: image pixels per pixel of levelImage; the matched region is the level template's size times it.
        void Search(Tensor levelImage, Tensor levelTemplate, int factor, double scale)
        {
            int lh = levelImage.Size(-2), lw = levelImage.Size(-1), ph = levelTemplate.Size(-2), pw = levelTemplate.Size(-1);
            if (ph > lh || pw > lw || Math.Min(ph, pw) < 4) return;
            var map = MatchTemplate(levelImage, levelTemplate, method);
            int levelDistance = Math.Max(1, (int)Math.Round(minDistance / (double)factor));
            foreach (var p in FindPeaks(map, k, levelDistance, lower))
                candidates.Add(new ScaledMatch(p.X * factor, p.Y * factor, p.Score, scale, pw * factor, ph * factor));
        }
        for (int s = 0; s < scales && k > 0; s++) Search(imageLevels[s], templateLevels[0], 1 << s, 1 << s);
        for (int s = 1; s < scales && k > 0; s++) Search(imageLevels[0], templateLevels[s], 1, 1.0 / (1 << s));
        return Select(candidates, k, minDistance, lower);
    }

    // Best first (ties: the smaller scale first, then row-major position), dropping a match whose centre is within minDistance of a kept one.
    private static ScaledMatch[] Select(List<ScaledMatch> candidates, int k, int minDistance, bool lowerIsBetter)
    {
        var order = candidates.OrderBy(c => lowerIsBetter ? c.Score : -c.Score).ThenBy(c => c.Scale).ThenBy(c => c.Y).ThenBy(c => c.X);
        var kept = new List<ScaledMatch>();
        foreach (var c in order)
        {
            if (kept.Count == k) break;
            double cx = c.X + c.Width / 2.0, cy = c.Y + c.Height / 2.0;
            if (kept.Any(m => Math.Max(Math.Abs(m.X + m.Width / 2.0 - cx), Math.Abs(m.Y + m.Height / 2.0 - cy)) < minDistance)) continue;
            kept.Add(c);
        }
        return kept.ToArray();
    }
}
