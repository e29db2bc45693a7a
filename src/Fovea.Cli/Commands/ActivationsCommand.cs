using Fovea.Vision.Inspection;

namespace Fovea.Cli;

/// <summary><c>fovea activations</c>: the feature maps of one layer for one image.</summary>
public static class ActivationsCommand
{
    /// <summary>The command.</summary>
    public static Command Command { get; } = new("activations", InspectionArgs.ModelUsage + " --layer NAME -o MAPS.png IMAGE",
        "The feature maps of a layer for one image, each stretched to [0, 1]", (a, o) =>
        {
            var model = InspectionArgs.Model(a, "activations");
            string layer = InspectionArgs.RequiredLayer(a, model, "activations");
            string output = InspectionArgs.Output(a, "activations");
            string image = a.Positionals(1, "one image file")[0];
            var picture = InspectionArgs.Image(image);
            try
            {
                InspectionArgs.Save(output, LayerImages.Activations(model, picture, layer), o);
            }
            catch (ArgumentException e) when (e.Message.StartsWith($"layer '{layer}'", StringComparison.Ordinal))
            {
                throw new UsageException("activations: " + e.Message);
            }
            return 0;
        });
}
