using Fovea.NN;

namespace Fovea.Tests.NN;

/// <summary>
/// <see cref="Sequential"/> runs a ReLU followed by a max pooling as pooling then ReLU: the outputs and the gradients
/// are bit for bit those of the two layers run in their order, with windows whose values tie, are all negative, are
/// zero, overlap or reach into the padding; and a hook on either layer sees the layers run as written.
/// </summary>
public class ReluPoolOrderTests
{
    /// <summary>An input full of ties: values on a coarse grid around zero, some windows all negative, some all zero.</summary>
    private static Tensor Input(ulong seed)
    {
        var x = Tensor.RandInt([3, 4, 9, 9], -3, 3, new Generator(seed)).To(DType.Float32).Mul(0.5);
        using (GradMode.Disable()) x.Slice(2, 0, 2).Slice(3, 0, 2).FillInPlace(0.0);
        return x.RequiresGrad_();
    }

    private static (Tensor Y, float[] Dx, float[] Dw) Run(Sequential net, Func<Tensor, Tensor> forward, Tensor x, Tensor upstream)
    {
        x.Grad = null;
        foreach (var p in net.Parameters()) p.Grad = null;
        var y = forward(x);
        y.Backward(upstream);
        return (y.Detach(), x.Grad!.ToArray<float>(), net.Parameters().First().Grad!.ToArray<float>());
    }

    [Theory]
    [InlineData(2, 2, 0, false)]  // LeNet's 2x2 pooling
    [InlineData(3, 2, 1, false)]  // a ResNet stem's 3x3 stride 2, padded: windows overlap
    [InlineData(2, 2, 0, true)]   // ceil mode: the last windows hang over the edge
    public void Pooling_before_the_relu_gives_the_same_outputs_and_gradients(int kernel, int stride, int padding, bool ceilMode)
    {
        var conv = new Conv2d(4, 4, 1, generator: new Generator(1));
        var net = new Sequential(conv, new ReLU(), new MaxPool2d(kernel, stride, padding, ceilMode: ceilMode));
        var x = Input(2);
        // Layer by layer, in the written order (Call runs each module alone).
        Tensor AsWritten(Tensor t) => net[2].Call(net[1].Call(net[0].Call(t)));
        var shape = AsWritten(x).Shape;
        var upstream = Tensor.Randn(shape, new Generator(3));
        var (yWritten, dxWritten, dwWritten) = Run(net, AsWritten, x, upstream);
        var (yPlanned, dxPlanned, dwPlanned) = Run(net, net.Forward, x, upstream);
        Assert.Equal(yWritten.ToArray<float>(), yPlanned.ToArray<float>());
        Assert.Equal(dxWritten, dxPlanned);
        Assert.Equal(dwWritten, dwPlanned);
        Assert.Contains(0f, yPlanned.ToArray<float>());
        // The planned forward ends in the ReLU, on the pooled values; the written one in the pooling.
        Assert.Equal("Relu", net.Forward(x).GradFn!.Name);
        Assert.Equal("MaxPool2d", AsWritten(x).GradFn!.Name);
    }

    [Fact]
    public void A_hook_on_the_relu_sees_its_full_resolution_output()
    {
        var relu = new ReLU();
        var net = new Sequential(relu, new MaxPool2d(2));
        int[]? seen = null;
        using var handle = relu.RegisterForwardHook((_, _, y) => { seen = y.Shape; });
        var y = net.Forward(Tensor.Randn([1, 2, 6, 6], new Generator(4)));
        Assert.Equal([1, 2, 6, 6], seen!);
        Assert.Equal([1, 2, 3, 3], y.Shape);
    }
}
