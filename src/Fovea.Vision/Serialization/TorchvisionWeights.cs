using Fovea.NN;

namespace Fovea.Vision.Serialization;

/// <summary>
/// Reads torchvision's own weights for the zoo's ResNet, VGG and AlexNet models from a safetensors file written in
/// Python with <c>safetensors.torch.save_file(model.state_dict(), path)</c>. The zoo keeps torchvision's parameter and
/// buffer names (<c>conv1.weight</c>, <c>layer1.0.bn1.running_mean</c>, <c>features.0.weight</c>,
/// <c>classifier.6.bias</c>, …) and shapes, so the mapping from a torchvision name to a Fovea name only removes the
/// prefixes that wrappers add (<c>module.</c> from <c>DataParallel</c>/<c>DistributedDataParallel</c>,
/// <c>_orig_mod.</c> from <c>torch.compile</c>); everything else is checked: every name the model has must be in
/// the file and every name in the file must be the model's, or the error lists the missing and the unexpected
/// names. Tensors are converted to the model's dtypes (a float16 export loads into float32 weights). A classifier
/// head for another class count (1000 ImageNet classes, a 10-class run) is left as initialised, and said so.
/// </summary>
public static class TorchvisionWeights
{
    /// <summary>Prefixes that PyTorch wrappers put in front of every name.</summary>
    private static readonly string[] WrapperPrefixes = ["module.", "_orig_mod."];

    /// <summary>Names shown in an error before "and N more".</summary>
    private const int ListedNames = 12;

    /// <summary>The zoo models whose names and shapes are torchvision's (same name as torchvision's constructor).</summary>
    public static IReadOnlyList<string> Models { get; } =
        ["alexnet", "resnet18", "resnet34", "resnet50", "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn"];

