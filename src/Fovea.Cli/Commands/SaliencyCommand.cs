using System.Globalization;
using Fovea.Vision.Inspection;

namespace Fovea.Cli;

/// <summary><c>fovea saliency</c>: the vanilla-gradient map and Grad-CAM of a class score, over the image.</summary>
public static class SaliencyCommand
{
    /// <summary>The command.</summary>
    public static Command Command { get; } = new("saliency", InspectionArgs.ModelUsage + " [--class K] [--cam-layer NAME] -o OUT.png IMAGE",
        "Which pixels a class score depends on: its gradient (Simonyan 2014) and Grad-CAM, over the image", (a, o) =>
        {
            var model = InspectionArgs.Model(a, "saliency");
            string? camLayer = a.Option("--cam-layer");
            if (camLayer is not null) InspectionArgs.Layer(model, camLayer, "saliency");
            int k = a.Int("--class", -1, 0, 1_000_000);
            string output = InspectionArgs.Output(a, "saliency");
            string image = a.Positionals(1, "one image file")[0];
            return Run(model, image, k < 0 ? null : k, camLayer, output, o);
        });

    /// <summary>Computes and writes the maps; prints the class, its score and the Grad-CAM layer.</summary>
    public static int Run(InspectedModel model, string image, int? classIndex, string? camLayer, string output, TextWriter o)
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
        o.WriteLine(string.Create(CultureInfo.InvariantCulture, $"class {maps.Class}{name}: score {maps.Score:0.###}; Grad-CAM on '{maps.CamLayer}'"));
        InspectionArgs.Save(output, Saliency.Render(maps, model.ClassNames), o);
        return 0;
    }
}
