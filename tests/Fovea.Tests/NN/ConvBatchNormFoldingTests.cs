using Fovea.NN;
using Fovea.Optim;

namespace Fovea.Tests.NN;

/// <summary>
/// Batch norm folded into the convolution before it: equal to the two layers run apart (1e-5 relative), only in
/// evaluation with gradients off, recomputed when a parameter or statistic changes, and never where a hook watches.
/// </summary>
public class ConvBatchNormFoldingTests
{
    private static void Close(Tensor expected, Tensor actual, double rel)
    {
        Assert.Equal(expected.Shape, actual.Shape);
        var e = expected.To(DType.Float64).ToArray<double>();
        var a = actual.To(DType.Float64).ToArray<double>();
        double scale = e.Max(Math.Abs);
        for (int i = 0; i < e.Length; i++)
            Assert.True(Math.Abs(e[i] - a[i]) <= rel * scale, $"[{i}]: expected {e[i]}, got {a[i]} (scale {scale})");
    }

    /// <summary>A conv + batch norm pair with statistics and affine parameters far from the defaults.</summary>
    private static (Conv2d Conv, BatchNorm2d Norm) Pair(int groups, bool bias, ulong seed)
    {
        var g = new Generator(seed);
        var conv = new Conv2d(6, 8, 3, stride: 2, padding: 1, groups: groups, bias: bias, generator: g);
        var norm = new BatchNorm2d(8, eps: 1e-3);
        using (GradMode.Disable())
        {
            norm.RunningMean!.CopyFrom(Tensor.Randn([8], g));
            norm.RunningVar!.CopyFrom(Tensor.Uniform([8], 0.2, 3, g));
            norm.Weight!.CopyFrom(Tensor.Randn([8], g));
            norm.Bias!.CopyFrom(Tensor.Randn([8], g));
        }
        return (conv, norm);
    }

    [Theory]
    [InlineData(1, true)]
    [InlineData(2, false)]
    public void Folded_weights_give_the_unfolded_output(int groups, bool bias)
    {
        var (conv, norm) = Pair(groups, bias, 3);
        conv.Eval();
        norm.Eval();
        var x = Tensor.Randn([2, 6, 9, 11], new Generator(4));
        var expected = norm.Forward(conv.Forward(x));
        var (w, b) = ConvBatchNormFolding.Fold(conv.Weight, conv.Bias, norm.RunningMean!, norm.RunningVar!, norm.Weight, norm.Bias, norm.Eps);
        Close(expected, Functional.Conv2d(x, w, b, 2, 1, 1, groups), 1e-5);
    }

    [Fact]
    public void Forward_relu_adds_the_residual_and_rectifies_folded_or_not()
    {
        var (conv, norm) = Pair(1, true, 13);
        conv.Eval();
        norm.Eval();
        var x = Tensor.Randn([2, 6, 9, 11], new Generator(14));
        var residual = Tensor.Randn([2, 8, 5, 6], new Generator(15));
        var unfolded = norm.Forward(conv.Forward(x));
        var fold = new ConvBatchNormFolding();
        using (GradMode.Disable())
        {
            var (w, b) = fold.Folded(conv.Weight, conv.Bias, norm.RunningMean!, norm.RunningVar!, norm.Weight, norm.Bias, norm.Eps);
            var folded = Functional.Conv2d(x, w, b, 2, 1);
            // Folded: the same bits as the folded convolution followed by the join.
            Assert.Equal(Functional.AddRelu(folded, residual).ToArray<float>(), fold.ForwardRelu(conv, norm, x, residual).ToArray<float>());
            Assert.Equal(folded.Relu().ToArray<float>(), fold.ForwardRelu(conv, norm, x).ToArray<float>());
            Close(unfolded.Add(residual).Relu(), fold.ForwardRelu(conv, norm, x, residual), 1e-5);
        }
        // Gradients on: the layers as written.
        Assert.Equal(unfolded.Add(residual).Relu().ToArray<float>(), fold.ForwardRelu(conv, norm, x, residual).ToArray<float>());
    }

    [Fact]
    public void Sequential_folds_in_evaluation_and_follows_every_change()
    {
        var (conv, norm) = Pair(1, true, 5);
        var net = new Sequential(conv, norm, new ReLU());
        net.Eval();
        var x = Tensor.Randn([2, 6, 9, 11], new Generator(6));
        Tensor Unfolded() => new ReLU().Forward(norm.Forward(conv.Forward(x)));
        Tensor Run()
        {
            using var _ = GradMode.Disable();
            return net.Forward(x);
        }
        Close(Unfolded(), Run(), 1e-5);

        // A statistic changed in place, a parameter changed by an optimizer step: the cache follows both.
        using (GradMode.Disable()) norm.RunningVar!.CopyFrom(norm.RunningVar.Mul(4));
        Close(Unfolded(), Run(), 1e-5);
        net.Train();
        var loss = net.Forward(x).Sum();
        loss.Backward();
        new Sgd(net.Parameters(), 0.1).Step();
        net.Eval();
        Close(Unfolded(), Run(), 1e-5);
    }

