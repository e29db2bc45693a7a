using Fovea.NN;
using Fovea.Vision.Models;

namespace Fovea.Onnx.Tests;

/// <summary>
/// Inference without gradients: the residual join relu(body + shortcut) as one pass, ReLU in place on a folded
/// convolution's output, max pooling without indices, in the zoo ResNet; in an imported graph a convolution's ReLU,
/// or its residual join and ReLU, computed by the convolution itself. The outputs equal the graph run as written
/// (gradients on), no tensor a caller or a hook holds is overwritten, and gradients are unchanged.
/// </summary>
[Collection(FusedConvReluTests.ThreadCount)]
public sealed class FusedAddReluTests
{
    private static void Close(Tensor expected, Tensor actual, double rel) => InferenceTestModels.Close(expected, actual, rel);

    private static Module<Tensor, Tensor> ResNet() => InferenceTestModels.ResNet18(64, randomAffine: false);

    [Fact]
    public void Zoo_resnet_inference_matches_the_layers_run_apart_and_leaves_held_tensors_alone()
    {
        var model = ResNet();
        var x = Tensor.Randn([1, 3, 64, 64], new Generator(2));
        var xBefore = x.Clone();
        var expected = model.Forward(x).Detach(); // gradients on: nothing folded or fused
        // A hook on a block keeps its output; the next block reads it as its shortcut and must not overwrite it.
        var block = (Module<Tensor, Tensor>)model.NamedModules().First(m => m.Name == "layer1.0").Module;
        Tensor? seen = null, seenCopy = null;
        using var handle = block.RegisterForwardHook((_, _, y) => { seen = y; seenCopy = y.Clone(); });
        Tensor fused;
        using (GradMode.Disable()) fused = model.Forward(x);
        Close(expected, fused, 1e-5);
        Assert.Equal(xBefore.ToArray<float>(), x.ToArray<float>());
        Assert.Equal(seenCopy!.ToArray<float>(), seen!.ToArray<float>());
    }

    [Fact]
    public void Imported_resnet_runs_its_relus_and_joins_in_the_convolutions_and_keeps_gradients()
    {
        var imported = OnnxModel.Import(OnnxModel.ExportToBytes(ResNet(), [1, 3, 64, 64]), "resnet18.onnx");
        imported.Eval();
        Assert.Equal(8, imported.FusedConvJoins);    // one join per basic block, in its second convolution or its shortcut's
        Assert.Equal(8, imported.FusedConvRelus);    // each block's first ReLU
        Assert.Equal(1, imported.FusedConvReluPools); // the stem's ReLU and its max pool
        Assert.Equal(0, imported.FusedAddReluPairs);
        Assert.Equal(0, imported.InPlaceRelus);
        Assert.Equal(0, imported.ReluAfterPools);
        var x = Tensor.Randn([1, 3, 64, 64], new Generator(3));
        var xBefore = x.Clone();
        var expected = imported.Forward(x).Detach();
        foreach (int threads in new[] { 1, 2 })
        {
            int saved = Threading.MaxDegreeOfParallelism;
            Threading.MaxDegreeOfParallelism = threads; // one thread runs the passes apart, two in the kernels
            try
            {
                Tensor fused;
                using (GradMode.Disable()) fused = imported.Forward(x);
                Close(expected, fused, 1e-5);
            }
            finally { Threading.MaxDegreeOfParallelism = saved; }
        }
        Assert.Equal(xBefore.ToArray<float>(), x.ToArray<float>());

        // With gradients the graph runs as written: the input gradient matches the zoo model's.
        var xg = x.Clone().RequiresGrad_();
        imported.Forward(xg).Square().Sum().Backward();
        Assert.NotNull(xg.Grad);
        Assert.True(xg.Grad!.Abs().Sum().ToScalar() > 0);
    }

    [Fact]
    public void A_stems_relu_and_pool_run_with_its_convolution_with_the_same_values_and_gradients()
    {
        var conv = new Conv2d(3, 5, 3, padding: 1);
        // Channel 0 negative throughout, so its windows hold negatives only (0 after the ReLU and the pool).
        using (GradMode.Disable()) conv.Bias!.Narrow(0, 0, 1).FillInPlace(-100);
        var net = new Sequential(conv, new ReLU(), new MaxPool2d(3, 2, 1));
        net.Eval();
        var imported = OnnxModel.Import(OnnxModel.ExportToBytes(net, [2, 3, 9, 9]), "stem.onnx");
        imported.Eval();
        Assert.Equal(1, imported.FusedConvReluPools);
        Assert.Equal(0, imported.FusedConvRelus);
        Assert.Equal(0, imported.ReluAfterPools);
        Assert.Equal(0, imported.InPlaceRelus);
        var x = Tensor.Randn([2, 3, 9, 9], new Generator(5));
        var expected = imported.Forward(x).Detach(); // gradients on: the ReLU on a new tensor, not in place
        Assert.Contains(expected.ToArray<float>(), v => v == 0f); // windows of negatives only
        Tensor fused;
        using (GradMode.Disable()) fused = imported.Forward(x);
        Assert.Equal(expected.ToArray<float>(), fused.ToArray<float>()); // relu(conv) rounded as the ReLU apart rounds it: the same bits
        Assert.Equal(expected.ToArray<float>(), Functional.MaxPool2d(Functional.Relu(conv.Forward(x)), 3, 2, 1).Detach().ToArray<float>());

        var xg = x.Clone().RequiresGrad_();
        imported.Forward(xg).Sum().Backward();
        var xr = x.Clone().RequiresGrad_();
        Functional.MaxPool2d(Functional.Relu(conv.Forward(xr)), 3, 2, 1).Sum().Backward();
        Assert.Equal(xr.Grad!.ToArray<float>(), xg.Grad!.ToArray<float>());
    }

