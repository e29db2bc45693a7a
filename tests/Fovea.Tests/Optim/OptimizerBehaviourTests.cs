using Fovea.Optim;

namespace Fovea.Tests.Optim;

/// <summary>Parameter groups, frozen parameters, ZeroGrad, state-dict resume, errors and allocation behaviour.</summary>
public class OptimizerBehaviourTests
{
    private static Optimizer Make(string kind, IEnumerable<Tensor> ps) => kind switch
    {
        "sgd" => new Sgd(ps, 0.05, momentum: 0.9, nesterov: true, weightDecay: 0.01),
        "adam" => new Adam(ps, 0.05, amsgrad: true, weightDecay: 0.01),
        "adamw" => new AdamW(ps, 0.05, amsgrad: true),
        _ => new RMSprop(ps, 0.01, momentum: 0.5, centered: true, weightDecay: 0.01),
    };

    [Theory]
    [InlineData("sgd")]
    [InlineData("adam")]
    [InlineData("adamw")]
    [InlineData("rmsprop")]
    public void StateDict_RoundTrip_ResumesBitIdentically(string kind)
    {
        var straight = new OptimFixtures.Problem();
        var straightOpt = Make(kind, [straight.W, straight.B]);
        for (int i = 0; i < 10; i++) straight.Step(straightOpt);

        var first = new OptimFixtures.Problem();
        var opt = Make(kind, [first.W, first.B]);
        for (int i = 0; i < 5; i++) first.Step(opt);
        var saved = opt.StateDict();
        var model = first.Flat();
        // The saved state is a copy: stepping on must not change it.
        first.Step(opt);

        var resumed = new OptimFixtures.Problem();
        using (GradMode.Disable())
        {
            resumed.W.CopyFrom(Tensor.FromArray(model[..12], 3, 4).To(DType.Float64));
            resumed.B.CopyFrom(Tensor.FromArray(model[12..], 3).To(DType.Float64));
        }
        var fresh = Make(kind, [resumed.W, resumed.B]);
        fresh.LoadStateDict(saved);
        for (int i = 0; i < 5; i++) resumed.Step(fresh);
        Assert.Equal(straight.Flat(), resumed.Flat());
    }

    [Fact]
    public void StateDict_HoldsPyTorchKeysAndOptions()
    {
        var p = new OptimFixtures.Problem();
        var opt = new Adam([p.W], 0.01, amsgrad: true);
        opt.AddParamGroup([p.B], lr: 0.5);
        p.Step(opt);
        var sd = opt.StateDict();
        Assert.Equal("Adam", sd.Optimizer);
        Assert.Equal([0], sd.ParamGroups[0].Params);
        Assert.Equal([1], sd.ParamGroups[1].Params);
        Assert.Equal(0.5, sd.ParamGroups[1].Options["lr"]);
        Assert.Equal(1, sd.ParamGroups[0].Options["amsgrad"]);
        Assert.Equal(["step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"], sd.State[0].Keys);
        Assert.Equal(1, sd.State[1]["step"].ToScalar());
    }

    [Fact]
    public void LoadStateDict_RejectsMismatchesClearly()
    {
        var p = new OptimFixtures.Problem();
        var adam = new Adam([p.W, p.B]);
        p.Step(adam);
        var saved = adam.StateDict();

        var q = new OptimFixtures.Problem();
        var e1 = Assert.Throws<ArgumentException>(() => new Sgd([q.W, q.B], 0.1).LoadStateDict(saved));
        Assert.Contains("saved by Adam, not Sgd", e1.Message);
        var e2 = Assert.Throws<ArgumentException>(() => new Adam([q.W]).LoadStateDict(saved));
        Assert.Contains("parameter group 0 has 2 parameters in the state but 1 in the optimizer", e2.Message);
        var swapped = new Adam([q.B, q.W]);
        var e3 = Assert.Throws<ShapeException>(() => swapped.LoadStateDict(saved));
        Assert.Contains("state 'exp_avg' of parameter 0 has shape [3, 4] but the parameter has [3]", e3.Message);
        Assert.Null(swapped.StateDict().State.GetValueOrDefault(0));
    }

