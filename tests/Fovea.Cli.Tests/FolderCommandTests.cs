using Fovea.Cli;
using Fovea.Vision.Datasets;
using Fovea.Vision.Training;
using static Fovea.Cli.Tests.CliRunner;

namespace Fovea.Cli.Tests;

/// <summary>fovea train, eval and predict on an image folder; the new training options; ensembles.</summary>
public class FolderCommandTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"fovea-cli-folder-{Guid.NewGuid():N}");

    public FolderCommandTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string Sample => Path.Combine(RepoPaths.Root, "tests", "Fovea.Vision.Tests", "Data", "fashion-mnist-sample");

    /// <summary>Three classes of the sample's test images as JPEGs, with a corrupt JPEG among them.</summary>
    private string Folder()
    {
        string root = Path.Combine(_dir, "images");
        var data = FashionMnist.Load(Sample);
        var (x, y) = Trainer.Subset(data.TestImages, data.TestLabels, [1, 7, 8]);
        ImageFolderExport.Write(root, x, y, ["Trouser", "Sneaker", "Bag"], ImageFileType.Jpeg, 15);
        File.WriteAllBytes(Path.Combine(root, "Sneaker", "zz-broken.jpg"), [0xFF, 0xD8, 0xFF]);
        return root;
    }

    [Fact]
    public void TrainEvalPredict_OnAnImageFolder_UseTheClassNamesAndTheTrainingPreprocessing()
    {
        string images = Folder();
        string run = Path.Combine(_dir, "run");
        var (code, output, err) = Run("train", "--data", images, "--model", "linear", "--epochs", "2", "--batch-size", "8", "--lr", "0.01", "--workers", "2", "--out", run);
        Assert.True(code == 0, err);
        Assert.Contains("image folder " + images + ": 3 classes", output);
        Assert.Contains("| val loss", output);
        Assert.Contains("skipped " + Path.Combine(images, "Sneaker", "zz-broken.jpg"), output);
        Assert.Contains("1 image could not be decoded and was skipped", output);
        Assert.Contains("done: val accuracy", output);
        string ckpt = Path.Combine(run, Trainer.CheckpointFile);

        (code, output, err) = Run("eval", "--checkpoint", ckpt, "--data", images);
        Assert.True(code == 0, err);
        Assert.Contains("prepared as in training: RGB, shorter side 28, center crop 28x28", output);
        Assert.Contains("45 test images: accuracy", output);
        Assert.Contains("Sneaker", output);

        string file = Directory.GetFiles(Path.Combine(images, "Trouser"))[0];
        (code, output, err) = Run("predict", "--checkpoint", ckpt, file);
        Assert.True(code == 0, err);
        Assert.Contains("(as in training)", output);
        Assert.Matches(@"1\. (Bag|Sneaker|Trouser) ", output);

        // An ensemble of the run with itself and a second seed: one line per model, then the average.
        string run2 = Path.Combine(_dir, "run2");
        Assert.Equal(0, Run("train", "--data", images, "--model", "linear", "--epochs", "1", "--batch-size", "8", "--seed", "5", "--out", run2).Code);
        (code, output, err) = Run("eval", "--checkpoint", ckpt, Path.Combine(run2, Trainer.CheckpointFile), "--data", images);
        Assert.True(code == 0, err);
        Assert.Contains("ensemble of 2 (mean of the softmax outputs), 45 test images: accuracy", output);
        Assert.Contains("points over the best single model", output);
    }

    [Fact]
    public void NewTrainingOptions_ReachTheRun()
    {
        string run = Path.Combine(_dir, "opts");
        var (code, output, err) = Run("train", "--data", Sample, "--model", "mlp", "--hidden", "32,16", "--loss", "hinge", "--val-split", "0.2",
            "--early-stop", "3", "--monitor", "val_accuracy", "--keep-best", "--clip-grad-norm", "5", "--clip-grad-value", "1", "--epochs", "2",
            "--batch-size", "50", "--limit", "300", "--out", run);
        Assert.True(code == 0, err);
        Assert.Contains("model mlp 32-16 (25,818 parameters", output);
        var counts = System.Text.RegularExpressions.Regex.Match(output, @"(\d+) train / (\d+) val / 500 test images");
        Assert.True(counts.Success, output);
        Assert.Equal(300, int.Parse(counts.Groups[1].Value) + int.Parse(counts.Groups[2].Value));
        Assert.InRange(int.Parse(counts.Groups[2].Value), 55, 65);
        Assert.Contains("loss hinge, val split 0.2, early stop after 3 epochs without improvement of val_accuracy (max), keeping the best epoch by val_accuracy (max), gradient norm clipped to 5, gradients clamped to ±1", output);
        Assert.Contains("| val loss", output);
        Assert.Matches(@"done: val accuracy [0-9.]+%, test accuracy [0-9.]+% \(500 images", output);
        Assert.True(File.Exists(Path.Combine(run, Trainer.BestCheckpointFile)));
        var model = TrainedModel.Load(Path.Combine(run, Trainer.CheckpointFile));
        Assert.Equal(784 * 32 + 32 + 32 * 16 + 16 + 16 * 10 + 10, model.Model.ParameterCount());
    }

    [Theory]
    [InlineData("--loss", "l2", "unknown loss 'l2'")]
    [InlineData("--hidden", "256,x", "--hidden takes layer widths")]
    [InlineData("--val-split", "1.5", "--val-split must be a fraction")]
    [InlineData("--early-stop", "0", "--early-stop must be a positive integer")]
    [InlineData("--monitor", "val_speed", "--monitor 'val_speed' is not a metric")]
    [InlineData("--clip-grad-norm", "-1", "--clip-grad-norm must be a positive number")]
    [InlineData("--channels", "2", "--channels must be 1 (gray) or 3 (RGB)")]
    [InlineData("--dataset", "imagenet", "unknown dataset 'imagenet'")]
    public void BadTrainingOptions_AreUsageErrors(string option, string value, string message)
    {
        var (code, _, err) = Run("train", option, value, "--out", Path.Combine(_dir, "bad"));
        Assert.Equal(2, code);
        Assert.Contains(message, err);
        Assert.Single(err.Trim().Split('\n'));
    }
}