    [Fact]
    public void A_stem_runs_folded_with_its_relu_and_pool_and_a_hooked_pool_on_its_own()
    {
        // ResNet's stem on a 3-channel image whose 7x7 stride-2 convolution has 100-pixel rows (a shape the fused
        // kernels take in float32): conv, batch norm, ReLU and 3x3 stride-2 max pool.
        var g = new Generator(16);
        var conv = new Conv2d(3, 32, 7, stride: 2, padding: 3, bias: false, generator: g);
        var norm = new BatchNorm2d(32);
        using (GradMode.Disable())
        {
            norm.RunningMean!.CopyFrom(Tensor.Randn([32], g));
            norm.RunningVar!.CopyFrom(Tensor.Uniform([32], 0.2, 3, g));
            norm.Weight!.CopyFrom(Tensor.Randn([32], g));
        }
        var pool = new MaxPool2d(3, 2, 1);
        var net = new Sequential(conv, norm, new ReLU(), pool, new Flatten());
        net.Eval();
        var x = Tensor.Randn([2, 3, 19, 199], new Generator(17));
        using var _ = GradMode.Disable();
        var fold = new ConvBatchNormFolding();
        var (w, b) = fold.Folded(conv.Weight, conv.Bias, norm.RunningMean!, norm.RunningVar!, norm.Weight, norm.Bias, norm.Eps);
        var expected = Functional.MaxPool2d(Functional.Conv2d(x, w, b, 2, 3).Relu(), 3, 2, 1);
        Assert.Equal(expected.ToArray<float>(), fold.ForwardReluMaxPool(conv, norm, pool, x).ToArray<float>());
        Assert.Equal(expected.ToArray<float>(), net.Forward(x).ToArray<float>());
        Assert.Equal([2, 32 * 5 * 50], net.Forward(x).Shape.ToArray());
        Close(pool.Forward(new ReLU().Forward(norm.Forward(conv.Forward(x)))), expected, 1e-5);
        // A hook on the pool sees the pool's own input and output: the stem then runs folded with its ReLU, then the pool.
        Tensor? pooled = null;
        using var handle = pool.RegisterForwardHook((_, _, output) => { pooled = output; });
        Assert.Equal(expected.Flatten(1).ToArray<float>(), net.Forward(x).ToArray<float>());
        Assert.Equal(expected.ToArray<float>(), pooled!.ToArray<float>());
    }

    [Fact]
    public void Training_and_gradients_see_the_layers_as_written()
    {
        var (conv, norm) = Pair(1, false, 7);
        var net = new Sequential(conv, norm);
        var x = Tensor.Randn([3, 6, 8, 8], new Generator(8));
        // Training: batch statistics, and gradients reach γ through the unfolded graph.
        var y = net.Forward(x);
        Assert.False(ConvBatchNormFolding.CanFold(conv, norm));
        y.Square().Sum().Backward();
        Assert.NotNull(norm.Weight!.Grad);
        // Evaluation with gradients on: not folded either (W, γ and β still get gradients).
        net.Eval();
        Assert.False(ConvBatchNormFolding.CanFold(conv, norm));
        using (GradMode.Disable()) Assert.True(ConvBatchNormFolding.CanFold(conv, norm));
    }

    [Fact]
    public void A_hook_on_either_layer_turns_folding_off()
    {
        var (conv, norm) = Pair(1, true, 9);
        var net = new Sequential(conv, norm);
        net.Eval();
        Tensor? seen = null;
        using var handle = conv.RegisterForwardHook((_, _, output) => { seen = output; });
        var x = Tensor.Randn([1, 6, 7, 7], new Generator(10));
        using var _ = GradMode.Disable();
        Assert.False(ConvBatchNormFolding.CanFold(conv, norm));
        var y = net.Forward(x);
        Assert.NotNull(seen);
        Close(conv.Forward(x), seen!, 0);
        Close(norm.Forward(seen!), y, 0);
    }

    [Fact]
    public void The_cache_returns_the_same_pair_until_a_source_changes()
    {
        var (conv, norm) = Pair(1, true, 11);
        var fold = new ConvBatchNormFolding();
        var first = fold.Folded(conv.Weight, conv.Bias, norm.RunningMean!, norm.RunningVar!, norm.Weight, norm.Bias, norm.Eps);
        var again = fold.Folded(conv.Weight, conv.Bias, norm.RunningMean!, norm.RunningVar!, norm.Weight, norm.Bias, norm.Eps);
        Assert.Same(first.Weight, again.Weight);
        using (GradMode.Disable()) norm.RunningMean!.FillInPlace(0.5);
        var changed = fold.Folded(conv.Weight, conv.Bias, norm.RunningMean!, norm.RunningVar!, norm.Weight, norm.Bias, norm.Eps);
        Assert.NotSame(first.Bias, changed.Bias);
        var otherEps = fold.Folded(conv.Weight, conv.Bias, norm.RunningMean!, norm.RunningVar!, norm.Weight, norm.Bias, 0.5);
        Assert.NotSame(changed.Weight, otherEps.Weight);
        Assert.Throws<ShapeException>(() => ConvBatchNormFolding.Fold(conv.Weight, null, Tensor.Zeros([3]), norm.RunningVar!, null, null, 1e-5));
    }
}
