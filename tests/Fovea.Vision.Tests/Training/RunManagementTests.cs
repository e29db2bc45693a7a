using Fovea.IO;
using Fovea.Vision.Datasets;
using Fovea.Vision.Serialization;
using Fovea.Vision.Training;

namespace Fovea.Vision.Tests.Training;

/// <summary>Resume defaults and contradictions, malformed resume metadata, non-finite training and weights, stale temporary files.</summary>
public class RunManagementTests : IDisposable
{
    private static MnistData Sample => TrainerTests.Sample;

    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"fovea-runs-{Guid.NewGuid():N}");

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    private TrainOptions Quick(string name, int epochs = 1) => new()
    {
        Model = "mlp",
        Epochs = epochs,
        BatchSize = 32,
        Optimizer = "sgd",
        Lr = 0.05,
        Seed = 4,
        TrainLimit = 160,
        TestLimit = 64,
        MaxBatches = 4,
        OutDir = Path.Combine(_dir, name),
    };

    /// <summary>A finished one-epoch run; returns its checkpoint.</summary>
    private string Trained(string name, Func<TrainOptions, TrainOptions>? change = null)
    {
        var trainer = Trainer.Create((change ?? (o => o))(Quick(name)), Sample);
        trainer.Run();
        return trainer.CheckpointPath;
    }

    /// <summary>A copy of <paramref name="source"/> with <paramref name="change"/> applied to its contents.</summary>
    private string Altered(string source, string name, Action<Checkpoint> change)
    {
        var ckpt = Checkpoint.Load(source);
        change(ckpt);
        string path = Path.Combine(_dir, "altered", name + ".safetensors");
        ckpt.Save(path);
        return path;
    }

    [Fact]
    public void Resume_WritesIntoTheCheckpointsFolder_ByDefault()
    {
        string ckpt = Trained("home");
        var options = Trainer.ResumeOptions(ckpt);
        Assert.Equal(Path.GetDirectoryName(ckpt), options.OutDir);
        // Left unset, the output folder is the checkpoint's too (never the default runs/fovea).
        var trainer = Trainer.Create(options with { OutDir = null, Epochs = 2 }, Sample);
        Assert.Equal(ckpt, trainer.CheckpointPath);
        Assert.Contains(trainer.Notes, n => n.Contains($"writing into {Path.GetDirectoryName(ckpt)}", StringComparison.Ordinal));
        trainer.Run();
        Assert.Equal(2, Checkpoint.Load(ckpt).GetInt("epoch"));
        Assert.Equal(2, File.ReadAllLines(Path.Combine(Path.GetDirectoryName(ckpt)!, Trainer.MetricsFile)).Length);
    }

    [Fact]
    public void Resume_AppliesMoreEpochs_AnotherFolder_AndAnotherDataFolder()
    {
        string ckpt = Trained("applied");
        byte[] before = File.ReadAllBytes(ckpt);
        string elsewhere = Path.Combine(_dir, "elsewhere");
        var trainer = Trainer.Create(Trainer.ResumeOptions(ckpt) with { Epochs = 3, OutDir = elsewhere, DataDir = RepoPaths.TestData("fashion-mnist-sample") });
        Assert.Equal(3, trainer.Epochs);
        Assert.Equal(1, trainer.CompletedEpochs);
        Assert.Equal(RepoPaths.TestData("fashion-mnist-sample"), trainer.DataDirectory);
        Assert.Contains(trainer.Notes, n => n.StartsWith("data from ", StringComparison.Ordinal));
        var result = trainer.Run();
        Assert.Equal(3, result.CompletedEpochs);
        Assert.Equal(Path.Combine(elsewhere, Trainer.CheckpointFile), result.CheckpointPath);
        Assert.Equal(before, File.ReadAllBytes(ckpt)); // the original run is untouched
    }

    public static TheoryData<string, string, string> Contradictions => new()
    {
        // option, its new value as the message shows it, the checkpoint's value as the message shows it
        { "--batch-size", "64", "32" },
        { "--lr", "0.1", "0.05" },
        { "--model", "lenet5", "mlp" },
        { "--limit", "100", "160" },
        { "--max-batches", "2", "4" },
        { "--optimizer", "adam", "sgd" },
        { "--seed", "5", "4" },
        { "--classes", "0,1", "none" },
        { "--scheduler", "cosine", "none" },
        { "--augment", "on", "off" },
        { "--momentum", "0.5", "0.9" },
        { "--weight-decay", "0.01", "0" },
        { "--freeze", "fc1", "none" },
        { "--dataset", "cifar", "fashion-mnist" },
    };

    [Theory]
    [MemberData(nameof(Contradictions))]
    public void Resume_RefusesAContradictingSetting_NamingItAndTheCheckpointsValue(string option, string value, string recorded)
    {
        string ckpt = Trained("contradict-" + option.TrimStart('-'));
        var stored = Trainer.ResumeOptions(ckpt);
        var asked = option switch
        {
            "--batch-size" => stored with { BatchSize = 64 },
            "--lr" => stored with { Lr = 0.1 },
            "--model" => stored with { Model = "lenet5" },
            "--limit" => stored with { TrainLimit = 100 },
            "--max-batches" => stored with { MaxBatches = 2 },
            "--optimizer" => stored with { Optimizer = "adam" },
            "--seed" => stored with { Seed = 5 },
            "--classes" => stored with { Classes = [0, 1] },
            "--scheduler" => stored with { Scheduler = "cosine" },
            "--augment" => stored with { Augment = true },
            "--momentum" => stored with { Momentum = 0.5 },
            "--weight-decay" => stored with { WeightDecay = 0.01 },
            "--freeze" => stored with { Freeze = "fc1" },
            "--dataset" => stored with { Dataset = "cifar" },
            _ => throw new ArgumentOutOfRangeException(nameof(option)),
        };
        var e = Assert.Throws<TrainOptionException>(() => Trainer.Create(asked, Sample));
        Assert.StartsWith($"{option} {value} contradicts the checkpoint {ckpt}, which was trained with {recorded};", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void Resume_RefusesFewerEpochsThanDone_AndANewLengthForAPlannedSchedule()
    {
        string ckpt = Trained("fewer", o => o with { Epochs = 2 });
        var e = Assert.Throws<TrainOptionException>(() => Trainer.Create(Trainer.ResumeOptions(ckpt) with { Epochs = 1 }, Sample));
        Assert.Contains("has already finished 2 epochs", e.Message);

        string cosine = Trained("cosine", o => o with { Scheduler = "cosine" });
        e = Assert.Throws<TrainOptionException>(() => Trainer.Create(Trainer.ResumeOptions(cosine) with { Epochs = 4 }, Sample));
        Assert.Contains("the cosine schedule", e.Message);
        Assert.Contains("resume with --epochs 1", e.Message);
    }

    public static TheoryData<string> MalformedArgs => new()
    {
        "{", "[]", "null", "42", "\"text\"", "{\"lr\":\"fast\"}", "{\"batch_size\":-1}", "{\"batch_size\":1e10}", "{\"classes\":[99,1]}",
        "{\"classes\":[1]}", "{\"optimizer\":\"lbfgs\"}", "{\"optimizer\":null}", "{\"epochs\":0}", "{\"model\":\"resnet9000\"}",
        "{\"train_limit\":0}", "{\"lr\":\"NaN\"}", "{\"max_batches\":-3}", "{\"seed\":-1}", "{\"augment\":\"yes\"}", "{\"lr\":NaN}",
    };

    [Theory]
    [MemberData(nameof(MalformedArgs))]
    public void Resume_WithMalformedArgsMetadata_IsInvalidDataNamingTheFile(string args)
    {
        string good = Trained("args");
        string bad = Altered(good, "args-" + Math.Abs(args.GetHashCode()), c => c.Metadata["args"] = args);
        var e = Assert.Throws<InvalidDataException>(() => Trainer.ResumeOptions(bad));
        Assert.StartsWith(bad + ": ", e.Message);
        Assert.Contains("'args'", e.Message);
        e = Assert.Throws<InvalidDataException>(() => Trainer.Create(new TrainOptions { Resume = bad }, Sample));
        Assert.StartsWith(bad + ": ", e.Message);
    }

    [Theory]
    [InlineData("-1")]
    [InlineData("7")]
    [InlineData("one")]
    public void Resume_WithAnImpossibleEpoch_IsInvalidData(string epoch)
    {
        string bad = Altered(Trained("epoch"), "epoch" + epoch, c => c.Metadata["epoch"] = epoch);
        var e = Assert.Throws<InvalidDataException>(() => Trainer.ResumeOptions(bad));
        Assert.Contains("metadata 'epoch'", e.Message);
    }

    [Fact]
    public void Resume_WithWeightsOrOptimizerStateOfTheWrongShape_IsInvalidDataNamingTheFile()
    {
        string good = Trained("shape");
        var first = Checkpoint.Load(good).Model.First().Key;
        string badWeights = Altered(good, "weights", c => c.Model.Add(first, Tensor.Zeros(3, 5, 7)));
        var e = Assert.Throws<InvalidDataException>(() => Trainer.Create(Trainer.ResumeOptions(badWeights), Sample));
        Assert.StartsWith(badWeights + ": the weights do not fit", e.Message);

        string badState = Altered(good, "optimizer", c =>
        {
            var (index, state) = c.Optimizer!.State.First();
            var name = state.Keys.First();
            state[name] = Tensor.Zeros(2, 2, 2, 2);
        });
        e = Assert.Throws<InvalidDataException>(() => Trainer.Create(Trainer.ResumeOptions(badState), Sample));
        Assert.StartsWith(badState + ": the optimizer state does not fit", e.Message);
    }

    /// <summary>Sets one weight of <paramref name="trainer"/>'s model to <paramref name="value"/>.</summary>
    private static string Poison(Trainer trainer, float value, int which = 0)
    {
        var (name, p) = trainer.Model.NamedParameters().ElementAt(which);
        p.AsSpan<float>()[3] = value;
        return name;
    }

    [Theory]
    [InlineData(float.NaN)]
    [InlineData(float.PositiveInfinity)]
    [InlineData(float.NegativeInfinity)]
    public void NonFiniteLoss_StopsAtThatBatch_AndWritesNothing(float value)
    {
        var trainer = Trainer.Create(Quick("nan-first"), Sample);
        Poison(trainer, value);
        var e = Assert.Throws<TrainingDivergedException>(() => trainer.Run());
        Assert.Equal((1, 1), (e.Epoch, e.Batch));
        Assert.StartsWith("training stopped at epoch 1, batch 1: the loss is ", e.Message);
        Assert.Contains("no checkpoint was written", e.Message);
        Assert.False(Directory.Exists(trainer.Options.OutDir) && Directory.EnumerateFiles(trainer.Options.OutDir).Any());
    }

    [Fact]
    public void NonFiniteLoss_MidRun_KeepsTheLastGoodCheckpoint()
    {
        string ckpt = Trained("nan-later");
        byte[] good = File.ReadAllBytes(ckpt);
        var trainer = Trainer.Create(Trainer.ResumeOptions(ckpt) with { Epochs = 2 }, Sample);
        var e = Assert.Throws<TrainingDivergedException>(() => trainer.Run(new Reporter(p =>
        {
            if (p.Batch == 2) Poison(trainer, float.NaN);
        })));
        Assert.Equal((2, 3), (e.Epoch, e.Batch));
        Assert.Contains($"{ckpt} keeps the last good state", e.Message);
        Assert.Equal(good, File.ReadAllBytes(ckpt));
        Assert.DoesNotContain(Directory.EnumerateFiles(Path.GetDirectoryName(ckpt)!), AtomicFile.IsTemporary);
    }

    [Fact]
    public void NonFiniteWeights_AfterTheLastBatch_AreNeverSaved()
    {
        // The loss of every batch was finite, but the last step left an infinite weight: the epoch's save refuses it.
        var trainer = Trainer.Create(Quick("inf-at-end"), Sample);
        string poisoned = "";
        var e = Assert.Throws<TrainingDivergedException>(() => trainer.Run(new Reporter(p =>
        {
            if (p.Batch == p.Batches) poisoned = Poison(trainer, float.PositiveInfinity, which: 2);
        })));
        Assert.Equal((1, 4), (e.Epoch, e.Batch));
        Assert.Contains($"the weights hold NaN/Inf (tensor {poisoned})", e.Message);
        Assert.False(File.Exists(trainer.CheckpointPath));
        Assert.False(File.Exists(trainer.MetricsPath));
    }

    [Theory]
    [InlineData(float.NaN, 0)]
    [InlineData(float.PositiveInfinity, 1)]
    [InlineData(float.NegativeInfinity, 3)]
    public void CheckpointWithNonFiniteWeights_IsRefusedForEvalResumeAndInit(float value, int which)
    {
        string good = Trained("nonfinite");
        string name = "";
        string bad = Altered(good, $"nonfinite-{which}", c =>
        {
            name = c.Model.Keys[which];
            c.Model[name].AsSpan<float>()[0] = value;
        });
        string expected = $"{bad}: the weights hold NaN/Inf (tensor {name})";
        Assert.Equal(expected, Assert.Throws<InvalidDataException>(() => TrainedModel.Load(bad)).Message);
        Assert.Equal(expected, Assert.Throws<InvalidDataException>(() => Trainer.Create(new TrainOptions { Resume = bad }, Sample)).Message);
        Assert.Equal(expected, Assert.Throws<InvalidDataException>(() => Trainer.Create(Quick("init") with { InitFrom = bad }, Sample)).Message);
    }

    [Fact]
    public void StaleTemporaryFiles_InTheRunFolder_AreRemovedByTheNextRun()
    {
        string dir = Path.Combine(_dir, "stale");
        Directory.CreateDirectory(dir);
        // What kill -9 during a save leaves: temporary checkpoints, metrics and empty curve files of a dead process.
        string[] stale =
        [
            $".checkpoint.safetensors{AtomicFile.TempMarker}1999999999-{new string('0', 32)}",
            "checkpoint.safetensors.tmp-1999999998-" + new string('a', 32),
            "metrics.jsonl.tmp-1999999997",
            ".curves.png.1999999996." + new string('b', 32) + ".tmp",
        ];
        foreach (var name in stale) File.WriteAllBytes(Path.Combine(dir, name), []);
        var trainer = Trainer.Create(Quick("stale"), Sample);
        trainer.Run();
        Assert.Equal([Trainer.CheckpointFile, Trainer.CurveFile, Trainer.MetricsFile],
            Directory.GetFiles(dir).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }

    private sealed class Reporter(Action<BatchProgress> report) : IProgress<BatchProgress>
    {
        public void Report(BatchProgress value) => report(value);
    }
}
