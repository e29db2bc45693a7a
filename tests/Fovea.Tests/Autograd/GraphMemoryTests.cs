using System.Runtime.CompilerServices;

namespace Fovea.Tests.Autograd;

/// <summary>
/// The graph holds what the backward needs and nothing more: a result that no op saved dies as soon as the forward code
/// lets go of it, a saved one dies with the backward pass that used it (even while the loss, and so the graph, is still
/// held), and a result the user hooked or retained is kept by its node until then. Lifetimes are watched through weak
/// references after full collections; each graph is built in a method of its own, so no local of the test keeps it.
/// </summary>
[Collection("Global thread count")]
public class GraphMemoryTests
{
    private static void FullCollect()
    {
        for (int i = 0; i < 3; i++)
        {
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true);
            GC.WaitForPendingFinalizers();
        }
    }

    /// <summary>loss = Σ exp(x + 1)·2: the sum x + 1 is saved by no op (Add saves nothing, Exp saves its input and output).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static (Tensor Loss, WeakReference Unsaved, WeakReference Saved) Build(Tensor x)
    {
        var shifted = x.Add(1.0);
        var exp = shifted.Exp();
        var loss = exp.Mul(2.0).Sum();
        return (loss, new WeakReference(shifted.Add(0.5)), new WeakReference(exp));
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static (Tensor Loss, WeakReference Unsaved) BuildChain(Tensor x)
    {
        var unsaved = x.Add(1.0);
        var loss = unsaved.Add(2.0).Mul(3.0).Sum();
        return (loss, new WeakReference(unsaved));
    }

    [Fact]
    public void A_result_no_op_saved_is_not_kept_by_the_graph()
    {
        var x = Tensor.Rand([1000], new Generator(1), DType.Float64).RequiresGrad_();
        var (loss, unsaved) = BuildChain(x);
        FullCollect();
        Assert.False(unsaved.IsAlive);
        loss.Backward();
        Assert.Equal(Enumerable.Repeat(3.0, 1000), x.Grad!.ToArray<double>());
    }

    [Fact]
    public void A_saved_result_lives_until_the_backward_pass_and_not_after_it_while_the_loss_is_held()
    {
        var x = Tensor.Rand([1000], new Generator(2), DType.Float64).RequiresGrad_();
        var (loss, _, saved) = Build(x);
        FullCollect();
        Assert.True(saved.IsAlive);
        loss.Backward();
        FullCollect();
        Assert.False(saved.IsAlive);
        GC.KeepAlive(loss);
        var xs = x.ToArray<double>();
        var grads = x.Grad!.ToArray<double>();
        for (int i = 0; i < xs.Length; i++) Assert.Equal(2 * Math.Exp(xs[i] + 1), grads[i], 1e-12);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static (Tensor Loss, WeakReference Hooked) BuildHooked(Tensor x, List<double> seen)
    {
        var hooked = x.Add(1.0);
        hooked.RegisterHook(g => { seen.Add(g.Sum().ToScalar()); return null; });
        var loss = hooked.Mul(3.0).Sum();
        return (loss, new WeakReference(hooked));
    }

    [Fact]
    public void A_hooked_result_the_user_let_go_of_still_runs_its_hook()
    {
        var x = Tensor.Rand([10], new Generator(3), DType.Float64).RequiresGrad_();
        var seen = new List<double>();
        var (loss, hooked) = BuildHooked(x, seen);
        FullCollect();
        Assert.True(hooked.IsAlive);
        loss.Backward();
        Assert.Equal([30.0], seen);
        FullCollect();
        Assert.False(hooked.IsAlive);
        GC.KeepAlive(loss);
    }

    [Fact]
    public void A_retained_gradient_and_a_gradient_with_respect_to_an_intermediate_still_arrive()
    {
        var x = Tensor.Rand([4], new Generator(4), DType.Float64).RequiresGrad_();
        var h = x.Add(1.0).RetainGrad();
        var loss = h.Mul(5.0).Sum();
        var dh = Fovea.Autograd.Grad(loss, h, createGraph: false);
        Assert.Equal(Enumerable.Repeat(5.0, 4), dh.ToArray<double>());
        var h2 = x.Mul(2.0);
        h2.RetainGrad();
        h2.Mul(h2).Sum().Backward();
        Assert.Equal(h2.Detach().Mul(2.0).ToArray<double>(), h2.Grad!.ToArray<double>());
    }

    [Fact]
    public void The_edges_name_each_input_s_node_and_whether_it_wants_a_gradient()
    {
        var w = Tensor.Ones([3]).RequiresGrad_();
        var c = Tensor.Ones([3]);
        var h = w.Mul(c);
        var y = h.Add(w);
        Assert.Equal(2, y.GradFn!.InputCount);
        Assert.Same(h.GradFn, y.GradFn.NextFunctions[0]);
        Assert.Null(y.GradFn.NextFunctions[1]);
        Assert.True(h.GradFn!.NeedsInputGrad(0));
        Assert.False(h.GradFn.NeedsInputGrad(1));
        // A leaf frozen after the forward gets no gradient, as before.
        w.RequiresGrad = false;
        Assert.False(y.GradFn.NeedsInputGrad(1));
    }

    [Fact]
    public void A_large_constant_input_is_drawn_from_its_shape()
    {
        var w = Tensor.Scalar(2.0, DType.Float64).RequiresGrad_();
        var big = Tensor.Ones([64], DType.Float64);
        var dot = GraphDot.ToDot(big.Mul(w).Sum());
        Assert.Contains("constant [64]", dot);
        Assert.Contains("leaf []", dot);
    }

    [Fact]
    public void A_backward_that_frees_enough_saved_results_starts_a_full_collection()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Fovea.Autograd.CollectAfterBackwardBytes = -1);
        long before = Fovea.Autograd.CollectAfterBackwardBytes;
        try
        {
            var x = Tensor.Rand([256], new Generator(5)).RequiresGrad_();
            // Exp saves its input (a leaf that requires grad: not counted) and its 1 KB output.
            Fovea.Autograd.CollectAfterBackwardBytes = 1025;
            long started = Engine.CollectionsStarted;
            x.Exp().Sum().Backward();
            Assert.Equal(started, Engine.CollectionsStarted);
            Fovea.Autograd.CollectAfterBackwardBytes = 1024;
            x.Exp().Sum().Backward();
            Assert.Equal(started + 1, Engine.CollectionsStarted);
            Fovea.Autograd.CollectAfterBackwardBytes = 0;
            x.Exp().Sum().Backward();
            Assert.Equal(started + 1, Engine.CollectionsStarted);
        }
        finally { Fovea.Autograd.CollectAfterBackwardBytes = before; }
    }
}
