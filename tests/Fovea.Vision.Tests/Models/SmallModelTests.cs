using Fovea.NN;
using Fovea.Vision.Models;

namespace Fovea.Vision.Tests.Models;

public class SmallModelTests
{
    [Fact]
    public void LeNet5_OnFashionMnistShapes()
    {
        var model = ModelZoo.Create("lenet5", 1, 10, 28);
        var y = model.Forward(Tensor.Zeros(4, 1, 28, 28));
        Assert.Equal([4, 10], y.Shape);
        // conv1 156 + conv2 2416 + fc 48120 + 10164 + 850
        Assert.Equal(61706, model.ParameterCount());
        Assert.Equal(["features.0.weight", "features.0.bias", "features.3.weight", "features.3.bias",
            "classifier.1.weight", "classifier.1.bias", "classifier.3.weight", "classifier.3.bias", "classifier.5.weight", "classifier.5.bias"],
            model.NamedParameters().Select(p => p.Name));
    }

    [Fact]
    public void Mlp_784_256_128_10()
    {
        var model = ModelZoo.Create("mlp", 1, 10, 28);
        Assert.Equal(784 * 256 + 256 + 256 * 128 + 128 + 128 * 10 + 10, model.ParameterCount());
        Assert.Equal([3, 10], model.Forward(Tensor.Zeros(3, 1, 28, 28)).Shape);
    }

    [Fact]
    public void SameGenerator_SameWeights()
    {
        var a = ModelZoo.Create("lenet5", 1, 10, 28, new Generator(5));
        var b = ModelZoo.Create("lenet5", 1, 10, 28, new Generator(5));
        var c = ModelZoo.Create("lenet5", 1, 10, 28, new Generator(6));
        Assert.All(a.Parameters().Zip(b.Parameters()), p => Assert.True(p.First.Equal(p.Second)));
        Assert.False(a.Parameters().First().Equal(c.Parameters().First()));
    }

    [Fact]
    public void UnknownModel_ListsTheChoices()
    {
        var e = Assert.Throws<ArgumentException>(() => ModelZoo.Create("lenet6", 1, 10, 28));
        Assert.Contains("lenet5", e.Message);
    }
}
