using System.Globalization;
using Fovea.Backends;
using Fovea.Vision;
using Fovea.Vision.Imaging;

namespace Fovea.Cli;

/// <summary>
/// <c>fovea match</c>: template matching; prints <c>x y score</c> per match (template top-left corner), best first; with
/// <c>--scales K</c> over the Gaussian pyramids of image and template, printing <c>x y score scale</c>.
/// </summary>
public static class MatchCommand
{
    /// <summary>The command.</summary>
    public static Command Command { get; } = new("match", "IMAGE TEMPLATE [--method ncc|ccorr-normed|sqdiff|sqdiff-normed] [--top K] [--min-distance D] [--map OUT.png] [--scales K]",
        "Find a template in an image; prints 'x y score' per match (top-left corner), best first; --scales K: also at 2^-(K-1)..2^(K-1) size, adds the scale", (a, o) =>
        {
            string method = a.Option("--method") ?? "ncc";
            int top = a.Int("--top", 1, 1, 100_000);
            int minDistance = a.Int("--min-distance", -1, 0, int.MaxValue);
            string? map = a.Option("--map");
            int scales = a.Int("--scales", 0, 1, 30);
            if (scales > 0 && map is not null) throw new UsageException("match: --map writes one score map, so it cannot be combined with --scales");
            var p = a.Positionals(2, "IMAGE TEMPLATE");
            return scales > 0 ? RunMultiScale(p[0], p[1], method, top, minDistance, scales, o) : Run(p[0], p[1], method, top, minDistance, map, o);
        });

    /// <summary>
    /// Matches gray versions of the two images. <paramref name="minDistance"/> &lt; 0 means half the smaller template side, so
    /// two reported matches never overlap by more than half. The optional map is stretched to [0, 1] (bright = high score).
    /// </summary>
    public static int Run(string image, string template, string methodName, int top, int minDistance, string? map, TextWriter o)
    {
        var method = Method(methodName);
        PathArgs.OutputFile(map);
        var img = ImageArgs.LoadGray(image);
        var tpl = ImageArgs.LoadGray(template);
        if (tpl.Size(-2) > img.Size(-2) || tpl.Size(-1) > img.Size(-1))
            throw new ArgumentException($"match: template {template} ({tpl.Size(-1)}x{tpl.Size(-2)}) is larger than image {image} ({img.Size(-1)}x{img.Size(-2)}).");
        var scores = Matching.MatchTemplate(img, tpl, method);
        if (minDistance < 0) minDistance = Math.Max(1, Math.Min(tpl.Size(-1), tpl.Size(-2)) / 2);
        foreach (var peak in Matching.FindPeaks(scores, top, minDistance, Matching.LowerIsBetter(method)))
            o.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{peak.X} {peak.Y} {peak.Score:0.######}"));
        if (map is not null) ImageArgs.Save(map, ImageDisplay.MinMax(scores).Unsqueeze(0));
        return 0;
    }

    /// <summary>
    /// Matches over <paramref name="scales"/> octaves each way (<see cref="Matching.MatchMultiScale"/>) and prints
    /// <c>x y score scale</c> per match, best first: <c>(x, y)</c> is the matched region's top-left corner in the image and
    /// <c>scale</c> the object's size in the image over the template's (2: twice as large).
    /// </summary>
    public static int RunMultiScale(string image, string template, string methodName, int top, int minDistance, int scales, TextWriter o)
    {
        var method = Method(methodName);
        if (method == TemplateMatchMethod.SqDiff)
            throw new UsageException("match: --scales compares scores across scales, so it needs a normalised --method (ncc, ccorr-normed or sqdiff-normed)");
        var img = ImageArgs.LoadGray(image);
        var tpl = ImageArgs.LoadGray(template);
        var matches = Matching.MatchMultiScale(img, tpl, scales, top, minDistance, method);
        if (matches.Length == 0)
            throw new ArgumentException($"match: template {template} ({tpl.Size(-1)}x{tpl.Size(-2)}) fits image {image} ({img.Size(-1)}x{img.Size(-2)}) at none of the {scales} scale(s) searched each way.");
        foreach (var m in matches)
            o.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{m.X} {m.Y} {m.Score:0.######} {m.Scale:0.######}"));
        return 0;
    }

    private static TemplateMatchMethod Method(string name) => name switch
    {
        "ncc" => TemplateMatchMethod.CCoeffNormed,
        "ccorr-normed" => TemplateMatchMethod.CCorrNormed,
        "sqdiff" => TemplateMatchMethod.SqDiff,
        "sqdiff-normed" => TemplateMatchMethod.SqDiffNormed,
        _ => throw new UsageException($"match: unknown --method '{name}' (choose ncc, ccorr-normed, sqdiff or sqdiff-normed)"),
    };
}