    /// <summary>Whether <paramref name="modelName"/> (any case) is one of <see cref="Models"/>.</summary>
    public static bool Supports(string modelName) => Models.Contains(modelName, StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// Reads the file and maps its names to <paramref name="model"/>'s: a state dict under the model's own names
    /// (tensors as stored), after checking that the names match. Throws <see cref="InvalidDataException"/> naming the
    /// file and listing the missing and unexpected names, or a tensor whose shape differs other than in the head.
    /// </summary>
    public static StateDict Read(string path, Module model, string modelName)
    {
        RequireSupported(modelName);
        return Map(SafeTensors.Load(path).Tensors, path, model, modelName);
    }

    /// <summary>
    /// What <c>fovea train --init-from FILE</c> reads: a Fovea checkpoint (metadata <c>format</c> present) as
    /// <see cref="Checkpoint.Load"/> reads it, or else torchvision weights for <paramref name="modelName"/> as
    /// <see cref="ReadCheckpoint"/> maps them. A plain file for a model without torchvision weights is an
    /// <see cref="InvalidDataException"/> saying both.
    /// </summary>
    public static Checkpoint ReadInitialWeights(string path, Module model, string modelName)
    {
        var (stored, metadata) = SafeTensors.Load(path);
        if (metadata.ContainsKey("format")) return Checkpoint.Load(path);
        if (!Supports(modelName))
            throw new InvalidDataException($"{path}: not a Fovea checkpoint (no 'format' metadata), and torchvision weights exist only for {string.Join(", ", Models)}, not '{modelName}'");
        return new() { Model = Map(stored, path, model, modelName), Metadata = new() { ["model"] = modelName.ToLowerInvariant() }, SourcePath = path };
    }

    private static void RequireSupported(string modelName)
    {
        if (!Supports(modelName))
            throw new ArgumentException($"torchvision weights: '{modelName}' is not a torchvision model of the zoo (choose one of: {string.Join(", ", Models)})");
    }

    /// <summary>The file's tensors under the model's names, after the checks of <see cref="Read"/>.</summary>
    private static StateDict Map(StateDict stored, string path, Module model, string modelName)
    {
        var own = model.StateDict();
        var mapped = new StateDict();
        foreach (var (name, t) in stored)
        {
            string mine = FoveaName(name);
            if (mapped.ContainsKey(mine))
                throw new InvalidDataException($"{path}: '{name}' and another entry both map to '{mine}'");
            mapped.Add(mine, t);
        }
        var missing = own.Keys.Where(k => !mapped.ContainsKey(k)).ToList();
        var unexpected = mapped.Keys.Where(k => !own.ContainsKey(k)).ToList();
        if (missing.Count > 0 || unexpected.Count > 0)
        {
            var parts = new List<string>();
            if (missing.Count > 0) parts.Add($"missing {missing.Count} ({List(missing)})");
            if (unexpected.Count > 0) parts.Add($"unexpected {unexpected.Count} ({List(unexpected)})");
            throw new InvalidDataException($"{path}: the names are not those of torchvision's {modelName}: {string.Join("; ", parts)}");
        }
        foreach (var (name, t) in mapped)
        {
            var mine = own[name];
            if (!mine.Shape.SequenceEqual(t.Shape) && !IsHeadForOtherClasses(own, name, mine, t))
                throw new InvalidDataException($"{path}: {name} is {ShapeChecks.Format(t.Shape)} in the file but {ShapeChecks.Format(mine.Shape)} in {modelName}");
            if (!t.DType.IsFloating() && mine.DType.IsFloating())
                throw new InvalidDataException($"{path}: {name} is stored as {t.DType.Name()}, a weight needs floating point");
        }
        return mapped;
    }

    /// <summary>
    /// Loads torchvision weights from <paramref name="path"/> into <paramref name="model"/> (see <see cref="Read"/>);
    /// returns the names left as initialised: the classifier head when the file's is for another number of classes.
    /// </summary>
    public static IReadOnlyList<string> Load(string path, Module model, string modelName)
    {
        var mapped = Read(path, model, modelName);
        var own = model.StateDict();
        var keep = new StateDict();
        var fresh = new List<string>();
        foreach (var (name, t) in mapped)
        {
            if (own[name].Shape.SequenceEqual(t.Shape)) keep.Add(name, t);
            else fresh.Add(name);
        }
        model.LoadStateDict(keep, strict: fresh.Count == 0);
        return fresh;
    }

    /// <summary>
    /// A <see cref="Checkpoint"/> holding the file's weights under the model's names and <c>model</c> =
    /// <paramref name="modelName"/> in its metadata, for code that initialises from checkpoints
    /// (<c>fovea train --init-from</c>).
    /// </summary>
    public static Checkpoint ReadCheckpoint(string path, Module model, string modelName) =>
        new() { Model = Read(path, model, modelName), Metadata = new() { ["model"] = modelName.ToLowerInvariant() }, SourcePath = path };

    /// <summary>The Fovea name of a torchvision name: the name without wrapper prefixes.</summary>
    public static string FoveaName(string torchvisionName)
    {
        string name = torchvisionName;
        bool stripped;
        do
        {
            stripped = false;
            foreach (var prefix in WrapperPrefixes)
                if (name.StartsWith(prefix, StringComparison.Ordinal) && name.Length > prefix.Length)
                {
                    name = name[prefix.Length..];
                    stripped = true;
                }
        }
        while (stripped);
        return name;
    }

    /// <summary>The last layer's weight or bias, differing only in its first (class) dimension.</summary>
    private static bool IsHeadForOtherClasses(StateDict own, string name, Tensor mine, Tensor stored)
    {
        string head = own.Keys.Last(k => k.EndsWith(".weight", StringComparison.Ordinal))[..^".weight".Length];
        return (name == head + ".weight" || name == head + ".bias") && mine.Rank == stored.Rank && mine.Shape.Skip(1).SequenceEqual(stored.Shape.Skip(1));
    }

    private static string List(List<string> names) =>
        string.Join(", ", names.Take(ListedNames)) + (names.Count > ListedNames ? $", and {names.Count - ListedNames} more" : "");
}
