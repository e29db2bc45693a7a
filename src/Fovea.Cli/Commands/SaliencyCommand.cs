using System.Globalization;
using Fovea.Vision.Imaging;
using Fovea.Vision.Inspection;
using Fovea.Vision.Training;

namespace Fovea.Cli;

/// <summary><c>fovea saliency</c>: the vanilla-gradient map and Grad-CAM of a class score, over the image.</summary>
public static class SaliencyCommand
{
    /// <summary>The command.</summary>
    public static Command Command { get; } = new("saliency", InspectionArgs.ModelUsage + " [--class K] [--cam-layer NAME] -o OUT.png IMAGE...",
        "Which pixels a class score depends on: its gradient (Simonyan 2014) and Grad-CAM, over the image", (a, o) =>
        {
            var model = InspectionArgs.Model(a, "saliency");
            string? camLayer = a.Option("--cam-layer");
            if (camLayer is not null) InspectionArgs.Layer(model, camLayer, "saliency");
            int k = a.Int("--class", -1, 0, 1_000_000);
            string output = InspectionArgs.Output(a, "saliency");
            var images = a.Positionals();
            if (images.Count == 0) throw new UsageException("saliency: expected at least one image file");
            return Run(model, images, k < 0 ? null : k, camLayer, output, o);
        });

    /// <summary>Computes the maps of each image (one row of panels each) and writes them; prints the class, its score and the Grad-CAM layer.</summary>
    public static int Run(InspectedModel model, IReadOnlyList<string> images, int? classIndex, string? camLayer, string output, TextWriter o)
    {
        var rows = new List<ImagePlanes>();
        foreach (var image in images)
        {
            var picture = InspectionArgs.Image(image);
            SaliencyMaps maps;
            try
            {
                maps = Saliency.Compute(model, picture, classIndex, camLayer);
            }
            catch (ArgumentOutOfRangeException e)
            {
                throw new UsageException($"saliency: --class {classIndex}: {e.Message.Split(" (Parameter")[0].Split(Environment.NewLine)[0]}");
            }
            string name = model.ClassNames is { } names && maps.Class < names.Count ? $" ({names[maps.Class]})" : "";
            o.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{image}: class {maps.Class}{name}: score {maps.Score:0.###}; Grad-CAM on '{maps.CamLayer}'"));
            if (maps.GradCam.ToArray<float>().All(v => v == 0))
                o.WriteLine($"  Grad-CAM is zero everywhere: no map of '{maps.CamLayer}' adds evidence for the class (relu of the weighted sum); try --cam-layer");
            rows.Add(Saliency.Render(maps, model.ClassNames));
        }
        InspectionArgs.Save(output, Stack(rows), o);
        return 0;
    }

    // The rows one under the other, on white.
    private static ImagePlanes Stack(IReadOnlyList<ImagePlanes> rows)
    {
        var canvas = new Canvas(rows.Max(r => r.Width), rows.Sum(r => r.Height));
        int y = 0;
        foreach (var r in rows)
        {
            InspectionImages.Draw(canvas, r, 0, y);
            y += r.Height;
        }
        return canvas.ToImage();
    }
}
