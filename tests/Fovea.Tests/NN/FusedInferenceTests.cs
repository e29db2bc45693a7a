using Fovea.NN;

namespace Fovea.Tests.NN;

/// <summary>
/// <see cref="Functional.AddRelu"/>, <see cref="Functional.Relu(Tensor, bool)"/>, <see cref="Functional.Conv2dRelu"/>,
/// <see cref="Functional.Conv2dReluMaxPool2d"/> and max pooling without indices:
/// where nothing is recorded they equal the ops run apart bit for bit (in place or not); with a graph they are the
/// ops as written, gradients included.
/// </summary>
[Collection("Global thread count")]
public sealed class FusedInferenceTests
{
    [Theory]
    [InlineData(DType.Float32)]
    [InlineData(DType.Float64)]
    public void Add_relu_equals_add_then_relu_in_place_or_not(DType dtype)
    {
        var g = new Generator(5);
        var a = Tensor.Randn([3, 4, 5, 6], g, dtype);
        var b = Tensor.Randn([3, 4, 5, 6], g, dtype);
        var row = Tensor.Randn([6], g, dtype);
        var expected = a.Add(b).Relu().To(DType.Float64).ToArray<double>();
        var expectedBroadcast = a.Add(row).Relu().To(DType.Float64).ToArray<double>();
        using (GradMode.Disable())
        {
            Assert.Equal(expected, Functional.AddRelu(a, b).To(DType.Float64).ToArray<double>());
            Assert.Equal(expectedBroadcast, Functional.AddRelu(a, row).To(DType.Float64).ToArray<double>());
            Assert.Equal(expectedBroadcast, Functional.AddRelu(row, a, inPlace: true).To(DType.Float64).ToArray<double>()); // row cannot hold the result
            int version = a.Storage.Version;
            var inPlace = Functional.AddRelu(a, b, inPlace: true);
            Assert.Same(a, inPlace);
            Assert.True(a.Storage.Version > version);
            Assert.Equal(expected, a.To(DType.Float64).ToArray<double>());
            var c = b.Clone();
            Assert.Same(c, Functional.Relu(c, inPlace: true));
            Assert.Equal(b.Relu().To(DType.Float64).ToArray<double>(), c.To(DType.Float64).ToArray<double>());
        }
    }

    [Theory]
    [InlineData(DType.Float32, 1)]
    [InlineData(DType.Float32, 2)]
    [InlineData(DType.Float64, 2)]
    public void Conv2d_relu_equals_the_convolution_then_add_relu_bit_for_bit(DType dtype, int threads)
    {
        var g = new Generator(8);
        var x = Tensor.Randn([2, 6, 11, 9], g, dtype);
        var w = Tensor.Randn([10, 6, 3, 3], g, dtype);
        var b = Tensor.Randn([10], g, dtype);
        var residual = Tensor.Randn([2, 10, 6, 6], g, dtype);
        var row = Tensor.Randn([6], g, dtype);
        int saved = Threading.MaxDegreeOfParallelism;
        Threading.MaxDegreeOfParallelism = threads; // two threads run the kernels' epilogue, one the passes apart
        try
        {
            using (GradMode.Disable())
            {
                var conv = Functional.Conv2d(x, w, b, stride: 2, padding: (1, 2));
                Assert.Equal(Functional.AddRelu(conv, residual).To(DType.Float64).ToArray<double>(),
                    Functional.Conv2dRelu(x, w, b, stride: 2, padding: (1, 2), residual: residual).To(DType.Float64).ToArray<double>());
                Assert.Equal(conv.Relu().To(DType.Float64).ToArray<double>(), Functional.Conv2dRelu(x, w, b, stride: 2, padding: (1, 2)).To(DType.Float64).ToArray<double>());
                // A residual that broadcasts runs the ops apart.
                Assert.Equal(Functional.AddRelu(conv, row).To(DType.Float64).ToArray<double>(),
                    Functional.Conv2dRelu(x, w, b, stride: 2, padding: (1, 2), residual: row).To(DType.Float64).ToArray<double>());
                // Unbatched input and residual.
                // The switch off runs the convolution and AddRelu apart: the same bits.
                Fovea.Ops.Fused.ConvEpilogues = false;
                try
                {
                    Assert.Equal(Functional.Conv2dRelu(x, w, b, stride: 2, padding: (1, 2), residual: residual).To(DType.Float64).ToArray<double>(),
                        Functional.AddRelu(conv, residual).To(DType.Float64).ToArray<double>());
                }
                finally { Fovea.Ops.Fused.ConvEpilogues = true; }
                static Tensor First(Tensor t) => t.Narrow(0, 0, 1).Squeeze(0);
                Assert.Equal(Functional.AddRelu(First(conv), First(residual)).To(DType.Float64).ToArray<double>(),
                    Functional.Conv2dRelu(First(x), w, b, stride: 2, padding: (1, 2), residual: First(residual)).To(DType.Float64).ToArray<double>());
            }
        }
        finally { Threading.MaxDegreeOfParallelism = saved; }
    }

