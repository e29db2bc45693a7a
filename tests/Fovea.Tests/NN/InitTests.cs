using Fovea.NN;

namespace Fovea.Tests.NN;

public class InitTests
{
    private static double Std(Tensor t)
    {
        var v = t.To(DType.Float64).ToArray<double>();
        double mean = v.Average();
        return Math.Sqrt(v.Sum(x => (x - mean) * (x - mean)) / v.Length);
    }

    [Fact]
    public void CalculateGain_MatchesPyTorch()
    {
        Assert.Equal(1, Init.CalculateGain(Nonlinearity.Linear));
        Assert.Equal(1, Init.CalculateGain(Nonlinearity.Sigmoid));
        Assert.Equal(5.0 / 3, Init.CalculateGain(Nonlinearity.Tanh));
        Assert.Equal(Math.Sqrt(2), Init.CalculateGain(Nonlinearity.Relu));
        Assert.Equal(Math.Sqrt(2 / 1.0001), Init.CalculateGain(Nonlinearity.LeakyRelu), 15);
        Assert.Equal(Math.Sqrt(2 / 1.04), Init.CalculateGain(Nonlinearity.LeakyRelu, 0.2), 15);
        Assert.Equal(0.75, Init.CalculateGain(Nonlinearity.Selu));
    }

    [Fact]
    public void Fans_AreComputedLikePyTorch()
    {
        Assert.Equal((75, 400), Init.CalculateFans(Tensor.Zeros(16, 3, 5, 5)));
        Assert.Equal((4, 3), Init.CalculateFans(Tensor.Zeros(3, 4)));
        var e = Assert.Throws<ShapeException>(() => Init.CalculateFans(Tensor.Zeros(5)));
        Assert.Contains("fewer than 2 dims, got [5]", e.Message);
    }

    [Fact]
    public void KaimingUniform_HasTheBoundAndStd()
    {
        var w = Init.KaimingUniform(Tensor.Zeros(256, 128), nonlinearity: Nonlinearity.Relu, generator: new Generator(1));
        double bound = Math.Sqrt(2) * Math.Sqrt(3.0 / 128);
        Assert.InRange(w.Abs().Max().ToScalar(), 0.99 * bound, bound);
        Assert.InRange(Std(w), 0.98 * bound / Math.Sqrt(3), 1.02 * bound / Math.Sqrt(3));
    }

    [Fact]
    public void KaimingNormal_FanOut_HasTheStd()
    {
        var w = Init.KaimingNormal(Tensor.Zeros(64, 32, 3, 3), mode: FanMode.FanOut, nonlinearity: Nonlinearity.Relu, generator: new Generator(2));
        double std = Math.Sqrt(2.0 / (64 * 9));
        Assert.InRange(Std(w), 0.97 * std, 1.03 * std);
    }

    [Fact]
    public void Xavier_HasTheBoundAndStd()
    {
        var u = Init.XavierUniform(Tensor.Zeros(200, 300), gain: 2, generator: new Generator(3));
        double a = 2 * Math.Sqrt(6.0 / 500);
        Assert.InRange(u.Abs().Max().ToScalar(), 0.99 * a, a);
        var n = Init.XavierNormal(Tensor.Zeros(200, 300), generator: new Generator(4));
        double std = Math.Sqrt(2.0 / 500);
        Assert.InRange(Std(n), 0.97 * std, 1.03 * std);
    }

    [Fact]
    public void RandomInits_AreSeeded_AndWorkOnParameters()
    {
        var p = Tensor.Zeros(4, 4).RequiresGrad_();
        Init.Normal(p, 1, 2, new Generator(5));
        var q = Init.Normal(Tensor.Zeros(4, 4), 1, 2, new Generator(5));
        Assert.True(p.Detach().Equal(q));
        Assert.True(p.RequiresGrad);
        Assert.True(Init.Constant(p, 0.5).Detach().Equal(Tensor.Full([4, 4], 0.5)));
        Assert.True(Init.Ones(p).Detach().Equal(Tensor.Ones(4, 4)));
        Assert.True(Init.Zeros(p).Detach().Equal(Tensor.Zeros(4, 4)));
        var u = Init.Uniform(Tensor.Zeros(1000), -0.1, 0.3, new Generator(6));
        Assert.InRange(u.Min().ToScalar(), -0.1, -0.09);
        Assert.InRange(u.Max().ToScalar(), 0.29, 0.3);
    }
}
