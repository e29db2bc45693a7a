using Fovea.Backends.Cpu;
using Fovea.NN;
using Fovea.Optim;

namespace Fovea.Tests.Backends;

/// <summary>
/// Convolution weights kept prepared between inference forwards: used with gradients off or a frozen weight, never
/// for a weight that is being trained, and rebuilt after every change to the weight (an optimizer step, a loaded state
/// dict, an in-place copy). Each check compares with the convolution of a fresh copy of the weight, so a stale
/// prepared weight fails it. The shapes take the implicit GEMM (16 tiles of 4x4) and Winograd (49 tiles) paths.
/// </summary>
public class PreparedConvWeightsCacheTests
{
    private static void Same(Tensor expected, Tensor actual)
    {
        var e = expected.ToArray<float>();
        var a = actual.ToArray<float>();
        Assert.Equal(e.Length, a.Length);
        double scale = e.Max(Math.Abs);
        // The fresh weight may run the same path or, with its own (new) storage, the per-call one: rounding only.
        for (int i = 0; i < e.Length; i++)
            Assert.True(Math.Abs(e[i] - a[i]) <= 1e-4 * scale, $"[{i}]: expected {e[i]}, got {a[i]}");
    }

    /// <summary>The output of the convolution with a copy of <paramref name="conv"/>'s current weight, computed per call.</summary>
    private static Tensor Fresh(Conv2d conv, Tensor x)
    {
        using var _ = GradMode.Enable();
        var w = conv.Weight.Detach().Clone().RequiresGrad_();
        return Functional.Conv2d(x, w, conv.Bias!.Detach(), 1, 1).Detach();
    }

    [Theory]
    [InlineData(16)]
    [InlineData(28)]
    public void Inference_keeps_the_weights_prepared_and_follows_every_change(int size)
    {
        var conv = new Conv2d(32, 24, 3, padding: 1, generator: new Generator(1));
        conv.Eval();
        var x = Tensor.Randn([1, 32, size, size], new Generator(2));
        Tensor Run()
        {
            using var _ = GradMode.Disable();
            return conv.Forward(x);
        }

        var y0 = Run();
        Assert.True(PreparedConvWeightsCache.IsPrepared(conv.Weight));
        Same(Fresh(conv, x), y0);
        Same(y0, Run());

        // An optimizer step writes the weight in place.
        conv.Train();
        var opt = new Sgd(conv.Parameters(), 0.5);
        Functional.Conv2d(x, conv.Weight, conv.Bias, 1, 1).Square().Mean().Backward();
        opt.Step();
        conv.Eval();
        var y1 = Run();
        Assert.NotEqual(y0.ToArray<float>(), y1.ToArray<float>());
        Same(Fresh(conv, x), y1);

        // A loaded state dict copies into the same tensors.
        var other = new Conv2d(32, 24, 3, padding: 1, generator: new Generator(3));
        conv.LoadStateDict(other.StateDict());
        var y2 = Run();
        Assert.NotEqual(y1.ToArray<float>(), y2.ToArray<float>());
        Same(Fresh(other, x), y2);

        // An in-place edit of part of the weight through a view.
        using (GradMode.Disable()) conv.Weight.Narrow(0, 5, 1).CopyFrom(Tensor.Zeros([1, 32, 3, 3]));
        var y3 = Run();
        Assert.NotEqual(y2.ToArray<float>(), y3.ToArray<float>());
        Same(Fresh(conv, x), y3);
    }

    [Fact]
    public void A_weight_being_trained_is_not_kept_and_a_frozen_one_is()
    {
        var x = Tensor.Randn([1, 16, 28, 28], new Generator(4));
        var trained = Tensor.Randn([16, 16, 3, 3], new Generator(5)).RequiresGrad_();
        var y = Functional.Conv2d(x, trained, null, 1, 1);
        Assert.False(PreparedConvWeightsCache.IsPrepared(trained));
        y.Sum().Backward();
        Assert.NotNull(trained.Grad);

        var frozen = Tensor.Randn([16, 16, 3, 3], new Generator(6));
        var input = x.Clone().RequiresGrad_();
        var z = Functional.Conv2d(input, frozen, null, 1, 1);
        Assert.True(PreparedConvWeightsCache.IsPrepared(frozen));
        z.Sum().Backward();
        Assert.NotNull(input.Grad);

        // Float64 keeps the per-call path (the prepared forms are float32).
        var w64 = Tensor.Randn([16, 16, 3, 3], new Generator(7)).To(DType.Float64);
        Functional.Conv2d(x.To(DType.Float64), w64, null, 1, 1);
        Assert.False(PreparedConvWeightsCache.IsPrepared(w64));
    }
}
