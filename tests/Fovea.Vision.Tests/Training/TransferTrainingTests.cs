using System.Text.Json;
using Fovea.NN;
using Fovea.Optim;
using Fovea.Vision.Datasets;
using Fovea.Vision.Imaging;
using Fovea.Vision.Models;
using Fovea.Vision.Serialization;
using Fovea.Vision.Training;
using Fovea.Vision.Transforms;

namespace Fovea.Vision.Tests.Training;

/// <summary>
/// Training a pretrained body with a new head (<see cref="TrainOptions.Pretrained"/>) and fancy PCA colour augmentation
/// (<see cref="TrainOptions.PcaColor"/>). The trainer only needs an <see cref="ITransferClassifier"/>: here a small one
/// stands in for Fovea.Onnx's ImageNet ResNet-18 (whose own runs are in the CLI tests), registered under the zoo name the
/// pretrained resnet18 gets.
/// </summary>
public class TransferTrainingTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"fovea-transfer-{Guid.NewGuid():N}");

    static TransferTrainingTests()
    {
        if (!ModelZoo.Contains(TrainOptions.PretrainedModelName("resnet18")))
            ModelZoo.Register(TrainOptions.PretrainedModelName("resnet18"), (c, k, _, g) => new SmallTransfer(c, k, g));
    }

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    /// <summary>A convolution and pooling as the "pretrained" body, a linear head; counts the images the body sees.</summary>
    internal sealed class SmallTransfer : Module<Tensor, Tensor>, ITransferClassifier
    {
        private bool _frozen;

        public SmallTransfer(int channels, int classes, Generator g)
        {
            Body = RegisterModule("features", new Sequential(new Conv2d(channels, 4, 3, stride: 2, generator: g), new ReLU(), new AdaptiveAvgPool2d(2), new Flatten()));
            Linear = RegisterModule("head", new Linear(16, classes, generator: g));
            BodyFrozen = true;
        }

        public Sequential Body { get; }

        public Linear Linear { get; }

        public int ImagesThroughBody { get; private set; }

        public bool BodyFrozen
        {
            get => _frozen;
            set
            {
                _frozen = value;
                if (value) Body.Freeze();
                else Body.Unfreeze();
            }
        }

        public IEnumerable<Tensor> BodyParameters => Body.Parameters();

        public IEnumerable<Tensor> HeadParameters => Linear.Parameters();

        public Module<Tensor, Tensor> Head => Linear;

        public Tensor ExtractFeatures(Tensor images)
        {
            ImagesThroughBody += images.Size(0);
            if (!BodyFrozen) return Body.Forward(images);
            using var _ = GradMode.Disable();
            return Body.Forward(images);
        }

        public override Tensor Forward(Tensor input) => Head.Forward(ExtractFeatures(input));
    }

    private TrainOptions Options(string name) => new()
    {
        Pretrained = "resnet18",
        Epochs = 2,
        BatchSize = 32,
        Lr = 1e-2,
        TrainLimit = 128,
        TestLimit = 64,
        OutDir = Path.Combine(_dir, name),
    };

    [Fact]
    public void FrozenBody_TrainsTheHeadOnly_ComputingEachImagesFeaturesOnce()
    {
        var trainer = Trainer.Create(Options("frozen"), TrainerTests.Sample);
        var model = Assert.IsType<FeatureCachingClassifier>(trainer.Model);
        var inner = Assert.IsType<SmallTransfer>(model.Classifier);
        var bodyBefore = inner.Body.StateDict().Select(kv => kv.Value.Clone()).ToList();
        var headBefore = inner.Linear.Weight.Clone();
        Assert.Contains(trainer.Notes, n => n.StartsWith("pretrained resnet18: body frozen (", StringComparison.Ordinal));
        Assert.Contains(trainer.Notes, n => n.Contains("features are computed once", StringComparison.Ordinal));
        trainer.Run();

        // 128 training + 64 test images, each through the body once over two epochs of training and validation.
        Assert.Equal(128 + 64, inner.ImagesThroughBody);
        Assert.Equal(128 + 64, model.CachedImages);
        foreach (var (before, after) in bodyBefore.Zip(inner.Body.StateDict().Select(kv => kv.Value)))
            Assert.True(before.Equal(after), "a frozen body must stay bit-identical");
        Assert.False(headBefore.Equal(inner.Linear.Weight), "the head must train");

        // The checkpoint holds the classifier under its own names and reloads as the zoo model.
        var loaded = TrainedModel.Load(trainer.CheckpointPath);
        Assert.Equal("pretrained_resnet18", loaded.ModelName);
        Assert.True(((SmallTransfer)loaded.Model).Linear.Weight.Equal(inner.Linear.Weight));
    }

    [Fact]
    public void FeatureCache_GivesTheClassifiersOwnOutputs_ForRepeatsAndNewImages()
    {
        var clf = new SmallTransfer(1, 3, new Generator(4));
        var cached = new FeatureCachingClassifier(clf);
        Assert.Equal(clf.StateDict().Keys, cached.StateDict().Keys);
        var x = Tensor.Rand([5, 1, 12, 12], new Generator(9));
        var batch = Tensor.Cat([x, x.Narrow(0, 1, 2)], 0); // two images twice in one batch
        using var _ = GradMode.Disable();
        var first = cached.Forward(batch);
        Assert.Equal(5, clf.ImagesThroughBody);
        var again = cached.Forward(x.Narrow(0, 2, 3));
        Assert.Equal(5, clf.ImagesThroughBody);
        Assert.True(first.Equal(clf.Head.Forward(clf.Body.Forward(batch))));
        Assert.True(again.Equal(first.Narrow(0, 2, 3)));

        clf.BodyFrozen = false; // fine-tuning: the cache is bypassed
        cached.Forward(x);
        Assert.Equal(10, clf.ImagesThroughBody);
    }

    [Fact]
    public void Unfreeze_TrainsTheBodyInItsOwnGroup_AtTheScaledRate()
    {
        var options = Options("unfrozen") with { Unfreeze = true, BodyLrScale = 0.25, Scheduler = "onecycle", Epochs = 1 };
        var trainer = Trainer.Create(options, TrainerTests.Sample);
        var model = Assert.IsType<SmallTransfer>(trainer.Model);
        Assert.Equal(2, trainer.Optimizer.ParamGroups.Count);
        var head = trainer.Optimizer.ParamGroups[0];
        var body = trainer.Optimizer.ParamGroups[1];
        Assert.Equal(model.BodyParameters, body.Parameters);
        Assert.Equal(model.Linear.Parameters(), head.Parameters);
        Assert.Equal(0.25 * head.Lr, body.Lr, 12);
        Assert.Contains(trainer.Notes, n => n.Contains("fine-tuning the body (", StringComparison.Ordinal) && n.Contains("at 0.25 x the rate", StringComparison.Ordinal));
        var bodyBefore = model.Body.StateDict().Select(kv => kv.Value.Clone()).ToList();
        trainer.Run(new Reporter(_ => Assert.Equal(0.25 * head.Lr, body.Lr, 12)));
        Assert.Contains(bodyBefore.Zip(model.Body.StateDict().Select(kv => kv.Value)), p => !p.First.Equal(p.Second));

        // A resumed run keeps the fine-tuning settings.
        var err = Assert.Throws<TrainOptionException>(() => Trainer.Create(Trainer.ResumeOptions(trainer.CheckpointPath) with { Epochs = 1, BodyLrScale = 0.5 }, TrainerTests.Sample));
        Assert.StartsWith("--body-lr-scale 0.5 contradicts the checkpoint", err.Message);
    }

    [Fact]
    public void PretrainedOptions_AreChecked()
    {
        Assert.Contains("--unfreeze fine-tunes a pretrained body", Assert.Throws<ArgumentException>(() => (Options("x") with { Pretrained = null, Unfreeze = true }).Validate()).Message);
        Assert.Contains("unknown pretrained network 'vgg99'", Assert.Throws<ArgumentException>(() => (Options("x") with { Pretrained = "vgg99" }).Validate()).Message);
        Assert.Contains("--model lenet5 contradicts it", Assert.Throws<ArgumentException>(() => (Options("x") with { Model = "lenet5" }).Validate()).Message);
        Assert.Contains("body's learning-rate scale", Assert.Throws<ArgumentException>(() => (Options("x") with { BodyLrScale = 0 }).Validate()).Message);
    }

    [Fact]
    public void PcaAugmentation_OnAGrayDataset_IsRefusedClearly()
    {
        var options = new TrainOptions { Model = "linear", Epochs = 1, TrainLimit = 64, TestLimit = 32, PcaColor = true, OutDir = Path.Combine(_dir, "gray") };
        var err = Assert.Throws<TrainOptionException>(() => Trainer.Create(options, TrainerTests.Sample));
        Assert.StartsWith("--augment pca shifts each image's colour along the RGB principal components", err.Message);
        Assert.Contains("1-channel (gray)", err.Message);
    }

    [Fact]
    public void PcaAugmentation_OnAColourFolder_ShiftsTheTrainingImages_AndIsRecorded()
    {
        string root = ColourFolder(Path.Combine(_dir, "colour"));
        TrainOptions Run(string name, bool pca) => new()
        {
            Model = "linear",
            DataDir = root,
            Epochs = 1,
            BatchSize = 8,
            Workers = 1,
            Seed = 3,
            PcaColor = pca,
            OutDir = Path.Combine(_dir, name),
        };
        var plain = Trainer.Create(Run("plain", false));
        var pca = Trainer.Create(Run("pca", true));
        Assert.Contains(pca.Notes, n => n.StartsWith("colour PCA of 16 training images: eigenvalues ", StringComparison.Ordinal));
        plain.Run();
        pca.Run();
        Assert.False(plain.Model.StateDict()["fc.weight"].Equal(pca.Model.StateDict()["fc.weight"]), "the colour shifts must change what the model learns");
        var args = Checkpoint.Load(pca.CheckpointPath).Metadata["args"];
        Assert.True(JsonDocument.Parse(args).RootElement.GetProperty("pca_color").GetBoolean());
        // Repeatable: the same seed draws the same shifts.
        var again = Trainer.Create(Run("again", true));
        again.Run();
        Assert.True(again.Model.StateDict()["fc.weight"].Equal(pca.Model.StateDict()["fc.weight"]));
    }

    [Fact]
    public void PcaAugmentation_OnColourTensors_IsFittedOnTheTrainingSet_AndChangesTraining()
    {
        // Colour images held as tensors (CIFAR-10's path): the sample's gray images tinted per class.
        var sample = TrainerTests.Sample;
        Tensor Tint(Tensor gray, Tensor labels)
        {
            var x = gray.Narrow(0, 0, 96); // [96, 1, 28, 28] in [0, 1]
            var tint = labels.Narrow(0, 0, 96).To(DType.Float32).Div(9.0).Reshape(96, 1, 1, 1);
            return Tensor.Cat([x.Mul(tint), x, x.Mul(tint.Neg().Add(1.0))], 1).Contiguous();
        }
        var colour = new MnistData(Tint(sample.TrainImages, sample.TrainLabels), sample.TrainLabels.Narrow(0, 0, 96),
            Tint(sample.TestImages, sample.TestLabels), sample.TestLabels.Narrow(0, 0, 96), "colour");
        TrainOptions Run(string name, bool pca) => new() { Model = "linear", Epochs = 1, BatchSize = 16, Seed = 1, PcaColor = pca, OutDir = Path.Combine(_dir, name) };
        var plain = Trainer.Create(Run("plain", false), colour);
        var pca = Trainer.Create(Run("pca", true), colour);
        var expected = ColorPrincipalComponents.FromImages(colour.TrainImages);
        var note = Assert.Single(pca.Notes, n => n.StartsWith("colour PCA of 96 training images: eigenvalues ", StringComparison.Ordinal));
        Assert.Contains(expected.Eigenvalues[0].ToString("0.####", System.Globalization.CultureInfo.InvariantCulture), note);
        plain.Run();
        pca.Run();
        Assert.False(plain.Model.StateDict()["fc.weight"].Equal(pca.Model.StateDict()["fc.weight"]));
    }

    /// <summary>Two classes of 12x12 colour images (reddish and bluish with noise), 10 of each.</summary>
    internal static string ColourFolder(string root)
    {
        var rng = new Random(5);
        foreach (var (cls, tint) in new[] { ("red", new[] { 0.8f, 0.3f, 0.2f }), ("blue", new[] { 0.2f, 0.3f, 0.8f }) })
        {
            Directory.CreateDirectory(Path.Combine(root, cls));
            for (int i = 0; i < 10; i++)
            {
                var data = new float[3 * 12 * 12];
                for (int c = 0; c < 3; c++)
                    for (int p = 0; p < 144; p++) data[c * 144 + p] = Math.Clamp(tint[c] + (float)(rng.NextDouble() - 0.5) * 0.4f, 0, 1);
                ImageIO.SavePng(Path.Combine(root, cls, $"{i:D2}.png"), new ImagePlanes(data, 3, 12, 12));
            }
        }
        return root;
    }

    private sealed class Reporter(Action<Fovea.Training.BatchProgress> report) : IProgress<Fovea.Training.BatchProgress>
    {
        public void Report(Fovea.Training.BatchProgress value) => report(value);
    }
}
