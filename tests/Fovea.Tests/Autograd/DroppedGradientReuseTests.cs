using Fovea.NN;
using Fovea.Optim;

namespace Fovea.Tests.Autograd;

/// <summary>
/// ZeroGrad(setToNone) hands a gradient buffer that only its leaf holds to the storage pool, so the next backward writes
/// that gradient into it (as PyTorch's caching allocator reuses the block zero_grad freed); a buffer anyone else may
/// hold (read through Grad, seen by a hook, shared with another leaf, kept by an optimizer of the caller's) is never
/// reused. Each test uses a weight size of its own (the pool is shared by every test of the process).
/// </summary>
public class DroppedGradientReuseTests
{
    private static Tensor Weight(int outF, int inF) => Tensor.Uniform([outF, inF], -1, 1, new Generator((ulong)outF)).RequiresGrad_();

    private static Tensor Input(int inF, int seed) => Tensor.Uniform([3, inF], -1, 1, new Generator((ulong)seed));

    /// <summary>One backward of sum(x·Wᵀ): dL/dW = 1ᵀ·x, a [out, in] buffer the pass makes for W alone.</summary>
    private static void Backward(Tensor w, Tensor x) => Functional.Linear(x, w).Sum().Backward();

    /// <summary>dL/dW of <see cref="Backward"/>, computed apart: every row is the column sums of x.</summary>
    private static float[] Expected(Tensor w, params Tensor[] xs)
    {
        int outF = w.Size(0), inF = w.Size(1);
        var e = new float[outF * inF];
        foreach (var x in xs)
        {
            var v = x.ToArray<float>();
            for (int o = 0; o < outF; o++)
                for (int r = 0; r < 3; r++)
                    for (int i = 0; i < inF; i++)
                        e[o * inF + i] += v[r * inF + i];
        }
        return e;
    }

    private static void Close(float[] expected, Tensor actual)
    {
        var a = actual.ToArray<float>();
        Assert.Equal(expected.Length, a.Length);
        for (int i = 0; i < a.Length; i++) Assert.Equal(expected[i], a[i], 4);
    }

    [Fact]
    public void TheNextBackward_WritesTheGradientIntoTheBufferZeroGradDropped()
    {
        var w = Weight(64, 81);
        Backward(w, Input(81, 1));
        var buffer = w.GradUnexposed!.Storage.Data;
        Assert.True(w.GradAlone);
        w.ZeroGrad();
        Assert.Null(w.GradUnexposed);
        var x2 = Input(81, 2);
        Backward(w, x2);
        Assert.Same(buffer, w.GradUnexposed!.Storage.Data);
        Close(Expected(w, x2), w.Grad!);
    }

    [Fact]
    public void AGradientReadThroughGrad_IsNeverReused()
    {
        var w = Weight(64, 82);
        var x1 = Input(82, 1);
        Backward(w, x1);
        var held = w.Grad!;
        Assert.False(w.GradAlone);
        w.ZeroGrad();
        Backward(w, Input(82, 2));
        Assert.NotSame(held.Storage.Data, w.GradUnexposed!.Storage.Data);
        Close(Expected(w, x1), held);
    }

    [Fact]
    public void AGradientAHookSaw_IsNeverReused()
    {
        var w = Weight(64, 83);
        Tensor? seen = null;
        w.RegisterHook(g =>
        {
            seen ??= g; // the first pass's gradient
            return null;
        });
        var x1 = Input(83, 1);
        Backward(w, x1);
        Assert.False(w.GradAlone);
        w.ZeroGrad();
        Backward(w, Input(83, 2));
        Close(Expected(w, x1), seen!);
    }

    [Fact]
    public void ABufferTwoLeavesShare_IsNeverReused()
    {
        // dL/da and dL/db are the same tensor (the add passes its incoming gradient to both).
        var a = Tensor.Zeros([5121]).RequiresGrad_();
        var b = Tensor.Zeros([5121]).RequiresGrad_();
        var c = Tensor.Uniform([5121], 1, 2, new Generator(9));
        ((a + b) * c).Sum().Backward();
        Assert.False(a.GradAlone && ReferenceEquals(a.GradUnexposed!.Storage.Data, b.GradUnexposed!.Storage.Data));
        var expected = c.ToArray<float>();
        a.ZeroGrad();
        var taken = Tensor.Full([5121], 42f); // would take a's buffer had it gone to the pool
        Assert.Equal(expected, b.Grad!.ToArray<float>());
        Assert.Equal(42f, taken.ToArray<float>()[0]);
    }

