using Fovea.Backends;
using F = Fovea.NN.Functional;

namespace Fovea.Tests.Backends;

/// <summary>
/// The output sizes of <see cref="Conv2dGeometry"/> and <see cref="Pool2dGeometry"/> against PyTorch's
/// <c>pooling_output_shape</c> (aten/src/ATen/native/Pool.h), over padding, stride, dilation and ceil mode.
/// </summary>
public class WindowGeometryTests
{
    /// <summary>
    /// PyTorch's formula as written there: floor division (<c>div_rtn</c>, rounding towards −∞), <c>stride − 1</c>
    /// added in ceil mode, and one window less when the last one would start at or past the input plus its left padding.
    /// </summary>
    private static int PyTorchOutput(int n, int k, int pad, int stride, int dilation, bool ceilMode)
    {
        int outSize = (int)Math.Floor((double)(n + pad + pad - dilation * (k - 1) - 1 + (ceilMode ? stride - 1 : 0)) / stride) + 1;
        if (ceilMode && (outSize - 1) * stride >= n + pad) outSize--;
        return outSize;
    }

    [Fact]
    public void Pool_output_sizes_match_pytorch_over_a_grid()
    {
        int checkedCases = 0;
        for (int n = 1; n <= 12; n++)
            for (int k = 1; k <= 5; k++)
                for (int pad = 0; pad <= k / 2; pad++)
                    for (int stride = 1; stride <= 4; stride++)
                        for (int dilation = 1; dilation <= 3; dilation++)
                        {
                            if (n + 2 * pad < dilation * (k - 1) + 1) continue; // PyTorch rejects these; the shape checks do too
                            foreach (bool ceil in new[] { false, true })
                            {
                                var geo = new Pool2dGeometry(k, 1, stride, 1, pad, 0, dilation, 1, ceil);
                                var (h, w) = geo.OutputSize(n, 7);
                                Assert.True(PyTorchOutput(n, k, pad, stride, dilation, ceil) == h, $"n {n}, k {k}, pad {pad}, stride {stride}, dilation {dilation}, ceil {ceil}: got {h}");
                                Assert.Equal(7, w);
                                checkedCases++;
                            }
                        }
        Assert.True(checkedCases > 2000);
    }

    [Fact]
    public void Conv_output_sizes_match_pytorch_in_each_dim()
    {
        for (int n = 1; n <= 15; n++)
            for (int k = 1; k <= 4; k++)
                for (int pad = 0; pad <= 3; pad++)
                    for (int stride = 1; stride <= 3; stride++)
                        for (int dilation = 1; dilation <= 2; dilation++)
                        {
                            if (n + 2 * pad < dilation * (k - 1) + 1) continue;
                            // The height varies, the width keeps a fixed other geometry: the dims must not mix.
                            var geo = new Conv2dGeometry(stride, 2, pad, 1, dilation, 1, 1);
                            var (h, w) = geo.OutputSize(n, 9, k, 3);
                            Assert.Equal(PyTorchOutput(n, k, pad, stride, dilation, false), h);
                            Assert.Equal(5, w); // ⌊(9 + 2 − 2 − 1) / 2⌋ + 1
                        }
    }

    [Theory]
    // Hand-computed: (n, kernel, stride, pad, ceil) -> output.
    [InlineData(112, 3, 2, 1, false, 56)]  // torchvision ResNet's stem max-pool: ⌊111 / 2⌋ + 1 = 56
    [InlineData(112, 3, 2, 0, true, 56)]   // GoogLeNet's ceil-mode pool: ⌈109 / 2⌉ + 1 = 56
    [InlineData(5, 2, 2, 0, false, 2)]     // the last, partial window is dropped
    [InlineData(5, 2, 2, 0, true, 3)]      // ceil mode keeps it: it starts at 4, inside the input
    [InlineData(6, 3, 2, 1, true, 4)]      // ⌈5 / 2⌉ + 1 = 4, the last window starts at 6 − 1 = 5, inside
    [InlineData(5, 2, 2, 1, true, 3)]      // ⌈5 / 2⌉ + 1 = 4 would start at 6 − 1 = 5: in the right padding, so 3
    [InlineData(4, 3, 3, 1, true, 2)]      // ⌈3 / 3⌉ + 1 = 2, the second starts at 3 − 1 = 2, inside
    [InlineData(3, 3, 2, 0, true, 1)]      // a single window: nothing to round
    public void Ceil_mode_keeps_a_last_window_only_when_it_starts_inside_the_input_or_left_padding(int n, int k, int stride, int pad, bool ceil, int expected)
    {
        var geo = new Pool2dGeometry(k, k, stride, stride, pad, pad, 1, 1, ceil);
        Assert.Equal((expected, expected), geo.OutputSize(n, n));
        Assert.Equal(expected, PyTorchOutput(n, k, pad, stride, 1, ceil));
    }

