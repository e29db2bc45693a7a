namespace Fovea.Tests.Autograd;

/// <summary>The worked examples of the backpropagation lecture notes, as tests.</summary>
public class SeedExampleTests
{
    private static Tensor S(double v) => Tensor.Scalar(v, DType.Float64).RequiresGrad_();

    [Fact]
    public void AddThenMultiply_GivesTheLectureGradients()
    {
        // f(x, y, z) = (x + y)·z at x = -2, y = 5, z = -4.
        var (x, y, z) = (S(-2), S(5), S(-4));
        var f = (x + y) * z;
        f.Backward();
        Assert.Equal(-12, f.ToScalar());
        Assert.Equal(-4, x.Grad!.ToScalar());
        Assert.Equal(-4, y.Grad!.ToScalar());
        Assert.Equal(3, z.Grad!.ToScalar());
    }

    [Fact]
    public void SigmoidNeuron_MatchesTheBackpropWalkThrough()
    {
        // f = 1 / (1 + e^-(w0·x0 + w1·x1 + w2)) at w = (2, -3, -3), x = (-1, -2).
        var (w0, x0, w1, x1, w2) = (S(2), S(-1), S(-3), S(-2), S(-3));
        var dot = w0 * x0 + w1 * x1 + w2;
        var f = 1.0 / ((-dot).Exp() + 1.0);
        f.Backward();
        double fv = 1 / (1 + Math.Exp(-1.0));
        double ddot = (1 - fv) * fv; // the local gradient of the sigmoid gate
        Assert.Equal(fv, f.ToScalar(), 1e-12);
        Assert.Equal(-1 * ddot, w0.Grad!.ToScalar(), 1e-6);
        Assert.Equal(2 * ddot, x0.Grad!.ToScalar(), 1e-6);
        Assert.Equal(-2 * ddot, w1.Grad!.ToScalar(), 1e-6);
        Assert.Equal(-3 * ddot, x1.Grad!.ToScalar(), 1e-6);
        Assert.Equal(ddot, w2.Grad!.ToScalar(), 1e-6);
        // The rounded values the notes print.
        Assert.Equal(-0.20, w0.Grad!.ToScalar(), 2);
        Assert.Equal(0.39, x0.Grad!.ToScalar(), 2);
        Assert.Equal(-0.39, w1.Grad!.ToScalar(), 2);
        Assert.Equal(-0.59, x1.Grad!.ToScalar(), 2);
        Assert.Equal(0.20, w2.Grad!.ToScalar(), 2);
    }

    [Fact]
    public void SigmoidGateAsOneOp_GivesTheSameGradients()
    {
        var (w0, x0, w1, x1, w2) = (S(2), S(-1), S(-3), S(-2), S(-3));
        var f = (w0 * x0 + w1 * x1 + w2).Sigmoid();
        f.Backward();
        double fv = 1 / (1 + Math.Exp(-1.0));
        Assert.Equal(-1 * (1 - fv) * fv, w0.Grad!.ToScalar(), 12);
        Assert.Equal((1 - fv) * fv, w2.Grad!.ToScalar(), 12);
    }

    [Fact]
    public void TwoLayerNetwork_AutogradEqualsHandDerivedGradients()
    {
        // The two-layer net "in < 20 lines": h = σ(x·w1), y = h·w2, L = Σ (y − t)².
        var g = new Generator(3);
        var x = Tensor.Randn([8, 5], g, DType.Float64);
        var t = Tensor.Randn([8, 2], g, DType.Float64);
        var w1 = Tensor.Randn([5, 4], g, DType.Float64).RequiresGrad_();
        var w2 = Tensor.Randn([4, 2], g, DType.Float64).RequiresGrad_();
        var h = x.MatMul(w1).Sigmoid();
        var y = h.MatMul(w2);
        var loss = (y - t).Square().Sum();
        loss.Backward();

        using var _ = GradMode.Disable();
        var hd = h.Detach();
        var gradY = (y.Detach() - t) * 2.0;
        var gradW2 = hd.T.MatMul(gradY);
        var gradH = gradY.MatMul(w2.Detach().T);
        var gradW1 = x.T.MatMul(gradH * hd * (1.0 - hd));
        Assert.True(w2.Grad!.AllClose(gradW2, 1e-12, 1e-12));
        Assert.True(w1.Grad!.AllClose(gradW1, 1e-12, 1e-12));
    }

    [Fact]
    public void ScalarChain_SquaredError()
    {
        // e = (w1·x − y)², de/dw1 = 2(w1·x − y)·x.
        var (w1, x, y) = (S(0.5), S(3), S(2));
        var e = (w1 * x - y).Square();
        e.Backward();
        Assert.Equal(2 * (0.5 * 3 - 2) * 3, w1.Grad!.ToScalar(), 12);
        Assert.Equal(2 * (0.5 * 3 - 2) * 0.5, x.Grad!.ToScalar(), 12);
        Assert.Equal(-2 * (0.5 * 3 - 2), y.Grad!.ToScalar(), 12);
    }

    [Fact]
    public void MatrixVectorProduct_VjpIsWTransposeTimesUpstream()
    {
        // y = W·x: the Jacobian dy/dx is W, so the vjp is Wᵀ·g — and the engine never builds W as a Jacobian.
        var g = new Generator(5);
        var w = Tensor.Randn([3, 4], g, DType.Float64);
        var x = Tensor.Randn([4], g, DType.Float64);
        var up = Tensor.Randn([3], g, DType.Float64);
        var (_, vjp) = Fovea.Autograd.Vjp(xi => w.MatMul(xi), x, up);
        Assert.True(vjp.AllClose(w.T.MatMul(up), 1e-12, 1e-12));
        Assert.True(Fovea.Autograd.Jacobian(xi => w.MatMul(xi), x).AllClose(w, 1e-12, 1e-12));
    }

    [Fact]
    public void ElementwiseProduct_JacobianIsDiagonal()
    {
        var g = new Generator(6);
        var a = Tensor.Randn([4], g, DType.Float64);
        var x = Tensor.Randn([4], g, DType.Float64);
        var jac = Fovea.Autograd.Jacobian(xi => xi * a, x);
        var diag = Tensor.Eye(4, dtype: DType.Float64) * a.Unsqueeze(1);
        Assert.True(jac.AllClose(diag, 1e-12, 1e-12));
    }

    [Fact]
    public void CustomFunction_MultiplyLikeTheSeedsPyTorchExample()
    {
        var x = Tensor.From(1.0, 2.0, 3.0).RequiresGrad_();
        var y = Tensor.From(4.0, 5.0, 6.0).RequiresGrad_();
        var z = new Multiply().Apply(x, y);
        Assert.Equal("Multiply", z.GradFn!.Name);
        z.Sum().Backward();
        Assert.Equal(new[] { 4.0, 5.0, 6.0 }, x.Grad!.ToArray<double>());
        Assert.Equal(new[] { 1.0, 2.0, 3.0 }, y.Grad!.ToArray<double>());
        Assert.True(GradCheck.Check(t => new Multiply().Apply(t[0], t[1]), [x.Detach().RequiresGrad_(), y.Detach().RequiresGrad_()]).Passed);
    }

    private sealed class Multiply : Function
    {
        protected override Tensor Forward(Tensor[] inputs)
        {
            SaveForBackward(inputs[0], inputs[1]);
            return inputs[0] * inputs[1];
        }

        protected override Tensor?[] Backward(Tensor gradOutput)
        {
            var (x, y) = (Saved[0], Saved[1]);
            return [gradOutput * y, gradOutput * x];
        }
    }
}
