using Xunit.Abstractions;
using static Fovea.Kernels.Tests.ConvTestData;

namespace Fovea.Kernels.Tests;

/// <summary>
/// The strided 1x1 convolution (<see cref="PointwiseConv"/>, a residual network's projection shortcuts) through the
/// dispatch, against the float64 reference (<see cref="ConvReference"/>) and against the implicit GEMM it replaces,
/// whose multiply-adds it runs in the same order: ResNet-18's three shortcuts, odd sizes (a last sliver cut short, rows
/// ending on an odd column), strides 3 and unequal strides, output channels that leave a short row tile (70), more
/// input channels than one K block (300), two and three images; with and without bias, prepared weights or not.
/// </summary>
[Collection(nameof(ThreadSettingCollection))]
public class PointwiseConvTests(ITestOutputHelper output)
{
    /// <summary>(batch, in, h, w, out, groups, kh, kw, sh, sw, ph, pw, dh, dw).</summary>
    public static TheoryData<int[]> Shapes => new()
    {
        new[] { 1, 64, 56, 56, 128, 1, 1, 1, 2, 2, 0, 0, 1, 1 },   // ResNet-18's layer 2 shortcut: 784 pixels
        new[] { 1, 128, 28, 28, 256, 1, 1, 1, 2, 2, 0, 0, 1, 1 },  // layer 3's: 196
        new[] { 1, 256, 14, 14, 512, 1, 1, 1, 2, 2, 0, 0, 1, 1 },  // layer 4's: 49
        new[] { 2, 20, 45, 41, 70, 1, 1, 1, 2, 2, 0, 0, 1, 1 },    // 23 x 21, odd input rows, a short sliver and row tile
        new[] { 3, 300, 13, 17, 24, 1, 1, 1, 2, 2, 0, 0, 1, 1 },   // two K blocks
        new[] { 1, 16, 31, 40, 36, 1, 1, 1, 3, 3, 0, 0, 1, 1 },    // stride 3
        new[] { 2, 12, 20, 33, 18, 1, 1, 1, 2, 1, 0, 0, 1, 1 },    // row stride only
        new[] { 1, 12, 9, 70, 30, 1, 1, 1, 1, 2, 0, 0, 1, 1 },     // column stride only, rows of 35
    };

    [Theory, MemberData(nameof(Shapes))]
    public void Forward_matches_the_reference_and_the_implicit_gemm(int[] g)
    {
        var s = Shape(g);
        var (x, w, b) = RandomConvInputs(s, 1);
        var scale = ConvReference.Forward(s, Abs(x), Abs(w), new double[s.OutChannels]);
        bool supported = Gemm.Selected is GemmKernelKind.Vector256 or GemmKernelKind.Vector512;
        Assert.Equal(supported, PointwiseConv.Applies(s));
        foreach (bool withBias in new[] { true, false })
        {
            var expected = ConvReference.Forward(s, D(x), D(w), withBias ? D(b) : new double[s.OutChannels]);
            var bias = withBias ? b : ReadOnlyMemory<float>.Empty;
            foreach (bool prepare in new[] { false, true })
            {
                var prepared = prepare ? new PreparedConvWeights(s.OutChannels, s.GroupIn, 1, 1, 1) : null;
                var y = new float[expected.Length];
                Array.Fill(y, float.NaN); // every output must be written
                Conv2dKernels.Forward<float>(s, x, w, bias, y, prepared);
                double f = ErrorFactor(expected, y, scale);
                output.WriteLine($"{string.Join('x', g)} bias {withBias} prepared {prepare}: error factor {f:0.00}");
                Assert.True(f <= 8, $"{string.Join('x', g)} bias {withBias} prepared {prepare}: error factor {f}");
                if (prepare) continue;
                // Off, the dispatch takes the implicit GEMM with the same tile and K blocks: the same bits.
                var other = new float[y.Length];
                PointwiseConv.Enabled = false;
                try { Conv2dKernels.Forward<float>(s, x, w, bias, other, null); }
                finally { PointwiseConv.Enabled = true; }
                for (int i = 0; i < y.Length; i++)
                    Assert.True(BitConverter.SingleToInt32Bits(other[i]) == BitConverter.SingleToInt32Bits(y[i]), $"{string.Join('x', g)} bias {withBias}: element {i} is {y[i]}, the implicit GEMM's {other[i]}");
            }
        }
    }

