using Fovea.NN;
using F = Fovea.NN.Functional;

namespace Fovea.Tests.NN;

/// <summary>The layers: initialisation, hand-written math, descriptions, receptive-field data and bad input.</summary>
public class ConvLayerTests
{
    [Fact]
    public void Conv2d_has_pytorch_parameter_shapes_names_and_init_bounds()
    {
        var conv = new Conv2d(6, 16, 5, groups: 2, generator: new Generator(1));
        Assert.Equal(["weight", "bias"], conv.NamedParameters().Select(p => p.Name));
        Assert.Equal([16, 3, 5, 5], conv.Weight.Shape);
        Assert.Equal([16], conv.Bias!.Shape);
        double bound = 1 / Math.Sqrt(3 * 25); // kaiming_uniform(a = √5) = U(±1/√fan_in), fan_in = in/groups·k²
        foreach (var p in conv.Parameters())
        {
            var v = p.ToArray<float>();
            Assert.All(v, e => Assert.InRange(e, -bound, bound));
        }
        var wv = conv.Weight.ToArray<float>();
        Assert.True(wv.Max() > 0.95 * bound && wv.Min() < -0.95 * bound, "1,200 uniform weights should fill the range");
        var same = new Conv2d(6, 16, 5, groups: 2, generator: new Generator(1));
        Assert.Equal(conv.Weight.ToArray<float>(), same.Weight.ToArray<float>());
        Assert.Null(new Conv2d(1, 2, 3, bias: false).Bias);
    }

    [Fact]
    public void Conv2d_1x1_equals_a_matrix_product_over_channels()
    {
        var conv = new Conv2d(3, 4, 1, generator: new Generator(2), dtype: DType.Float64);
        var x = Tensor.Randn([2, 3, 5, 6], new Generator(3), DType.Float64);
        var y = conv.Forward(x);
        // y[n, o, h, w] = Σ_c W[o, c]·x[n, c, h, w] + b[o]
        var expected = conv.Weight.Reshape(4, 3).MatMul(x.Reshape(2, 3, 30)).Add(conv.Bias!.Reshape(4, 1)).Reshape(2, 4, 5, 6);
        Assert.True(expected.AllClose(y, 1e-12, 1e-12));
    }

    [Fact]
    public void Conv2d_equals_the_sum_of_shifted_products()
    {
        // One channel, no padding: y(r, c) = Σ_ab x(r + a, c + b)·k(a, b), the seed's cross-correlation.
        var x = Tensor.Randn([1, 1, 5, 6], new Generator(4), DType.Float64);
        var k = Tensor.Randn([1, 1, 2, 3], new Generator(5), DType.Float64);
        var y = F.Conv2d(x, k);
        Assert.Equal([1, 1, 4, 4], y.Shape);
        for (int r = 0; r < 4; r++)
            for (int c = 0; c < 4; c++)
            {
                double s = 0;
                for (int a = 0; a < 2; a++)
                    for (int b = 0; b < 3; b++) s += x[0, 0, r + a, c + b] * k[0, 0, a, b];
                Assert.Equal(s, y[0, 0, r, c], 12);
            }
    }

    [Fact]
    public void ConvTranspose2d_is_the_adjoint_of_conv2d()
    {
        // <conv(x, w), g> = <x, conv_transpose(g, w)>, which is what makes it the input gradient.
        var x = Tensor.Randn([2, 3, 9, 8], new Generator(6), DType.Float64);
        var w = Tensor.Randn([4, 3, 3, 3], new Generator(7), DType.Float64);
        var y = F.Conv2d(x, w, stride: 2, padding: 1);
        var g = Tensor.Randn(y.Shape, new Generator(8), DType.Float64);
        var back = F.ConvTranspose2d(g, w, stride: 2, padding: 1, outputPadding: (0, 1));
        Assert.Equal(x.Shape, back.Shape);
        Assert.Equal(y.Mul(g).Sum().ToScalar(), x.Mul(back).Sum().ToScalar(), 10);
    }

