using Fovea.NN;
using Fovea.Vision.Models;
using F = Fovea.NN.Functional;

namespace Fovea.Vision.Tests.Models;

/// <summary>The lecture notes' historical models: AlexNet as in the 2012 paper and LeNet-5 as in the 1998 paper.</summary>
public class NotesModelTests
{
    [Fact]
    public void AlexNetLrn_IsThePapersLayout()
    {
        var net = (AlexNetLrn)ModelZoo.Create("alexnet_lrn", 3, 1000, 28, new Generator(1));
        Assert.Equal(60_965_224, net.ParameterCount()); // two towers as groups: Caffe's reference AlexNet has the same count
        var layers = net.Features.Layers;
        foreach (int i in new[] { 2, 6 })
        {
            var lrn = Assert.IsType<LocalResponseNorm>(layers[i]);
            // The paper's k + α·Σa² with α = 1e-4 is PyTorch's k + (alpha/n)·Σa² with alpha = 5e-4.
            Assert.Equal((5, 5e-4, 0.75, 2.0), (lrn.Size, lrn.Alpha, lrn.Beta, lrn.K));
            Assert.IsType<ReLU>(layers[i - 1]);
            Assert.IsType<Conv2d>(layers[i - 2]);
        }
        foreach (int i in new[] { 3, 7, 14 })
        {
            var pool = Assert.IsType<MaxPool2d>(layers[i]);
            Assert.Equal(3, pool.KernelSize.H); // overlapping: window 3 > stride 2
            Assert.Equal(2, pool.StrideSize.H);
        }
        var convs = layers.OfType<Conv2d>().ToList();
        Assert.Equal([96, 256, 384, 384, 256], convs.Select(c => c.OutChannels));
        Assert.Equal([1, 2, 1, 2, 2], convs.Select(c => c.Groups));
        var s = net.Summary(1, 3, 28, 28);
        Assert.Equal([1, 96, 13, 13], Row(s, "features.3").OutputShape);
        Assert.Equal([1, 256, 6, 6], Row(s, "features.7").OutputShape);
        Assert.Equal([1, 256, 2, 2], Row(s, "features.14").OutputShape);
        Assert.Equal([1, 1000], s.Rows[^1].OutputShape);
    }

    [Fact]
    public void LeNet1998_HasThePapersParametersPerLayer()
    {
        var net = (LeNet1998)ModelZoo.Create("lenet5_1998", 1, 10, 28, new Generator(2));
        var perLayer = net.NamedParameters().GroupBy(p => p.Name[..p.Name.LastIndexOf('.')])
            .ToDictionary(g => g.Key, g => g.Sum(p => (long)p.Parameter.Numel));
        Assert.Equal(156, perLayer["features.0"]);     // C1
        Assert.Equal(12, perLayer["features.2"]);      // S2
        Assert.Equal(1_516, perLayer["features.3"]);   // C3
        Assert.Equal(32, perLayer["features.5"]);      // S4
        Assert.Equal(48_120, perLayer["features.6"]);  // C5
        Assert.Equal(10_164, perLayer["classifier.1"]); // F6
        Assert.Equal(850, perLayer["classifier.3"]);    // linear output in place of the RBF units
        var s = net.Summary(2, 1, 28, 28);
        Assert.Equal([2, 6, 28, 28], Row(s, "features.0").OutputShape);
        Assert.Equal([2, 16, 10, 10], Row(s, "features.3").OutputShape);
        Assert.Equal([2, 120, 1, 1], Row(s, "features.6").OutputShape);
        // LeCun's initialisation: C5's weights in ±2.4/400, biases 0.
        var c5 = (Conv2d)net.Features.Layers[6];
        Assert.InRange(c5.Weight.Abs().Max().ToScalar(), 0.9 * 2.4 / 400, 2.4 / 400);
        Assert.Equal(0, c5.Bias!.Abs().Sum().ToScalar());
    }

    [Fact]
    public void C3Table_IsTableIOfThePaper()
    {
        var t = LeNet1998.C3Connections();
        // Rows of Table I (S2 map → the C3 maps it feeds).
        int[][] rows =
        [
            [0, 4, 5, 6, 9, 10, 11, 12, 14, 15],
            [0, 1, 5, 6, 7, 10, 11, 12, 13, 15],
            [0, 1, 2, 6, 7, 8, 11, 13, 14, 15],
            [1, 2, 3, 6, 7, 8, 9, 12, 14, 15],
            [2, 3, 4, 7, 8, 9, 10, 12, 13, 15],
            [3, 4, 5, 8, 9, 10, 11, 13, 14, 15],
        ];
        for (int i = 0; i < 6; i++)
            Assert.Equal(rows[i], Enumerable.Range(0, 16).Where(o => t[i, o]));
        t[0, 1] = true; // a copy: the model's table is unchanged
        Assert.False(LeNet1998.C3Connections()[0, 1]);
    }

