using System.Diagnostics;
using Fovea.Cli;
using Fovea.IO;
using Fovea.Vision.Imaging;
using Fovea.Vision.Serialization;
using Fovea.Vision.Training;
using static Fovea.Cli.Tests.CliRunner;

namespace Fovea.Cli.Tests;

/// <summary>Signals, resume defaults and contradictions, the data folder, non-finite checkpoints, from the command line.</summary>
public class RunManagementTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"fovea-cli-runs-{Guid.NewGuid():N}");

    public RunManagementTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string Sample => RepoPaths.Image("fashion-mnist-sample");

    private static readonly string[] Recipe = ["--model", "mlp", "--data", Sample, "--batch-size", "50", "--limit", "300", "--optimizer", "sgd", "--lr", "0.05"];

    /// <summary>A finished one-epoch run in <paramref name="name"/>; returns its checkpoint.</summary>
    private string Trained(string name)
    {
        string outDir = Path.Combine(_dir, name);
        var (code, output, err) = Run(["train", .. Recipe, "--epochs", "1", "--out", outDir]);
        Assert.True(code == 0, err);
        Assert.Contains($"data from {Sample}", output);
        return Path.Combine(outDir, Trainer.CheckpointFile);
    }

    private static void AssertOneLineError(string err, string contains)
    {
        Assert.Single(err.TrimEnd().Split('\n'));
        Assert.StartsWith("fovea: ", err);
        Assert.Contains(contains, err);
    }

    /// <summary>Where the built command is: beside the tests, or in its own project's output of the same configuration.</summary>
    private static string CliAssembly
    {
        get
        {
            string here = Path.Combine(AppContext.BaseDirectory, "Fovea.Cli.dll");
            if (File.Exists(Path.Combine(AppContext.BaseDirectory, "Fovea.Cli.runtimeconfig.json"))) return here;
            string configuration = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)).Parent!.Name;
            string tfm = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)).Name;
            return Path.Combine(RepoPaths.Root, "src", "Fovea.Cli", "bin", configuration, tfm, "Fovea.Cli.dll");
        }
    }

    [Theory]
    [InlineData("TERM", "SIGTERM", 143)]
    [InlineData("INT", "Ctrl-C", 0)]
    public async Task Signal_FinishesTheBatch_SavesTheCheckpoint_AndExitsWithItsCode(string signal, string shown, int exitCode)
    {
        if (OperatingSystem.IsWindows()) return; // no kill(1)
        string outDir = Path.Combine(_dir, "signal-" + signal);
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[] { CliAssembly, "--threads", "1", "train", "--model", "mlp", "--data", Sample, "--epochs", "1000", "--batch-size", "10", "--limit", "300", "--out", outDir })
            start.ArgumentList.Add(arg);
        using var process = Process.Start(start)!;
        var output = new System.Collections.Concurrent.ConcurrentQueue<string>();
        using var training = new ManualResetEventSlim();
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            output.Enqueue(e.Data);
            if (e.Data.StartsWith("epoch 1/1000 batch", StringComparison.Ordinal)) training.Set();
        };
        process.BeginOutputReadLine();
        var stderrTask = process.StandardError.ReadToEndAsync();
        try
        {
            Assert.True(training.Wait(TimeSpan.FromSeconds(60)), "training did not start: " + string.Join("\n", output));
            using (var kill = Process.Start("kill", $"-{signal} {process.Id}")) await kill.WaitForExitAsync();
            using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            try { await process.WaitForExitAsync(limit.Token); } // also drains the output
            catch (OperationCanceledException)
            {
                Assert.Fail($"still running 60 s after SIG{signal}; its output so far:\n{string.Join("\n", output.TakeLast(20))}");
            }
        }
        finally
        {
            if (!process.HasExited) process.Kill();
        }
        string all = string.Join("\n", output), stderr = await stderrTask;
        Assert.True(exitCode == process.ExitCode, $"exit {process.ExitCode}\n{all}\n{stderr}");
        Assert.Equal("", stderr);
        string ckpt = Path.Combine(outDir, Trainer.CheckpointFile);
        Assert.Contains($"interrupted by {shown}: finished the batch and saved {ckpt}; continue with: fovea train --resume {ckpt} (exit code {exitCode})", all);
        var saved = Checkpoint.Load(ckpt);
        Assert.True(saved.GetInt("epoch") >= 0);
        Assert.Equal(outDir, Trainer.ResumeOptions(ckpt).OutDir);
        Assert.DoesNotContain(Directory.GetFiles(outDir), AtomicFile.IsTemporary);
    }

    [Fact]
    public void Resume_WritesIntoTheCheckpointsFolder_AndAppliesMoreEpochs()
    {
        string ckpt = Trained("home");
        var (code, output, err) = Run("train", "--resume", ckpt, "--epochs", "2");
        Assert.True(code == 0, err);
        Assert.Contains($"writing into {Path.GetDirectoryName(ckpt)}", output);
        Assert.Contains("epoch 2/2: train loss", output);
        Assert.Equal(2, Checkpoint.Load(ckpt).GetInt("epoch"));
        Assert.Equal(2, File.ReadAllLines(Path.Combine(Path.GetDirectoryName(ckpt)!, Trainer.MetricsFile)).Length);
    }

    [Fact]
    public void Resume_IntoAnotherFolder_LeavesTheOriginalRunAlone()
    {
        string ckpt = Trained("original");
        byte[] before = File.ReadAllBytes(ckpt);
        string other = Path.Combine(_dir, "branch");
        var (code, output, err) = Run("train", "--resume", ckpt, "--epochs", "2", "--out", other);
        Assert.True(code == 0, err);
        Assert.Contains($"writing into {other}", output);
        Assert.Equal(before, File.ReadAllBytes(ckpt));
        Assert.Equal(2, Checkpoint.Load(Path.Combine(other, Trainer.CheckpointFile)).GetInt("epoch"));
    }

    [Theory]
    [InlineData("--lr 0.1", "--lr 0.1", "0.05")]
    [InlineData("--batch-size 64", "--batch-size 64", "50")]
    [InlineData("--model lenet5", "--model lenet5", "mlp")]
    [InlineData("--limit 100", "--limit 100", "300")]
    [InlineData("--max-batches 2", "--max-batches 2", "none")]
    [InlineData("--optimizer adam", "--optimizer adam", "sgd")]
    [InlineData("--seed 3", "--seed 3", "0")]
    [InlineData("--classes 0-4", "--classes 0,1,2,3,4", "none")]
    [InlineData("--augment", "--augment on", "off")]
    [InlineData("--scheduler cosine", "--scheduler cosine", "none")]
    [InlineData("--momentum 0.5", "--momentum 0.5", "0.9")]
    [InlineData("--weight-decay 0.001", "--weight-decay 0.001", "0")]
    public void Resume_WithAContradictingOption_IsRefusedInOneLine(string option, string shown, string recorded)
    {
        string ckpt = Trained("contradict");
        byte[] before = File.ReadAllBytes(ckpt);
        var (code, _, err) = Run(["train", "--resume", ckpt, .. option.Split(' ')]);
        Assert.Equal(2, code);
        AssertOneLineError(err, $"{shown} contradicts the checkpoint {ckpt}, which was trained with {recorded};");
        Assert.Equal(before, File.ReadAllBytes(ckpt));
    }

    [Fact]
    public void Resume_RepeatingTheCheckpointsOwnSettings_IsFine()
    {
        string ckpt = Trained("same");
        var (code, output, err) = Run(["train", "--resume", ckpt, .. Recipe, "--epochs", "2"]);
        Assert.True(code == 0, err);
        Assert.Contains("epoch 2/2: train loss", output);
    }

    [Theory]
    [InlineData("{")]
    [InlineData("[1,2]")]
    [InlineData("{\"lr\":\"fast\"}")]
    [InlineData("{\"batch_size\":0}")]
    public void Resume_WithMalformedArgsMetadata_IsOneLineNamingTheFile(string args)
    {
        var ckpt = Checkpoint.Load(Trained("args"));
        ckpt.Metadata["args"] = args;
        string bad = Path.Combine(_dir, "bad-args.safetensors");
        ckpt.Save(bad);
        var (code, _, err) = Run("train", "--resume", bad);
        Assert.Equal(1, code);
        AssertOneLineError(err, $"fovea: {bad}: the training arguments (metadata 'args') are ");
    }

    [Fact]
    public void DataFolder_WithATypo_FailsNamingIt_AndTrainsNothing()
    {
        string typo = Sample + "-typo";
        string outDir = Path.Combine(_dir, "typo");
        var (code, _, err) = Run("train", "--model", "mlp", "--data", typo, "--epochs", "1", "--out", outDir);
        Assert.Equal(1, code);
        AssertOneLineError(err, $"(looked in {typo}, as --data asks): there is no such folder");
        Assert.False(Directory.Exists(outDir));

        string partial = Path.Combine(_dir, "partial");
        Directory.CreateDirectory(partial);
        File.Copy(Path.Combine(Sample, "train-images-idx3-ubyte.gz"), Path.Combine(partial, "train-images-idx3-ubyte.gz"));
        (code, _, err) = Run("eval", "--checkpoint", Trained("for-eval"), "--data", partial);
        Assert.Equal(1, code);
        AssertOneLineError(err, "the folder lacks train-labels-idx1-ubyte(.gz), t10k-images-idx3-ubyte(.gz), t10k-labels-idx1-ubyte(.gz)");
    }

    [Fact]
    public void Eval_SaysWhichDataFolderItUsed()
    {
        var (code, output, err) = Run("eval", "--checkpoint", Trained("eval"), "--data", Sample);
        Assert.True(code == 0, err);
        Assert.Contains($"data from {Sample}", output);
    }

    [Fact]
    public void CheckpointWithNonFiniteWeights_IsAnErrorForEvalPredictAndResume()
    {
        var ckpt = Checkpoint.Load(Trained("nan"));
        string name = ckpt.Model.Keys[0];
        ckpt.Model[name].AsSpan<float>()[5] = float.NaN;
        string bad = Path.Combine(_dir, "nan.safetensors");
        ckpt.Save(bad);
        string image = Path.Combine(_dir, "shoe.png");
        ImageIO.SavePng(image, new ImagePlanes(new float[28 * 28], 1, 28, 28));
        foreach (var args in new[]
                 {
                     new[] { "eval", "--checkpoint", bad, "--data", Sample }, ["predict", "--checkpoint", bad, image], ["train", "--resume", bad],
                     ["train", .. Recipe, "--epochs", "1", "--init-from", bad, "--out", Path.Combine(_dir, "init")],
                 })
        {
            var (code, output, err) = Run(args);
            Assert.Equal(1, code);
            AssertOneLineError(err, $"fovea: {bad}: the weights hold NaN/Inf (tensor {name})");
            Assert.DoesNotContain("NaN%", output);
        }
    }

    [Fact]
    public void DivergingTraining_StopsAtTheFirstNonFiniteLoss_NamingEpochAndBatch()
    {
        // Finite weights so large that the first forward pass overflows: the loss of batch 1 is not a number.
        var ckpt = Checkpoint.Load(Trained("huge"));
        foreach (var key in ckpt.Model.Keys) ckpt.Model[key].AsSpan<float>().Fill(3e38f);
        string huge = Path.Combine(_dir, "huge.safetensors");
        ckpt.Save(huge);
        string outDir = Path.Combine(_dir, "diverge");
        var (code, _, err) = Run(["train", .. Recipe, "--epochs", "1", "--init-from", huge, "--out", outDir]);
        Assert.Equal(1, code);
        AssertOneLineError(err, "fovea: training stopped at epoch 1, batch 1: the loss is ");
        Assert.Contains("no checkpoint was written", err);
        Assert.False(File.Exists(Path.Combine(outDir, Trainer.CheckpointFile)));
    }
}
