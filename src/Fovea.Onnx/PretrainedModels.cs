using Fovea.Vision.Models;
using Fovea.Vision.Training;

namespace Fovea.Onnx;

/// <summary>
/// Pretrained networks that ship as files with the app (nothing is downloaded): the ImageNet ResNet-18 of the NuGet
/// package Microsoft.ML.DnnImageFeaturizer.ResNet18 (MIT; exported from CNTK at opset 8), whose files a project
/// copies next to its output by importing <c>PretrainedModelFiles.targets</c> (the fovea tool does).
/// </summary>
public static class PretrainedModels
{
    /// <summary>Where the ResNet-18 file lies under the app's folder.</summary>
    public const string ResNet18RelativePath = "DnnImageModels/ResNet18Onnx/ResNet18.onnx";

    /// <summary>Where its preprocessing model lies under the app's folder.</summary>
    public const string ResNet18PreprocessRelativePath = "DnnImageModels/ResNetPrepOnnx/ResNetPreprocess.onnx";

    /// <summary>The side of the square images the network was trained on.</summary>
    public const int ResNet18ImageSize = 224;

    /// <summary>The length of the feature vector it gives per image.</summary>
    public const int ResNet18FeatureCount = 512;

    /// <summary>
    /// The pretrained ImageNet ResNet-18 feature extractor: input [N, 3, 224, 224] as its preprocessing model
    /// produces it (BGR planes, 0–255, ImageNet mean image subtracted: see <see cref="ResNet18Preprocess"/>), output the
    /// 512 pooled features [N, 512, 1, 1]. Its 11.7 M parameters are trainable (call <see cref="NN.Module.Freeze"/>
    /// to keep them fixed). <paramref name="path"/> is the .onnx file or a folder holding it (as
    /// <see cref="ResNet18RelativePath"/> or directly); by default the app's folder and the current folder are searched.
    /// </summary>
    public static OnnxModule ResNet18Features(string? path = null) => OnnxModel.Import(Find(path, ResNet18RelativePath));

    /// <summary>
    /// The ResNet-18's preprocessing model: input [N, 3, 224, 224] RGB planes with values 0–255, output the BGR planes
    /// minus the ImageNet mean image that <see cref="ResNet18Features"/> expects. No parameters are trained (it is
    /// frozen when imported).
    /// </summary>
    public static OnnxModule ResNet18Preprocess(string? path = null)
    {
        var module = OnnxModel.Import(Find(path, ResNet18PreprocessRelativePath));
        module.Freeze();
        return module;
    }

    /// <summary>
    /// The pretrained ImageNet ResNet-18 with a new linear head for <paramref name="classes"/> classes, for images
    /// [N, 1 or 3, H, W] in [0, 1]; the body is frozen unless <paramref name="freezeBody"/> is false. The files are
    /// found as for <see cref="ResNet18Features"/> (<paramref name="path"/> is the folder holding them).
    /// </summary>
    public static PretrainedClassifier ResNet18Classifier(int classes, bool freezeBody = true, string? path = null, Generator? generator = null) =>
        new(ResNet18Preprocess(path is null ? null : Find(path, ResNet18PreprocessRelativePath)),
            ResNet18Features(path is null ? null : Find(path, ResNet18RelativePath)), ResNet18FeatureCount, classes, freezeBody, generator);

    /// <summary>
    /// Makes the pretrained networks trainable by <see cref="Trainer"/> (<c>fovea train --pretrained resnet18</c>) and
    /// loadable from its checkpoints (<see cref="TrainedModel.Load"/>): registers
    /// <see cref="ResNet18Classifier"/> in the <see cref="ModelZoo"/> as <c>pretrained_resnet18</c> (the body frozen;
    /// the files found as for <see cref="ResNet18Features"/>), and lets <see cref="TrainOptions.InitFrom"/> read
    /// <c>.onnx</c> files (their initializers, by name). Call it once; calling it again does nothing new.
    /// </summary>
    public static void RegisterForTraining()
    {
        ModelZoo.Register(TrainOptions.PretrainedModelName("resnet18"), (_, classes, _, generator) => ResNet18Classifier(classes, generator: generator));
        Trainer.RegisterWeightReader(".onnx", ReadInitializers);
    }

    /// <summary>
    /// The weights of an ONNX file by name: its initializers as the imported module holds them (parameters and
    /// batch-norm statistics, under the file's names, such as <c>layer1.0.conv1.weight</c> for a file that
    /// <c>OnnxModel.Export</c> wrote).
    /// </summary>
    public static NN.StateDict ReadInitializers(string path) => OnnxModel.Import(path).StateDict();

    /// <summary>
    /// The path of a pretrained file: <paramref name="path"/> itself when it is a file, else the file under it (by
    /// its relative path or its name), else under the app's folder or the current folder. The error lists every
    /// place it looked.
    /// </summary>
    public static string Find(string? path, string relativePath)
    {
        var candidates = new List<string>();
        string name = Path.GetFileName(relativePath);
        if (path is not null)
        {
            if (File.Exists(path)) return path;
            candidates.Add(Path.Combine(path, relativePath));
            candidates.Add(Path.Combine(path, name));
        }
        else
        {
            candidates.Add(Path.Combine(AppContext.BaseDirectory, relativePath));
            candidates.Add(Path.Combine(Directory.GetCurrentDirectory(), relativePath));
            candidates.Add(Path.Combine(Directory.GetCurrentDirectory(), name));
        }
        foreach (var c in candidates)
            if (File.Exists(c)) return c;
        throw new FileNotFoundException(
            $"{name} was not found; looked at {string.Join(", ", candidates.Distinct())}. It ships in the NuGet package " +
            "Microsoft.ML.DnnImageFeaturizer.ResNet18 (tools/DnnImageModels); the fovea tool carries it, and a project gets it next to its output by importing Fovea.Onnx's PretrainedModelFiles.targets", name);
    }
}
