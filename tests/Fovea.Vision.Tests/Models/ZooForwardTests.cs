using Fovea.NN;
using Fovea.Vision.Models;

namespace Fovea.Vision.Tests.Models;

public class ZooForwardTests
{
    [Theory]
    [InlineData("resnet20", 32)]
    [InlineData("fmnist_cnn", 28)]
    [InlineData("googlenet", 16)]
    [InlineData("resnet18", 16)]
    public void TrainingStep_ReachesEveryParameter(string name, int size)
    {
        var model = ModelZoo.Create(name, 3, 7, size, new Generator(2));
        var x = Tensor.Randn([2, 3, size, size], new Generator(3));
        var y = model.Forward(x);
        Assert.Equal([2, 7], y.Shape);
        Functional.CrossEntropy(y, Tensor.From(1, 5)).Backward();
        Assert.All(model.NamedParameters(), p => Assert.True(p.Parameter.Grad is not null, $"{p.Name} got no gradient"));
    }

    [Fact]
    public void FashionCnn_MultiplyAddsPerImage()
    {
        var s = ModelZoo.Create("fmnist_cnn", 1, 10, 28).Summary(1, 1, 28, 28);
        Assert.Equal(0, s.UnknownMultiplyAddRows);
        // convolutions 225,792 + 7,225,344 + 3,612,672 + 7,225,344; linear 401,408 + 1,280 (batch norm, activations and
        // pooling count 0, torchvision's convention for its published FLOPs)
        Assert.Equal(18_691_840, s.TotalMultiplyAdds);
        Assert.Equal([1, 64, 7, 7], s.Rows.Single(r => r.Name == "features.13").OutputShape);
        Assert.Equal(4_830_720, ModelZoo.Create("fmnist_cnn_small", 1, 10, 28).Summary(1, 1, 28, 28).TotalMultiplyAdds);
    }

    [Fact]
    public void PadShortcut_SubsamplesAndZeroPadsChannels()
    {
        var x = Tensor.Arange(32).Reshape(1, 2, 4, 4).RequiresGrad_();
        var y = new PadShortcut(2, 4, 2).Forward(x);
        Assert.Equal([1, 4, 2, 2], y.Shape);
        Assert.Equal([0f, 0, 0, 0, 0, 2, 8, 10, 16, 18, 24, 26, 0, 0, 0, 0], y.ToArray<float>());
        y.Sum().Backward();
        Assert.Equal([1f, 0, 1, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0], x.Grad!.Slice(1, 0, 1).Reshape(16).ToArray<float>());
    }

    [Fact]
    public void BadDepths_AreRejected()
    {
        Assert.Contains("6n + 2", Assert.Throws<ArgumentException>(() => new CifarResNet(21)).Message);
        Assert.Contains("18, 34, 50", Assert.Throws<ArgumentException>(() => new ResNet(20)).Message);
        Assert.Contains("11, 13, 16 or 19", Assert.Throws<ArgumentException>(() => new Vgg(12)).Message);
    }
}
