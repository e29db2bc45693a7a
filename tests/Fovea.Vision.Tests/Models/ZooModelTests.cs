using Fovea.NN;
using Fovea.Vision.Models;

namespace Fovea.Vision.Tests.Models;

/// <summary>
/// The ImageNet-scale models are built (parameter counts against torchvision, names, initialisation) but run only
/// on small inputs: a 224x224 forward pass is too slow for a unit test. Building a VGG draws ~250 million random
/// numbers, so each big model is built as few times as possible.
/// </summary>
public class ZooModelTests
{
    /// <summary>torchvision's parameter counts at 3 channels and 1000 classes (VGG, ResNet and GoogLeNet without aux heads).</summary>
    private static readonly Dictionary<string, long> Torchvision = new()
    {
        ["alexnet"] = 61_100_840,
        ["vgg11"] = 132_863_336,
        ["vgg11_bn"] = 132_868_840,
        ["vgg13"] = 133_047_848,
        ["vgg13_bn"] = 133_053_736,
        ["vgg16"] = 138_357_544,
        ["vgg16_bn"] = 138_365_992,
        ["vgg19"] = 143_667_240,
        ["vgg19_bn"] = 143_678_248,
        ["googlenet"] = 6_624_904,
        ["resnet18"] = 11_689_512,
        ["resnet34"] = 21_797_672,
        ["resnet50"] = 25_557_032,
    };

    public static TheoryData<string> AllNames() => [.. ModelZoo.Names];

    [Theory]
    [MemberData(nameof(AllNames))]
    public void EveryZooModel_BuildsAndSummarisesA28x28Image(string name)
    {
        var model = ModelZoo.Create(name, 3, 1000, 28, new Generator(1));
        if (Torchvision.TryGetValue(name, out long expected)) Assert.Equal(expected, model.ParameterCount());
        var summary = model.Summary(2, 3, 28, 28);
        Assert.Equal([2, 1000], summary.Rows[^1].OutputShape);
        Assert.Equal(model.ParameterCount(), summary.TotalParameters);
        Assert.Equal(model.ParameterCount(), summary.Rows.Sum(r => r.Parameters)); // every parameter sits in some row
        Assert.True(model.Training); // Summary restores the mode
        Assert.Contains("Total mult-adds", summary.ToString());
        if (model is Vgg { Depth: 16, BatchNorm: true } vgg) CheckVgg16Bn(vgg);
    }

    /// <summary>Checked on the VGG-16-BN that the theory above builds anyway (each VGG build costs seconds).</summary>
    private static void CheckVgg16Bn(Vgg vgg)
    {
        var p = vgg.StateDict();
        Assert.Equal([512, 512, 3, 3], p["features.40.weight"].Shape); // last conv of torchvision's vgg16_bn
        Assert.Equal([512], p["features.41.running_mean"].Shape);
        Assert.Equal([4096, 25088], p["classifier.0.weight"].Shape);
        Assert.Equal([1000, 4096], p["classifier.6.weight"].Shape);

        // Linear: N(0, 0.01²), zero bias. Conv: kaiming_normal(fan_out, relu), zero bias. Batch norm: 1, 0.
        Assert.Equal(0.01, p["classifier.3.weight"].Std().ToScalar(), 4);
        Assert.Equal(0, p["classifier.3.weight"].Mean().ToScalar(), 4);
        Assert.Equal(0, p["classifier.6.bias"].Abs().Sum().ToScalar());
        Assert.Equal(Math.Sqrt(2.0 / (512 * 9)), p["features.40.weight"].Std().ToScalar(), 3);
        Assert.Equal(0, p["features.0.bias"].Abs().Sum().ToScalar());
        Assert.Equal(512, p["features.41.weight"].Sum().ToScalar());

        // 28 -> 14 -> 7 -> 3 -> 1: the fifth pool has nothing to pool and becomes Identity, keeping the indices.
        Assert.IsType<Identity>(vgg.Features.Layers[^1]);
        Assert.Equal(4, vgg.Features.Layers.OfType<MaxPool2d>().Count());
    }