    [Theory]
    [InlineData(new[] { 1, 64, 56, 56, 128, 1, 1, 1, 2, 2, 0, 0, 1, 1 })]
    [InlineData(new[] { 2, 20, 45, 41, 70, 1, 1, 1, 2, 2, 0, 0, 1, 1 })]
    [InlineData(new[] { 3, 300, 13, 17, 24, 1, 1, 1, 2, 2, 0, 0, 1, 1 })]
    [InlineData(new[] { 1, 16, 31, 40, 36, 1, 1, 1, 3, 3, 0, 0, 1, 1 })]
    public unsafe void Every_tile_gives_the_bits_of_the_implicit_gemm_on_the_same_tile(int[] g)
    {
        // AVX2's tile and AVX-512's two (in software where the machine lacks AVX-512), whatever the process selected.
        var s = Shape(g);
        var (x, w, b) = RandomConvInputs(s, 2);
        int n = s.Batch * s.OutChannels * s.OutPlane;
        var scale = ConvReference.Forward(s, Abs(x), Abs(w), new double[s.OutChannels]);
        var expected = ConvReference.Forward(s, D(x), D(w), D(b));
        Same<SgemmKernel6x16>(s, x, w, b, expected, scale);
        Same<SgemmKernel6x32>(s, x, w, b, expected, scale);
        Same<SgemmKernel6x64>(s, x, w, b, expected, scale);
    }

    private static unsafe void Same<TKernel>(in ConvShape s, float[] x, float[] w, float[] b, double[] expected, double[] scale)
        where TKernel : struct, IMicroKernel<float>
    {
        float[] y = new float[expected.Length], other = new float[expected.Length];
        fixed (float* px = x, pw = w, pb = b, py = y, po = other)
        {
            PointwiseConv.Forward<TKernel>(s, px, pw, pb, py, null, new ConvEpilogue(py, null, false));
            ImplicitGemmConv<float, TKernel>.Forward(s, px, pw, pb, po);
        }
        Assert.Equal(other, y);
        Assert.True(ErrorFactor(expected, y, scale) <= 8, $"{typeof(TKernel).Name}: error factor {ErrorFactor(expected, y, scale)}");
    }

    [Fact]
    public void Results_do_not_depend_on_the_thread_count()
    {
        // Items of a sliver or two with the work-size rule lowered, and ResNet-18's shortcut with its residual and ReLU.
        foreach (var g in new[] { new[] { 2, 20, 45, 41, 70, 1, 1, 1, 2, 2, 0, 0, 1, 1 }, [1, 64, 56, 56, 128, 1, 1, 1, 2, 2, 0, 0, 1, 1] })
        {
            var s = Shape(g);
            var (x, w, b) = RandomConvInputs(s, 4);
            var residual = RandomFloats(s.Batch * s.OutChannels * s.OutPlane, 5);
            long saved = ParallelFor.MinMultiplyAddsPerThread;
            try
            {
                ParallelFor.MinMultiplyAddsPerThread = 1;
                SameOnOneTwoAndThreeThreads(() =>
                {
                    var y = new float[residual.Length];
                    Conv2dKernels.Forward<float>(s, x, w, b, y, null, residual, relu: true);
                    return [y];
                });
            }
            finally { ParallelFor.MinMultiplyAddsPerThread = saved; }
        }
    }

    [Fact]
    public void Applies_to_strided_unpadded_1x1_windows_and_leaves_the_pixel_rows_their_small_planes()
    {
        var shortcut = Shape([1, 64, 56, 56, 128, 1, 1, 1, 2, 2, 0, 0, 1, 1]);
        if (Gemm.Selected is not (GemmKernelKind.Vector256 or GemmKernelKind.Vector512))
        {
            Assert.False(PointwiseConv.Applies(shortcut));
            return;
        }
        Assert.True(PointwiseConv.Applies(shortcut));
        Assert.True(PointwiseConv.Applies(Shape([32, 64, 56, 56, 128, 1, 1, 1, 2, 2, 0, 0, 1, 1])));   // batch 32
        Assert.False(PointwiseConv.Applies(Shape([1, 64, 56, 56, 128, 1, 1, 1, 1, 1, 0, 0, 1, 1])));   // stride 1
        Assert.False(PointwiseConv.Applies(Shape([1, 64, 56, 56, 128, 1, 1, 1, 2, 2, 1, 1, 1, 1])));   // padded
        Assert.False(PointwiseConv.Applies(Shape([1, 64, 56, 56, 128, 1, 3, 3, 2, 2, 1, 1, 1, 1])));   // 3x3
        Assert.False(PointwiseConv.Applies(Shape([1, 64, 56, 56, 128, 2, 1, 1, 2, 2, 0, 0, 1, 1])));   // two groups
        Assert.False(PointwiseConv.Applies(Shape([1, 64, 56, 56, 11, 1, 1, 1, 2, 2, 0, 0, 1, 1])));    // 11 output channels
        Assert.True(PointwiseConv.FillsSlivers(shortcut));
        var layer4 = Shape([1, 256, 14, 14, 512, 1, 1, 1, 2, 2, 0, 0, 1, 1]);
        Assert.False(PointwiseConv.FillsSlivers(layer4));                                               // 49 of 64
        // With prepared weights the pixel rows keep layer 4's shortcut (the epilogue then runs as the pass after).
        Assert.True(Conv2dKernels.EpilogueInKernel<float>(shortcut, new PreparedConvWeights(128, 64, 1, 1, 1)));
        Assert.True(Conv2dKernels.EpilogueInKernel<float>(layer4, null));
        Assert.False(Conv2dKernels.EpilogueInKernel<float>(layer4, new PreparedConvWeights(512, 256, 1, 1, 1)));
    }
}
