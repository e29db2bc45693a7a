using System.Globalization;
using Fovea.Onnx;
using Fovea.Vision.Datasets;
using Fovea.Vision.Training;
using Fovea.Vision.Transforms;

namespace Fovea.Cli;

/// <summary>
/// `.onnx` files where the commands take a checkpoint (eval, predict): the model is imported and described like a
/// checkpoint. Its input [N, C, S, S] comes from the graph's declared input; its classes from the model metadata
/// <c>fovea.class_labels</c> (comma-separated dataset labels) and <c>fovea.class_names</c> (one per line) when present,
/// else labels 0..K−1 named as Fashion-MNIST's classes; its image preparation from <c>fovea.preprocessing</c> (what
/// `fovea export` writes: the training run's resize, crop, mean and std) when present, else the defaults for its input.
/// </summary>
public static class OnnxModelFile
{
    /// <summary>True when <paramref name="path"/> names an ONNX file (by its extension).</summary>
    public static bool IsOnnx(string path) => path.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase);

    /// <summary>The checkpoint at <paramref name="path"/>: a Fovea checkpoint, or an ONNX model imported.</summary>
    public static TrainedModel LoadTrained(string path)
    {
        if (IsOnnx(path)) return Import(path);
        PretrainedModels.RegisterForTraining(); // a checkpoint of fovea train --pretrained names its network
        return TrainedModel.Load(path);
    }

    private static TrainedModel Import(string path)
    {
        var module = OnnxModel.Import(path);
        if (module.Inputs.Count != 1)
            throw new InvalidDataException($"{path}: the model has {module.Inputs.Count} inputs; an image classifier has one");
        var shape = module.Inputs[0].Shape;
        if (shape is null || shape.Count != 4 || shape[1] is not { } channels || shape[2] is not { } height || shape[3] is not { } width || height != width)
            throw new InvalidDataException($"{path}: the input '{module.Inputs[0].Name}' must be declared [N, C, S, S] with fixed C and S to classify images");
        module.Eval();
        int classes;
        using (GradMode.Disable())
        {
            var scores = module.Forward(Tensor.Zeros(1, channels, height, width));
            if (scores.Rank != 2) throw new InvalidDataException($"{path}: the output must be class scores [N, K], got [{string.Join(", ", scores.Shape)}]");
            classes = scores.Size(1);
        }
        var metadata = module.Metadata;
        int[] labels = metadata.TryGetValue("fovea.class_labels", out var l)
            ? [.. l.Split(',').Select(v => int.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out int x) ? x : throw new InvalidDataException($"{path}: fovea.class_labels '{l}' is not a list of integers"))]
            : [.. Enumerable.Range(0, classes)];
        string[] names = metadata.TryGetValue("fovea.class_names", out var n)
            ? n.Split('\n')
            : [.. labels.Select(k => k >= 0 && k < FashionMnist.Classes.Length ? FashionMnist.Classes[k] : $"class {k}")];
        if (labels.Length != classes || names.Length != classes)
            throw new InvalidDataException($"{path}: the model scores {classes} classes but its metadata lists {labels.Length} labels and {names.Length} names");
        var preprocessing = metadata.TryGetValue("fovea.preprocessing", out var p) ? Preprocessing.Parse(p, path + " (fovea.preprocessing)") : null;
        // A preprocessing that does not give the graph's input is refused by FromModule, naming the file.
        return TrainedModel.FromModule(module, "onnx:" + Path.GetFileName(path), labels, names, channels, height, preprocessing);
    }
}
