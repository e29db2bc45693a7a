using Fovea.Vision.Datasets;
using Fovea.Vision.Imaging;
using Fovea.Vision.Models;
using Fovea.Vision.Serialization;
using Fovea.Vision.Training;

namespace Fovea.Vision.Tests.Training;

/// <summary>
/// The recipe on an image folder built at test time from the Fashion-MNIST sample (with a corrupt JPEG and a text
/// file among the images), its losses and models, the validation split, early stopping, the best checkpoint, and
/// checkpoints written before dropout kept its generator in the state dict.
/// </summary>
public class FolderTrainingTests : IDisposable
{
    private static MnistData Sample => TrainerTests.Sample;

    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"fovea-folder-{Guid.NewGuid():N}");

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    /// <summary>Three classes of the sample's test images, <paramref name="perClass"/> PNGs each, plus a corrupt JPEG and a non-image file.</summary>
    internal static string MakeFolder(string root, int perClass = 16)
    {
        var (x, y) = Trainer.Subset(Sample.TestImages, Sample.TestLabels, [1, 7, 8]);
        ImageFolderExport.Write(root, x, y, ["Trouser", "Sneaker", "Bag"], ImageFileType.Png, perClass);
        File.WriteAllBytes(Path.Combine(root, "Bag", "broken.jpg"), [0xFF, 0xD8, 0xFF, 0xE0, 0, 16, 1, 2, 3]);
        File.WriteAllText(Path.Combine(root, "Bag", "notes.txt"), "not an image");
        return root;
    }

    private TrainOptions FolderRun(string name, string folder) => new()
    {
        Model = "linear",
        DataDir = folder,
        Epochs = 2,
        BatchSize = 8,
        Optimizer = "adam",
        Lr = 0.01,
        Workers = 2,
        OutDir = Path.Combine(_dir, name),
    };

    [Fact]
    public void ImageFolder_Trains_RecordsClassNamesAndPreprocessing_AndEvaluatesAndPredictsByName()
    {
        string folder = MakeFolder(Path.Combine(_dir, "images"));
        var trainer = Trainer.Create(FolderRun("folder", folder));
        Assert.Equal("folder", trainer.Options.Dataset);
        Assert.Equal(["Bag", "Sneaker", "Trouser"], trainer.ClassNames); // ordinal folder order
        Assert.Equal((1, 28), (trainer.InputChannels, trainer.InputSize)); // gray PNGs: a gray model at the linear model's size
        Assert.Equal(49 - 9, trainer.TrainCount); // 16 + 16 + 17 images (one broken Bag), round(20%) of each class held out
        Assert.Equal(9, trainer.ValidationCount);
        Assert.Equal("val", trainer.ValidationName);
        Assert.Contains(trainer.Notes, n => n.Contains("1 file without an image extension"));
        var result = trainer.Run();
        Assert.Single(trainer.SkippedImages);
        Assert.EndsWith("broken.jpg", trainer.SkippedImages[0].Path);
        Assert.True(result.History[^1].TestAccuracy > 0.6, $"val accuracy {result.History[^1].TestAccuracy}");

        var ckpt = Checkpoint.Load(trainer.CheckpointPath);
        Assert.Equal("folder", ckpt.Metadata["dataset"]);
        Assert.Equal("[\"Bag\",\"Sneaker\",\"Trouser\"]", ckpt.Metadata["class_names"]);
        Assert.Equal(trainer.Preprocessing, Fovea.Vision.Transforms.Preprocessing.Parse(ckpt.Metadata["preprocessing"], "ckpt"));

        var model = TrainedModel.Load(trainer.CheckpointPath);
        Assert.Equal(["Bag", "Sneaker", "Trouser"], model.ClassNames);
        var images = model.FolderDataset(folder);
        var r = model.Evaluate(images.Loader(16, workers: 2));
        Assert.Equal(48, r.Count);
        Assert.Equal(1, images.SkippedCount);
        Assert.True(r.Accuracy > 0.6);

        // predict prepares the file as training did: the same input tensor, so the same logits.
        string file = Directory.GetFiles(Path.Combine(folder, "Sneaker"))[0];
        var top = model.Predict(ImageIO.Load(file), 3, out bool inverted);
        Assert.False(inverted);
        var input = trainer.Preprocessing!.Load(file).Unsqueeze(0);
        var expected = Evaluation.TopK(model.Model.Forward(input), 1)[0];
        Assert.Equal(model.ClassNames[expected.Class], top[0].Name);
        Assert.Equal(expected.Probability, top[0].Probability, 12);
    }

    [Fact]
    public void ImageFolder_CancelledMidEpoch_ResumesBitForBit_WithDecodingThreads()
    {
        string folder = MakeFolder(Path.Combine(_dir, "images"), perClass: 12);
        var options = FolderRun("straight", folder) with { Model = "mlp", Hidden = [16], Augment = true, Workers = 3 };
        var straight = Trainer.Create(options);
        straight.Run();

        using var cts = new CancellationTokenSource();
        var first = Trainer.Create(options with { OutDir = Path.Combine(_dir, "split") });
        Assert.True(first.Run(new Reporter(p => { if (p.Epoch == 2 && p.Batch == 2) cts.Cancel(); }), cancel: cts.Token).Cancelled);
        var resumed = Trainer.Create(Trainer.ResumeOptions(first.CheckpointPath) with { Workers = 1 });
        resumed.Run();
        foreach (var ((name, a), (_, b)) in straight.Model.NamedParameters().Zip(resumed.Model.NamedParameters()))
            Assert.True(a.Equal(b), $"{name} differs");
    }

    [Theory]
    [InlineData("hinge")]
    [InlineData("mse")]
    public void OtherLosses_Train_AndAreRecorded(string loss)
    {
        var options = new TrainOptions { Model = "linear", Loss = loss, Epochs = 2, BatchSize = 32, Lr = 3e-3, TrainLimit = 320, TestLimit = 200, OutDir = Path.Combine(_dir, loss) };
        var trainer = Trainer.Create(options, Sample);
        var result = trainer.Run();
        Assert.True(result.History[^1].TrainLoss < result.History[0].TrainLoss);
        Assert.True(result.History[^1].TestAccuracy > 0.5, $"{loss}: test accuracy {result.History[^1].TestAccuracy}");
        Assert.Equal(loss, Checkpoint.Load(trainer.CheckpointPath).Metadata["loss"]);
    }

    [Fact]
    public void Losses_AreTheNotesFormulas()
    {
        var logits = Tensor.FromArray(new float[] { 3.2f, 5.1f, -1.7f, 1.3f, 4.9f, 2.0f }, 2, 3);
        var y = Tensor.FromArray(new[] { 0, 1 }, 2);
        // The notes' cat/car example: max(0, 5.1 − 3.2 + 1) + max(0, −1.7 − 3.2 + 1) = 2.9; second row: 0 + max(0, 2.0 − 4.9 + 1) = 0.
        Assert.Equal((2.9 + 0) / 2, Trainer.LossFunction("hinge", 3)(logits, y).ToScalar(), 5);
        // Squared error against one-hot rows, averaged over the 6 elements.
        double mse = (Math.Pow(3.2 - 1, 2) + 5.1 * 5.1 + 1.7 * 1.7 + 1.3 * 1.3 + Math.Pow(4.9 - 1, 2) + 2.0 * 2.0) / 6;
        Assert.Equal(mse, Trainer.LossFunction("mse", 3)(logits, y).ToScalar(), 4);
        Assert.Throws<ArgumentException>(() => Trainer.LossFunction("l1", 3));
    }

    [Fact]
    public void LinearAndMlpModels_HaveTheNotesShapes()
    {
        var linear = (LinearClassifier)ModelZoo.Create("linear", 1, 10, 28);
        Assert.Equal(784 * 10 + 10, linear.ParameterCount());
        Assert.Equal([1, 28, 28], linear.Template(3).Shape);
        var mlp = Trainer.BuildModel("mlp", [256, 128], 1, 10, 28);
        Assert.Equal(ModelZoo.Create("mlp", 1, 10, 28).ParameterCount(), mlp.ParameterCount());
        Assert.Equal(784 * 64 + 64 + 64 * 10 + 10, Trainer.BuildModel("mlp", [64], 1, 10, 28).ParameterCount());
        Assert.Throws<ArgumentException>(() => Trainer.BuildModel("lenet5", [64], 1, 10, 28));
    }

    [Fact]
    public void ValSplit_HoldsOutEachClass_AndTheTestSetIsSeparate()
    {
        var trainer = Trainer.Create(new TrainOptions { Model = "linear", ValSplit = 0.25, Epochs = 1, TrainLimit = 400, OutDir = Path.Combine(_dir, "val") }, Sample);
        Assert.Equal(400, trainer.TrainCount + trainer.ValidationCount);
        Assert.InRange(trainer.ValidationCount, 95, 105);
        Assert.True(trainer.HasTest);
        Assert.Equal(500, trainer.TestCount);
        trainer.Run();
        Assert.Equal(500, trainer.EvaluateTest().Count);
        var (kept, held) = Trainer.StratifiedSplit(Tensor.FromArray(new[] { 0, 0, 0, 0, 1, 1, 1, 1 }, 8), 0.5, 3);
        Assert.Equal(4, held.Size(0));
        Assert.Equal(2, held.ToArray<int>().Count(i => i < 4));
        Assert.Empty(kept.ToArray<int>().Intersect(held.ToArray<int>()));
    }

    [Fact]
    public void EarlyStop_AndKeepBest_FromTheOptions()
    {
        // Monitoring the training loss for an increase: the first epoch is the best, the run stops after 1 + patience.
        var options = new TrainOptions
        {
            Model = "linear",
            Epochs = 6,
            BatchSize = 32,
            TrainLimit = 160,
            TestLimit = 64,
            EarlyStop = 2,
            Monitor = "train_loss:max",
            KeepBest = true,
            ClipGradNorm = 1,
            ClipGradValue = 0.5,
            OutDir = Path.Combine(_dir, "early"),
        };
        var trainer = Trainer.Create(options, Sample);
        var result = trainer.Run();
        Assert.True(result.StoppedEarly);
        Assert.Equal(3, result.CompletedEpochs);
        Assert.Equal(1, result.BestEpoch);
        Assert.Equal(1, Checkpoint.Load(result.BestCheckpointPath!).GetInt("epoch"));
        Assert.Equal(3, Checkpoint.Load(result.CheckpointPath).GetInt("epoch"));
    }

    [Fact]
    public void CheckpointWithDropoutGeneratorInMetadata_StillResumesExactly()
    {
        // Before dropout's generator was in the state dict, checkpoints held it as metadata rng.NAME = seed:position.
        var options = new TrainOptions { Model = "fmnist_cnn_small", Epochs = 2, BatchSize = 32, TrainLimit = 96, TestLimit = 32, OutDir = Path.Combine(_dir, "straight") };
        var straight = Trainer.Create(options, Sample);
        straight.Run();
        var first = Trainer.Create(options with { Epochs = 1, OutDir = Path.Combine(_dir, "old") }, Sample);
        first.Run();
        var ckpt = Checkpoint.Load(first.CheckpointPath);
        var old = new Fovea.NN.StateDict();
        foreach (var (name, t) in ckpt.Model)
        {
            if (!name.EndsWith(".rng_state", StringComparison.Ordinal)) { old.Add(name, t); continue; }
            var v = t.ToArray<int>();
            ckpt.Metadata["rng." + name[..^".rng_state".Length]] = $"{(uint)v[0] | ((ulong)(uint)v[1] << 32)}:{(uint)v[2] | ((long)(uint)v[3] << 32)}";
        }
        Assert.Contains(ckpt.Metadata.Keys, k => k.StartsWith("rng.", StringComparison.Ordinal));
        string legacy = Path.Combine(_dir, "old", "legacy.safetensors");
        new Checkpoint { Model = old, Optimizer = ckpt.Optimizer, Scheduler = ckpt.Scheduler, Metadata = ckpt.Metadata }.Save(legacy);
        Assert.Equal(first.Model.ParameterCount(), TrainedModel.Load(legacy).Model.ParameterCount()); // evaluates as before
        var resumed = Trainer.Create(Trainer.ResumeOptions(legacy) with { Epochs = 2 }, Sample);
        resumed.Run();
        foreach (var ((name, a), (_, b)) in straight.Model.NamedParameters().Zip(resumed.Model.NamedParameters()))
            Assert.True(a.Equal(b), $"{name} differs");
    }

    private sealed class Reporter(Action<BatchProgress> report) : IProgress<BatchProgress>
    {
        public void Report(BatchProgress value) => report(value);
    }
}