    [Fact]
    public void With_a_graph_conv2d_relu_is_the_ops_as_written_with_their_gradients()
    {
        var g = new Generator(9);
        var x = Tensor.Randn([2, 3, 7, 7], g, DType.Float64).RequiresGrad_();
        var w = Tensor.Randn([4, 3, 3, 3], g, DType.Float64).RequiresGrad_();
        var residual = Tensor.Randn([2, 4, 7, 7], g, DType.Float64).RequiresGrad_();
        Functional.Conv2dRelu(x, w, null, padding: 1, residual: residual).Square().Sum().Backward();
        var (gx, gw, gr) = (x.Grad!.ToArray<double>(), w.Grad!.ToArray<double>(), residual.Grad!.ToArray<double>());
        x.Grad = w.Grad = residual.Grad = null;
        Functional.Conv2d(x, w, null, padding: 1).Add(residual).Relu().Square().Sum().Backward();
        Assert.Equal(x.Grad!.ToArray<double>(), gx);
        Assert.Equal(w.Grad!.ToArray<double>(), gw);
        Assert.Equal(residual.Grad!.ToArray<double>(), gr);
        Assert.Contains(gr, v => v == 0); // the ReLU cut some
        var e = Assert.Throws<ShapeException>(() => Functional.Conv2dRelu(x, Tensor.Randn([4, 2, 3, 3], g, DType.Float64)));
        Assert.Contains("conv2d_relu", e.Message);
    }

    [Theory]
    [InlineData(DType.Float32, 1)]
    [InlineData(DType.Float32, 2)]
    [InlineData(DType.Float64, 2)]
    public void Conv2d_relu_max_pool_equals_the_three_ops_bit_for_bit(DType dtype, int threads)
    {
        // A stem's shape (3 channels, 7x7 stride 2, 32 outputs of 100-pixel rows: the fused kernels take it in float32 on
        // AVX2 and AVX-512) and its 3x3 stride-2 pool, then a shape no fused kernel takes (the ops in turn).
        var g = new Generator(10);
        int saved = Threading.MaxDegreeOfParallelism;
        Threading.MaxDegreeOfParallelism = threads;
        try
        {
            using (GradMode.Disable())
            {
                var x = Tensor.Randn([2, 3, 21, 199], g, dtype);
                var w = Tensor.Randn([32, 3, 7, 7], g, dtype);
                var b = Tensor.Randn([32], g, dtype);
                var expected = Functional.MaxPool2d(Functional.Conv2dRelu(x, w, b, stride: 2, padding: 3), 3, 2, 1).To(DType.Float64).ToArray<double>();
                var fused = Functional.Conv2dReluMaxPool2d(x, w, b, 2, 3, 1, 1, 3, 2, 1);
                Assert.Equal([2, 32, 6, 50], fused.Shape.ToArray());
                Assert.Equal(expected, fused.To(DType.Float64).ToArray<double>());
                Assert.Equal(Functional.MaxPool2d(Functional.Conv2dRelu(x, w, null, stride: 2, padding: 3), 3, 2, 1, ceilMode: true).To(DType.Float64).ToArray<double>(),
                    Functional.Conv2dReluMaxPool2d(x, w, null, 2, 3, 1, 1, 3, 2, 1, poolCeilMode: true).To(DType.Float64).ToArray<double>());
                var small = Tensor.Randn([2, 5, 9, 8], g, dtype);
                var w5 = Tensor.Randn([6, 5, 3, 3], g, dtype);
                Assert.Equal(Functional.MaxPool2d(Functional.Conv2dRelu(small, w5, null, padding: 1), 2).To(DType.Float64).ToArray<double>(),
                    Functional.Conv2dReluMaxPool2d(small, w5, null, 1, 1, 1, 1, 2).To(DType.Float64).ToArray<double>());
                // Unbatched input.
                Assert.Equal(Functional.MaxPool2d(Functional.Conv2dRelu(small.Narrow(0, 0, 1).Squeeze(0), w5, null, padding: 1), 2).To(DType.Float64).ToArray<double>(),
                    Functional.Conv2dReluMaxPool2d(small.Narrow(0, 0, 1).Squeeze(0), w5, null, 1, 1, 1, 1, 2).To(DType.Float64).ToArray<double>());
                Fovea.Ops.Fused.ConvEpilogues = false;
                try
                {
                    Assert.Equal(expected, Functional.Conv2dReluMaxPool2d(x, w, b, 2, 3, 1, 1, 3, 2, 1).To(DType.Float64).ToArray<double>());
                }
                finally { Fovea.Ops.Fused.ConvEpilogues = true; }
            }
        }
        finally { Threading.MaxDegreeOfParallelism = saved; }
    }

