using Fovea.NN;
using F = Fovea.NN.Functional;

namespace Fovea.Tests.NN;

/// <summary>Layers against the hand-written math, and their error messages.</summary>
public class LayerTests
{
    private static Tensor R(ulong seed, params int[] shape) => Tensor.Randn(shape, new Generator(seed), DType.Float64);

    [Fact]
    public void Linear_EqualsXWTransposePlusB()
    {
        var lin = new Linear(4, 3, generator: new Generator(1), dtype: DType.Float64);
        var x = R(2, 5, 4);
        var y = lin.Forward(x);
        var xs = x.ToArray<double>();
        var w = lin.Weight.ToArray<double>();
        var b = lin.Bias!.ToArray<double>();
        for (int n = 0; n < 5; n++)
            for (int o = 0; o < 3; o++)
            {
                double expected = b[o];
                for (int i = 0; i < 4; i++) expected += xs[n * 4 + i] * w[o * 4 + i];
                Assert.Equal(expected, y[n, o], 12);
            }
    }

    [Fact]
    public void Linear_Gradients_AreLaidOutLikeTheirParameters_AndJvpMatchesReverseMode()
    {
        var g = new Generator(9);
        var x = Tensor.Randn([2, 5, 4], g, DType.Float64).RequiresGrad_(true);
        var w = Tensor.Randn([3, 4], g, DType.Float64).RequiresGrad_(true);
        var b = Tensor.Randn([3], g, DType.Float64).RequiresGrad_(true);
        Functional.Linear(x, w, b).Square().Sum().Backward();
        // The optimizer updates W in place from its gradient: no strided view to copy every step.
        Assert.True(w.Grad!.IsContiguous);
        Assert.Equal(w.Shape, w.Grad.Shape);
        Assert.Equal(b.Shape, b.Grad!.Shape);

        // Forward mode through all three inputs at once: ⟨u, J v⟩ = ⟨Jᵀ u, v⟩.
        var (vx, vw, vb) = (Tensor.Randn([2, 5, 4], g, DType.Float64), Tensor.Randn([3, 4], g, DType.Float64), Tensor.Randn([3], g, DType.Float64));
        var u = Tensor.Randn([2, 5, 3], g, DType.Float64);
        var y = Functional.Linear(Fovea.ForwardAD.MakeDual(x.Detach(), vx), Fovea.ForwardAD.MakeDual(w.Detach(), vw), Fovea.ForwardAD.MakeDual(b.Detach(), vb));
        var jv = Fovea.ForwardAD.Unpack(y).Tangent!;
        var (xd, wd, bd) = (x.Detach().RequiresGrad_(true), w.Detach().RequiresGrad_(true), b.Detach().RequiresGrad_(true));
        var grads = Fovea.Autograd.Grad([Functional.Linear(xd, wd, bd)], [xd, wd, bd], [u]);
        double expected = grads[0]!.Mul(vx).Sum().ToScalar() + grads[1]!.Mul(vw).Sum().ToScalar() + grads[2]!.Mul(vb).Sum().ToScalar();
        Assert.Equal(expected, u.Mul(jv).Sum().ToScalar(), 10);
    }

    [Fact]
    public void Linear_DefaultInit_IsPyTorchsBoundAndSeeded()
    {
        var a = new Linear(16, 32, generator: new Generator(7));
        var b = new Linear(16, 32, generator: new Generator(7));
        var c = new Linear(16, 32, generator: new Generator(8));
        double bound = 1 / Math.Sqrt(16);
        Assert.All(a.Weight.ToArray<float>(), v => Assert.InRange(v, -bound, bound));
        Assert.All(a.Bias!.ToArray<float>(), v => Assert.InRange(v, -bound, bound));
        Assert.True(a.Weight.Equal(b.Weight) && a.Bias.Equal(b.Bias!));
        Assert.False(a.Weight.Equal(c.Weight));
        // Uniform on [-bound, bound]: the spread should use most of the interval.
        Assert.True(a.Weight.Abs().Max().ToScalar() > 0.9 * bound);
    }

    [Fact]
    public void Linear_WithoutBias_HasOnlyAWeight()
    {
        var lin = new Linear(3, 2, bias: false);
        Assert.Null(lin.Bias);
        Assert.Equal(["weight"], lin.NamedParameters().Select(p => p.Name));
    }

    [Fact]
    public void Linear_WrongInput_NamesTheLayerAndBothShapes()
    {
        var e = Assert.Throws<ShapeException>(() => new Linear(4, 3).Forward(Tensor.Zeros(2, 5)));
        Assert.Equal("Linear(4 -> 3): expected input [..., 4], got [2, 5] (last dim 5 != 4)", e.Message);
    }