    [Fact]
    public void ASecondBackward_AddsIntoTheBufferItAloneHolds()
    {
        var w = Weight(64, 84);
        var (x1, x2) = (Input(84, 1), Input(84, 2));
        Backward(w, x1);
        var buffer = w.GradUnexposed!.Storage.Data;
        Backward(w, x2);
        Assert.Same(buffer, w.GradUnexposed!.Storage.Data);
        Close(Expected(w, x1, x2), w.Grad!);
    }

    [Fact]
    public void ASecondBackward_AfterAGradRead_LeavesTheReadGradientAsItWas()
    {
        var w = Weight(64, 85);
        var (x1, x2) = (Input(85, 1), Input(85, 2));
        Backward(w, x1);
        var held = w.Grad!;
        Backward(w, x2);
        Assert.NotSame(held, w.GradUnexposed);
        Close(Expected(w, x1), held);
        Close(Expected(w, x1, x2), w.Grad!);
        // The sum is a new buffer only W holds: dropped, it is reused.
        Backward(w, x1);
        var sum = w.GradUnexposed!.Storage.Data;
        w.ZeroGrad();
        Backward(w, x2);
        Assert.Same(sum, w.GradUnexposed!.Storage.Data);
    }

    [Fact]
    public void ZeroGradInPlace_ZeroesTheBufferItAloneHolds_AndOwnsIt()
    {
        var w = Weight(64, 86);
        Backward(w, Input(86, 1));
        var buffer = w.GradUnexposed!.Storage.Data;
        w.ZeroGrad(setToNone: false);
        Assert.Same(buffer, w.GradUnexposed!.Storage.Data);
        Assert.True(w.GradOwned);
        Assert.All(w.GradUnexposed!.ToArray<float>(), v => Assert.Equal(0f, v));
        var x2 = Input(86, 2);
        Backward(w, x2);
        Close(Expected(w, x2), w.Grad!);
    }

    [Fact]
    public void FoveasOptimizers_LeaveTheBufferReusable()
    {
        var w = Weight(64, 87);
        var opt = new Sgd([w], 0.1, momentum: 0.9);
        Backward(w, Input(87, 1));
        var buffer = w.GradUnexposed!.Storage.Data;
        opt.Step();
        opt.ZeroGrad();
        Backward(w, Input(87, 2));
        Assert.Same(buffer, w.GradUnexposed!.Storage.Data);
    }

    [Fact]
    public void AnOptimizerOfTheCallers_MayKeepTheGradient_SoItIsNeverReused()
    {
        var w = Weight(64, 88);
        var opt = new KeepingOptimizer([w]);
        var x1 = Input(88, 1);
        Backward(w, x1);
        opt.Step();
        opt.ZeroGrad();
        Backward(w, Input(88, 2));
        Close(Expected(w, x1), opt.Kept!);
    }

    private sealed class KeepingGroup(IEnumerable<Tensor> parameters) : ParamGroup("Keeping", parameters, 0, 0, false);

    /// <summary>An optimizer that keeps the last gradient it was given (as one comparing steps might).</summary>
    private sealed class KeepingOptimizer : Optimizer<KeepingGroup>
    {
        public Tensor? Kept;

        public KeepingOptimizer(IEnumerable<Tensor> parameters) : base("Keeping") => Add(new KeepingGroup(parameters));

        protected override void UpdateParameter(KeepingGroup group, int index, Tensor param, Tensor grad) => Kept = grad;

        protected override void SaveState(object state, Dictionary<string, Tensor> into) { }

        protected override object RestoreState(KeepingGroup group, Tensor param, IReadOnlyDictionary<string, Tensor> saved) => new();
    }
}
