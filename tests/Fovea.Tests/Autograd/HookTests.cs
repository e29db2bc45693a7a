namespace Fovea.Tests.Autograd;

/// <summary>
/// Gradient hooks on tensors with PyTorch's semantics: <c>register_hook</c> sees the whole gradient of the pass and
/// may replace it; <c>register_post_accumulate_grad_hook</c> runs once per pass on a leaf whose <c>.grad</c> is final.
/// The expected values are derived by hand in each test.
/// </summary>
public class HookTests
{
    private static Tensor S(double v) => Tensor.Scalar(v, DType.Float64).RequiresGrad_();

    [Fact]
    public void LeafHook_SeesTheSumOfAllContributionsOnce_AndItsResultIsAccumulated()
    {
        var x = S(3);
        var seen = new List<double>();
        x.RegisterHook(g => { seen.Add(g.ToScalar()); return g * 2; });
        (x * x + x).Backward(); // d/dx (x² + x) = 2x + 1 = 7, from three edges
        Assert.Equal([7.0], seen);
        Assert.Equal(14, x.Grad!.ToScalar());
    }

    [Fact]
    public void HookReturningNull_KeepsTheGradient_AndHooksChainInRegistrationOrder()
    {
        var x = S(2);
        var calls = new List<string>();
        x.RegisterHook(g => { calls.Add($"a{g.ToScalar()}"); return null; });
        x.RegisterHook(g => { calls.Add($"b{g.ToScalar()}"); return g + 1; });
        x.RegisterHook(g => { calls.Add($"c{g.ToScalar()}"); return g * 10; });
        (x * 5).Backward();
        Assert.Equal(["a5", "b5", "c6"], calls);
        Assert.Equal(60, x.Grad!.ToScalar());
    }

    [Fact]
    public void NonLeafHook_ChangesWhatFlowsFurther()
    {
        // h = 3x, y = h²: dy/dh = 2h = 12 at x = 2; halved by the hook, dy/dx = 6 · 3 = 18 (36 without it).
        var x = S(2);
        var h = x * 3;
        double seen = double.NaN;
        h.RegisterHook(g => { seen = g.ToScalar(); return g * 0.5; });
        (h * h).Backward();
        Assert.Equal(12, seen);
        Assert.Equal(18, x.Grad!.ToScalar());
    }

    [Fact]
    public void RetainedGradOfANonLeaf_IsTheHookedGradient()
    {
        var x = S(2);
        var h = (x * 3).RetainGrad();
        h.RegisterHook(g => g * 0.5);
        (h * h).Backward();
        Assert.Equal(6, h.Grad!.ToScalar());
    }

    [Fact]
    public void RemovedHook_RunsNoMore_AndRemoveTwiceIsHarmless()
    {
        var x = S(1);
        int calls = 0;
        var handle = x.RegisterHook(g => { calls++; return g * 100; });
        (x * 2).Backward();
        handle.Remove();
        handle.Dispose();
        Assert.True(handle.IsRemoved);
        x.Grad = null;
        (x * 2).Backward();
        Assert.Equal(1, calls);
        Assert.Equal(2, x.Grad!.ToScalar());
    }

    [Fact]
    public void HookOnALeafOutput_Runs()
    {
        var x = Tensor.From(1.0, 2.0).RequiresGrad_();
        x.RegisterHook(g => g * 3);
        x.Backward(Tensor.From(1.0, 1.0));
        Assert.Equal([3.0, 3.0], x.Grad!.ToArray<double>());
    }

    [Fact]
    public void Hooks_ApplyToAutogradGrad_ButPostAccumulateHooksDoNot()
    {
        var x = S(3);
        int post = 0;
        x.RegisterHook(g => g * 2);
        x.RegisterPostAccumulateGradHook(_ => post++);
        var g = Fovea.Autograd.Grad([x * x], [x])[0]!;
        Assert.Equal(12, g.ToScalar());
        Assert.Null(x.Grad);
        Assert.Equal(0, post);
    }

    [Fact]
    public void HookOfTheWrongShape_IsAClearError()
    {
        var x = Tensor.From(1.0, 2.0).RequiresGrad_();
        x.RegisterHook(_ => Tensor.From(1.0));
        var e = Assert.Throws<ShapeException>(() => x.Sum().Backward());
        Assert.Contains("gradient hook", e.Message);
    }

    [Fact]
    public void Registration_OnTensorsThatGetNoGradient_IsRefused()
    {
        var plain = Tensor.From(1.0);
        Assert.Throws<InvalidOperationException>(() => plain.RegisterHook(g => g));
        Assert.Throws<InvalidOperationException>(() => plain.RegisterPostAccumulateGradHook(_ => { }));
        var nonLeaf = S(1) * 2;
        var e = Assert.Throws<InvalidOperationException>(() => nonLeaf.RegisterPostAccumulateGradHook(_ => { }));
        Assert.Contains("not a leaf", e.Message);
    }

    [Fact]
    public void PostAccumulateHook_RunsOncePerPass_WhenGradIsFinal()
    {
        // x reaches the loss along a short path (x) and a long one (exp(x)²): the hook must wait for both.
        var x = S(0.5);
        var seen = new List<double>();
        x.RegisterPostAccumulateGradHook(t => seen.Add(t.Grad!.ToScalar()));
        var e = x.Exp();
        (x + e * e).Backward(); // 1 + 2e^{2x}
        double expected = 1 + 2 * Math.Exp(1.0);
        Assert.Single(seen);
        Assert.Equal(expected, seen[0], 12);
        (x * 4).Backward();     // accumulates: the hook sees the running sum
        Assert.Equal(2, seen.Count);
        Assert.Equal(expected + 4, seen[1], 12);
    }

    [Fact]
    public void PostAccumulateHooks_FireInReverseOrderOfUse()
    {
        // Three layers used in order w1, w2, w3: their gradients become final in the order w3, w2, w1, which is the
        // order data-parallel training launches its buckets.
        var w = new[] { S(1.5), S(-0.5), S(2.0) };
        var order = new List<int>();
        for (int i = 0; i < w.Length; i++)
        {
            int k = i;
            w[i].RegisterPostAccumulateGradHook(_ => order.Add(k));
        }
        var h = Tensor.Scalar(0.3, DType.Float64);
        foreach (var wi in w) h = (h * wi).Tanh();
        h.Backward();
        Assert.Equal([2, 1, 0], order);
    }

    [Fact]
    public void ALeafWithHooks_GetsTheSameGradientAsWithout()
    {
        var a = Tensor.From(0.1, -0.7, 2.0).RequiresGrad_();
        var b = Tensor.From(0.1, -0.7, 2.0).RequiresGrad_();
        b.RegisterPostAccumulateGradHook(_ => { });
        Tensor Loss(Tensor t) => (t * t).Sum() + t.Sin().Sum() * t.Sum();
        Loss(a).Backward();
        Loss(b).Backward();
        Assert.Equal(a.Grad!.ToArray<double>(), b.Grad!.ToArray<double>());
    }
}