    [Fact]
    public void ConvTranspose2d_layer_shapes_and_init()
    {
        var up = new ConvTranspose2d(8, 4, 4, stride: 2, padding: 1, generator: new Generator(9));
        Assert.Equal([8, 4, 4, 4], up.Weight.Shape);
        double bound = 1 / Math.Sqrt(4 * 16);
        Assert.All(up.Weight.ToArray<float>(), e => Assert.InRange(e, -bound, bound));
        Assert.Equal([2, 4, 14, 12], up.Forward(Tensor.Zeros(2, 8, 7, 6)).Shape);
        Assert.Equal("ConvTranspose2d(8 -> 4, k=4, s=2, p=1)", up.Describe());
    }

    [Fact]
    public void Layers_describe_themselves_and_expose_their_windows()
    {
        var conv = new Conv2d(3, 16, 3, stride: 2, padding: 1, dilation: 2);
        Assert.Equal("Conv2d(3 -> 16, k=3, s=2, p=1, d=2)", conv.Describe());
        IReceptiveField rf = conv;
        Assert.Equal((3, 2, 1, 2), (rf.Kernel, rf.Stride, rf.Padding, rf.Dilation));
        IReceptiveField pool = new MaxPool2d(2);
        Assert.Equal((2, 2, 0, 1), (pool.Kernel, pool.Stride, pool.Padding, pool.Dilation));
        Assert.Equal("MaxPool2d(k=3, s=2, p=1, ceil_mode)", new MaxPool2d(3, 2, 1, ceilMode: true).Describe());
        Assert.Equal("AvgPool2d(k=2)", new AvgPool2d(2).Describe());
        Assert.Equal("AdaptiveAvgPool2d(1)", new AdaptiveAvgPool2d(1).Describe());
        Assert.Equal("Upsample(scale=2, bilinear, align_corners)", new Upsample(2.0, InterpolationMode.Bilinear, true).Describe());
    }

    [Fact]
    public void Layers_follow_module_dtype_conversion()
    {
        var conv = new Conv2d(2, 3, 3, padding: 1);
        conv.To(DType.Float64);
        Assert.Equal(DType.Float64, conv.Weight.DType);
        var y = conv.Forward(Tensor.Randn([1, 2, 4, 4], new Generator(1), DType.Float64));
        Assert.Equal(DType.Float64, y.DType);
    }

    [Fact]
    public void Pooling_layers_compute_pytorch_output_sizes()
    {
        var x = Tensor.Zeros(1, 2, 7, 7);
        Assert.Equal([1, 2, 3, 3], new MaxPool2d(2).Forward(x).Shape);
        Assert.Equal([1, 2, 4, 4], new MaxPool2d(2, ceilMode: true).Forward(x).Shape);
        Assert.Equal([1, 2, 4, 4], new AvgPool2d(3, 2, 1).Forward(x).Shape);
        // ceil_mode: the last window would start in the right padding, so it is dropped: (6 + 2 − 3)/2 ↑ + 1 = 4, not 5.
        Assert.Equal([1, 1, 4, 4], F.MaxPool2d(Tensor.Zeros(1, 1, 6, 6), 3, 2, 1, ceilMode: true).Shape);
        Assert.Equal([1, 2, 1, 1], new AdaptiveAvgPool2d(1).Forward(x).Shape);
        Assert.Equal([1, 2, 14, 21], new Upsample((14, 21)).Forward(x).Shape);
        Assert.Equal([2, 3, 3], F.MaxPool2d(Tensor.Zeros(2, 7, 7), 2).Shape); // unbatched
    }

