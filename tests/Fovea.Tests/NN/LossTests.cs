using Fovea.NN;
using F = Fovea.NN.Functional;

namespace Fovea.Tests.NN;

/// <summary>Loss modules, hand-computed values and bad-input messages.</summary>
public class LossTests
{
    [Fact]
    public void MultiMargin_IsTheMulticlassSvmHinge()
    {
        // Scores (1, 3, 2), target 0, margin 1: (max(0, 1 - 1 + 3) + max(0, 1 - 1 + 2)) / 3 = 5/3.
        var x = Tensor.FromArray(new[] { 1.0, 3, 2 }, 1, 3);
        Assert.Equal(5.0 / 3, new MultiMarginLoss().Forward(x, Tensor.From(0)).ToScalar(), 14);
        Assert.Equal((9.0 + 4) / 3, new MultiMarginLoss(p: 2).Forward(x, Tensor.From(0)).ToScalar(), 14);
    }

    [Fact]
    public void CrossEntropy_IsLogSoftmaxThenNll()
    {
        var x = Tensor.Randn([4, 5], new Generator(1), DType.Float64);
        var t = Tensor.From(0, 4, 2, 2);
        var ce = new CrossEntropyLoss().Forward(x, t);
        var nll = new NLLLoss().Forward(F.LogSoftmax(x, 1), t);
        Assert.Equal(nll.ToScalar(), ce.ToScalar(), 13);
    }

    [Fact]
    public void Losses_Reductions()
    {
        var x = Tensor.From(1.0, 2, 3);
        var y = Tensor.From(1.0, 0, 0);
        Assert.Equal([0.0, 4, 9], new MSELoss(Reduction.None).Forward(x, y).ToArray<double>());
        Assert.Equal(13, new MSELoss(Reduction.Sum).Forward(x, y).ToScalar());
        Assert.Equal(13 / 3.0, new MSELoss().Forward(x, y).ToScalar(), 14);
        Assert.Equal(5 / 3.0, new L1Loss().Forward(x, y).ToScalar(), 14);
        // Huber δ = 1 with |d| = 0, 2, 3: 0, then the linear branch 2 − ½ and 3 − ½.
        Assert.Equal(4, new HuberLoss(Reduction.Sum).Forward(x, y).ToScalar(), 14);
    }

    [Fact]
    public void ClassTargetOutOfRange_NamesTheIndexAndValue()
    {
        var x = Tensor.Zeros(3, 4);
        var e = Assert.Throws<ArgumentException>(() => new CrossEntropyLoss().Forward(x, Tensor.From(0, 7, 1)));
        Assert.Equal("cross_entropy: target 7 at index [1] is out of range for 4 classes (valid: 0 to 3, or the ignore index -100)", e.Message);
        var e2 = Assert.Throws<ArgumentException>(() => new MultiMarginLoss().Forward(x, Tensor.From(0, 1, -1)));
        Assert.Equal("multi_margin_loss: target -1 at index [2] is out of range for 4 classes (valid: 0 to 3)", e2.Message);
    }

    [Fact]
    public void BadShapes_NameBothShapes()
    {
        var e = Assert.Throws<ShapeException>(() => new MSELoss().Forward(Tensor.Zeros(2, 3), Tensor.Zeros(2, 4)));
        Assert.Equal("mse_loss: input and target must have the same shape, got input [2, 3] and target [2, 4] (dim 1: 3 != 4)", e.Message);
        var e2 = Assert.Throws<ShapeException>(() => new NLLLoss().Forward(Tensor.Zeros(4, 3), Tensor.From(0, 1)));
        Assert.Equal("nll_loss: expected target [N] for input [N, C], got input [4, 3] and target [2]", e2.Message);
        var e3 = Assert.Throws<DTypeException>(() => new NLLLoss().Forward(Tensor.Zeros(2, 3), Tensor.Zeros(2)));
        Assert.Contains("class-index targets must be int32", e3.Message);
    }

    [Fact]
    public void LossWeights_AreBuffersThatFollowTo()
    {
        var loss = new CrossEntropyLoss(Tensor.From(1f, 2f, 3f));
        Assert.Equal(["weight"], loss.NamedBuffers().Select(b => b.Name));
        loss.To(DType.Float64);
        var v = loss.Forward(Tensor.Zeros([2, 3], DType.Float64), Tensor.From(0, 2));
        Assert.Equal(Math.Log(3), v.ToScalar(), 14);
    }
}
