using System.Globalization;
using Fovea.NN;
using Fovea.Onnx;
using Fovea.Vision.Datasets;
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
    public const string ModelUsage = "(--checkpoint FILE | --pretrained resnet18 | --model NAME [--channels C] [--input-size S] [--seed N])";

    /// <summary>The network the options name.</summary>
    public static InspectedModel Model(Args a, string command)
    {
        string? checkpoint = a.Option("--checkpoint");
        string? zoo = a.Option("--model");
        string? pretrained = a.Choice("--pretrained", null, ["resnet18"]);
        int channels = a.Int("--channels", 3, 1, 64), size = a.Int("--input-size", 224, 8, 1024), seed = a.Int("--seed", 0, 0);
        if (new[] { checkpoint, zoo, pretrained }.Count(x => x is not null) > 1)
            throw new UsageException($"{command}: give one of --checkpoint, --pretrained and --model");
        if (checkpoint is not null) return InspectedModel.FromCheckpoint(PathArgs.InputFile(checkpoint));
        if (pretrained is not null) return PretrainedResNet18();
        if (zoo is null) throw new UsageException($"{command}: name the network with --checkpoint FILE, --pretrained resnet18 or --model NAME");
        if (!ModelZoo.Contains(zoo)) throw new UsageException($"{command}: unknown model '{zoo}' (choose one of: {string.Join(", ", ModelZoo.Names)})");
        return InspectedModel.FromZoo(zoo, channels, size, seed: seed);
    }

    /// <summary>
    /// The pretrained ImageNet ResNet-18 (its ONNX files ship with the tool): pictures are RGB 224×224 in [0, 1],
    /// scaled to 0–255 and put through the package's preprocessing model (BGR, ImageNet mean image subtracted); the
    /// network is registered as <c>features</c> and gives the 512 pooled features [N, 512, 1, 1].
    /// </summary>
    public static InspectedModel PretrainedResNet18()
    {
        var prep = PretrainedModels.ResNet18Preprocess();
        var features = PretrainedModels.ResNet18Features();
        features.Freeze();
        var model = new Sequential(("features", features));
        int side = PretrainedModels.ResNet18ImageSize;
        return new InspectedModel(model, "pretrained:resnet18", 3, side, image => InspectedModel.Resize(image, 3, side), x => prep.Call(x.Mul(255)), bgr: true);
    }

    /// <summary>The network an index was built with: its identity, or the checkpoint given (which must be the same file).</summary>
    public static InspectedModel ForIndex(string identity, string? storedFile, string? storedSha, string? checkpoint, string command)
    {
        if (identity == "pretrained:resnet18") return PretrainedResNet18();
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

    /// <summary>
    /// The image files named on the command line — files, or image folders (one sub-folder per class, read by
    /// <see cref="ImageFolder"/>: every image of every split) — as paths relative to <paramref name="root"/> (as given
    /// when it is null); each must exist, be an image by its extension and lie inside the root.
    /// </summary>
    public static List<string> ImageFiles(IEnumerable<string> paths, string? root, string command)
    {
        var files = new List<string>();
        foreach (var p in paths)
        {
            IEnumerable<string> found;
            if (Directory.Exists(p))
            {
                var folder = ImageFolder.Open(p, validationFraction: 0);
                found = folder.Train.Concat(folder.Validation).Concat(folder.Test).Select(f => f.Path).Order(StringComparer.Ordinal);
            }
            else
            {
                PathArgs.InputFile(p);
                if (!ImageFolder.IsImage(p))
                    throw new UsageException($"{command}: {p} is not an image file ({string.Join(", ", ImageFolder.ImageExtensions)})");
                found = [p];
            }
            foreach (var file in found)
            {
                if (root is null)
                {
                    files.Add(file);
                    continue;
                }
                string relative = Path.GetRelativePath(root, Path.GetFullPath(file)).Replace('\\', '/');
                if (relative.StartsWith("../", StringComparison.Ordinal) || relative == ".." || Path.IsPathRooted(relative))
                    throw new UsageException($"{command}: {file} is outside the root folder {root} (give --root DIR above it)");
                files.Add(relative);
            }
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