    [Fact]
    public void Max_pool_layer_returns_indices_and_routes_gradients()
    {
        var x = Tensor.FromArray(new double[] { 1, 5, 2, 0, 3, 4, 9, 8, 7, 6, 1, 2, 0, 1, 3, 4 }, 1, 1, 4, 4).RequiresGrad_();
        var (v, i) = new MaxPool2d(2).ForwardWithIndices(x);
        Assert.Equal(new double[] { 5, 9, 7, 4 }, v.Detach().ToArray<double>());
        Assert.Equal(new[] { 1, 6, 8, 15 }, i.ToArray<int>());
        v.Sum().Backward();
        Assert.Equal(new double[] { 0, 1, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 1 }, x.Grad!.ToArray<double>());
    }

    [Fact]
    public void Forward_mode_matches_reverse_mode_for_conv_and_pooling()
    {
        var x = Tensor.Randn([1, 2, 6, 6], new Generator(10), DType.Float64);
        var w = Tensor.Randn([3, 2, 3, 3], new Generator(11), DType.Float64);
        var v = Tensor.Randn(x.Shape, new Generator(12), DType.Float64);
        Tensor Net(Tensor t) => F.AvgPool2d(F.MaxPool2d(F.Conv2d(t, w, padding: 1), 2, 1), 2, 1, ceilMode: true);
        var (y, jv) = Fovea.Autograd.Jvp(Net, x, v);
        var u = Tensor.Randn(y.Shape, new Generator(13), DType.Float64);
        var (_, vjp) = Fovea.Autograd.Vjp(Net, x, u);
        // <u, J·v> = <Jᵀ·u, v>
        Assert.Equal(u.Mul(jv).Sum().ToScalar(), vjp.Mul(v).Sum().ToScalar(), 10);
    }

    [Fact]
    public void Wrong_channel_count_names_the_layer_and_both_shapes()
    {
        var conv = new Conv2d(3, 16, 5);
        var e = Assert.Throws<ShapeException>(() => conv.Forward(Tensor.Zeros(8, 1, 28, 28)));
        Assert.StartsWith("Conv2d(3 -> 16): expected input [N, 3, H, W], got [8, 1, 28, 28]", e.Message);
        Assert.Contains("dim 1: 1 != 3", e.Message);
        e = Assert.Throws<ShapeException>(() => conv.Forward(Tensor.Zeros(3, 28, 28, 1, 1)));
        Assert.Contains("expected input [N, 3, H, W], got [3, 28, 28, 1, 1]", e.Message);
    }

    [Fact]
    public void Kernel_larger_than_the_padded_input_says_so()
    {
        var e = Assert.Throws<ShapeException>(() => new Conv2d(1, 2, 5).Forward(Tensor.Zeros(1, 1, 3, 8)));
        Assert.Contains("the kernel (5) is larger than the padded input (3 + 2·0 = 3) in dim 2 of input [1, 1, 3, 8]", e.Message);
        e = Assert.Throws<ShapeException>(() => F.MaxPool2d(Tensor.Zeros(1, 1, 2, 2), 3, padding: 0));
        Assert.Contains("larger than the padded input", e.Message);
    }

    [Fact]
    public void Groups_that_do_not_divide_the_channels_say_so()
    {
        var e = Assert.Throws<ArgumentException>(() => new Conv2d(6, 4, 3, groups: 4));
        Assert.Contains("groups (4) must divide both in_channels and out_channels", e.Message);
        var se = Assert.Throws<ShapeException>(() => F.Conv2d(Tensor.Zeros(1, 5, 4, 4), Tensor.Zeros(4, 2, 3, 3), groups: 2));
        Assert.Contains("groups (2) must divide in_channels (5)", se.Message);
        se = Assert.Throws<ShapeException>(() => F.Conv2d(Tensor.Zeros(1, 6, 4, 4), Tensor.Zeros(3, 3, 3, 3), groups: 2));
        Assert.Contains("groups (2) must divide out_channels (3)", se.Message);
    }

