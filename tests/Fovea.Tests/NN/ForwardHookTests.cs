using Fovea.NN;

namespace Fovea.Tests.NN;

/// <summary>Forward hooks and pre-hooks with PyTorch's semantics, and the feature extractor built on them.</summary>
public class ForwardHookTests
{
    private static Sequential Net() => new(
        ("features", new Sequential(new Linear(4, 8, generator: new Generator(1)), new ReLU())),
        ("classifier", new Linear(8, 3, generator: new Generator(2))));

    private static Tensor X => Tensor.Randn([2, 4], new Generator(3));

    [Fact]
    public void ForwardHook_SeesInputAndOutput_AndCanReplaceTheOutput()
    {
        var net = Net();
        var relu = (Module<Tensor, Tensor>)((Sequential)net.NamedChildren().First().Module)[1];
        Tensor? seenIn = null, seenOut = null;
        Module? seenModule = null;
        using var observe = relu.RegisterForwardHook((m, x, y) => { seenModule = m; seenIn = x; seenOut = y; });
        var expected = net.Forward(X);
        Assert.Same(relu, seenModule);
        Assert.True(seenOut!.Equal(seenIn!.Relu()));

        // Replacing the ReLU's output with zeros leaves only the classifier's bias.
        using var zero = relu.RegisterForwardHook((_, _, y) => Tensor.ZerosLike(y));
        var y = net.Forward(X);
        var bias = net.NamedParameters().First(p => p.Name == "classifier.bias").Parameter;
        Assert.True(y.Equal(bias.Unsqueeze(0).Expand(2, 3)));
        zero.Remove();
        Assert.True(net.Forward(X).Equal(expected));
    }

    [Fact]
    public void Hooks_RunInRegistrationOrder_EachSeeingThePreviousReplacement()
    {
        var layer = new Identity();
        var calls = new List<string>();
        using var a = layer.RegisterForwardHook((_, _, y) => { calls.Add("a"); return y.Add(1); });
        using var b = layer.RegisterForwardHook((_, x, y) => { calls.Add("b"); Assert.Equal(0f, x.Item<float>()); return y.Mul(10); });
        Assert.Equal(10f, layer.Call(Tensor.Scalar(0)).Item<float>());
        Assert.Equal(["a", "b"], calls);
    }

    [Fact]
    public void PreHook_ReplacesTheInput_AndTheForwardHookSeesTheReplacement()
    {
        var layer = new Identity();
        Tensor? hookInput = null;
        using var pre = layer.RegisterForwardPreHook((_, x) => x.Add(5));
        using var post = layer.RegisterForwardHook((_, x, _) => hookInput = x);
        Assert.Equal(7f, layer.Call(Tensor.Scalar(2)).Item<float>());
        Assert.Equal(7f, hookInput!.Item<float>());
    }

    [Fact]
    public void Handle_RemovesOnce_AndForwardAloneRunsNoHooks()
    {
        var layer = new Identity();
        int count = 0;
        var h1 = layer.RegisterForwardHook((_, _, _) => { count++; });
        var h2 = layer.RegisterForwardHook((_, _, _) => { count += 100; });
        layer.Call(Tensor.Scalar(1));
        Assert.Equal(101, count);
        h1.Remove();
        h1.Remove(); // a second remove does nothing, and does not take h2 with it
        Assert.True(h1.IsRemoved);
        layer.Call(Tensor.Scalar(1));
        Assert.Equal(201, count);
        layer.Forward(Tensor.Scalar(1)); // Forward is the bare computation
        Assert.Equal(201, count);
        h2.Dispose();
        layer.Call(Tensor.Scalar(1));
        Assert.Equal(201, count);
    }

    [Fact]
    public void HookThatRemovesItself_FinishesTheCurrentCall()
    {
        var layer = new Identity();
        int runs = 0;
        RemovableHandle? handle = null;
        handle = layer.RegisterForwardHook((_, _, _) => { runs++; handle!.Remove(); });
        layer.Call(Tensor.Scalar(1));
        layer.Call(Tensor.Scalar(1));
        Assert.Equal(1, runs);
    }

    [Fact]
    public void FeatureExtractor_ReturnsNamedOutputsOfOneForward()
    {
        var net = Net();
        net.Eval();
        using var fx = new FeatureExtractor(net, "features.0", "features");
        var features = fx.Extract(X);
        var linear = (Linear)((Sequential)net.NamedChildren().First().Module)[0];
        Assert.True(features["features.0"].Equal(linear.Forward(X)));
        Assert.True(features["features"].Equal(linear.Forward(X).Relu()));
        Assert.True(fx.Output!.Equal(net.Forward(X)));
        // Gradients flow through the returned tensors (nothing is detached).
        Assert.NotNull(features["features"].GradFn);
    }

    [Fact]
    public void FeatureExtractor_UnknownName_ListsTheValidOnes()
    {
        var e = Assert.Throws<ArgumentException>(() => new FeatureExtractor(Net(), "features.7"));
        Assert.Contains("unknown layer 'features.7'", e.Message);
        Assert.Contains("valid layers: features, features.0, features.1, classifier", e.Message);
        Assert.Equal(["features", "features.0", "features.1", "classifier"], FeatureExtractor.ValidNames(Net()));
    }

    [Fact]
    public void FeatureExtractor_Dispose_RemovesItsHooks_AndAModuleThatNeverRunsIsAnError()
    {
        var net = Net();
        var fx = new FeatureExtractor(net, "classifier");
        var classifier = (Linear)net.NamedChildren().Last().Module;
        int runs = 0;
        using var counter = classifier.RegisterForwardHook((_, _, _) => { runs++; });
        fx.Dispose();
        net.Forward(X);
        Assert.Equal(1, runs); // only the test's own hook is left

        var lone = new Sequential(("used", new Identity()), ("unused", new Identity()));
        var bypass = new Bypass(lone);
        using var fx2 = new FeatureExtractor(bypass, "inner.unused");
        var e = Assert.Throws<InvalidOperationException>(() => fx2.Extract(Tensor.Scalar(1)));
        Assert.Contains("'inner.unused' did not run", e.Message);
    }

    // A parent that owns a child but never calls it.
    private sealed class Bypass : Module<Tensor, Tensor>
    {
        public Bypass(Sequential inner) => RegisterModule("inner", inner);

        public override Tensor Forward(Tensor input) => input;
    }
}
