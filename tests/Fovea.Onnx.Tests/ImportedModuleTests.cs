using Fovea.NN;
using Fovea.Optim;
using F = Fovea.NN.Functional;

namespace Fovea.Onnx.Tests;

/// <summary>An imported model is a Fovea module: named parameters and buffers, trainable, freezable, gradient-checked.</summary>
public sealed class ImportedModuleTests
{
    private static float[] Rand(int seed, params int[] shape) => OrtAgreement.RandomValues(new Random(seed), shape, 0.5);

    /// <summary>conv → batch norm → relu → global pool → flatten → gemm, with torchvision-style dotted names.</summary>
    private static OnnxModelBuilder SmallNet() => new OnnxModelBuilder(13).Input("x", -1, 2, 6, 6)
        .Initializer("features.0.weight", Rand(1, 4, 2, 3, 3), 4, 2, 3, 3).Initializer("features.0.bias", Rand(2, 4), 4)
        .Initializer("features.1.weight", [.. Rand(3, 4).Select(v => v + 1)], 4).Initializer("features.1.bias", Rand(4, 4), 4)
        .Initializer("features.1.running_mean", Rand(5, 4), 4).Initializer("features.1.running_var", [1f, 0.5f, 2f, 1.5f], 4)
        .Initializer("fc.weight", Rand(6, 3, 4), 3, 4).Initializer("fc.bias", Rand(7, 3), 3)
        .Node("Conv", ["x", "features.0.weight", "features.0.bias"], ["c"], ("pads", new long[] { 1, 1, 1, 1 }))
        .Node("BatchNormalization", ["c", "features.1.weight", "features.1.bias", "features.1.running_mean", "features.1.running_var"], ["b"])
        .Node("Relu", ["b"], ["r"]).Node("GlobalAveragePool", ["r"], ["p"]).Node("Flatten", ["p"], ["f"])
        .Node("Gemm", ["f", "fc.weight", "fc.bias"], ["y"], ("transB", 1L)).Output("y");

    [Fact]
    public void InitializersBecomeNamedParametersAndBuffers()
    {
        var m = OnnxModel.Import(SmallNet().ToBytes(), "small");
        Assert.Equal(["features.0.weight", "features.0.bias", "features.1.weight", "features.1.bias", "fc.weight", "fc.bias"],
            m.NamedParameters().Select(p => p.Name).OrderBy(n => n.StartsWith("fc", StringComparison.Ordinal)).ToArray());
        Assert.Equal(["features.1.running_mean", "features.1.running_var"], m.NamedBuffers().Select(b => b.Name).ToArray());
        Assert.Equal("features.1.running_var", m.ParameterNames["features.1.running_var"]);
        var sd = m.StateDict();
        Assert.Equal([4, 2, 3, 3], sd["features.0.weight"].Shape);
    }

    [Fact]
    public void TrainsFreezesAndUpdatesBatchNormStatistics()
    {
        var m = OnnxModel.Import(SmallNet().ToBytes(), "small");
        int[] labels = [0, 1, 2, 0, 1, 2, 0, 1];
        // Each class shifts the input's brightness, so the three classes are separable after global pooling.
        var values = Rand(11, 8, 2, 6, 6);
        for (int k = 0; k < values.Length; k++) values[k] += labels[k / 72] - 1;
        var x = Tensor.FromArray(values, 8, 2, 6, 6);
        var target = Tensor.FromArray(labels, 8);
        var before = m.NamedBuffers().First(b => b.Name.EndsWith("running_mean", StringComparison.Ordinal)).Buffer.ToArray<float>();
        m.Train();
        var opt = new Sgd(m.Parameters(), lr: 0.5);
        double first = 0, last = 0;
        for (int step = 0; step < 30; step++)
        {
            opt.ZeroGrad();
            var loss = Functional.CrossEntropy(m.Forward(x), target);
            loss.Backward();
            if (step == 0)
                Assert.All(m.Parameters(), p => Assert.True(p.Grad is not null && p.Grad.Abs().Sum().Item<float>() > 0));
            opt.Step();
            (step == 0 ? ref first : ref last) = loss.Item<float>();
        }
        Assert.True(last < first * 0.7, $"loss {first} -> {last}");
        var after = m.NamedBuffers().First(b => b.Name.EndsWith("running_mean", StringComparison.Ordinal)).Buffer.ToArray<float>();
        Assert.NotEqual(before, after);

        m.Freeze();
        m.Eval();
        var y = m.Forward(x);
        Assert.False(y.RequiresGrad);
    }