    [Fact]
    public void PartiallyConnectedConv_IsAConvWhoseMissingKernelsAreZero()
    {
        var c3 = new PartiallyConnectedConv2d(LeNet1998.C3Connections(), 5, new Generator(3)).To(DType.Float64);
        var layer = (PartiallyConnectedConv2d)c3;
        Assert.Equal(60, layer.Connections);
        var x = Tensor.Randn([2, 6, 9, 9], new Generator(4), DType.Float64);
        var y = layer.Forward(x);
        var dense = layer.DenseWeight();
        Assert.True(y.AllClose(F.Conv2d(x, dense, layer.Bias), 1e-12, 1e-12));
        // C3 map 0 reads S2 maps 0, 1, 2 only: changing map 3 leaves it as it was.
        var x2 = Tensor.Cat([x.Narrow(1, 0, 3), x.Narrow(1, 3, 1).Add(5.0), x.Narrow(1, 4, 2)], 1);
        var y2 = layer.Forward(x2);
        Assert.True(y2.Narrow(1, 0, 1).Equal(y.Narrow(1, 0, 1)));
        Assert.False(y2.Narrow(1, 15, 1).Equal(y.Narrow(1, 15, 1)));
        Assert.Equal(0, dense.Narrow(0, 0, 1).Narrow(1, 3, 3).Abs().Sum().ToScalar());
    }

    [Fact]
    public void SubsamplingAndSquashing_AreThePapersFormulas()
    {
        Assert.Equal(1.0, new ScaledTanh().Forward(Tensor.From(1.0)).ToScalar(), 4); // f(1) ≈ 1 by design
        var s2 = (TrainableSubsampling)new TrainableSubsampling(2, new Generator(5)).To(DType.Float64);
        var x = Tensor.Randn([1, 2, 4, 4], new Generator(6), DType.Float64);
        var y = s2.Forward(x);
        var (w, b, xs) = (s2.Weight.ToArray<double>(), s2.Bias.ToArray<double>(), x.ToArray<double>());
        for (int c = 0; c < 2; c++)
            for (int i = 0; i < 2; i++)
                for (int j = 0; j < 2; j++)
                {
                    double sum = 0;
                    for (int p = 0; p < 2; p++)
                        for (int q = 0; q < 2; q++) sum += xs[c * 16 + (2 * i + p) * 4 + 2 * j + q];
                    double expected = 1.7159 * Math.Tanh(2.0 / 3 * (w[c] * sum / 4 + b[c]));
                    Assert.Equal(expected, y[0, c, i, j], 12);
                }
    }

    [Fact]
    public void LeNet1998_TrainingStepReachesEveryParameter()
    {
        var net = ModelZoo.Create("lenet5_1998", 1, 10, 28, new Generator(7));
        var x = Tensor.Rand([4, 1, 28, 28], new Generator(8));
        var loss = F.CrossEntropy(net.Forward(x), Tensor.From(1, 7, 3, 0));
        loss.Backward();
        Assert.All(net.NamedParameters(), p => Assert.True(p.Parameter.Grad!.Abs().Sum().ToScalar() > 0, p.Name));
    }

    [Fact]
    public void PartiallyConnectedConv_KernelGradientsAreTheDenseKernelsAtTheConnectedSlots()
    {
        bool[,] table = { { true, false, true }, { true, true, false } }; // 2 input maps, 3 output maps
        var layer = (PartiallyConnectedConv2d)new PartiallyConnectedConv2d(table, 2, new Generator(9)).To(DType.Float64);
        var x = Tensor.Randn([1, 2, 4, 4], new Generator(10), DType.Float64);
        var g = Tensor.Randn([1, 3, 3, 3], new Generator(11), DType.Float64);
        layer.Forward(x).Backward(g);
        var dense = layer.DenseWeight().Detach().RequiresGrad_();
        F.Conv2d(x, dense, layer.Bias!.Detach()).Backward(g);
        // Connections in the order (output map, input map): (0,0), (0,1), (1,1), (2,0).
        int[][] slots = [[0, 0], [0, 1], [1, 1], [2, 0]];
        for (int k = 0; k < slots.Length; k++)
            Assert.True(layer.Weight.Grad!.Select(0, k).AllClose(dense.Grad!.Select(0, slots[k][0]).Select(0, slots[k][1]), 1e-12, 1e-12));
    }

    private static SummaryRow Row(ModelSummary s, string name) => s.Rows.Single(r => r.Name == name);
}
