using System.Globalization;
using Fovea.Onnx;
using Fovea.Vision.Training;

namespace Fovea.Cli;

/// <summary><c>fovea export</c>: writes a trained checkpoint as an ONNX model (for ONNX Runtime and other frameworks).</summary>
public static class ExportCommand
{
    /// <summary>The command.</summary>
    public static Command Command { get; } = new("export", "--checkpoint FILE -o MODEL.onnx [--opset N]",
        $"Write a checkpoint as an ONNX model (opset {OnnxModel.MinExportOpset}–{OnnxModel.MaxExportOpset}, default {OnnxModel.DefaultExportOpset}) with a symbolic batch dim", (a, o) =>
        {
            string checkpoint = a.Option("--checkpoint") ?? throw new UsageException("export: --checkpoint FILE is required");
            string output = a.Option("-o", "--out") ?? throw new UsageException("export: -o MODEL.onnx is required");
            int opset = a.Int("--opset", OnnxModel.DefaultExportOpset, OnnxModel.MinExportOpset, OnnxModel.MaxExportOpset);
            a.Done();
            return Run(checkpoint, output, opset, o);
        });

    /// <summary>Exports <paramref name="checkpoint"/> to <paramref name="output"/> at <paramref name="opset"/> and says what it wrote.</summary>
    public static int Run(string checkpoint, string output, int opset, TextWriter o)
    {
        PathArgs.InputFile(checkpoint);
        PathArgs.OutputFile(output);
        // A checkpoint of `fovea train --pretrained` names its network; an .onnx file is imported and written again.
        var model = OnnxModelFile.LoadTrained(checkpoint);
        int[] inputShape = [1, model.InputChannels, model.InputSize, model.InputSize];
        // The class labels and names travel in the file, so eval and predict on it name the classes as on the checkpoint.
        var metadata = new Dictionary<string, string>
        {
            ["fovea.class_labels"] = string.Join(",", model.ClassLabels.Select(k => k.ToString(CultureInfo.InvariantCulture))),
            ["fovea.class_names"] = string.Join("\n", model.ClassNames),
            // How training prepared its images (resize, crop, mean and std), so eval and predict prepare them alike.
            ["fovea.preprocessing"] = model.InputPreprocessing.ToJson(),
        };
        OnnxModel.Export(model.Model, inputShape, output, opset, metadata);
        o.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"wrote {output}: {model.ModelName}, input 'input' [N, {model.InputChannels}, {model.InputSize}, {model.InputSize}], " +
            $"output 'output' [N, {model.ClassLabels.Length}] (logits), opset {opset}, {model.Model.ParameterCount():N0} parameters, {new FileInfo(output).Length / 1e6:0.0} MB"));
        return 0;
    }
}