    [Fact]
    public void A_kernel_larger_than_the_padded_input_gives_no_output()
    {
        Assert.Equal((0, 0), new Conv2dGeometry(1, 1, 0, 0, 1, 1, 1).OutputSize(2, 2, 3, 3));
        // Dilation 2 spreads a 3-tap kernel over 5 pixels; one pixel of padding on each side of 2 leaves 4.
        Assert.Equal((0, 3), new Conv2dGeometry(2, 1, 1, 1, 2, 1, 1).OutputSize(2, 3, 3, 3));
        Assert.Equal((0, 0), new Pool2dGeometry(4, 4, 3, 3, 0, 0, 1, 1, CeilMode: true).OutputSize(3, 3));
    }

    [Theory]
    [InlineData(7, 7, 3, 2, 1, false)]
    [InlineData(7, 8, 3, 2, 0, true)]
    [InlineData(5, 9, 2, 2, 1, true)]
    [InlineData(10, 6, 3, 3, 1, true)]
    public void Pooling_layers_and_both_backends_produce_the_geometry_output_size(int h, int w, int k, int stride, int pad, bool ceil)
    {
        var x = Tensor.Randn([2, 3, h, w], new Generator(11), DType.Float64);
        var expected = new Pool2dGeometry(k, k, stride, stride, pad, pad, 1, 1, ceil).OutputSize(h, w);
        foreach (var backend in new[] { Backend.Cpu, Backend.Reference })
        {
            using var _ = Backend.Use(backend);
            Assert.Equal(new[] { 2, 3, expected.H, expected.W }, F.MaxPool2d(x, k, stride, pad, ceilMode: ceil).Shape);
            Assert.Equal(new[] { 2, 3, expected.H, expected.W }, F.AvgPool2d(x, k, stride, pad, ceilMode: ceil).Shape);
        }
    }

    [Fact]
    public void Convolution_layers_and_both_backends_produce_the_geometry_output_size()
    {
        var x = Tensor.Randn([1, 2, 11, 8], new Generator(12), DType.Float64);
        var weight = Tensor.Randn([4, 2, 3, 2], new Generator(13), DType.Float64);
        var expected = new Conv2dGeometry(2, 3, 1, 2, 2, 1, 1).OutputSize(11, 8, 3, 2);
        foreach (var backend in new[] { Backend.Cpu, Backend.Reference })
        {
            using var _ = Backend.Use(backend);
            var y = F.Conv2d(x, weight, stride: new Fovea.NN.Size2d(2, 3), padding: new Fovea.NN.Size2d(1, 2), dilation: new Fovea.NN.Size2d(2, 1));
            Assert.Equal(new[] { 1, 4, expected.H, expected.W }, y.Shape);
        }
    }

    [Fact]
    public void Window_errors_name_the_op_and_both_shapes()
    {
        var e = Assert.Throws<ShapeException>(() => F.Conv2d(Tensor.Zeros(1, 2, 4, 9), Tensor.Zeros(3, 2, 3, 3), dilation: 2));
        Assert.StartsWith("conv2d: the kernel (3, dilation 2: spans 5) is larger than the padded input (4 + 2·0 = 4) in dim 2 of input [1, 2, 4, 9] (weight [3, 2, 3, 3])", e.Message);
        e = Assert.Throws<ShapeException>(() => F.Conv2d(Tensor.Zeros(1, 2, 4, 9), Tensor.Zeros(3, 2, 3, 3), stride: 0));
        Assert.Contains("stride (0)", e.Message);
        Assert.Contains("input [1, 2, 4, 9] (weight [3, 2, 3, 3])", e.Message);
        e = Assert.Throws<ShapeException>(() => F.MaxPool2d(Tensor.Zeros(1, 1, 9, 2), 3));
        Assert.StartsWith("max_pool2d: the kernel (3) is larger than the padded input (2 + 2·0 = 2) in dim 3 of input [1, 1, 9, 2]", e.Message);
    }
}
