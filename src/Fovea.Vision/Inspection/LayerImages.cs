using Fovea.NN;
using Fovea.Vision.Imaging;

namespace Fovea.Vision.Inspection;

/// <summary>
/// What a layer has learned and what it computes, as pictures: its filters (<see cref="Filters"/>) and its feature
/// maps for one image (<see cref="Activations"/>).
/// </summary>
public static class LayerImages
{
    /// <summary>At most this many filters (or maps) are drawn; a larger layer shows its first ones.</summary>
    public const int MaxTiles = 256;

    /// <summary>At most this many input channels per filter are drawn for a layer deep in the network.</summary>
    public const int MaxInputChannels = 16;

    /// <summary>
    /// The filters of <paramref name="layer"/> as a grid. A convolution with 3 input channels (an RGB first layer)
    /// shows each filter in colour, one with 1 input channel in gray; deeper convolutions show one row per filter
    /// with a gray tile per input channel. Each filter is stretched to [0, 1] on its own (min → black, max → white),
    /// as Krizhevsky et al. 2012 show AlexNet's first layer. A linear layer that reads the input pixels
    /// (in_features = C·S·S) shows each row of W as a C × S × S template around mid-gray (0.5 + w / (2·max|w|)), the
    /// view of a linear classifier's weights as class templates.
    /// </summary>
    public static ImagePlanes Filters(InspectedModel model, string layer)
    {
        ArgumentNullException.ThrowIfNull(model);
        // A named module with a weight (a layer, or a parameter scope of an imported model), or a weight parameter by
        // its full name (an imported model's initializer, e.g. features.conv1_W).
        var module = model.Model.NamedModules().FirstOrDefault(m => m.Name.Length > 0 && m.Name == layer).Module;
        var weight = module is not null
            ? module.NamedParameters().FirstOrDefault(p => p.Name == "weight").Parameter
            : model.Model.NamedParameters().FirstOrDefault(p => p.Name == layer && p.Parameter.Rank is 2 or 4).Parameter
              ?? throw new ArgumentException($"unknown layer '{layer}' in {model.Model.Describe()} (layers with filters: {string.Join(", ", WeightedLayers(model.Model))})");
        string what = module?.Describe() ?? "parameter";
        if (weight is null || (weight.Rank != 4 && weight.Rank != 2))
            throw new ArgumentException($"layer '{layer}' ({what}) has no filters (layers with filters: {string.Join(", ", WeightedLayers(model.Model))})");
        var w = weight.Detach().To(DType.Float32).Contiguous();
        if (weight.Rank == 2)
        {
            int inFeatures = w.Size(1), c = model.Channels, s = model.InputSize;
            if (inFeatures != c * s * s)
                throw new ArgumentException($"layer '{layer}' ({what}) reads {inFeatures} values, not the {c}x{s}x{s} input pixels, so its rows are not images; " +
                    $"choose a convolution or a linear layer on the pixels (layers with filters: {string.Join(", ", WeightedLayers(model.Model))})");
            int rows = Math.Min(w.Size(0), MaxTiles);
            var templates = Enumerable.Range(0, rows).Select(o => ImageDisplay.Signed(w.Select(0, o).Reshape(c, s, s))).ToList();
            return InspectionImages.Grid(ToDisplayChannels(templates), Columns(rows), InspectionImages.ScaleFor(s));
        }
        int outCh = Math.Min(w.Size(0), MaxTiles), inCh = w.Size(1), kh = w.Size(2);
        if (inCh is 1 or 3)
        {
            // A BGR network's filters are drawn with their channels reversed, so that red weights show red.
            var rgb = model.Bgr && inCh == 3 ? w.IndexSelect(1, Tensor.FromArray(new[] { 2, 1, 0 }, 3)) : w;
            return InspectionImages.Grid(InspectionImages.Stretch(Enumerable.Range(0, outCh).Select(o => rgb.Select(0, o))), Columns(outCh), InspectionImages.ScaleFor(kh));
        }
        int shownOut = Math.Min(outCh, MaxTiles / MaxInputChannels), shownIn = Math.Min(inCh, MaxInputChannels);
        var tiles = new List<Tensor>();
        for (int o = 0; o < shownOut; o++)
        {
            var filter = ImageDisplay.MinMax(w.Select(0, o));
            for (int i = 0; i < shownIn; i++) tiles.Add(filter.Select(0, i).Unsqueeze(0));
        }
        return InspectionImages.Grid(tiles, shownIn, InspectionImages.ScaleFor(kh));
    }

    /// <summary>
    /// The feature maps of <paramref name="layer"/> for <paramref name="image"/>: one gray tile per channel (at most
    /// <see cref="MaxTiles"/>), each stretched to [0, 1] on its own, so a map's pattern shows whatever its scale.
    /// </summary>
    public static ImagePlanes Activations(InspectedModel model, ImagePlanes image, string layer)
    {
        ArgumentNullException.ThrowIfNull(model);
        var maps = model.Features(model.ToInput(image), layer);
        if (maps.Rank != 4)
            throw new ArgumentException($"layer '{layer}' gives {ShapeChecks.Format(maps.Shape)}, not feature maps [1, C, H, W]; choose a layer before the classifier's flatten");
        int c = Math.Min(maps.Size(1), MaxTiles);
        var tiles = InspectionImages.Stretch(Enumerable.Range(0, c).Select(i => maps.Select(0, 0).Select(0, i).Unsqueeze(0)));
        return InspectionImages.Grid(tiles, Columns(c), InspectionImages.ScaleFor(Math.Max(maps.Size(2), maps.Size(3))));
    }

    /// <summary>
    /// What <see cref="Filters"/> accepts: the modules with a 2-d or 4-d weight of their own (linear layers,
    /// convolutions, the parameter scopes of an imported model), then any other 2-d or 4-d parameter by its full name.
    /// </summary>
    public static IReadOnlyList<string> WeightedLayers(Module model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var layers = model.NamedModules()
            .Where(m => m.Name.Length > 0 && m.Module.NamedParameters().Any(p => p.Name == "weight" && p.Parameter.Rank is 2 or 4))
            .Select(m => m.Name).ToList();
        // Weights not called "weight" (an imported model's initializers) by their full names.
        layers.AddRange(model.NamedParameters()
            .Where(p => p.Parameter.Rank is 2 or 4 && p.Name != "weight" && !p.Name.EndsWith(".weight", StringComparison.Ordinal))
            .Select(p => p.Name));
        return layers;
    }

    // Tiles of 1 or 3 channels are drawn as they are; other channel counts show their first channel.
    private static List<Tensor> ToDisplayChannels(List<Tensor> tiles) =>
        tiles.Select(t => t.Size(0) is 1 or 3 ? t : t.Narrow(0, 0, 1)).ToList();

    /// <summary>Columns of a near-square grid of <paramref name="count"/> tiles.</summary>
    public static int Columns(int count) => Math.Max(1, (int)Math.Ceiling(Math.Sqrt(count)));
}