    [Theory]
    [InlineData("resnet20", 3, 269_722)]
    [InlineData("resnet20", 1, 269_434)]
    [InlineData("resnet56", 3, 853_018)]
    [InlineData("fmnist_cnn", 1, 468_010)]
    [InlineData("fmnist_cnn_small", 1, 218_586)]
    public void SmallModels_ParameterCount(string name, int channels, long expected) =>
        Assert.Equal(expected, ModelZoo.Create(name, channels, 10, 28).ParameterCount());

    [Fact]
    public void ResNet18_TorchvisionNamesInitAndStems()
    {
        var small = new ResNet(18, 3, 1000, 28, new Generator(4));
        var sd = small.StateDict();
        Assert.Equal([64, 3, 7, 7], sd["conv1.weight"].Shape);
        Assert.Equal([128, 64, 1, 1], sd["layer2.0.downsample.0.weight"].Shape);
        Assert.Equal([128], sd["layer2.0.downsample.1.running_var"].Shape);
        Assert.Equal([512, 512, 3, 3], sd["layer4.1.conv2.weight"].Shape);
        Assert.Equal([1000, 512], sd["fc.weight"].Shape);
        Assert.DoesNotContain("layer1.0.downsample.0.weight", sd.Keys);
        Assert.Contains("layer1.0.bn1.num_batches_tracked", sd.Keys);

        Assert.Equal(Math.Sqrt(2.0 / (512 * 9)), sd["layer4.1.conv2.weight"].Std().ToScalar(), 3);
        Assert.Equal(Math.Sqrt(2.0 / 128), sd["layer2.0.downsample.0.weight"].Std().ToScalar(), 2);
        Assert.Equal(512, sd["layer4.1.bn2.weight"].Sum().ToScalar());
        Assert.Equal(0, sd["layer4.1.bn2.bias"].Abs().Sum().ToScalar());
        double bound = 1 / Math.Sqrt(512); // fc keeps PyTorch's default U(-1/sqrt(in), 1/sqrt(in))
        Assert.InRange(sd["fc.weight"].Abs().Max().ToScalar(), 0.9 * bound, bound);

        var s = small.Summary(1, 3, 28, 28);
        Assert.Equal("Identity", Row(s, "maxpool").Layer); // stride-1 stem, no pool
        Assert.Equal([1, 64, 28, 28], Row(s, "maxpool").OutputShape);
        Assert.Equal([1, 512, 4, 4], Row(s, "layer4.1").OutputShape);

        var large = new ResNet(18, 3, 1000, 64);
        var l = large.Summary(1, 3, 64, 64);
        Assert.Equal([1, 64, 16, 16], Row(l, "maxpool").OutputShape); // torchvision's stem
        Assert.Equal([1, 512, 2, 2], Row(l, "layer4.1").OutputShape);
        Assert.Equal(Shapes(large), Shapes(small));
    }

    [Fact]
    public void ResNet50_TorchvisionNamesAndStrideOnThe3x3()
    {
        var r50 = new ResNet(50, 3, 1000, 64);
        var p = r50.NamedParameters().ToDictionary(x => x.Name, x => x.Parameter.Shape);
        Assert.Equal([256, 64, 1, 1], p["layer1.0.downsample.0.weight"]); // a width change alone needs a projection
        Assert.Equal([128, 128, 3, 3], p["layer2.0.conv2.weight"]);
        Assert.Equal([2048, 512, 1, 1], p["layer4.2.conv3.weight"]);
        Assert.Equal([1000, 2048], p["fc.weight"]);
        var block = (Bottleneck)((Sequential)r50.NamedChildren().Single(c => c.Name == "layer2").Module)[0];
        Assert.Equal([1, 2, 1], block.NamedChildren().Select(c => c.Module).OfType<Conv2d>().Select(c => c.StrideSize.H));
        var s = r50.Summary(1, 3, 64, 64);
        Assert.Equal([1, 2048, 2, 2], Row(s, "layer4.2").OutputShape);
    }

