using System.Text.Json;
using Fovea.Vision.Datasets;
using Fovea.Vision.Imaging;
using Fovea.Vision.Models;
using Fovea.Vision.Serialization;
using Fovea.Vision.Training;

namespace Fovea.Vision.Tests.Training;

public class TrainerTests : IDisposable
{
    private static readonly Lazy<MnistData> SampleData = new(() => FashionMnist.Load(RepoPaths.TestData("fashion-mnist-sample")));

    internal static MnistData Sample => SampleData.Value;

    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"fovea-train-{Guid.NewGuid():N}");

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    private TrainOptions Quick(string name, int epochs = 2) => new()
    {
        Model = "mlp",
        Epochs = epochs,
        BatchSize = 32,
        Optimizer = "adam",
        Lr = 2e-3,
        TrainLimit = 320,
        TestLimit = 200,
        OutDir = Path.Combine(_dir, name),
    };

    private static void AssertSameWeights(Trainer a, Trainer b)
    {
        foreach (var ((name, x), (_, y)) in a.Model.NamedParameters().Zip(b.Model.NamedParameters()))
            Assert.True(x.Equal(y), $"{name} differs");
    }

    [Fact]
    public void Training_LowersTheLoss_AndBeatsChance()
    {
        var trainer = Trainer.Create(Quick("basic", epochs: 3) with { TrainLimit = null, TestLimit = null }, Sample);
        var losses = new List<double>();
        var result = trainer.Run(new Reporter(p => losses.Add(p.Loss)));
        Assert.False(result.Cancelled);
        Assert.Equal(3, result.History.Count);
        Assert.True(result.History[^1].TrainLoss < result.History[0].TrainLoss);
        Assert.True(losses.Take(5).Average() > losses.TakeLast(5).Average() + 0.3, "the batch loss should fall clearly");
        Assert.True(result.History[^1].TestAccuracy > 0.6, $"test accuracy {result.History[^1].TestAccuracy} should be far above chance (0.1)");
    }

    [Fact]
    public void Resume_AfterOneEpoch_EqualsTwoStraightEpochs()
    {
        // Augmentation makes sure the shuffle and augmentation generators follow the loader's epoch.
        var options = Quick("straight") with { Augment = true };
        var straight = Trainer.Create(options, Sample);
        straight.Run();

        var first = Trainer.Create(options with { Epochs = 1, OutDir = Path.Combine(_dir, "split") }, Sample);
        first.Run();
        var resumed = Trainer.Create(Trainer.ResumeOptions(first.CheckpointPath) with { Epochs = 2 }, Sample);
        Assert.Equal(1, resumed.CompletedEpochs);
        var result = resumed.Run();

        AssertSameWeights(straight, resumed);
        Assert.Equal(straight.History.Select(m => (m.TrainLoss, m.TestLoss, m.TestAccuracy)), result.History.Select(m => (m.TrainLoss, m.TestLoss, m.TestAccuracy)));
        Assert.Equal(2, File.ReadAllLines(result.MetricsPath).Length);
    }

    [Fact]
    public void Resume_OfAModelWithDropout_EqualsTwoStraightEpochs()
    {
        // fmnist_cnn_small draws dropout masks every batch: the checkpoint must carry its generator's position.
        var options = Quick("dropout") with { Model = "fmnist_cnn_small", TrainLimit = 96, TestLimit = 32 };
        var straight = Trainer.Create(options, Sample);
        straight.Run();

        var dir = Path.Combine(_dir, "dropout-split");
        var first = Trainer.Create(options with { Epochs = 1, OutDir = dir }, Sample);
        first.Run();
        var resumed = Trainer.Create(Trainer.ResumeOptions(first.CheckpointPath) with { Epochs = 2 }, Sample);
        resumed.Run();

        AssertSameWeights(straight, resumed);
    }

    [Fact]
    public void Resume_WithAPerBatchSchedule_StoppedAtAnEpochEnd_EqualsTheStraightRun()
    {
        var options = Quick("straight") with { Scheduler = "onecycle" };
        var straight = Trainer.Create(options, Sample);
        straight.Run();

        var dir = Path.Combine(_dir, "split");
        using var cts = new CancellationTokenSource();
        var first = Trainer.Create(options with { OutDir = dir }, Sample);
        Assert.True(first.Run(epochDone: _ => cts.Cancel(), cancel: cts.Token).Cancelled);
        var resumed = Trainer.Create(Trainer.ResumeOptions(first.CheckpointPath), Sample);
        resumed.Run();
        AssertSameWeights(straight, resumed);
        Assert.Equal(straight.Scheduler!.LastLr, resumed.Scheduler!.LastLr);
        Assert.Throws<TrainOptionException>(() => Trainer.Create(Trainer.ResumeOptions(first.CheckpointPath) with { Epochs = 3 }, Sample));
    }

    [Fact]
    public void Cancellation_FinishesTheBatch_SavesACheckpoint_AndResumesExactly()
    {
        var options = Quick("straight", epochs: 2) with { Optimizer = "sgd", Lr = 0.05, Scheduler = "cosine" };
        var straight = Trainer.Create(options, Sample);
        straight.Run();

        var dir = Path.Combine(_dir, "cancelled");
        var interrupted = Trainer.Create(options with { OutDir = dir }, Sample);
        using var cts = new CancellationTokenSource();
        int batches = 0;
        var result = interrupted.Run(new Reporter(p => { if (p.Epoch == 2 && p.Batch == 4) cts.Cancel(); batches++; }), cancel: cts.Token);
        Assert.True(result.Cancelled);
        Assert.Equal(interrupted.BatchesPerEpoch + 4, batches);
        var ckpt = Checkpoint.Load(Path.Combine(dir, Trainer.CheckpointFile));
        Assert.Equal(1, ckpt.GetInt("epoch"));
        Assert.Equal(4, ckpt.GetInt("batch"));

        var resumed = Trainer.Create(Trainer.ResumeOptions(result.CheckpointPath) with { Epochs = 0 }, Sample);
        Assert.Equal(2, resumed.Epochs);
        resumed.Run();
        AssertSameWeights(straight, resumed);
        Assert.Equal(straight.History[^1].TrainLoss, resumed.History[^1].TrainLoss);
    }

    [Fact]
    public void MetricsFile_HasOneJsonObjectPerEpoch_AndTheCurveIsAPng()
    {
        var options = Quick("metrics") with { Metrics = Path.Combine(_dir, "m", "metrics.jsonl") };
        var result = Trainer.Create(options, Sample).Run();
        var lines = File.ReadAllLines(options.Metrics!);
        Assert.Equal(2, lines.Length);
        for (int i = 0; i < lines.Length; i++)
        {
            using var doc = JsonDocument.Parse(lines[i]);
            var root = doc.RootElement;
            Assert.Equal(i + 1, root.GetProperty("epoch").GetInt32());
            foreach (var key in new[] { "train_loss", "train_accuracy", "test_loss", "test_accuracy", "seconds", "images_per_second" })
                Assert.True(root.GetProperty(key).GetDouble() >= 0, key);
        }
        var png = ImageIO.Load(result.CurvePath);
        Assert.Equal((900, 340), (png.Width, png.Height));
        Assert.Contains(png.Data, v => v < 0.5f); // something was drawn
    }

    [Fact]
    public void Freeze_KeepsFrozenWeightsBitIdentical()
    {
        var options = Quick("frozen", epochs: 1) with { Model = "lenet5", Freeze = "features", TrainLimit = 96, TestLimit = 50 };
        var trainer = Trainer.Create(options, Sample);
        var before = trainer.Model.NamedParameters().ToDictionary(p => p.Name, p => p.Parameter.Clone());
        trainer.Run();
        Assert.Contains(trainer.Notes, n => n.Contains("froze 4 parameter tensors"));
        foreach (var (name, p) in trainer.Model.NamedParameters())
        {
            if (name.StartsWith("features", StringComparison.Ordinal)) Assert.True(p.Equal(before[name]), $"{name} changed although frozen");
            else Assert.False(p.Equal(before[name]), $"{name} did not train");
        }
    }

    [Fact]
    public void InitFrom_ReadsAPlainSafetensorsFileWithTorchvisionNames()
    {
        // What a user converts from a torchvision checkpoint: no Fovea metadata, DataParallel's "module." prefix, an
        // ImageNet head of 1000 classes (stays fresh for this run's 10).
        var source = new ResNet(18, 1, 1000, 28, new Generator(5));
        Directory.CreateDirectory(_dir);
        string path = Path.Combine(_dir, "resnet18-torchvision.safetensors");
        SafeTensors.Save(path, source.StateDict().Select(kv => KeyValuePair.Create("module." + kv.Key, kv.Value)));
        var trainer = Trainer.Create(Quick("torchvision", epochs: 1) with { Model = "resnet18", InitFrom = path, TrainLimit = 64, TestLimit = 50 }, Sample);
        var loaded = trainer.Model.StateDict();
        Assert.True(loaded["layer3.1.conv2.weight"].Equal(source.StateDict()["layer3.1.conv2.weight"]));
        Assert.True(loaded["conv1.weight"].Equal(source.StateDict()["conv1.weight"]));
        Assert.Equal([10, 512], loaded["fc.weight"].Shape);
    }

    [Fact]
    public void InitFrom_WithAnotherClassCount_KeepsTheHeadFresh_AndSaysSo()
    {
        var pre = Trainer.Create(Quick("pre", epochs: 1) with { Model = "lenet5", Classes = [0, 1, 2, 3, 4], TrainLimit = 64, TestLimit = 50 }, Sample);
        pre.Run();
        var fine = Trainer.Create(Quick("fine", epochs: 1) with { Model = "lenet5", InitFrom = pre.CheckpointPath, Freeze = "features", TrainLimit = 64, TestLimit = 50 }, Sample);
        Assert.Contains(fine.Notes, n => n.Contains("5 classes") && n.Contains("classifier.5.weight"));
        var pf = pre.Model.NamedParameters().ToDictionary(p => p.Name, p => p.Parameter);
        foreach (var (name, p) in fine.Model.NamedParameters().Where(p => p.Name.StartsWith("features", StringComparison.Ordinal)))
            Assert.True(p.Equal(pf[name]), $"{name} was not loaded");

        // Same class count (5 → 5 other classes): everything loads.
        var same = Trainer.Create(Quick("same", epochs: 1) with { Model = "lenet5", InitFrom = pre.CheckpointPath, Classes = [5, 6, 7, 8, 9], TrainLimit = 64, TestLimit = 50 }, Sample);
        Assert.DoesNotContain(same.Notes, n => n.Contains("kept fresh"));
        Assert.Equal(["Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"], same.ClassNames);
    }

    [Fact]
    public void TrainedModel_EvaluatesAndPredicts_FromTheCheckpoint()
    {
        var trainer = Trainer.Create(Quick("tm", epochs: 2) with { TrainLimit = null, TestLimit = null }, Sample);
        trainer.Run();
        var model = TrainedModel.Load(trainer.CheckpointPath);
        var r = model.Evaluate(Sample);
        Assert.Equal(500, r.Count);
        Assert.Equal(trainer.History[^1].TestAccuracy, r.Accuracy, 12);
        var image = new ImagePlanes(Sample.TestImages.Select(0, 0).Contiguous().ToArray<float>(), 1, 28, 28);
        var top = model.Predict(image, 3, out bool inverted);
        Assert.False(inverted);
        Assert.Equal(3, top.Count);
        Assert.True(top[0].Probability >= top[1].Probability && top[1].Probability >= top[2].Probability);
        Assert.InRange(top.Sum(t => t.Probability), 0, 1.0000001);
    }

    [Fact]
    public void UnknownModel_AndBadOptions_FailWithOneMessage()
    {
        var e = Assert.Throws<ArgumentException>(() => Trainer.Create(Quick("x") with { Model = "resnet9000" }, Sample));
        Assert.Contains("unknown model 'resnet9000'", e.Message);
        Assert.Throws<ArgumentException>(() => Trainer.Create(Quick("x") with { Optimizer = "lbfgs" }, Sample));
        Assert.Throws<ArgumentException>(() => TrainOptions.ParseClasses("4-1"));
        Assert.Equal([0, 1, 2, 8], TrainOptions.ParseClasses("0-2,8"));
    }

    private sealed class Reporter(Action<BatchProgress> report) : IProgress<BatchProgress>
    {
        public void Report(BatchProgress value) => report(value);
    }
}
