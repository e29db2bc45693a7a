using Fovea.Backends;
using Fovea.NN;

namespace Fovea.Tests.NN;

public class SummaryTests
{
    /// <summary>A stand-in for a conv or pool layer: a weight when it has channels, and the output size rule.</summary>
    private sealed class FakeConv : Module<Tensor, Tensor>, IReceptiveField
    {
        private readonly int _outChannels;

        public FakeConv(int inChannels, int outChannels, int kernel, int stride = 1, int padding = 0, int dilation = 1)
        {
            (Kernel, Stride, Padding, Dilation, _outChannels) = (kernel, stride, padding, dilation, outChannels);
            if (inChannels > 0) RegisterParameter("weight", Tensor.Zeros(outChannels, inChannels, kernel, kernel));
        }

        public int Kernel { get; }
        public int Stride { get; }
        public int Padding { get; }
        public int Dilation { get; }

        public override Tensor Forward(Tensor input)
        {
            var (oh, ow) = new Conv2dGeometry(Stride, Stride, Padding, Padding, Dilation, Dilation, 1).OutputSize(input.Size(2), input.Size(3), Kernel, Kernel);
            int c = _outChannels > 0 ? _outChannels : input.Size(1);
            return Tensor.Zeros(input.Size(0), c, oh, ow);
        }
    }

    [Fact]
    public void Mlp_RowsShapesParamsMultiplyAdds()
    {
        var mlp = new Sequential(new Flatten(), new Linear(784, 128), new ReLU(), new Linear(128, 10));
        var s = mlp.Summary(2, 1, 28, 28);
        Assert.Equal(4, s.Rows.Count);
        Assert.Equal([2, 784], s.Rows[0].OutputShape);
        Assert.Equal([2, 10], s.Rows[3].OutputShape);
        Assert.Equal(784 * 128 + 128, s.Rows[1].Parameters);
        Assert.Equal(2L * 784 * 128, s.Rows[1].MultiplyAdds);
        Assert.Equal(0, s.Rows[2].MultiplyAdds);
        Assert.Equal(2L * 128 * 4, s.Rows[2].ActivationBytes);
        Assert.Equal(784 * 128 + 128 + 128 * 10 + 10, s.TotalParameters);
        Assert.Equal(2L * (784 * 128 + 128 * 10), s.TotalMultiplyAdds);
        Assert.True(s.Rows[1].ReceptiveFieldGlobal);
        Assert.StartsWith("1: Linear(784 -> 128)", s.ToString().Split('\n')[4]);
        Assert.Contains("Total params: 101,770 (101,770 trainable", s.ToString());
    }

    [Fact]
    public void LeNet_ReceptiveFieldsGrowThroughConvAndPool()
    {
        var lenet = new Sequential(
            new FakeConv(1, 6, 5, padding: 2), new ReLU(), new FakeConv(0, 0, 2, stride: 2),
            new FakeConv(6, 16, 5), new ReLU(), new FakeConv(0, 0, 2, stride: 2),
            new Flatten(), new Linear(400, 120));
        var s = lenet.Summary(1, 1, 28, 28);
        var rf = s.Rows.Select(r => (r.ReceptiveFieldSize, r.ReceptiveFieldStride)).ToArray();
        Assert.Equal((5, 1), rf[0]);
        Assert.Equal((5, 1), rf[1]);
        Assert.Equal((6, 2), rf[2]);
        Assert.Equal((14, 2), rf[3]);
        Assert.Equal((16, 4), rf[5]);
        Assert.Equal([1, 16, 10, 10], s.Rows[3].OutputShape);
        Assert.Equal(16L * 10 * 10 * 6 * 5 * 5, s.Rows[3].MultiplyAdds);
        Assert.Equal(0, s.Rows[2].MultiplyAdds);
        Assert.Contains("16 / 4", s.ToString());
        Assert.Contains("all", s.ToString());
    }

    [Fact]
    public void CompositeModules_AreOneRow_AndStateIsUntouched()
    {
        var block = new Sequential(("body", new Sequential(new Linear(4, 4), new BatchNorm1d(4))), ("head", new Linear(4, 2)));
        var outer = new Sequential(new Composite(block), new ReLU());
        var before = block.StateDict()["body.1.running_mean"].Clone();
        var s = outer.Summary(3, 4);
        Assert.Equal(2, s.Rows.Count);
        Assert.Equal(3L * (4 * 4 + 4 * 2), s.Rows[0].MultiplyAdds); // counted through the block's graph: the two Linear layers
        Assert.Null(s.Rows[0].ReceptiveFieldSize);
        Assert.Equal(block.ParameterCount(), s.Rows[0].Parameters);
        Assert.True(before.Equal(block.StateDict()["body.1.running_mean"]));
        Assert.True(outer.Training && block.Training);
        Assert.Equal(2 * s.TotalMultiplyAdds, s.TotalFlops);
        // Nested Sequential models are expanded with dotted names.
        var nested = block.Summary(3, 4);
        Assert.Equal(["body.0", "body.1", "head"], nested.Rows.Select(r => r.Name));
        Assert.Equal(0, nested.Rows[1].MultiplyAdds); // normalisation is not counted, as in torchvision's figures
    }

    private sealed class Composite : Module<Tensor, Tensor>
    {
        private readonly Sequential _inner;
        public Composite(Sequential inner) => _inner = RegisterModule("inner", inner);
        public override Tensor Forward(Tensor input) => _inner.Forward(input);
    }
}
