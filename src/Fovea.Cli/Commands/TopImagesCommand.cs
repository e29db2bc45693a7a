using System.Globalization;
using Fovea.Vision.Inspection;

namespace Fovea.Cli;

/// <summary><c>fovea top-images</c>: the images that excite one unit most, cropped to its receptive field.</summary>
public static class TopImagesCommand
{
    /// <summary>The command.</summary>
    public static Command Command { get; } = new("top-images", InspectionArgs.ModelUsage + " --unit LAYER:CHANNEL [--top K] [--batch N] -o GRID.png (DIR | IMAGE...)",
        "The images that excite a unit most, each cropped to the unit's receptive field", (a, o) =>
        {
            var model = InspectionArgs.Model(a, "top-images");
            string unit = a.Option("--unit") ?? throw new UsageException("top-images: --unit LAYER:CHANNEL is required");
            int colon = unit.LastIndexOf(':');
            if (colon <= 0 || !int.TryParse(unit.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out int channel))
                throw new UsageException($"top-images: --unit must be LAYER:CHANNEL (e.g. features.3:5), got '{unit}'");
            string layer = InspectionArgs.Layer(model, unit[..colon], "top-images");
            int top = a.Int("--top", 16, 1, 1024), batch = a.Int("--batch", 64, 1, 4096);
            string output = InspectionArgs.Output(a, "top-images");
            var files = InspectionArgs.ImageFiles(a.Positionals(), null, "top-images");
            return Run(model, files, layer, channel, top, batch, output, o);
        });

    /// <summary>Finds and draws the top images; prints each with its activation and file.</summary>
    public static int Run(InspectedModel model, IReadOnlyList<string> files, string layer, int channel, int top, int batch, string output, TextWriter o)
    {
        var field = ReceptiveField.Of(model.Model, layer);
        IReadOnlyList<TopImage> best;
        try
        {
            best = TopImages.Find(model, model.Pictures(files, batch), layer, channel, top);
        }
        catch (ArgumentOutOfRangeException e) when (e.ParamName == "channel")
        {
            throw new UsageException($"top-images: channel {channel}: {e.Message.Split(" (Parameter")[0]}");
        }
        o.WriteLine(field is null ? $"{layer}: receptive field unknown, showing whole images"
            : field.Global ? $"{layer}: every unit sees the whole image"
            : $"{layer}: receptive field {field.Size}x{field.Size} pixels, stride {field.Jump}");
        for (int i = 0; i < best.Count; i++)
            o.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {i + 1,3}. {best[i].Activation,10:0.###}  at ({best[i].Y}, {best[i].X})  {files[best[i].Index]}"));
        InspectionArgs.Save(output, TopImages.Render(best), o);
        return 0;
    }
}
