using Fovea.Vision.Inspection;

namespace Fovea.Cli;

/// <summary><c>fovea filters</c>: a layer's filters (or a linear layer's rows as templates) as a normalised grid.</summary>
public static class FiltersCommand
{
    /// <summary>The command.</summary>
    public static Command Command { get; } = new("filters", InspectionArgs.ModelUsage + " --layer NAME -o GRID.png",
        "A layer's filters as a grid (RGB for a 3-channel first layer; a linear layer on the pixels as templates)", (a, o) =>
        {
            var model = InspectionArgs.Model(a, "filters");
            // Any module with a weight of its own, so an imported model's parameter scopes (conv1, ...) qualify too.
            string layer = a.Option("--layer")
                ?? throw new UsageException($"filters: --layer NAME is required (layers with filters: {string.Join(", ", LayerImages.WeightedLayers(model.Model))})");
            string output = InspectionArgs.Output(a, "filters");
            a.Done();
            ImagePlanesResult(model, layer, output, o);
            return 0;
        });

    private static void ImagePlanesResult(InspectedModel model, string layer, string output, TextWriter o)
    {
        try
        {
            InspectionArgs.Save(output, LayerImages.Filters(model, layer), o);
        }
        catch (ArgumentException e) when (e.Message.StartsWith($"layer '{layer}'", StringComparison.Ordinal) || e.Message.StartsWith("unknown layer", StringComparison.Ordinal))
        {
            throw new UsageException("filters: " + e.Message);
        }
    }
}
