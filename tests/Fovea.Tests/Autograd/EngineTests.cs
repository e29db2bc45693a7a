namespace Fovea.Tests.Autograd;

public class EngineTests
{
    private static Tensor S(double v) => Tensor.Scalar(v, DType.Float64).RequiresGrad_();

    [Fact]
    public void FanOut_AccumulatesGradients()
    {
        var x = S(3);
        var y = x * x + x; // x used three times
        y.Backward();
        Assert.Equal(7, x.Grad!.ToScalar());
    }

    [Fact]
    public void GradAccumulatesAcrossBackwardCalls()
    {
        var x = S(2);
        (x * 3).Backward();
        (x * 4).Backward();
        Assert.Equal(7, x.Grad!.ToScalar());
    }

    [Fact]
    public void GradAccumulates_InPlace_IntoAGradientZeroGradMade_WhenTheBackwardBuildsNoGraph()
    {
        // PyTorch's AccumulateGrad with zero_grad(set_to_none=False): grad += new_grad in the tensor the leaf holds.
        var w = Tensor.FromArray(new[] { 1f, -2f, 3f, 0.5f }, 4).RequiresGrad_();
        var x = Tensor.FromArray(new[] { 0.25f, 4f, -1f, 2f }, 4);
        (w * x).Sum().Backward();
        w.ZeroGrad(setToNone: false);
        var grad = w.Grad!;
        (w * x).Sum().Backward();
        int version = grad.Storage.Version;
        (w * w).Sum().Backward();
        Assert.Same(grad, w.Grad);
        Assert.True(grad.Storage.Version > version);
        float[] expected = [0.25f + 2f, 4f - 4f, -1f + 6f, 2f + 1f];
        Assert.Equal(expected, grad.ToArray<float>());
    }

