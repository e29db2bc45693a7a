using Fovea.Cli;
using static Fovea.Cli.Tests.CliRunner;

namespace Fovea.Cli.Tests;

/// <summary>fovea summary: torchvision's parameter totals and ResNet-18's multiply-adds.</summary>
public class SummaryCommandTests
{

    [Fact]
    public void ResNet18_At224_HasTorchvisionsParametersAndMultiplyAdds()
    {
        var (code, output, err) = Run("summary", "resnet18");
        Assert.True(code == 0, err);
        Assert.Contains("resnet18 for 3x224x224 inputs, 1000 classes", output);
        Assert.Contains("Total params: 11,689,512", output);
        // torchvision lists ResNet-18 at 1.81 G multiply-adds ("GFLOPS" in its table): convolutions and the classifier.
        Assert.Contains("Total mult-adds: 1,814,073,344", output);
        Assert.Contains("Total FLOPs: 3,628,146,688 (2 per mult-add)", output);
        Assert.Contains("layer4.1: BasicBlock", output);
        Assert.Contains("[1, 512, 7, 7]", output);
    }

    [Theory]
    [InlineData("alexnet", "61,100,840")]
    [InlineData("vgg16", "138,357,544")]
    public void ParameterTotals_AreTorchvisions(string model, string total)
    {
        // The totals do not depend on the input size (adaptive pooling before the classifier): a small input keeps the test fast.
        var (code, output, err) = Run("summary", model, "--input", "3,32,32", "--classes", "1000");
        Assert.True(code == 0, err);
        Assert.Contains($"Total params: {total}", output);
    }

    [Fact]
    public void MlpWithHiddenWidths_AndBadArguments()
    {
        var (code, output, _) = Run("summary", "mlp", "--hidden", "64");
        Assert.Equal(0, code);
        Assert.Contains("mlp for 1x28x28 inputs, 10 classes", output);
        Assert.Contains($"Total params: {784 * 64 + 64 + 64 * 10 + 10:N0}", output);
        Assert.Contains("Total mult-adds: 50,816", output);
        Assert.Equal(2, Run("summary", "resnet9000").Code);
        Assert.Contains("--input takes C,H,W", Run("summary", "lenet5", "--input", "28,28").Err);
        Assert.Contains("hidden layer widths apply to the mlp model", Run("summary", "lenet5", "--hidden", "10").Err);
    }
}