    [Theory]
    [InlineData(new long[] { 3, 3, 3, 3 }, new long[] { 1, 1, 1, 1 }, 0L)] // torchvision's stem
    [InlineData(new long[] { 3, 3, 2, 2 }, new long[] { 1, 1, 0, 0 }, 0L)] // CNTK's: the start's pads give the same windows
    [InlineData(new long[] { 3, 3, 3, 3 }, new long[] { 1, 1, 1, 1 }, 1L)] // ceil mode
    [InlineData(new long[] { 3, 3, 3, 3 }, new long[] { 0, 0, 2, 2 }, 0L)] // pads the start's cannot stand for: the nodes in turn
    public void A_stem_of_the_fused_kernels_shape_pools_as_the_graph_as_written(long[] convPads, long[] poolPads, long ceil)
    {
        // 3 channels, 7x7 stride 2, 16 outputs of 100-pixel rows: the fused kernels take it on AVX2 and AVX-512 (the fourth
        // case excepted).
        var rng = new Random(21);
        float[] Values(int n) => [.. Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1))];
        var b = new OnnxModelBuilder().Input("x", 1, 3, 20, 200)
            .Initializer("w", Values(16 * 3 * 49), 16, 3, 7, 7).Initializer("b", Values(16), 16)
            .Node("Conv", ["x", "w", "b"], ["c"], ("strides", new long[] { 2, 2 }), ("pads", convPads))
            .Node("Relu", ["c"], ["r"])
            .Node("MaxPool", ["r"], ["y"], ("kernel_shape", new long[] { 3, 3 }), ("strides", new long[] { 2, 2 }), ("pads", poolPads), ("ceil_mode", ceil))
            .Output("y");
        var imported = OnnxModel.Import(b.ToBytes(), "stem.onnx");
        imported.Eval();
        Assert.Equal(1, imported.FusedConvReluPools);
        var x = Tensor.Randn([1, 3, 20, 200], new Generator(22));
        var expected = imported.Forward(x.Clone().RequiresGrad_()).Detach(); // recorded: the nodes as written
        foreach (int threads in new[] { 1, 2 })
        {
            int saved = Threading.MaxDegreeOfParallelism;
            Threading.MaxDegreeOfParallelism = threads;
            try
            {
                Tensor y;
                using (GradMode.Disable()) y = imported.Forward(x);
                Assert.Equal(expected.Shape, y.Shape);
                Assert.Equal(expected.ToArray<float>(), y.ToArray<float>());
            }
            finally { Threading.MaxDegreeOfParallelism = saved; }
        }
    }

    [Theory]
    [InlineData(1L, true)]  // pads of half the kernel: every window holds an input element
    [InlineData(2L, false)] // pads of the whole kernel: windows of padding alone (−∞ after the ReLU, 0 before it)
    public void A_pool_whose_windows_may_hold_only_padding_keeps_its_relu_first(long pad, bool reordered)
    {
        // A ReLU before the pooled one (a Conv's ReLU would run in the convolution): a new tensor only the second ReLU reads.
        var b = new OnnxModelBuilder().Input("x", 1, 1, 3, 3)
            .Node("Relu", ["x"], ["a"])
            .Node("Relu", ["a"], ["r"])
            .Node("MaxPool", ["r"], ["y"], ("kernel_shape", new long[] { 2, 2 }), ("pads", new long[] { pad, pad, pad, pad }))
            .Output("y");
        var imported = OnnxModel.Import(b.ToBytes(), "pool.onnx");
        imported.Eval();
        Assert.Equal(reordered ? 1 : 0, imported.ReluAfterPools);
        var x = Tensor.FromArray(new float[] { -3, 1, -2, 4, -5, 0.25f, -1, 2, -4 }, 1, 1, 3, 3);
        var expected = imported.Forward(x.Clone().RequiresGrad_()).Detach(); // recorded: nothing in place
        Tensor y;
        using (GradMode.Disable()) y = imported.Forward(x);
        Assert.Equal(expected.ToArray<float>(), y.ToArray<float>());
        Assert.Equal(!reordered, expected.ToArray<float>().Any(float.IsNegativeInfinity));
    }

    [Fact]
    public void Relu_on_a_graph_input_is_never_in_place()
    {
        var imported = OnnxModel.Import(OnnxModel.ExportToBytes(new Sequential(new ReLU()), [2, 5]), "relu.onnx");
        Assert.Equal(0, imported.InPlaceRelus);
        var x = Tensor.Randn([2, 5], new Generator(4));
        var xBefore = x.ToArray<float>();
        Tensor y;
        using (GradMode.Disable()) y = imported.Forward(x);
        Assert.Equal(xBefore, x.ToArray<float>());
        Assert.Equal(xBefore.Select(v => Math.Max(v, 0f)), y.ToArray<float>());
    }
}