    [Fact]
    public void Maxout_IsTheMaxOverAffinePieces()
    {
        var m = new Maxout(3, 2, pieces: 2, generator: new Generator(3), dtype: DType.Float64);
        var x = R(4, 5, 3);
        var y = m.Forward(x);
        Assert.Equal([5, 2], y.Shape);
        var w = m.Weight;
        var b = m.Bias;
        for (int n = 0; n < 5; n++)
            for (int j = 0; j < 2; j++)
            {
                // The seeds' max(w1ᵀx + b1, w2ᵀx + b2).
                double p1 = b[2 * j], p2 = b[2 * j + 1];
                for (int i = 0; i < 3; i++) { p1 += w[2 * j, i] * x[n, i]; p2 += w[2 * j + 1, i] * x[n, i]; }
                Assert.Equal(Math.Max(p1, p2), y[n, j], 12);
            }
    }

    [Fact]
    public void Maxout_GradientGoesToTheWinningPieceOnly()
    {
        var x = Tensor.FromArray(new[] { 1.0, 2.0 }, 1, 2);
        var w = Tensor.FromArray(new[] { 1.0, 0.0, 0.0, 1.0 }, 2, 2).RequiresGrad_(); // piece 0: x0, piece 1: x1
        var y = F.Maxout(x, w, null, 2);
        Assert.Equal(2.0, y[0, 0]);
        y.Sum().Backward();
        Assert.Equal([0.0, 0.0, 1.0, 2.0], w.Grad!.ToArray<double>());
    }

    [Fact]
    public void Dropout_ZeroesAboutPAndScalesSurvivors_AndIsIdentityInEval()
    {
        var d = new Dropout(0.3, new Generator(11));
        var x = Tensor.Ones(100, 100);
        var y = d.Forward(x).ToArray<float>();
        double zeros = y.Count(v => v == 0) / (double)y.Length;
        Assert.InRange(zeros, 0.27, 0.33);
        Assert.All(y.Where(v => v != 0), v => Assert.Equal(1 / 0.7f, v, 5));
        d.Eval();
        Assert.Same(x, d.Forward(x));
        Assert.True(F.Dropout(x, 1.0).Equal(Tensor.Zeros(100, 100)));
    }

    [Fact]
    public void Dropout_IsReproducibleForASeed()
    {
        var x = Tensor.Ones(8, 8);
        var a = new Dropout(0.5, new Generator(4)).Forward(x);
        var b = new Dropout(0.5, new Generator(4)).Forward(x);
        Assert.True(a.Equal(b));
    }

    [Fact]
    public void FlattenAndIdentity()
    {
        var x = Tensor.Zeros(2, 3, 4, 5);
        Assert.Equal([2, 60], new Flatten().Forward(x).Shape);
        Assert.Equal([2, 12, 5], new Flatten(1, 2).Forward(x).Shape);
        Assert.Same(x, new Identity().Forward(x));
    }