    [Fact]
    public void ScalarFloat32Parameter_RoundTripsItsState()
    {
        var w = Tensor.Scalar(2, DType.Float32).RequiresGrad_();
        var opt = new Adam([w], 0.1);
        w.Grad = Tensor.Scalar(1, DType.Float32);
        opt.Step();
        var saved = opt.StateDict();
        var w2 = Tensor.Scalar(2, DType.Float32).RequiresGrad_();
        var opt2 = new Adam([w2], 0.1);
        opt2.LoadStateDict(saved);
        w.Grad = w2.Grad = Tensor.Scalar(0.5, DType.Float32);
        using (GradMode.Disable()) w2.CopyFrom(w);
        opt.Step();
        opt2.Step();
        Assert.Equal(w.Item<float>(), w2.Item<float>());
        Assert.Equal(DType.Float32, opt2.StateDict().State[0]["exp_avg"].DType);
    }

    [Fact]
    public void ParamGroups_UseTheirOwnLearningRates()
    {
        var a = Tensor.Ones([4], DType.Float64).RequiresGrad_();
        var b = Tensor.Ones([4], DType.Float64).RequiresGrad_();
        var opt = new Sgd([a], 0.1);
        var g = opt.AddParamGroup([b], lr: 0.01);
        Assert.Same(g, opt.ParamGroups[1]);
        a.Grad = Tensor.Ones([4], DType.Float64);
        b.Grad = Tensor.Ones([4], DType.Float64);
        opt.Step();
        Assert.All(a.ToArray<double>(), v => Assert.Equal(0.9, v, 15));
        Assert.All(b.ToArray<double>(), v => Assert.Equal(0.99, v, 15));
        opt.ParamGroups[0].Lr = 0;
        opt.Step();
        Assert.All(a.ToArray<double>(), v => Assert.Equal(0.9, v, 15));
    }

    [Theory]
    [InlineData("sgd")]
    [InlineData("adam")]
    [InlineData("adamw")]
    [InlineData("rmsprop")]
    public void FrozenParameters_AndParametersWithoutGrad_AreUntouched(string kind)
    {
        var p = new OptimFixtures.Problem();
        var opt = Make(kind, [p.W, p.B]);
        p.B.RequiresGrad = false;   // frozen: even a stale gradient must be ignored
        p.B.Grad = Tensor.OnesLike(p.B);
        var b0 = p.B.ToArray<double>();
        var w0 = p.W.ToArray<double>();
        p.W.Grad = null;
        opt.Step();
        Assert.Equal(b0, p.B.ToArray<double>());
        Assert.Equal(w0, p.W.ToArray<double>());
        Assert.Empty(opt.StateDict().State);

        p.Loss().Backward();
        opt.Step();
        Assert.Equal(b0, p.B.ToArray<double>());
        Assert.NotEqual(w0, p.W.ToArray<double>());
        Assert.Equal([0], opt.StateDict().State.Keys);
    }

    [Fact]
    public void ZeroGrad_SetsGradientsToNull()
    {
        var p = new OptimFixtures.Problem();
        var opt = new Adam([p.W, p.B]);
        p.Loss().Backward();
        Assert.NotNull(p.W.Grad);
        opt.ZeroGrad();
        Assert.Null(p.W.Grad);
        Assert.Null(p.B.Grad);
    }

    [Fact]
    public void Step_BumpsTheParameterVersion_SoStaleGraphsAreCaught()
    {
        var w = Tensor.Ones([3], DType.Float64).RequiresGrad_();
        var opt = new Sgd([w], 0.1);
        var y = (w * w).Sum();   // saves w for backward
        w.Grad = Tensor.OnesLike(w);
        int before = w.Storage.Version;
        opt.Step();
        Assert.True(w.Storage.Version > before);
        Assert.ThrowsAny<Exception>(() => y.Backward());
    }

    [Fact]
    public void Step_WithClosure_ReturnsTheLoss()
    {
        var p = new OptimFixtures.Problem();
        var opt = new Sgd([p.W, p.B], 0.1);
        double before = p.Loss().ToScalar();
        var loss = opt.Step(() => { opt.ZeroGrad(); var l = p.Loss(); l.Backward(); return l; });
        Assert.Equal(before, loss.ToScalar(), 14);
        Assert.True(p.Loss().ToScalar() < before);
    }

