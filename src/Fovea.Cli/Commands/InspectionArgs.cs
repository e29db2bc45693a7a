using System.Globalization;
using Fovea.NN;
using Fovea.Vision.Imaging;
using Fovea.Vision.Inspection;
using Fovea.Vision.Models;

namespace Fovea.Cli;

/// <summary>
/// What the inspection and retrieval commands share: choosing the network (<c>--checkpoint FILE</c>, or an untrained
/// zoo model with <c>--model NAME [--channels C] [--input-size S] [--seed N]</c>), checking layer names (an unknown
/// one is a usage error listing the valid names), and listing image files.
/// </summary>
internal static class InspectionArgs
{
    /// <summary>The model options, for usage lines.</summary>
    public const string ModelUsage = "(--checkpoint FILE | --model NAME [--channels C] [--input-size S] [--seed N])";

    /// <summary>The network the options name.</summary>
    public static InspectedModel Model(Args a, string command)
    {
        string? checkpoint = a.Option("--checkpoint");
        string? zoo = a.Option("--model");
        int channels = a.Int("--channels", 3, 1, 64), size = a.Int("--input-size", 224, 8, 1024), seed = a.Int("--seed", 0, 0);
        if (checkpoint is not null && zoo is not null) throw new UsageException($"{command}: give --checkpoint or --model, not both");
        if (checkpoint is not null) return InspectedModel.FromCheckpoint(PathArgs.InputFile(checkpoint));
        if (zoo is null) throw new UsageException($"{command}: name the network with --checkpoint FILE or --model NAME");
        if (!ModelZoo.Contains(zoo)) throw new UsageException($"{command}: unknown model '{zoo}' (choose one of: {string.Join(", ", ModelZoo.Names)})");
        return InspectedModel.FromZoo(zoo, channels, size, seed: seed);
    }

    /// <summary>The network an index was built with: its identity, or the checkpoint given (which must be the same file).</summary>
    public static InspectedModel ForIndex(string identity, string? storedFile, string? storedSha, string? checkpoint, string command)
    {
        if (identity.StartsWith("zoo:", StringComparison.Ordinal))
        {
            // zoo:NAME:seedN:CxS
            var parts = identity.Split(':');
            var shape = parts.Length == 4 ? parts[3].Split('x') : [];
            if (parts.Length != 4 || !parts[2].StartsWith("seed", StringComparison.Ordinal) || shape.Length != 2
                || !int.TryParse(parts[2].AsSpan(4), NumberStyles.None, CultureInfo.InvariantCulture, out int seed)
                || !int.TryParse(shape[0], NumberStyles.None, CultureInfo.InvariantCulture, out int c) || c is < 1 or > 64
                || !int.TryParse(shape[1], NumberStyles.None, CultureInfo.InvariantCulture, out int s) || s is < 8 or > 1024
                || !ModelZoo.Contains(parts[1]))
                throw new InvalidDataException($"the index's model '{identity}' is not a zoo model this Fovea can rebuild");
            return InspectedModel.FromZoo(parts[1], c, s, seed: seed);
        }
        string file = checkpoint ?? storedFile ?? throw new UsageException($"{command}: the index was built with {identity}; give its checkpoint with --checkpoint FILE");
        var model = InspectedModel.FromCheckpoint(PathArgs.InputFile(file));
        if (storedSha is not null && model.FileSha256() != storedSha)
            throw new UsageException($"{command}: {file} is not the checkpoint the index was built with (SHA-256 differs from {storedSha[..12]}…); rebuild the index or give that checkpoint");
        if (model.Identity != identity) throw new UsageException($"{command}: {file} holds {model.Identity}, the index was built with {identity}");
        return model;
    }

    /// <summary>Checks <paramref name="layer"/> names a layer of the model: an unknown name is a usage error listing the valid names.</summary>
    public static string Layer(InspectedModel model, string layer, string command)
    {
        try
        {
            FeatureExtractor.Find(model.Model, layer);
            return layer;
        }
        catch (ArgumentException e)
        {
            throw new UsageException($"{command}: {e.Message}");
        }
    }

    /// <summary>The required <c>--layer NAME</c>, checked.</summary>
    public static string RequiredLayer(Args a, InspectedModel model, string command) =>
        Layer(model, a.Option("--layer") ?? throw new UsageException($"{command}: --layer NAME is required (valid layers: {string.Join(", ", FeatureExtractor.ValidNames(model.Model))})"), command);

    /// <summary>Loads an image file as the picture the model sees.</summary>
    public static ImagePlanes Image(string path) => ImageIO.Load(PathArgs.InputFile(path));

    /// <summary>File extensions read as images.</summary>
    public static readonly string[] ImageExtensions = [".png", ".jpg", ".jpeg", ".bmp", ".tga"];

    /// <summary>
    /// The image files named on the command line, as paths relative to <paramref name="root"/> (as given when it is
    /// null); each must exist, be an image by its extension and lie inside the root.
    /// </summary>
    public static List<string> ImageFiles(IEnumerable<string> paths, string? root, string command)
    {
        var files = new List<string>();
        foreach (var p in paths)
        {
            PathArgs.InputFile(p);
            if (!ImageExtensions.Contains(Path.GetExtension(p).ToLowerInvariant()))
                throw new UsageException($"{command}: {p} is not an image file ({string.Join(", ", ImageExtensions)})");
            if (root is null)
            {
                files.Add(p);
                continue;
            }
            string relative = Path.GetRelativePath(root, Path.GetFullPath(p)).Replace('\\', '/');
            if (relative.StartsWith("../", StringComparison.Ordinal) || relative == ".." || Path.IsPathRooted(relative))
                throw new UsageException($"{command}: {p} is outside the root folder {root} (give --root DIR above it)");
            files.Add(relative);
        }
        if (files.Count == 0) throw new UsageException($"{command}: no image files given");
        return files;
    }

    /// <summary>Writes a picture, checking the path first.</summary>
    public static void Save(string output, ImagePlanes image, TextWriter o)
    {
        ImageArgs.Save(output, image);
        o.WriteLine($"wrote {output} ({image.Width}x{image.Height})");
    }

    /// <summary>The required <c>-o FILE</c>, checked as an output file.</summary>
    public static string Output(Args a, string command) =>
        PathArgs.OutputFile(a.Option("-o", "--output") ?? throw new UsageException($"{command}: -o FILE is required"));
}