    [Theory]
    [InlineData(3, 64, 11, 4, 2, 127)] // AlexNet's stem: the fused kernel with AVX2
    [InlineData(1, 6, 5, 1, 2, 28)]    // LeNet's c1: the convolution, the pool, then the ReLU on the pooled values
    public void Sequential_conv_relu_pool_without_gradients_gives_the_three_layers_bits(int cin, int cout, int k, int stride, int pad, int size)
    {
        var g = new Generator(12);
        var conv = new Conv2d(cin, cout, k, stride: stride, padding: pad, generator: g);
        var net = new Sequential(conv, new ReLU(), new MaxPool2d(3, 2), new Flatten());
        var x = Tensor.Randn([2, cin, size, size], g);
        Tensor expected, actual;
        using (GradMode.Disable())
        {
            expected = Functional.MaxPool2d(conv.Forward(x).Relu(), 3, 2).Flatten(1);
            actual = net.Forward(x);
        }
        Assert.Equal(expected.ToArray<float>(), actual.ToArray<float>());
        Assert.Contains(actual.ToArray<float>(), v => v == 0); // windows of negatives only
        // With gradients the layers run as written, and the weight gets its gradient.
        net.Forward(x).Sum().Backward();
        Assert.True(conv.Weight.Grad!.Abs().Sum().ToScalar() > 0);
    }

    [Fact]
    public void With_a_graph_conv2d_relu_max_pool_is_the_ops_as_written_and_bad_windows_name_it()
    {
        var g = new Generator(11);
        var x = Tensor.Randn([2, 3, 12, 12], g, DType.Float64).RequiresGrad_();
        var w = Tensor.Randn([4, 3, 3, 3], g, DType.Float64).RequiresGrad_();
        var b = Tensor.Randn([4], g, DType.Float64).RequiresGrad_();
        Functional.Conv2dReluMaxPool2d(x, w, b, 2, 1, 1, 1, 3, 2, 1).Square().Sum().Backward();
        var (gx, gw, gb) = (x.Grad!.ToArray<double>(), w.Grad!.ToArray<double>(), b.Grad!.ToArray<double>());
        x.Grad = w.Grad = b.Grad = null;
        Functional.MaxPool2d(Functional.Conv2d(x, w, b, stride: 2, padding: 1).Relu(), 3, 2, 1).Square().Sum().Backward();
        Assert.Equal(x.Grad!.ToArray<double>(), gx);
        Assert.Equal(w.Grad!.ToArray<double>(), gw);
        Assert.Equal(b.Grad!.ToArray<double>(), gb);
        var e = Assert.Throws<ShapeException>(() => Functional.Conv2dReluMaxPool2d(x, w, b, 2, 1, 1, 1, 9));
        Assert.Contains("conv2d_relu_max_pool2d", e.Message);
        e = Assert.Throws<ShapeException>(() => Functional.Conv2dReluMaxPool2d(x, Tensor.Randn([4, 2, 3, 3], g, DType.Float64), null, 1, 0, 1, 1, 2));
        Assert.Contains("conv2d_relu_max_pool2d", e.Message);
    }

    [Fact]
    public void With_a_graph_add_relu_is_the_ops_as_written_and_leaves_its_inputs()
    {
        var g = new Generator(6);
        var a = Tensor.Randn([4, 7], g, DType.Float64).RequiresGrad_();
        var b = Tensor.Randn([4, 7], g, DType.Float64);
        var before = a.ToArray<double>();
        var y = Functional.AddRelu(a, b, inPlace: true);
        Assert.NotSame(a, y);
        Assert.Equal(before, a.ToArray<double>());
        y.Sum().Backward();
        var mask = a.Add(b).Gt(0).To(DType.Float64).ToArray<double>();
        Assert.Equal(mask, a.Grad!.ToArray<double>());
        var r = Functional.Relu(a, inPlace: true);
        Assert.NotSame(a, r);
        Assert.Equal(before, a.ToArray<double>());
    }

    [Fact]
    public void In_place_relu_of_a_tensor_a_graph_saved_is_refused_at_backward()
    {
        var w = Tensor.Randn([5], new Generator(7)).RequiresGrad_();
        var x = Tensor.Randn([5], new Generator(8));
        var y = w.Mul(x); // saves x for w's gradient
        using (GradMode.Disable()) Functional.Relu(x, inPlace: true);
        Assert.Throws<InvalidOperationException>(() => y.Sum().Backward());
    }

    [Theory]
    [InlineData(DType.Float32)]
    [InlineData(DType.Float64)]
    public void Max_pool_without_gradients_equals_the_values_with_indices(DType dtype)
    {
        var x = Tensor.Randn([2, 3, 23, 41], new Generator(9), dtype);
        var (values, _) = Functional.MaxPool2dWithIndices(x, 3, 2, 1);
        using var _ = GradMode.Disable();
        Assert.Equal(values.To(DType.Float64).ToArray<double>(), Functional.MaxPool2d(x, 3, 2, 1).To(DType.Float64).ToArray<double>());
        Assert.Equal(values.To(DType.Float64).ToArray<double>(), new MaxPool2d(3, 2, 1).Forward(x).To(DType.Float64).ToArray<double>());
    }
}