    [Fact]
    public void GoogLeNet_TorchvisionNamesInitAndStems()
    {
        var small = new GoogLeNet(3, 1000, 28, new Generator(4));
        var p = small.NamedParameters().ToDictionary(x => x.Name, x => x.Parameter);
        Assert.Equal([64, 3, 7, 7], p["conv1.conv.weight"].Shape);
        Assert.Equal([128, 96, 3, 3], p["inception3a.branch2.1.conv.weight"].Shape);
        Assert.Equal([32, 16, 3, 3], p["inception3a.branch3.1.conv.weight"].Shape); // torchvision's 3x3 in the "5x5" branch
        Assert.Equal([128, 832, 1, 1], p["inception5b.branch4.1.conv.weight"].Shape);
        Assert.Equal([1000, 1024], p["fc.weight"].Shape);
        Assert.DoesNotContain(p.Keys, k => k.StartsWith("aux", StringComparison.Ordinal) || k.EndsWith("conv.bias", StringComparison.Ordinal));
        Assert.All(small.NamedModules().Select(m => m.Module).OfType<BatchNorm2d>(), bn => Assert.Equal(0.001, bn.Eps));
        Assert.Equal(0.01, p["inception4e.branch1.conv.weight"].Std().ToScalar(), 3);
        Assert.Equal(0.01, p["fc.weight"].Std().ToScalar(), 3);

        var s = small.Summary(1, 3, 28, 28);
        Assert.Equal("Identity", Row(s, "maxpool1").Layer);
        Assert.Equal([1, 256, 14, 14], Row(s, "inception3a").OutputShape);
        Assert.Equal([1, 1024, 4, 4], Row(s, "inception5b").OutputShape);
        var large = new GoogLeNet(3, 1000, 64);
        Assert.Equal([1, 256, 8, 8], Row(large.Summary(1, 3, 64, 64), "inception3a").OutputShape);
        Assert.Equal(Shapes(large), Shapes(small));
    }

    [Fact]
    public void AlexNet_TorchvisionNamesAndStems()
    {
        var small = new AlexNet(3, 1000, 28);
        var p = small.NamedParameters().ToDictionary(x => x.Name, x => x.Parameter.Shape);
        Assert.Equal([64, 3, 11, 11], p["features.0.weight"]);
        Assert.Equal([256, 256, 3, 3], p["features.10.weight"]);
        Assert.Equal([4096, 9216], p["classifier.1.weight"]);
        Assert.Equal([1000, 4096], p["classifier.6.weight"]);
        var s = small.Summary(1, 3, 28, 28);
        Assert.Equal([1, 64, 28, 28], Row(s, "features.0").OutputShape);
        Assert.Equal([1, 256, 2, 2], Row(s, "features.12").OutputShape);
        Assert.Equal([1, 256, 6, 6], Row(s, "avgpool").OutputShape);
        var large = new AlexNet(3, 1000, 64);
        Assert.Equal([1, 64, 15, 15], Row(large.Summary(1, 3, 64, 64), "features.0").OutputShape);
        Assert.Equal(Shapes(large), Shapes(small));
    }

    [Fact]
    public void CifarResNet_InitialisesWithFanIn()
    {
        var c = new CifarResNet(20, 3, 10, 32, new Generator(4)).NamedParameters().ToDictionary(x => x.Name, x => x.Parameter);
        Assert.Equal(Math.Sqrt(2.0 / (64 * 9)), c["layer3.2.conv1.weight"].Std().ToScalar(), 3);
        Assert.DoesNotContain(c.Keys, k => k.Contains("shortcut", StringComparison.Ordinal)); // option A: no parameters
    }

    [Theory]
    [InlineData("resnet20")]
    [InlineData("googlenet")]
    [InlineData("fmnist_cnn")]
    public void SameGenerator_SameWeights(string name)
    {
        var a = ModelZoo.Create(name, 1, 10, 28, new Generator(7)).Parameters().ToList();
        var b = ModelZoo.Create(name, 1, 10, 28, new Generator(7)).Parameters().ToList();
        var c = ModelZoo.Create(name, 1, 10, 28, new Generator(8)).Parameters().ToList();
        Assert.All(a.Zip(b), p => Assert.True(p.First.Equal(p.Second)));
        Assert.False(a[0].Equal(c[0]));
        Assert.False(a[^2].Equal(c[^2]));
    }

    private static List<string> Shapes(Module m) => m.NamedParameters().Select(p => p.Name + ":" + string.Join("x", p.Parameter.Shape)).ToList();

    private static SummaryRow Row(ModelSummary s, string name) => s.Rows.Single(r => r.Name == name);
}