    [Fact]
    public void Other_bad_arguments_are_clear()
    {
        Assert.Contains("padding (2, 2) must be at most half the kernel size (3, 3)",
            Assert.Throws<ShapeException>(() => F.MaxPool2d(Tensor.Zeros(1, 1, 8, 8), 3, padding: 2)).Message);
        Assert.Contains("output padding (2) must be non-negative and smaller than either stride (2) or dilation (1)",
            Assert.Throws<ShapeException>(() => F.ConvTranspose2d(Tensor.Zeros(1, 2, 3, 3), Tensor.Zeros(2, 1, 3, 3), stride: 2, outputPadding: 2)).Message);
        Assert.Contains("expected a bias [4], got [3]",
            Assert.Throws<ShapeException>(() => F.Conv2d(Tensor.Zeros(1, 2, 3, 3), Tensor.Zeros(4, 2, 1, 1), Tensor.Zeros(3))).Message);
        Assert.Contains("reflect padding (3, 3) must be smaller than the padded dim",
            Assert.Throws<ShapeException>(() => F.Pad(Tensor.Zeros(1, 1, 3, 3), (3, 3, 0, 0), PaddingMode.Reflect)).Message);
        Assert.Throws<DTypeException>(() => F.Conv2d(Tensor.Zeros(1, 2, 3, 3), Tensor.Zeros([4, 2, 1, 1], DType.Float64)));
    }

    [Fact]
    public void Pad_modes_place_the_expected_values()
    {
        var x = Tensor.FromArray(new double[] { 1, 2, 3 }, 1, 3);
        Assert.Equal(new double[] { 3, 2, 1, 2, 3, 2 }, F.Pad(x, (2, 1, 0, 0), PaddingMode.Reflect).ToArray<double>());
        Assert.Equal(new double[] { 1, 1, 1, 2, 3, 3 }, F.Pad(x, (2, 1, 0, 0), PaddingMode.Replicate).ToArray<double>());
        Assert.Equal(new double[] { 2, 3, 1, 2, 3, 1 }, F.Pad(x, (2, 1, 0, 0), PaddingMode.Circular).ToArray<double>());
        Assert.Equal(new double[] { 7, 7, 1, 2, 3, 7 }, F.Pad(x, (2, 1, 0, 0), PaddingMode.Zeros, 7).ToArray<double>());
    }

    /// <summary>
    /// Constant padding in n dims (one new tensor, the input in its interior) against numpy.pad's layout: a [2, 3]
    /// input padded by one row before, one column before and two after; the input itself back when nothing is padded;
    /// the shape errors name the op and the shape.
    /// </summary>
    [Fact]
    public void Constant_pad_in_n_dims_places_the_input_inside_the_value()
    {
        var x = Tensor.FromArray(new double[] { 1, 2, 3, 4, 5, 6 }, 2, 3);
        var y = F.Pad(x, [1, 1], [0, 2], -1);
        Assert.Equal(new[] { 3, 6 }, y.Shape);
        Assert.Equal(new double[]
        {
            -1, -1, -1, -1, -1, -1,
            -1, 1, 2, 3, -1, -1,
            -1, 4, 5, 6, -1, -1,
        }, y.ToArray<double>());
        // A transposed (strided) input pads its logical layout.
        Assert.Equal(new double[] { 0, 1, 4, 0, 2, 5, 0, 3, 6 }, F.Pad(x.Transpose(0, 1), [0, 1], [0, 0]).ToArray<double>());
        Assert.Same(x, F.Pad(x, [0, 0], [0, 0]));
        Assert.Contains("pad: expected 2 paddings before and after each dim of [2, 3], got 1 and 2",
            Assert.Throws<ShapeException>(() => F.Pad(x, [1], [0, 2])).Message);
        Assert.Contains("padding must be non-negative, got (0, -1) for dim 1 of [2, 3]",
            Assert.Throws<ShapeException>(() => F.Pad(x, [0, 0], [0, -1])).Message);
    }
}
