using Fovea.Cli;
using Fovea.Vision.Datasets;
using Fovea.Vision.Imaging;
using Fovea.Vision.Training;
using static Fovea.Cli.Tests.CliRunner;

namespace Fovea.Cli.Tests;

public class TrainingCommandTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"fovea-cli-{Guid.NewGuid():N}");

    public TrainingCommandTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string Sample
    {
        get
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Fovea.sln"))) dir = dir.Parent;
            return Path.Combine(dir!.FullName, "tests", "Fovea.Vision.Tests", "Data", "fashion-mnist-sample");
        }
    }

    private string Train(string name, params string[] extra)
    {
        string outDir = Path.Combine(_dir, name);
        var (code, output, err) = Run(["train", "--model", "mlp", "--data", Sample, "--epochs", "1", "--batch-size", "50", "--limit", "300", "--out", outDir, .. extra]);
        Assert.True(code == 0, err);
        Assert.Contains("epoch 1/1: train loss", output);
        return outDir;
    }

    [Fact]
    public void Train_PrintsProgressAndEpochLines_AndWritesItsFiles()
    {
        string outDir = Path.Combine(_dir, "run");
        var (code, output, err) = Run("train", "--model", "mlp", "--data", Sample, "--epochs", "2", "--batch-size", "50", "--limit", "300",
            "--optimizer", "sgd", "--lr", "0.05", "--scheduler", "cosine", "--seed", "3", "--out", outDir);
        Assert.True(code == 0, err);
        Assert.Equal("", err);
        Assert.Contains("model mlp (235,146 parameters", output);
        Assert.Contains("epoch 1/2 batch 6/6 loss", output);
        Assert.Contains("img/s eta", output);
        Assert.Contains("epoch 2/2: train loss", output);
        Assert.Contains("| test loss", output);
        Assert.Contains("done: test accuracy", output);
        Assert.True(File.Exists(Path.Combine(outDir, Trainer.CheckpointFile)));
        Assert.Equal(2, File.ReadAllLines(Path.Combine(outDir, Trainer.MetricsFile)).Length);
        Assert.Equal(900, ImageIO.Load(Path.Combine(outDir, Trainer.CurveFile)).Width);
    }

    [Fact]
    public void Train_Cancelled_SavesACheckpoint_ExitsZero_AndResumes()
    {
        string outDir = Path.Combine(_dir, "cancel");
        var options = TrainCommand.Parse(new Args("train", ["--model", "mlp", "--data", Sample, "--epochs", "1", "--batch-size", "50", "--limit", "300", "--out", outDir]));
        var o = new StringWriter();
        int code = TrainCommand.Run(options, o, new CancellationToken(canceled: true));
        Assert.Equal(0, code);
        Assert.Contains("interrupted: finished the batch and saved", o.ToString());
        string ckpt = Path.Combine(outDir, Trainer.CheckpointFile);
        Assert.True(File.Exists(ckpt));

        var (rc, output, err) = Run("train", "--resume", ckpt, "--out", outDir);
        Assert.True(rc == 0, err);
        Assert.Contains("resuming", output);
        Assert.Contains("batch 1 of the next", output);
        Assert.Contains("epoch 1/1: train loss", output);
    }

    [Fact]
    public void Eval_PrintsAccuracy_PerClassTable_AndConfusionMatrix()
    {
        string ckpt = Path.Combine(Train("eval"), Trainer.CheckpointFile);
        var (code, output, err) = Run("eval", "--checkpoint", ckpt, "--data", Sample);
        Assert.True(code == 0, err);
        Assert.Contains("500 test images: accuracy", output);
        Assert.Contains("per-class accuracy", output);
        Assert.Contains("Ankle boot", output);
        Assert.Contains("confusion matrix", output);
        Assert.Contains("true \\ predicted", output);
    }

    [Fact]
    public void Predict_PrintsTheTopThreeClasses()
    {
        string ckpt = Path.Combine(Train("predict"), Trainer.CheckpointFile);
        var data = FashionMnist.Load(Sample);
        // A 56x56 RGB picture with a light background, as a photo would be: predict must shrink, gray and invert it.
        var one = data.TestImages.Select(0, 0).Contiguous().ToArray<float>();
        var rgb = new float[3 * 56 * 56];
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < 56; y++)
                for (int x = 0; x < 56; x++) rgb[c * 56 * 56 + y * 56 + x] = 1 - one[y / 2 * 28 + x / 2];
        string png = Path.Combine(_dir, "shoe.png");
        ImageIO.SavePng(png, new ImagePlanes(rgb, 3, 56, 56));
        var (code, output, err) = Run("predict", "--checkpoint", ckpt, png);
        Assert.True(code == 0, err);
        Assert.Contains("-> gray 28x28, inverted", output);
        Assert.Contains("  1. ", output);
        Assert.Contains("  3. ", output);
        Assert.DoesNotContain("  4. ", output);
        Assert.Contains("%", output);
    }

    [Fact]
    public void ToyXor_GetsAllFourRight_AndWritesThePicture()
    {
        string png = Path.Combine(_dir, "xor.png");
        var (code, output, err) = Run("toy", "xor", "-o", png);
        Assert.True(code == 0, err);
        Assert.Contains("4/4 correct", output);
        Assert.Contains("1 xor 1 = 0", output);
        Assert.True(File.Exists(png));
    }

    [Fact]
    public void ToyFit_AndInpaint_WritePictures()
    {
        string fit = Path.Combine(_dir, "fit.png");
        var (code, output, err) = Run("toy", "fit", "--function", "abs", "--hidden", "3", "-o", fit);
        Assert.True(code == 0, err);
        Assert.Contains("fit abs at 50 points", output);
        Assert.True(File.Exists(fit));

        string grid = Path.Combine(_dir, "inpaint.png");
        (code, output, err) = Run("inpaint", "--data", Sample, "--samples", "300", "--epochs", "1", "--hidden", "32", "-o", grid);
        Assert.True(code == 0, err);
        Assert.Contains("inside the masked square", output);
        Assert.True(File.Exists(grid));
    }

    [Theory]
    [InlineData("unknown model 'nosuchnet'", "train", "--model", "nosuchnet", "--epochs", "1")]
    [InlineData("unknown optimizer 'lbfgs'", "train", "--model", "mlp", "--optimizer", "lbfgs")]
    [InlineData("classes: '9-3'", "train", "--classes", "9-3")]
    [InlineData("unknown option '--bogus'", "train", "--bogus")]
    [InlineData("--checkpoint FILE is required", "eval")]
    [InlineData("unknown experiment 'nand'", "toy", "nand")]
    [InlineData("unknown function 'cube'", "toy", "fit", "--function", "cube")]
    public void BadInput_IsOneLineAndNonZero(string message, params string[] args)
    {
        var (code, output, err) = Run(args);
        Assert.NotEqual(0, code);
        Assert.Single(err.TrimEnd().Split('\n'));
        Assert.Contains(message, err);
        Assert.DoesNotContain("   at ", err);
        _ = output;
    }

    [Fact]
    public void CorruptOrMissingCheckpoint_IsOneLineAndNonZero()
    {
        string bad = Path.Combine(_dir, "bad.safetensors");
        File.WriteAllBytes(bad, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
        foreach (var args in new[] { new[] { "eval", "--checkpoint", bad, "--data", Sample }, ["predict", "--checkpoint", bad, "x.png"], ["train", "--resume", bad],
                     ["eval", "--checkpoint", Path.Combine(_dir, "missing.safetensors")] })
        {
            var (code, _, err) = Run(args);
            Assert.Equal(1, code);
            Assert.Single(err.TrimEnd().Split('\n'));
            Assert.StartsWith("fovea: ", err);
        }
    }

    [Fact]
    public void MissingData_SaysWhereItLooked()
    {
        // Only meaningful where no copy of the dataset is installed or cached (a fresh CI machine before the package).
        if (FashionMnist.Locate(null) is not null) return;
        var (code, _, err) = Run("train", "--model", "mlp", "--data", Path.Combine(_dir, "nothing-here"), "--epochs", "1");
        Assert.Equal(1, code);
        Assert.Contains("Fashion-MNIST not found (looked in", err);
        Assert.Contains("--download", err);
    }

    [Fact]
    public void Help_ListsTheTrainingCommands()
    {
        var (_, output, _) = Run("help");
        foreach (var name in new[] { "train", "eval", "predict", "toy", "inpaint" }) Assert.Contains($"  {name} ", output);
        Assert.Contains(TrainOptions.DefaultModel, output);
    }
}
