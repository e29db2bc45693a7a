using System.Text.RegularExpressions;
using Fovea.Onnx;
using Fovea.Vision.Imaging;
using Fovea.Vision.Serialization;
using Fovea.Vision.Training;
using static Fovea.Cli.Tests.CliRunner;

namespace Fovea.Cli.Tests;

/// <summary>
/// <c>fovea train --pretrained resnet18</c> (the ImageNet ResNet-18 with a new head, frozen or fine-tuned), then
/// <c>eval</c> and <c>predict</c> on its checkpoint; <c>--init-from model.onnx</c>; <c>--augment pca</c>.
/// </summary>
public sealed class TransferCommandTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"fovea-transfer-cli-{Guid.NewGuid():N}");

    public TransferCommandTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string Sample => Path.Combine(RepoPaths.Root, "tests", "Fovea.Vision.Tests", "Data", "fashion-mnist-sample");

    /// <summary>Two classes of small colour images (reddish and bluish with noise), <paramref name="perClass"/> of each.</summary>
    private string ColourFolder(string name, int perClass, int size)
    {
        string root = Path.Combine(_dir, name);
        var rng = new Random(5);
        foreach (var (cls, tint) in new[] { ("red", new[] { 0.8f, 0.3f, 0.2f }), ("blue", new[] { 0.2f, 0.3f, 0.8f }) })
        {
            Directory.CreateDirectory(Path.Combine(root, cls));
            for (int i = 0; i < perClass; i++)
            {
                var data = new float[3 * size * size];
                for (int c = 0; c < 3; c++)
                    for (int p = 0; p < size * size; p++) data[c * size * size + p] = Math.Clamp(tint[c] + (float)(rng.NextDouble() - 0.5) * 0.4f, 0, 1);
                ImageIO.SavePng(Path.Combine(root, cls, $"{i:D2}.png"), new ImagePlanes(data, 3, size, size));
            }
        }
        return root;
    }

    /// <summary>A weight of the pretrained body in <paramref name="checkpoint"/> and the same weight in the ONNX file.</summary>
    private static (Tensor Trained, Tensor Pretrained) BodyWeight(string checkpoint)
    {
        var weights = Checkpoint.Load(checkpoint).Model;
        string name = weights.Keys.First(k => k.StartsWith("features.", StringComparison.Ordinal) && weights[k].Rank == 4);
        var pretrained = PretrainedModels.ResNet18Features().StateDict()[name["features.".Length..]];
        return (weights[name], pretrained);
    }

    [Fact]
    public void PretrainedResNet18_FrozenHead_ThenEvalAndPredictOnTheCheckpoint()
    {
        string images = ColourFolder("photos", 3, 32);
        string run = Path.Combine(_dir, "frozen");
        var (code, output, err) = Run("train", "--data", images, "--pretrained", "resnet18", "--image-size", "32", "--epochs", "1", "--batch-size", "4",
            "--workers", "1", "--out", run);
        Assert.True(code == 0, err + output);
        Assert.Contains("model pretrained_resnet18 (", output);
        Assert.Contains("1,026 trainable)", output); // the new 512 -> 2 head
        Assert.Matches(@"pretrained resnet18: body frozen \([0-9,]{10} weights\), training the new head \(1,026 weights\)", output);
        Assert.Contains("features are computed once", output);
        string ckpt = Path.Combine(run, Trainer.CheckpointFile);
        var (trained, pretrained) = BodyWeight(ckpt);
        Assert.True(trained.Equal(pretrained), "the frozen body must keep ImageNet's weights");

        (code, output, err) = Run("eval", "--checkpoint", ckpt, "--data", images);
        Assert.True(code == 0, err);
        Assert.Contains("6 test images: accuracy", output);
        (code, output, err) = Run("predict", "--checkpoint", ckpt, Path.Combine(images, "red", "00.png"));
        Assert.True(code == 0, err);
        Assert.Matches(@"1\. (red|blue) ", output);

        // The checkpoint exports (the opset-8 body and preprocessing written at the export's opset), and the exported
        // model ranks the classes as the checkpoint does.
        string onnx = Path.Combine(_dir, "pretrained.onnx");
        (code, output, err) = Run("export", "--checkpoint", ckpt, "-o", onnx);
        Assert.True(code == 0, err);
        Assert.True(File.Exists(onnx));
        static string Ranking(string text) => string.Join("\n", text.Split('\n').Where(l => Regex.IsMatch(l, @"^\s*\d+\. ")));
        string image = Path.Combine(images, "red", "00.png");
        var fromCheckpoint = Run("predict", "--checkpoint", ckpt, image);
        var fromOnnx = Run("predict", "--checkpoint", onnx, image);
        Assert.True(fromOnnx.Code == 0, fromOnnx.Err);
        Assert.NotEmpty(Ranking(fromOnnx.Out));
        Assert.Equal(Ranking(fromCheckpoint.Out), Ranking(fromOnnx.Out));
    }

    [Fact]
    public void PretrainedResNet18_Unfreeze_FineTunesTheBodyAtALowerRate()
    {
        string images = ColourFolder("photos", 3, 32);
        string run = Path.Combine(_dir, "unfrozen");
        var (code, output, err) = Run("train", "--data", images, "--pretrained", "resnet18", "--unfreeze", "--body-lr-scale", "0.1", "--image-size", "32",
            "--epochs", "1", "--batch-size", "4", "--max-batches", "1", "--optimizer", "sgd", "--lr", "0.01", "--workers", "1", "--out", run);
        Assert.True(code == 0, err + output);
        Assert.Matches(@"pretrained resnet18: fine-tuning the body \([0-9,]{10} weights\) at 0.1 x the rate and the new head \(1,026 weights\)", output);
        var (trained, pretrained) = BodyWeight(Path.Combine(run, Trainer.CheckpointFile));
        Assert.False(trained.Equal(pretrained), "--unfreeze must train the body");

        Assert.Equal(2, Run("train", "--data", images, "--unfreeze", "--out", run).Code);
        Assert.Equal(2, Run("train", "--data", images, "--pretrained", "resnet18", "--model", "lenet5", "--out", run).Code);
        Assert.Equal(2, Run("train", "--data", images, "--pretrained", "vgg99", "--out", run).Code);
    }

    [Fact]
    public void InitFrom_AnOnnxFile_LoadsTheWeightsByNameAndShape()
    {
        string first = Path.Combine(_dir, "first");
        Assert.Equal(0, Run("train", "--model", "lenet5", "--data", Sample, "--epochs", "1", "--batch-size", "50", "--limit", "100", "--out", first).Code);
        string onnx = Path.Combine(_dir, "lenet5.onnx");
        Assert.Equal(0, Run("export", "--checkpoint", Path.Combine(first, Trainer.CheckpointFile), "-o", onnx).Code);

        // Five classes: the 10-class head stays fresh; the frozen features keep the file's weights exactly.
        string second = Path.Combine(_dir, "second");
        var (code, output, err) = Run("train", "--model", "lenet5", "--data", Sample, "--classes", "0-4", "--epochs", "1", "--batch-size", "50",
            "--limit", "100", "--init-from", onnx, "--freeze", "features", "--out", second);
        Assert.True(code == 0, err + output);
        Assert.Contains($"initialised from {onnx} (8 tensors)", output);
        Assert.Contains("the file's classifier head is for 10 classes, this run has 5: kept fresh classifier.5.weight, classifier.5.bias", output);
        var before = Checkpoint.Load(Path.Combine(first, Trainer.CheckpointFile)).Model;
        var after = Checkpoint.Load(Path.Combine(second, Trainer.CheckpointFile)).Model;
        Assert.True(before["features.0.weight"].Equal(after["features.0.weight"]));

        // A file of another network shares no weight with the model: one line, exit 2.
        (code, _, err) = Run("train", "--model", "fmnist_cnn", "--data", Sample, "--epochs", "1", "--limit", "100", "--init-from", onnx, "--out", Path.Combine(_dir, "third"));
        Assert.Equal(2, code);
        Assert.Contains("--init-from", err);
    }

    [Fact]
    public void AugmentPca_ChangesTraining_OnColourImages_AndIsRefusedOnGrayOnes()
    {
        string images = ColourFolder("colour", 10, 12);
        string[] Args(string outDir, params string[] extra) =>
            ["train", "--data", images, "--model", "linear", "--epochs", "1", "--batch-size", "8", "--workers", "1", "--seed", "2", "--out", outDir, .. extra];
        var (code, output, err) = Run(Args(Path.Combine(_dir, "pca"), "--augment", "pca"));
        Assert.True(code == 0, err + output);
        Assert.Contains("PCA colour augmentation", output);
        Assert.Contains("colour PCA of 16 training images: eigenvalues", output);
        Assert.Equal(0, Run(Args(Path.Combine(_dir, "plain"))).Code);
        var pca = Checkpoint.Load(Path.Combine(_dir, "pca", Trainer.CheckpointFile)).Model["fc.weight"];
        var plain = Checkpoint.Load(Path.Combine(_dir, "plain", Trainer.CheckpointFile)).Model["fc.weight"];
        Assert.False(pca.Equal(plain));
        Assert.Contains("\"pca_color\":true", Checkpoint.Load(Path.Combine(_dir, "pca", Trainer.CheckpointFile)).Metadata["args"]);

        (code, output, err) = Run(Args(Path.Combine(_dir, "both"), "--augment", "crop,pca"));
        Assert.True(code == 0, err + output);
        Assert.Contains("augmented (crop, flip), PCA colour augmentation", output);

        (code, _, err) = Run("train", "--model", "linear", "--data", Sample, "--epochs", "1", "--limit", "100", "--augment", "pca", "--out", Path.Combine(_dir, "gray"));
        Assert.Equal(2, code);
        Assert.Contains("--augment pca shifts each image's colour", err);
    }
}