    [Fact]
    public void BadArguments_GiveClearErrors()
    {
        Tensor[] ps = [Tensor.Zeros([2]).RequiresGrad_()];
        Assert.Contains("Sgd: invalid learning rate -0.1", Assert.Throws<ArgumentOutOfRangeException>(() => new Sgd(ps, -0.1)).Message);
        Assert.Contains("Adam: invalid beta1 1 (must be in [0, 1))", Assert.Throws<ArgumentOutOfRangeException>(() => new Adam(ps, betas: (1.0, 0.999))).Message);
        Assert.Contains("AdamW: invalid beta2 -0.5", Assert.Throws<ArgumentOutOfRangeException>(() => new AdamW(ps, betas: (0.9, -0.5))).Message);
        Assert.Contains("Adam: invalid epsilon -1E-08", Assert.Throws<ArgumentOutOfRangeException>(() => new Adam(ps, eps: -1e-8)).Message);
        Assert.Contains("RMSprop: invalid weight decay -1", Assert.Throws<ArgumentOutOfRangeException>(() => new RMSprop(ps, weightDecay: -1)).Message);
        Assert.Contains("RMSprop: invalid alpha -0.9", Assert.Throws<ArgumentOutOfRangeException>(() => new RMSprop(ps, alpha: -0.9)).Message);
        Assert.Contains("Sgd: invalid momentum -0.9", Assert.Throws<ArgumentOutOfRangeException>(() => new Sgd(ps, 0.1, momentum: -0.9)).Message);
        Assert.Contains("Nesterov momentum requires a momentum > 0 and zero dampening",
            Assert.Throws<ArgumentException>(() => new Sgd(ps, 0.1, nesterov: true)).Message);
        Assert.Contains("empty parameter list", Assert.Throws<ArgumentException>(() => new Adam([])).Message);
        var leaf = Tensor.Zeros([2]).RequiresGrad_();
        Assert.Contains("non-leaf", Assert.Throws<ArgumentException>(() => new Sgd([leaf * 2], 0.1)).Message);
        Assert.Contains("float32 or float64", Assert.Throws<DTypeException>(() => new Sgd([Tensor.Zeros([2], DType.Int32)], 0.1)).Message);
        var opt = new Sgd([leaf], 0.1);
        Assert.Contains("more than one parameter group", Assert.Throws<ArgumentException>(() => opt.AddParamGroup([leaf])).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => opt.ParamGroups[0].Lr = double.NaN);
        leaf.Grad = Tensor.Zeros([3]);
        var e = Assert.Throws<ShapeException>(() => opt.Step());
        Assert.Contains("the gradient of parameter 0 in group 0 has shape [3] but the parameter has [2]", e.Message);
        leaf.Grad = Tensor.Zeros([2], DType.Float64);
        Assert.Contains("is float64 but the parameter is float32", Assert.Throws<DTypeException>(() => opt.Step()).Message);
    }

    [Fact]
    public void NonContiguousGradient_IsAccepted()
    {
        var w = Tensor.Zeros([3, 2], DType.Float64).RequiresGrad_();
        var opt = new Sgd([w], 1);
        w.Grad = Tensor.FromArray(new double[] { 1, 2, 3, 4, 5, 6 }, 2, 3).T;
        opt.Step();
        Assert.Equal(new double[] { -1, -4, -2, -5, -3, -6 }, w.ToArray<double>());
    }

    [Theory]
    [InlineData("sgd")]
    [InlineData("adam")]
    [InlineData("adamw")]
    [InlineData("rmsprop")]
    public void Step_IsAllocationFree_InSteadyStateForFloat32(string kind)
    {
        var ps = new[] { Tensor.Rand([64, 33]).RequiresGrad_(), Tensor.Rand([7]).RequiresGrad_() };
        foreach (var p in ps) p.Grad = Tensor.Rand(p.Shape);
        var opt = Make(kind, ps);
        for (int i = 0; i < 3; i++) opt.Step();   // first steps allocate the state buffers
        // The fewest bytes over three rounds of 20 steps: while another test's parallel region owns Fovea's helper
        // threads, a step hands its chunks to the .NET thread pool, whose queue allocates: not the steady state.
        long allocated = long.MaxValue;
        for (int round = 0; round < 3 && allocated > 0; round++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 20; i++) opt.Step();
            allocated = Math.Min(allocated, GC.GetAllocatedBytesForCurrentThread() - before);
        }
        Assert.Equal(0, allocated);
    }
}
