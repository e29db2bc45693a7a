using Fovea.NN;
using F = Fovea.NN.Functional;

namespace Fovea.Tests.NN;

/// <summary>Values and gradients against PyTorch 1.13 (fixtures from tests/fixtures/gen_layers_fixtures.py).</summary>
public class PyTorchFixtureTests
{
    public static TheoryData<string, string> ActivationCases => Fixtures.Cases("activations.json", _ => true);
    public static TheoryData<string, string> LayerCases => Fixtures.Cases("layers.json", op => op != "batch_norm");
    public static TheoryData<string, string> LossCases => Fixtures.Cases("losses.json", _ => true);
    public static TheoryData<string, string> BatchNormCases => Fixtures.Cases("layers.json", op => op == "batch_norm");

    private static Reduction Red(FixtureCase c) => c.S("reduction") switch
    {
        "none" => Reduction.None,
        "sum" => Reduction.Sum,
        _ => Reduction.Mean,
    };

    private static Tensor Apply(FixtureCase c, Dictionary<string, Tensor> t)
    {
        Tensor? Opt(string n) => t.GetValueOrDefault(n);
        var x = t["x"];
        return c.Op switch
        {
            "relu" => F.Relu(x),
            "leaky_relu" => F.LeakyRelu(x, c.D("slope")),
            "prelu" => F.Prelu(x, t["weight"]),
            "elu" => F.Elu(x, c.D("alpha")),
            "sigmoid" => F.Sigmoid(x),
            "tanh" => F.Tanh(x),
            "gelu" => F.Gelu(x, c.S("approximate") == "tanh" ? GeluApproximation.Tanh : GeluApproximation.None),
            "softplus" => F.Softplus(x, c.D("beta"), c.D("threshold")),
            "softmax" => F.Softmax(x, c.I("dim")),
            "log_softmax" => F.LogSoftmax(x, c.I("dim")),
            "erf" => x.Erf(),
            "linear" => F.Linear(x, t["weight"], Opt("bias")),
            "layer_norm" => F.LayerNorm(x, c.Ints("normalized_shape"), Opt("weight"), Opt("bias"), c.D("eps")),
            "mse" => F.MseLoss(x, t["target"], Red(c)),
            "l1" => F.L1Loss(x, t["target"], Red(c)),
            "huber" => F.HuberLoss(x, t["target"], Red(c), c.D("delta")),
            "bce_with_logits" => F.BinaryCrossEntropyWithLogits(x, t["target"], Opt("weight"), Opt("pos_weight"), Red(c)),
            "nll" => F.NllLoss(x, t["target"], Opt("weight"), c.HasArg("ignore_index") ? c.I("ignore_index") : -100, Red(c)),
            "cross_entropy" => F.CrossEntropy(x, t["target"], Opt("weight"), c.HasArg("ignore_index") ? c.I("ignore_index") : -100, Red(c),
                c.HasArg("label_smoothing") ? c.D("label_smoothing") : 0),
            "multi_margin" => F.MultiMarginLoss(x, t["target"], c.I("p"), c.D("margin"), Opt("weight"), Red(c)),
            _ => throw new InvalidOperationException($"unknown fixture op {c.Op}"),
        };
    }

    [Theory]
    [MemberData(nameof(ActivationCases))]
    [MemberData(nameof(LayerCases))]
    [MemberData(nameof(LossCases))]
    public void ValueAndGradientsMatchPyTorch(string file, string name)
    {
        var c = Fixtures.Get(file, name);
        var grads = c.GradNames.ToArray();
        var t = new Dictionary<string, Tensor>();
        foreach (var n in new[] { "x", "target", "weight", "bias", "pos_weight" })
            if (c.Has(n)) t[n] = c.T(n).RequiresGrad_(grads.Contains(n));
        var y = Apply(c, t);
        Fixtures.Close(c.T("y"), y, $"{name}: y");
        if (grads.Length == 0) return;
        y.Mul(c.T("gy")).Sum().Backward();
        foreach (var g in grads)
        {
            Assert.NotNull(t[g].Grad);
            Fixtures.Close(c.T("grad_" + g), t[g].Grad!, $"{name}: grad {g}");
        }
    }

    [Theory]
    [MemberData(nameof(ActivationCases))]
    public void Float32PathMatchesPyTorch(string file, string name)
    {
        // The tuned float32 kernels (SIMD exp, tanh, sigmoid; erf through double) against the float64 reference.
        var c = Fixtures.Get(file, name);
        var t = new Dictionary<string, Tensor>();
        foreach (var n in new[] { "x", "weight" })
            if (c.Has(n)) t[n] = c.T(n).To(DType.Float32);
        var y = Apply(c, t);
        Assert.Equal(DType.Float32, y.DType);
        Fixtures.Close(c.T("y"), y, $"{name} (float32): y", rtol: 2e-5, atol: 1e-5);
    }

    [Theory]
    [MemberData(nameof(BatchNormCases))]
    public void BatchNormModuleMatchesPyTorch(string file, string name)
    {
        var c = Fixtures.Get(file, name);
        var x = c.T("x");
        double? momentum = c.HasArg("momentum") ? c.D("momentum") : null;
        bool affine = c.B("affine");
        BatchNorm bn = x.Rank == 4
            ? new BatchNorm2d(x.Size(1), c.D("eps"), momentum, affine, dtype: DType.Float64)
            : new BatchNorm1d(x.Size(1), c.D("eps"), momentum, affine, dtype: DType.Float64);
        using (GradMode.Disable())
        {
            bn.RunningMean!.CopyFrom(c.T("running_mean"));
            bn.RunningVar!.CopyFrom(c.T("running_var"));
            if (affine)
            {
                bn.Weight!.CopyFrom(c.T("weight"));
                bn.Bias!.CopyFrom(c.T("bias"));
            }
        }
        bn.Train(c.B("training"));
        for (int i = 0; i < c.I("steps") - 1; i++)
            using (GradMode.Disable()) bn.Forward(c.T($"x{i}"));
        x.RequiresGrad_();
        var y = bn.Forward(x);
        Fixtures.Close(c.T("y"), y, $"{name}: y");
        Fixtures.Close(c.T("running_mean_after"), bn.RunningMean!, $"{name}: running_mean");
        Fixtures.Close(c.T("running_var_after"), bn.RunningVar!, $"{name}: running_var");
        Assert.Equal(c.T("num_batches_tracked").ToArray<int>()[0], bn.NumBatchesTracked);
        y.Mul(c.T("gy")).Sum().Backward();
        Fixtures.Close(c.T("grad_x"), x.Grad!, $"{name}: grad x");
        if (affine)
        {
            Fixtures.Close(c.T("grad_weight"), bn.Weight!.Grad!, $"{name}: grad weight");
            Fixtures.Close(c.T("grad_bias"), bn.Bias!.Grad!, $"{name}: grad bias");
        }
    }
}
