using Fovea.NN;
using Fovea.Vision.Models;
using Fovea.Vision.Serialization;

namespace Fovea.Vision.Tests.Serialization;

/// <summary>
/// torchvision's weights in a safetensors file, as <c>safetensors.torch.save_file(model.state_dict(), path)</c> writes
/// them. The files here are built from zoo models' weights stored under torchvision's names, listed independently of
/// Fovea's model code by torchvision's own naming rules.
/// </summary>
public class TorchvisionWeightsTests : IDisposable
{
    /// <summary>One randomised resnet18 for every test (building one draws millions of numbers).</summary>
    private static readonly Lazy<ResNet> Source = new(() => Randomised(10, 1));

    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"tv-{Guid.NewGuid():N}");

    public TorchvisionWeightsTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>torchvision.models.resnet18().state_dict().keys(), in torchvision's order.</summary>
    private static List<string> TorchvisionResNet18Names()
    {
        string[] Bn(string m) => [$"{m}.weight", $"{m}.bias", $"{m}.running_mean", $"{m}.running_var", $"{m}.num_batches_tracked"];
        var names = new List<string> { "conv1.weight" };
        names.AddRange(Bn("bn1"));
        for (int layer = 1; layer <= 4; layer++)
            for (int block = 0; block < 2; block++)
            {
                string p = $"layer{layer}.{block}";
                names.Add($"{p}.conv1.weight");
                names.AddRange(Bn($"{p}.bn1"));
                names.Add($"{p}.conv2.weight");
                names.AddRange(Bn($"{p}.bn2"));
                if (layer > 1 && block == 0)
                {
                    names.Add($"{p}.downsample.0.weight");
                    names.AddRange(Bn($"{p}.downsample.1"));
                }
            }
        names.AddRange(["fc.weight", "fc.bias"]);
        return names;
    }

    /// <summary>A resnet18 whose every tensor (batch-norm statistics included) is random, so a round trip proves something.</summary>
    private static ResNet Randomised(int classes, ulong seed)
    {
        var model = new ResNet(18, 3, classes, 28, new Generator(seed));
        var g = new Generator(seed + 100);
        using (GradMode.Disable())
            foreach (var (name, t) in model.StateDict())
            {
                if (name.EndsWith("num_batches_tracked", StringComparison.Ordinal)) t.FillInPlace(1000 + (int)seed);
                else if (name.EndsWith("running_var", StringComparison.Ordinal)) t.CopyFrom(Tensor.Uniform(t.Shape, 0.5, 2, g));
                else t.CopyFrom(Tensor.Randn(t.Shape, g));
            }
        return model;
    }

    /// <summary>The model's tensors under torchvision's names (with an optional wrapper prefix), as save_file writes them.</summary>
    private string SaveAsTorchvision(Module model, string file, string prefix = "", Func<string, bool>? keep = null, params (string Name, Tensor Value)[] extra)
    {
        var state = model.StateDict();
        var tv = TorchvisionResNet18Names().Where(n => keep?.Invoke(n) ?? true).Select(n => new KeyValuePair<string, Tensor>(prefix + n, state[n])).ToList();
        tv.AddRange(extra.Select(e => new KeyValuePair<string, Tensor>(e.Name, e.Value)));
        string path = Path.Combine(_dir, file);
        SafeTensors.Save(path, tv);
        return path;
    }

    [Fact]
    public void ResNet18_LoadsTorchvisionNamedWeightsExactly()
    {
        var source = Source.Value;
        // The zoo keeps torchvision's names (Fovea lists parameters before buffers; the order does not matter).
        Assert.Equal(TorchvisionResNet18Names().Order(StringComparer.Ordinal), source.StateDict().Keys.Order(StringComparer.Ordinal));
        // A DataParallel model's state dict has every name prefixed with "module.".
        string path = SaveAsTorchvision(source, "resnet18.safetensors", "module.");
        var target = new ResNet(18, 3, 10, 28, new Generator(2));
        Assert.Empty(TorchvisionWeights.Load(path, target, "resnet18"));
        var (a, b) = (source.StateDict(), target.StateDict());
        Assert.All(a.Keys, k => Assert.True(a[k].Equal(b[k]), k));
    }

    [Fact]
    public void ImageNetHead_StaysFreshForAnotherClassCount_AndTheCheckpointNamesTheModel()
    {
        var source = Source.Value;
        var g = new Generator(3);
        string path = SaveAsTorchvision(source, "resnet18-imagenet.safetensors", keep: n => !n.StartsWith("fc.", StringComparison.Ordinal),
            extra: [("fc.weight", Tensor.Randn([1000, 512], g)), ("fc.bias", Tensor.Randn([1000], g))]);
        var target = new ResNet(18, 3, 10, 28, new Generator(4));
        var head = target.Fc.Weight.Clone();
        Assert.Equal(["fc.weight", "fc.bias"], TorchvisionWeights.Load(path, target, "ResNet18"));
        Assert.True(target.Fc.Weight.Equal(head));
        Assert.True(target.StateDict()["layer4.1.conv2.weight"].Equal(source.StateDict()["layer4.1.conv2.weight"]));
        var ckpt = TorchvisionWeights.ReadCheckpoint(path, target, "ResNet18");
        Assert.Equal("resnet18", ckpt.Metadata["model"]);
        Assert.Equal([1000, 512], ckpt.Model["fc.weight"].Shape);
        // What --init-from reads: the same for a plain file, a Fovea checkpoint as Checkpoint.Load reads it.
        Assert.True(TorchvisionWeights.ReadInitialWeights(path, target, "resnet18").Model["fc.bias"].Equal(ckpt.Model["fc.bias"]));
        string fovea = Path.Combine(_dir, "fovea.safetensors");
        new Checkpoint { Model = target.StateDict(), Metadata = new() { ["model"] = "resnet18" } }.Save(fovea);
        Assert.True(TorchvisionWeights.ReadInitialWeights(fovea, target, "resnet18").Model["fc.weight"].Equal(target.Fc.Weight));
        var e = Assert.Throws<InvalidDataException>(() => TorchvisionWeights.ReadInitialWeights(path, target, "lenet5"));
        Assert.Contains("not a Fovea checkpoint", e.Message);
    }

    [Fact]
    public void WrongNames_AreListedAsMissingAndUnexpected()
    {
        string path = SaveAsTorchvision(Source.Value, "renamed.safetensors", keep: n => n != "layer4.1.bn2.running_var",
            extra: [("aux1.conv.weight", Tensor.Zeros(2, 2)), ("layer4.1.bn2.running_variance", Tensor.Zeros(512))]);
        var e = Assert.Throws<InvalidDataException>(() => TorchvisionWeights.Load(path, Source.Value, "resnet18"));
        Assert.Contains(path, e.Message);
        Assert.Contains("missing 1 (layer4.1.bn2.running_var)", e.Message);
        Assert.Contains("unexpected 2 (aux1.conv.weight, layer4.1.bn2.running_variance)", e.Message);
    }

    [Fact]
    public void AShapeOutsideTheHead_IsAClearError_AndOnlyTorchvisionModelsAreAccepted()
    {
        string path = SaveAsTorchvision(Source.Value, "gray.safetensors", keep: n => n != "conv1.weight", extra: [("conv1.weight", Tensor.Zeros(64, 1, 7, 7))]);
        var e = Assert.Throws<InvalidDataException>(() => TorchvisionWeights.Load(path, Source.Value, "resnet18"));
        Assert.Contains("conv1.weight is [64, 1, 7, 7] in the file but [64, 3, 7, 7] in resnet18", e.Message);
        Assert.Throws<ArgumentException>(() => TorchvisionWeights.Load(path, Source.Value, "fmnist_cnn"));
    }

    [Fact]
    public void FoveaName_DropsWrapperPrefixesOnly()
    {
        Assert.Equal("features.0.weight", TorchvisionWeights.FoveaName("module.features.0.weight"));
        Assert.Equal("classifier.6.bias", TorchvisionWeights.FoveaName("_orig_mod.module.classifier.6.bias"));
        Assert.Equal("layer1.0.bn1.running_mean", TorchvisionWeights.FoveaName("layer1.0.bn1.running_mean"));
        Assert.Equal("module.", TorchvisionWeights.FoveaName("module."));
    }

    [Fact]
    public void AlexNet_HasTorchvisionsNames()
    {
        // torchvision.models.alexnet().state_dict().keys()
        string[] expected = ["features.0.weight", "features.0.bias", "features.3.weight", "features.3.bias", "features.6.weight", "features.6.bias",
            "features.8.weight", "features.8.bias", "features.10.weight", "features.10.bias", "classifier.1.weight", "classifier.1.bias",
            "classifier.4.weight", "classifier.4.bias", "classifier.6.weight", "classifier.6.bias"];
        // Dropout's generator position (rng_state, for exact resume) is Fovea's own state, absent from torchvision's files.
        Assert.Equal(expected, ModelZoo.Create("alexnet", 3, 2, 28).StateDict().Keys.Where(k => !k.EndsWith(".rng_state", StringComparison.Ordinal)));
    }
}
