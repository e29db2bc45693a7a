using System.Globalization;
using Fovea.Backends;
using Fovea.Vision;
using Fovea.Vision.Imaging;

namespace Fovea.Cli;

/// <summary><c>fovea match</c>: template matching; prints <c>x y score</c> per match (template top-left corner), best first.</summary>
public static class MatchCommand
{
    /// <summary>The command.</summary>
    public static Command Command { get; } = new("match", "IMAGE TEMPLATE [--method ncc|ccorr-normed|sqdiff|sqdiff-normed] [--top K] [--min-distance D] [--map OUT.png]",
        "Find a template in an image; prints 'x y score' per match (top-left corner), best first", (a, o) =>
        {
            string method = a.Option("--method") ?? "ncc";
            int top = a.Int("--top", 1, 1, 100_000);
            int minDistance = a.Int("--min-distance", -1, 0, int.MaxValue);
            string? map = a.Option("--map");
            var p = a.Positionals(2, "IMAGE TEMPLATE");
            return Run(p[0], p[1], method, top, minDistance, map, o);
        });

    /// <summary>
    /// Matches gray versions of the two images. <paramref name="minDistance"/> &lt; 0 means half the smaller template side, so
    /// two reported matches never overlap by more than half. The optional map is stretched to [0, 1] (bright = high score).
    /// </summary>
    public static int Run(string image, string template, string methodName, int top, int minDistance, string? map, TextWriter o)
    {
        var method = methodName switch
        {
            "ncc" => TemplateMatchMethod.CCoeffNormed,
            "ccorr-normed" => TemplateMatchMethod.CCorrNormed,
            "sqdiff" => TemplateMatchMethod.SqDiff,
            "sqdiff-normed" => TemplateMatchMethod.SqDiffNormed,
            _ => throw new UsageException($"match: unknown --method '{methodName}' (choose ncc, ccorr-normed, sqdiff or sqdiff-normed)"),
        };
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
}