    /// <summary>
    /// A convolution with uneven pads pads a copy and hands its buffer back (<see cref="StoragePool.Recycle"/>): in
    /// training only once the backward has read it, so a tensor of its size made between the forward and the backward
    /// (which a buffer handed back early would become) leaves the gradients those of the unpooled layers; in inference
    /// at once, so the next forward pads into it. The copy is large enough for the pool (2 x 49 x 49 elements).
    /// </summary>
    [Fact]
    public void UnevenlyPaddedConvRecyclesItsPaddedCopyOnlyWhenNothingReadsIt()
    {
        float[] w = Rand(31, 3, 2, 3, 3);
        var b = new OnnxModelBuilder(13).Input("x", 1, 2, 48, 48).Initializer("w", w, 3, 2, 3, 3)
            .Node("Conv", ["x", "w"], ["y"], ("strides", new long[] { 2, 2 }), ("pads", new long[] { 0, 0, 1, 1 })).Output("y");
        var m = OnnxModel.Import(b.ToBytes(), "uneven");
        var wRef = Tensor.FromArray(w, 3, 2, 3, 3).RequiresGrad_();
        float[] data = Rand(32, 1, 2, 48, 48);
        var x = Tensor.FromArray(data, 1, 2, 48, 48).RequiresGrad_();
        var xRef = Tensor.FromArray(data, 1, 2, 48, 48).RequiresGrad_();
        var y = m.Forward(x);
        var other = Tensor.Full([1, 2, 49, 49], 123);
        var yRef = F.Conv2d(F.Pad(xRef, (0, 1, 0, 1)), wRef, stride: 2);
        Assert.Equal(yRef.ToArray<float>(), y.ToArray<float>());
        y.Square().Sum().Backward();
        yRef.Square().Sum().Backward();
        Assert.Equal(xRef.Grad!.ToArray<float>(), x.Grad!.ToArray<float>());
        Assert.Equal(wRef.Grad!.ToArray<float>(), m.Parameters().Single().Grad!.ToArray<float>());
        Assert.All(other.ToArray<float>(), v => Assert.Equal(123f, v));
        using (GradMode.Disable())
        {
            int[] seeds = [33, 34, 35];
            var inputs = seeds.Select(seed => Tensor.FromArray(Rand(seed, 1, 2, 48, 48), 1, 2, 48, 48)).ToArray();
            var expected = inputs.Select(input => F.Conv2d(F.Pad(input, (0, 1, 0, 1)), wRef.Detach(), stride: 2).ToArray<float>()).ToArray();
            for (int k = 0; k < seeds.Length; k++)
            {
                long allocated = GC.GetAllocatedBytesForCurrentThread();
                var output = m.Forward(inputs[k]);
                allocated = GC.GetAllocatedBytesForCurrentThread() - allocated;
                Assert.Equal(expected[k], output.ToArray<float>());
                // After the first, the padded copy (4 x 2 x 49 x 49 = 19,208 bytes) comes from the pool: a forward allocates less.
                if (k > 0) Assert.True(allocated < 2 * 49 * 49 * sizeof(float), $"forward {k} allocated {allocated} bytes");
            }
        }
    }

    [Fact]
    public void GradientsOfManyOperatorsPassTheFloat64Check()
    {
        // Every composition this importer builds (asymmetric pads, LRN, linear resize, reflect pad, pools, PRelu,
        // softmax before opset 13, Gemm) checked against central differences in float64.
        var b = new OnnxModelBuilder(11).Input("x", 1, 2, 5, 5)
            .Initializer("w", Rand(21, 3, 2, 2, 2), 3, 2, 2, 2).Initializer("slope", Rand(22, 3, 1, 1), 3, 1, 1)
            .Initializer("scales", [1f, 1f, 1.5f, 1.5f], 4).Initializer("roi", [], 0).Int64Initializer("pads", [0, 0, 1, 0, 0, 0, 0, 1], 8)
            .Initializer("g", Rand(23, 2, 27), 2, 27)
            .Node("Conv", ["x", "w"], ["c"], ("pads", new long[] { 0, 1, 1, 0 }))
            .Node("PRelu", ["c", "slope"], ["p"])
            .Node("LRN", ["p"], ["l"], ("size", 3L), ("alpha", 0.5f), ("beta", 0.75f), ("bias", 1f))
            .Node("Resize", ["l", "roi", "scales"], ["r"], ("mode", "linear"))
            .Node("Pad", ["r", "pads"], ["pd"], ("mode", "reflect"))
            .Node("AveragePool", ["pd"], ["a"], ("kernel_shape", new long[] { 3, 3 }), ("strides", new long[] { 2, 2 }), ("pads", new long[] { 0, 1, 1, 0 }))
            .Node("MaxPool", ["a"], ["mp"], ("kernel_shape", new long[] { 2, 2 }), ("ceil_mode", 1L))
            .Node("Flatten", ["mp"], ["f"])
            .Node("Gemm", ["f", "g"], ["z"], ("transB", 1L), ("alpha", 0.7f))
            .Node("Softmax", ["z"], ["y"]).Output("y");
        var m = OnnxModel.Import(b.ToBytes(), "composition");
        m.Eval();
        m.To(DType.Float64);
        var x = Tensor.FromArray(Rand(24, 1, 2, 5, 5).Select(v => (double)v).ToArray(), 1, 2, 5, 5).RequiresGrad_();
        var result = GradCheck.Check(xs => m.Forward(xs[0]), [x]);
        Assert.True(result.Passed, result.ToString());
    }
}
