using Google.Protobuf;
using Fovea.Cli;
using Fovea.Onnx;
using Fovea.Onnx.Protobuf;
using Fovea.Vision.Training;
using static Fovea.Cli.Tests.CliRunner;

namespace Fovea.Cli.Tests;

/// <summary><c>fovea export</c>: a trained checkpoint becomes an ONNX file that imports back to the same network.</summary>
public sealed class ExportCommandTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"fovea-export-{Guid.NewGuid():N}");

    public ExportCommandTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string TrainedCheckpoint()
    {
        string sample = Path.Combine(RepoPaths.Root, "tests", "Fovea.Vision.Tests", "Data", "fashion-mnist-sample");
        string outDir = Path.Combine(_dir, "run");
        var (code, _, err) = Run("train", "--model", "lenet5", "--data", sample, "--epochs", "1", "--batch-size", "50", "--limit", "100", "--out", outDir);
        Assert.True(code == 0, err);
        return Path.Combine(outDir, Trainer.CheckpointFile);
    }

    [Fact]
    public void Export_WritesAnOnnxModelThatImportsBackToTheCheckpointsNetwork()
    {
        string checkpoint = TrainedCheckpoint();
        string onnx = Path.Combine(_dir, "lenet5.onnx");
        var (code, output, err) = Run("export", "--checkpoint", checkpoint, "-o", onnx, "--opset", "13");
        Assert.True(code == 0, err);
        Assert.Contains($"wrote {onnx}: lenet5, input 'input' [N, 1, 28, 28], output 'output' [N, 10] (logits), opset 13", output);

        var proto = ModelProto.Parser.ParseFrom(File.ReadAllBytes(onnx));
        Assert.Equal(13, proto.OpsetImport.Single().Version);
        Assert.Contains("features.0.weight", proto.Graph.Initializer.Select(t => t.Name));
        // The classes travel in the file: predict on it names them as on the checkpoint.
        var metadata = proto.MetadataProps.ToDictionary(p => p.Key, p => p.Value);
        Assert.Equal("0,1,2,3,4,5,6,7,8,9", metadata["fovea.class_labels"]);
        Assert.StartsWith("T-shirt/top\nTrouser\n", metadata["fovea.class_names"]);
        // So does the image preparation: the file's is the checkpoint's.
        var trained = TrainedModel.Load(checkpoint);
        Assert.Equal(trained.InputPreprocessing.ToJson(), metadata["fovea.preprocessing"]);

        // A preparation that does not give the graph's input ([1, 28, 28]) is refused in one line naming the file.
        proto.MetadataProps.Single(m => m.Key == "fovea.preprocessing").Value = (trained.InputPreprocessing with { CropSize = 32, ShorterSide = 32 }).ToJson();
        string mismatched = Path.Combine(_dir, "mismatched.onnx");
        File.WriteAllBytes(mismatched, proto.ToByteArray());
        var refused = Run("eval", "--checkpoint", mismatched, "--data", Path.Combine(RepoPaths.Root, "tests", "Fovea.Vision.Tests", "Data", "fashion-mnist-sample"));
        Assert.Equal(1, refused.Code);
        Assert.Contains("mismatched.onnx: the preprocessing gives [1, 32, 32], the model takes [1, 28, 28]", refused.Err);
        Assert.DoesNotContain('\n', refused.Err.TrimEnd());

        var imported = OnnxModel.Import(onnx);
        imported.Eval();
        var x = Tensor.Uniform([4, 1, 28, 28], 0, 1, new Generator(2));
        using var _ = GradMode.Disable();
        var expected = trained.Model.Forward(x);
        Assert.True((imported.Forward(x) - expected).Abs().Max().ToScalar() <= 1e-6 * expected.Abs().Max().ToScalar());
    }

    [Fact]
    public void Export_CommandLineMistakesExitTwo_FileProblemsExitOne()
    {
        Assert.Equal(2, Run("export", "-o", Path.Combine(_dir, "m.onnx")).Code);
        Assert.Equal(2, Run("export", "--checkpoint", "c.safetensors").Code);
        var (code, _, err) = Run("export", "--checkpoint", "c.safetensors", "-o", "m.onnx", "--opset", "12");
        Assert.Equal(2, code);
        Assert.Contains("--opset must be an integer in [13, 21]", err);

        var missing = Run("export", "--checkpoint", Path.Combine(_dir, "none.safetensors"), "-o", Path.Combine(_dir, "m.onnx"));
        Assert.Equal(1, missing.Code);
        Assert.Contains("file not found", missing.Err);

        string notCheckpoint = Path.Combine(_dir, "junk.safetensors");
        File.WriteAllBytes(notCheckpoint, [1, 2, 3]);
        var junk = Run("export", "--checkpoint", notCheckpoint, "-o", _dir);
        Assert.Equal(1, junk.Code);
        Assert.Contains("is a directory", junk.Err);
        Assert.Single(Directory.GetFiles(_dir));
    }
}