    [Fact]
    public void GradAccumulates_IntoANewTensor_WhenTheBackwardBuildsAGraph()
    {
        var x = S(2);
        (x * 3).Backward();
        x.ZeroGrad(setToNone: false);
        (x * 3).Backward();
        var first = x.Grad!;
        (x * x).Backward(createGraph: true);
        Assert.NotSame(first, x.Grad);
        Assert.Equal(3, first.ToScalar());
        Assert.Equal(7, x.Grad!.ToScalar());
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void ZeroGrad_SetsToNull_OrToZerosItOwns_AndTheNextBackwardStartsFromZero(bool setToNone)
    {
        var w = Tensor.FromArray(new[] { 1.5, -2.0, 0.0 }, 3).RequiresGrad_();
        (w * w).Sum().Backward();
        var stored = w.Grad!;
        w.ZeroGrad(setToNone);
        Assert.Equal([3.0, -4.0, 0.0], stored.ToArray<double>()); // the gradient the backward stored is left as it was
        if (setToNone)
            Assert.Null(w.Grad);
        else
            Assert.Equal([0.0, 0.0, 0.0], w.Grad!.ToArray<double>());
        var zeros = w.Grad;
        (w * 3).Sum().Backward();
        Assert.Equal([3.0, 3.0, 3.0], w.Grad!.ToArray<double>());
        Assert.Equal(!setToNone, ReferenceEquals(zeros, w.Grad));
        w.ZeroGrad(setToNone);
        if (!setToNone) Assert.Same(zeros, w.Grad); // from then on, the same tensor zeroed in place
    }

    [Fact]
    public void ZeroGrad_InPlace_NeverWritesStorageAnotherGradientOrTheCallerShares()
    {
        // Both operands of an add receive the same gradient tensor, and a leaf's Backward(gradient) stores the
        // caller's tensor: zeroing or adding into those in place would change the other gradient or the caller's data.
        var a = S(1);
        var b = S(2);
        (a + b).Backward();
        a.ZeroGrad(setToNone: false);
        b.ZeroGrad(setToNone: false);
        (a * 2 + b * 3).Backward();
        Assert.Equal(2, a.Grad!.ToScalar());
        Assert.Equal(3, b.Grad!.ToScalar());

        var x = Tensor.FromArray(new[] { 1.0, 2.0 }, 2).RequiresGrad_();
        var mine = Tensor.FromArray(new[] { 5.0, 7.0 }, 2);
        x.Backward(mine);
        x.ZeroGrad(setToNone: false);
        (x * 4).Sum().Backward();
        Assert.Equal([5.0, 7.0], mine.ToArray<double>());
        Assert.Equal([4.0, 4.0], x.Grad!.ToArray<double>());
    }

    [Fact]
    public void ZeroGrad_InPlace_DetachesAGradientThatIsInAGraph()
    {
        var x = S(2);
        (x * x * x).Backward(createGraph: true);
        Assert.NotNull(x.Grad!.GradFn);
        x.ZeroGrad(setToNone: false);
        Assert.Null(x.Grad!.GradFn);
        Assert.False(x.Grad.RequiresGrad);
        Assert.Equal(0, x.Grad.ToScalar());
    }

    [Fact]
    public void ModuleAndOptimizer_ZeroGrad_KeepTheGradientsWhenNotSetToNone()
    {
        var layer = new Fovea.NN.Linear(3, 2, generator: new Generator(1));
        var opt = new Fovea.Optim.Sgd(layer.Parameters(), 0.1, momentum: 0.9);
        var x = Tensor.FromArray(new[] { 1f, 2f, 3f, -1f, 0f, 2f }, 2, 3);
        layer.Forward(x).Sum().Backward();
        opt.ZeroGrad(setToNone: false);
        var grads = layer.Parameters().Select(p => p.Grad!).ToArray();
        layer.Forward(x).Sum().Backward();
        opt.ZeroGrad(setToNone: false);
        Assert.All(layer.Parameters().Zip(grads), pg => Assert.Same(pg.Second, pg.First.Grad));
        Assert.All(grads, g => Assert.All(g.ToArray<float>(), v => Assert.Equal(0f, v)));
        layer.Forward(x).Sum().Backward();
        var once = grads.Select(g => g.ToArray<float>()).ToArray();
        layer.ZeroGrad(setToNone: false);
        layer.Forward(x).Sum().Backward();
        Assert.Equal(once, grads.Select(g => g.ToArray<float>()).ToArray());
        layer.ZeroGrad();
        Assert.All(layer.Parameters(), p => Assert.Null(p.Grad));
    }

    [Fact]
    public void LongChain_DoesNotOverflowTheStack()
    {
        var x = S(1);
        var y = x;
        for (int i = 0; i < 10_000; i++) y = y * 1.0001;
        y.Backward();
        Assert.Equal(Math.Pow(1.0001, 10_000), x.Grad!.ToScalar(), 6);
    }

    [Fact]
    public void SecondBackward_ThroughFreedGraph_IsAClearError()
    {
        var x = S(2);
        var y = x.Exp();
        y.Backward();
        var e = Assert.Throws<InvalidOperationException>(() => y.Backward());
        Assert.Contains("second time", e.Message);
        Assert.Contains("retainGraph", e.Message);
    }

    [Fact]
    public void RetainGraph_AllowsASecondBackward()
    {
        var x = S(2);
        var y = x.Exp();
        y.Backward(retainGraph: true);
        y.Backward();
        Assert.Equal(2 * Math.Exp(2), x.Grad!.ToScalar(), 12);
    }

    [Fact]
    public void InPlaceChangeOfASavedTensor_IsAnError()
    {
        var a = S(2);
        var b = Tensor.Scalar(3, DType.Float64);
        var y = a * b;
        b.FillInPlace(5);
        var e = Assert.Throws<InvalidOperationException>(() => y.Backward());
        Assert.Contains("saved for Mul.Backward was modified in place", e.Message);
    }

    [Fact]
    public void InPlaceWriteToALeafThatRequiresGrad_IsRefused()
    {
        var w = Tensor.Zeros([3], DType.Float64).RequiresGrad_();
        Assert.Throws<InvalidOperationException>(() => w.FillInPlace(1));
        using (GradMode.Disable()) w.FillInPlace(1);
        Assert.Equal(new[] { 1.0, 1.0, 1.0 }, w.ToArray<double>());
    }

    [Fact]
    public void NoGrad_RecordsNothing()
    {
        var x = S(2);
        Tensor y;
        using (GradMode.Disable()) y = x * 3;
        Assert.False(y.RequiresGrad);
        Assert.Null(y.GradFn);
        Assert.True(GradMode.IsEnabled);
    }

    [Fact]
    public void Detach_CutsTheGraph()
    {
        var x = S(2);
        var y = (x * x).Detach() * x;
        y.Backward();
        Assert.Equal(4, x.Grad!.ToScalar());
    }

    [Fact]
    public void BackwardOnNonScalar_NeedsAGradient()
    {
        var x = Tensor.From(1.0, 2.0).RequiresGrad_();
        var y = x * 2;
        var e = Assert.Throws<ShapeException>(() => y.Backward());
        Assert.Contains("[2]", e.Message);
        y.Backward(Tensor.From(1.0, 10.0));
        Assert.Equal(new[] { 2.0, 20.0 }, x.Grad!.ToArray<double>());
    }

    [Fact]
    public void RetainGrad_KeepsANonLeafGradient()
    {
        var x = S(3);
        var h = (x * 2).RetainGrad();
        (h * h).Backward();
        Assert.Equal(12, h.Grad!.ToScalar());
        Assert.Equal(24, x.Grad!.ToScalar());
    }

    [Fact]
    public void FunctionalGrad_DoesNotTouchDotGrad_AndReportsUnused()
    {
        var x = S(2);
        var unused = S(1);
        var y = x.Pow(3.0);
        var g = Fovea.Autograd.Grad([y], [x, unused], allowUnused: true);
        Assert.Equal(12, g[0]!.ToScalar(), 12);
        Assert.Null(g[1]);
        Assert.Null(x.Grad);
        var y2 = x.Pow(3.0);
        Assert.Throws<InvalidOperationException>(() => Fovea.Autograd.Grad([y2], [x, unused]));
    }

    [Fact]
    public void CreateGraph_GivesSecondDerivatives()
    {
        var x = S(0.7);
        var y = x.Sin() * x;
        var dy = Fovea.Autograd.Grad(y, x, createGraph: true);
        var d2y = Fovea.Autograd.Grad(dy, x);
        Assert.Equal(Math.Cos(0.7) * 0.7 + Math.Sin(0.7), dy.ToScalar(), 12);
        Assert.Equal(-Math.Sin(0.7) * 0.7 + 2 * Math.Cos(0.7), d2y.ToScalar(), 12);
    }

    [Fact]
    public void Hvp_EqualsHessianTimesVector()
    {
        var g = new Generator(9);
        var a = Tensor.Randn([3, 3], g, DType.Float64);
        var x = Tensor.Randn([3], g, DType.Float64);
        var v = Tensor.Randn([3], g, DType.Float64);
        Func<Tensor, Tensor> f = xi => xi.MatMul(a).MatMul(xi).Add(xi.Exp().Sum());
        var (_, hv) = Fovea.Autograd.Hvp(f, x, v);
        var h = Fovea.Autograd.Hessian(f, x);
        // Analytical Hessian: A + Aᵀ + diag(e^x).
        var expected = a + a.T + Tensor.Eye(3, dtype: DType.Float64) * x.Exp().Unsqueeze(0);
        Assert.True(h.AllClose(expected, 1e-10, 1e-10));
        Assert.True(hv.AllClose(expected.MatMul(v), 1e-10, 1e-10));
    }

    [Fact]
    public void Jvp_MatchesReverseModeJacobian()
    {
        var g = new Generator(11);
        var w = Tensor.Randn([4, 3], g, DType.Float64);
        var x = Tensor.Randn([3], g, DType.Float64);
        var v = Tensor.Randn([3], g, DType.Float64);
        Func<Tensor, Tensor> f = xi => w.MatMul(xi).Tanh().Mul(xi.Sum()).LogSumExp(0).Unsqueeze(0).Add(w.MatMul(xi.Sigmoid()));
        var (y, jv) = Fovea.Autograd.Jvp(f, x, v);
        var jac = Fovea.Autograd.Jacobian(f, x);
        Assert.True(jv.AllClose(jac.MatMul(v), 1e-10, 1e-12));
        Assert.True(y.AllClose(f(x), 1e-12, 1e-12));
        Assert.Null(y.GradFn);
    }

    [Fact]
    public void AnomalyMode_NamesTheOpThatMadeNaN()
    {
        var x = Tensor.From(-1.0, 4.0).RequiresGrad_();
        using (Fovea.Autograd.DetectAnomaly())
        {
            var e = Assert.Throws<ArithmeticException>(() => x.Sqrt());
            Assert.Contains("Sqrt", e.Message);
        }
        // Backward NaN: sqrt'(0) = inf.
        var z = Tensor.From(0.0, 4.0).RequiresGrad_();
        using (Fovea.Autograd.DetectAnomaly())
        {
            var y = z.Sqrt().Sum();
            var e = Assert.Throws<ArithmeticException>(() => y.Backward());
            Assert.Contains("Sqrt.Backward", e.Message);
            Assert.Contains("created at", e.Message);
        }
    }

    [Fact]
    public void GradCheck_RefusesFloat32()
    {
        var x = Tensor.From(1f, 2f).RequiresGrad_();
        var e = Assert.Throws<DTypeException>(() => GradCheck.Check(t => t[0].Exp(), [x]));
        Assert.Contains("float64", e.Message);
    }

    [Fact]
    public void GradCheck_CatchesAWrongBackward()
    {
        var x = Tensor.From(0.5, 1.5).RequiresGrad_();
        var r = GradCheck.Check(t => new WrongSquare().Apply(t[0]), [x]);
        Assert.False(r.Passed);
        Assert.Contains("MISMATCH", r.ToString());
    }

    [Fact]
    public void BackwardReturningWrongShape_NamesTheOp()
    {
        var x = Tensor.From(0.5, 1.5).RequiresGrad_();
        var y = new WrongShape().Apply(x).Sum();
        var e = Assert.Throws<ShapeException>(() => y.Backward());
        Assert.Contains("WrongShape.Backward", e.Message);
        Assert.Contains("[3]", e.Message);
    }

    private sealed class WrongSquare : Function
    {
        protected override Tensor Forward(Tensor[] x) { SaveForBackward(x[0]); return x[0] * x[0]; }
        protected override Tensor?[] Backward(Tensor g) => [g * Saved[0]]; // missing the factor 2
    }

    private sealed class WrongShape : Function
    {
        protected override Tensor Forward(Tensor[] x) => x[0] * 2;
        protected override Tensor?[] Backward(Tensor g) => [Tensor.Zeros([3], DType.Float64)];
    }
}

public class GradCheckTableTests
{
    public static TheoryData<string> CaseNames()
    {
        var data = new TheoryData<string>();
        foreach (var c in GradCheckTable.Cases) data.Add(c.Name);
        return data;
    }

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void EveryOp_PassesGradCheckAndGradGradCheck(string name)
    {
        var c = GradCheckTable.Cases.Single(k => k.Name == name);
        var first = GradCheck.Check(c.Function, c.Inputs(1));
        Assert.True(first.Passed, first.ToString());
        if (c.SecondOrder)
        {
            var second = GradCheck.GradGradCheck(c.Function, c.Inputs(1));
            Assert.True(second.Passed, second.ToString());
        }
    }

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void EveryOp_JvpMatchesReverseMode(string name)
    {
        var c = GradCheckTable.Cases.Single(k => k.Name == name);
        var inputs = c.Inputs(2);
        for (int i = 0; i < inputs.Length; i++)
        {
            // Directional derivative along input i only: forward mode against the reverse-mode Jacobian.
            var v = Tensor.Randn(inputs[i].Shape, new Generator(100 + (ulong)i), DType.Float64);
            Tensor F(Tensor xi)
            {
                var args = (Tensor[])inputs.Clone();
                for (int k = 0; k < args.Length; k++) if (k != i) args[k] = args[k].Detach();
                args[i] = xi;
                return c.Function(args);
            }
            var (_, jv) = Fovea.Autograd.Jvp(F, inputs[i].Detach(), v);
            var jac = Fovea.Autograd.Jacobian(F, inputs[i].Detach());
            var expected = jac.Reshape(jv.Numel, v.Numel).MatMul(v.Reshape(-1)).Reshape(jv.Shape);
            Assert.True(jv.AllClose(expected, 1e-8, 1e-10), $"{name}, input {i}: jvp {jv} vs J·v {expected}");
        }
    }
}
