using Fovea.NN;

namespace Fovea.Tests.NN;

/// <summary>Module behaviour of the layers: names, state dicts, freezing, train/eval, dtype conversion.</summary>
public class ModuleTests
{
    private static Sequential Net(ulong seed) => new(
        ("features", new Sequential(new Linear(4, 8, generator: new Generator(seed)), new BatchNorm1d(8), new ReLU(), new Dropout(0.5, new Generator(seed)))),
        ("classifier", new Linear(8, 3, generator: new Generator(seed + 1))));

    [Fact]
    public void NamedParametersAndBuffers_AreDottedLikePyTorch()
    {
        var net = Net(1);
        Assert.Equal(["features.0.weight", "features.0.bias", "features.1.weight", "features.1.bias", "classifier.weight", "classifier.bias"],
            net.NamedParameters().Select(p => p.Name));
        Assert.Equal(["features.1.running_mean", "features.1.running_var", "features.1.num_batches_tracked"], net.NamedBuffers().Select(b => b.Name));
        Assert.Equal(4 * 8 + 8 + 8 + 8 + 8 * 3 + 3, net.ParameterCount());
    }

    [Fact]
    public void StateDict_RoundTripsIntoAFreshModel()
    {
        var a = Net(1);
        a.Forward(Tensor.Randn([6, 4], new Generator(2))); // moves the running statistics
        var b = Net(9);
        b.LoadStateDict(a.StateDict());
        a.Eval();
        b.Eval();
        var x = Tensor.Randn([5, 4], new Generator(3));
        Assert.True(a.Forward(x).Equal(b.Forward(x)));
        Assert.Equal(1, ((BatchNorm)((Sequential)b.NamedChildren().First().Module)[1]).NumBatchesTracked);
    }

    [Fact]
    public void StrictLoad_ListsMissingUnexpectedAndMismatchedKeys()
    {
        var sd = Net(1).StateDict();
        var pruned = new StateDict();
        foreach (var (k, v) in sd)
            if (k != "classifier.bias") pruned.Add(k, v);
        pruned.Add("classifier.extra", Tensor.Zeros(1));
        pruned["features.0.weight"] = Tensor.Zeros(8, 5);
        var e = Assert.Throws<ArgumentException>(() => Net(2).LoadStateDict(pruned));
        Assert.Contains("missing keys: classifier.bias", e.Message);
        Assert.Contains("unexpected keys: classifier.extra", e.Message);
        Assert.Contains("features.0.weight: checkpoint [8, 5], model [8, 4]", e.Message);
    }

    [Fact]
    public void Freeze_StopsGradientsIntoFrozenParameters()
    {
        var net = Net(1);
        var features = net.NamedChildren().First().Module;
        features.Freeze();
        var loss = new CrossEntropyLoss().Forward(net.Forward(Tensor.Randn([6, 4], new Generator(5))), Tensor.From(0, 1, 2, 0, 1, 2));
        loss.Backward();
        foreach (var (name, p) in net.NamedParameters())
        {
            if (name.StartsWith("features", StringComparison.Ordinal)) Assert.Null(p.Grad);
            else Assert.NotNull(p.Grad);
        }
        Assert.Equal(8 * 3 + 3, net.ParameterCount(trainableOnly: true));
    }

    [Fact]
    public void TrainEval_SwitchesDropoutAndBatchNorm()
    {
        var net = Net(1);
        var x = Tensor.Randn([6, 4], new Generator(4));
        var t1 = net.Forward(x);
        var t2 = net.Forward(x);
        Assert.False(t1.Equal(t2)); // fresh dropout masks and moving statistics
        net.Eval();
        Assert.All(net.NamedModules(), m => Assert.False(m.Module.Training));
        var running = net.StateDict()["features.1.running_mean"].Clone();
        var e1 = net.Forward(x);
        Assert.True(e1.Equal(net.Forward(x)));
        Assert.True(running.Equal(net.StateDict()["features.1.running_mean"]));
        net.Train();
        Assert.All(net.NamedModules(), m => Assert.True(m.Module.Training));
    }

    [Fact]
    public void To_Float64_UpdatesWhatLayersExpose()
    {
        var lin = new Linear(3, 2);
        var bn = new BatchNorm2d(2);
        var prelu = new PReLU(2);
        foreach (Module m in new Module[] { lin, bn, prelu }) m.To(DType.Float64);
        Assert.Equal(DType.Float64, lin.Weight.DType);
        Assert.Equal(DType.Float64, lin.Bias!.DType);
        Assert.Equal(DType.Float64, bn.RunningVar!.DType);
        Assert.Equal(DType.Int32, bn.StateDict()["num_batches_tracked"].DType);
        Assert.Equal(DType.Float64, prelu.Weight.DType);
        Assert.Equal(DType.Float64, lin.Forward(Tensor.Zeros([1, 3], DType.Float64)).DType);
        Assert.Equal(DType.Float64, bn.Forward(Tensor.Ones([2, 2, 2, 2], DType.Float64)).DType);
    }
}