    [Fact]
    public void Activations_MatchTheirFormulas()
    {
        var x = Tensor.From(-2.0, -0.5, 0.0, 0.5, 30.0);
        Assert.Equal([-0.2, -0.05, 0, 0.5, 30], new LeakyReLU(0.1).Forward(x).ToArray<double>().Select(v => Math.Round(v, 12)));
        var elu = new ELU(2).Forward(x).ToArray<double>();
        Assert.Equal(2 * (Math.Exp(-2) - 1), elu[0], 14);
        Assert.Equal(30, elu[4]);
        var sp = new Softplus(beta: 2, threshold: 10).Forward(x).ToArray<double>();
        Assert.Equal(Math.Log(1 + Math.Exp(-4)) / 2, sp[0], 14);
        Assert.Equal(30, sp[4]); // beyond the threshold: linear
        var prelu = new PReLU(1, 0.25, DType.Float64).Forward(x).ToArray<double>();
        Assert.Equal(-0.5, prelu[0]);
        Assert.Equal(0.5 * 0.5 * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (0.5 + 0.044715 * 0.125))),
            new GELU(GeluApproximation.Tanh).Forward(x).ToArray<double>()[3], 14);
    }

    [Fact]
    public void Softmax_IsStableForHugeLogits()
    {
        var x = Tensor.FromArray(new[] { 1000f, 999f, -1000f, 0f }, 1, 4);
        var p = new Softmax(1).Forward(x);
        Assert.Equal(1, p.Sum().ToScalar(), 5);
        Assert.DoesNotContain(p.ToArray<float>(), float.IsNaN);
        var lp = new LogSoftmax(1).Forward(x).ToArray<float>();
        Assert.Equal(-2000 - Math.Log(1 + Math.Exp(-1)), lp[2], 2);
    }

    [Fact]
    public void PReLU_WrongChannelCount_NamesTheLayer()
    {
        var e = Assert.Throws<ShapeException>(() => new PReLU(3).Forward(Tensor.Zeros(2, 4, 5)));
        Assert.Equal("PReLU(3): expected input [N, 3, ...], got [2, 4, 5]", e.Message);
    }

    [Fact]
    public void BatchNorm_WrongInput_NamesTheLayerAndShape()
    {
        var e = Assert.Throws<ShapeException>(() => new BatchNorm2d(16).Forward(Tensor.Zeros(8, 3, 28, 28)));
        Assert.Equal("BatchNorm2d(16): expected input [N, 16, H, W], got [8, 3, 28, 28] (dim 1: 3 != 16)", e.Message);
        var e1 = Assert.Throws<ShapeException>(() => new BatchNorm1d(4).Forward(Tensor.Zeros(8, 4, 2, 2)));
        Assert.Equal("BatchNorm1d(4): expected input [N, 4] or [N, 4, L], got [8, 4, 2, 2] (rank 4)", e1.Message);
        var e2 = Assert.Throws<ShapeException>(() => new BatchNorm1d(4).Forward(Tensor.Zeros(1, 4)));
        Assert.Contains("expected more than 1 value per channel when training", e2.Message);
    }

    [Fact]
    public void BatchNorm_TrainUsesBatchStatistics_EvalUsesRunningOnes()
    {
        var bn = new BatchNorm1d(2, dtype: DType.Float64);
        var x = Tensor.FromArray(new[] { 1.0, 10, 3, 20, 5, 30 }, 3, 2);
        var y = bn.Forward(x);
        // Batch mean (3, 20), biased variance (8/3, 200/3).
        Assert.Equal((1 - 3) / Math.Sqrt(8.0 / 3 + 1e-5), y[0, 0], 12);
        // Running: 0.9·0 + 0.1·mean; 0.9·1 + 0.1·unbiased var (4, 100).
        Assert.Equal([0.3, 2.0], bn.RunningMean!.ToArray<double>().Select(v => Math.Round(v, 12)));
        Assert.Equal([1.3, 10.9], bn.RunningVar!.ToArray<double>().Select(v => Math.Round(v, 12)));
        Assert.Equal(1, bn.NumBatchesTracked);
        bn.Eval();
        var ye = bn.Forward(x);
        Assert.Equal((1 - 0.3) / Math.Sqrt(1.3 + 1e-5), ye[0, 0], 12);
        Assert.Equal([0.3, 2.0], bn.RunningMean!.ToArray<double>().Select(v => Math.Round(v, 12)));
        Assert.Equal(1, bn.NumBatchesTracked);
    }

    [Fact]
    public void LayerNorm_NormalisesEachSample_AndChecksTrailingDims()
    {
        var ln = new LayerNorm(4, dtype: DType.Float64);
        var y = ln.Forward(R(1, 3, 4).Mul(3));
        Assert.True(y.Mean(1).AllClose(Tensor.Zeros([3], DType.Float64), atol: 1e-12));
        Assert.True(y.Var(1, correction: 0).AllClose(Tensor.Ones([3], DType.Float64), rtol: 1e-3));
        var e = Assert.Throws<ShapeException>(() => new LayerNorm([3, 4]).Forward(Tensor.Zeros(2, 3, 5)));
        Assert.Equal("LayerNorm([3, 4]): expected input [..., 3, 4], got [2, 3, 5] (dim 2: 5 != 4)", e.Message);
    }
}

/// <summary>The fused batch-norm kernel: float32 against float64, and its forward-mode rule against reverse mode.</summary>
public class BatchNormKernelTests
{
    [Fact]
    public void Float32FusedPath_MatchesFloat64()
    {
        var x64 = Tensor.Randn([4, 3, 5, 6], new Generator(1), DType.Float64).Mul(2).Add(5);
        var g64 = Tensor.Randn([4, 3, 5, 6], new Generator(2), DType.Float64);
        var w64 = Tensor.From(0.5, -1.0, 2.0);
        var b64 = Tensor.From(0.1, 0.2, 0.3);
        (Tensor Y, Tensor Dx, Tensor Dw) Run(DType dt)
        {
            var x = x64.To(dt).RequiresGrad_();
            var w = w64.To(dt).RequiresGrad_();
            var y = Functional.BatchNorm(x, null, null, w, b64.To(dt), training: true);
            y.Backward(g64.To(dt));
            return (y, x.Grad!, w.Grad!);
        }
        var (y32, dx32, dw32) = Run(DType.Float32);
        var (y64, dx64, dw64) = Run(DType.Float64);
        Assert.True(y32.To(DType.Float64).AllClose(y64, rtol: 1e-4, atol: 1e-5));
        Assert.True(dx32.To(DType.Float64).AllClose(dx64, rtol: 1e-3, atol: 1e-5));
        Assert.True(dw32.To(DType.Float64).AllClose(dw64, rtol: 1e-3, atol: 1e-4));
    }

    [Fact]
    public void Jvp_MatchesReverseMode()
    {
        var x = Tensor.Randn([3, 2, 4], new Generator(3), DType.Float64);
        var v = Tensor.Randn([3, 2, 4], new Generator(4), DType.Float64);
        var w = Tensor.From(1.5, -0.5);
        Tensor F(Tensor t) => Functional.BatchNorm(t, null, null, w, null, training: true);
        var (_, jv) = Fovea.Autograd.Jvp(F, x, v);
        // ⟨u, J v⟩ = ⟨Jᵀ u, v⟩ for a random u.
        var u = Tensor.Randn([3, 2, 4], new Generator(5), DType.Float64);
        var (_, ju) = Fovea.Autograd.Vjp(F, x, u);
        Assert.Equal(u.Mul(jv).Sum().ToScalar(), ju.Mul(v).Sum().ToScalar(), 10);
    }
}
