using Xunit.Abstractions;
using static Fovea.Kernels.Tests.ConvTestData;

namespace Fovea.Kernels.Tests;

/// <summary>
/// The stride-2 convolution on the input's phase planes (<see cref="PhaseGridConv"/>, a ResNet's first downsampling
/// layers: AVX-512's 6 x 64 tile, or AVX2's 6 x 16 where the process runs that) through the dispatch, against the
/// float64 reference (<see cref="ConvReference"/>): ResNet-18's 3x3 stride-2 layer onto 28², odd and even sizes (grid
/// columns past the output row, a last tile cut short, bands whose last rows lie past the padded image), 2x2 to 5x5
/// and unequal windows, paddings 0 … 2, two and three images, output channels that are not a multiple of either
/// tile's width (70, 100, 130), with and without bias, prepared weights or not. Direct summation:
/// every output within 8 · eps · Σ |x| |w| over its window.
/// </summary>
[Collection(nameof(ThreadSettingCollection))]
public class PhaseGridConvTests(ITestOutputHelper output)
{
    /// <summary>(batch, in, h, w, out, groups, kh, kw, sh, sw, ph, pw, dh, dw).</summary>
    public static TheoryData<int[]> Shapes => new()
    {
        new[] { 1, 64, 56, 56, 128, 1, 3, 3, 2, 2, 1, 1, 1, 1 },   // ResNet-18's layer 2 entry: 28 x 28 on a 29-wide grid
        new[] { 1, 64, 56, 56, 128, 1, 2, 2, 2, 2, 0, 0, 1, 1 },   // 2x2: each tap its own phase plane, no row or column shift
        new[] { 2, 16, 45, 41, 70, 1, 3, 3, 2, 2, 1, 1, 1, 1 },    // odd sizes, two images, 70 channels (a sliver cut short)
        new[] { 3, 20, 37, 50, 64, 1, 5, 5, 2, 2, 2, 2, 1, 1 },    // 5x5: taps two phase rows down
        new[] { 1, 17, 50, 50, 100, 1, 4, 4, 2, 2, 0, 0, 1, 1 },   // an even kernel unpadded
        new[] { 2, 24, 51, 35, 130, 1, 2, 3, 2, 2, 0, 1, 1, 1 },   // unequal window and padding
        new[] { 1, 16, 33, 126, 64, 1, 3, 3, 2, 2, 1, 1, 1, 1 },   // rows of 63 points
    };

    [Theory, MemberData(nameof(Shapes))]
    public void Forward_matches_the_reference(int[] g)
    {
        var s = Shape(g);
        var (x, w, b) = RandomConvInputs(s, 1);
        var scale = ConvReference.Forward(s, Abs(x), Abs(w), new double[s.OutChannels]);
        Assert.Equal(PhaseGridConv.Supported, PhaseGridConv.Applies(s));
        foreach (bool withBias in new[] { true, false })
        {
            var expected = ConvReference.Forward(s, D(x), D(w), withBias ? D(b) : new double[s.OutChannels]);
            foreach (bool prepare in new[] { false, true })
            {
                var prepared = prepare ? new PreparedConvWeights(s.OutChannels, s.GroupIn, s.Window.KernelH, s.Window.KernelW, s.Groups) : null;
                var y = new float[expected.Length];
                Array.Fill(y, float.NaN); // every output must be written
                Conv2dKernels.Forward<float>(s, x, w, withBias ? b : ReadOnlyMemory<float>.Empty, y, prepared);
                double f = ErrorFactor(expected, y, scale);
                output.WriteLine($"{string.Join('x', g)} bias {withBias} prepared {prepare}: error factor {f:0.00}");
                Assert.True(f <= 8, $"{string.Join('x', g)} bias {withBias} prepared {prepare}: error factor {f}");
            }
        }
    }

    [Fact]
    public void Applies_to_stride_2_with_rows_shorter_than_the_tile_and_enough_channels()
    {
        var layer2 = Shape([1, 64, 56, 56, 128, 1, 3, 3, 2, 2, 1, 1, 1, 1]);
        if (!PhaseGridConv.Supported)
        {
            Assert.False(PhaseGridConv.Applies(layer2));
            return;
        }
        Assert.True(PhaseGridConv.Applies(layer2));
        Assert.True(PhaseGridConv.Applies(Shape([16, 64, 56, 56, 128, 1, 3, 3, 2, 2, 1, 1, 1, 1])));  // batch 16
        Assert.False(PhaseGridConv.Applies(Shape([1, 64, 56, 56, 128, 1, 1, 1, 2, 2, 0, 0, 1, 1])));  // 1x1: one tap a channel
        Assert.True(PhaseGridConv.Applies(Shape([1, 16, 126, 126, 64, 1, 3, 3, 2, 2, 1, 1, 1, 1])));  // rows of 63
        Assert.False(PhaseGridConv.Applies(Shape([1, 16, 128, 128, 64, 1, 3, 3, 2, 2, 1, 1, 1, 1]))); // rows of 64
        Assert.False(PhaseGridConv.Applies(Shape([1, 128, 28, 28, 256, 1, 3, 3, 2, 2, 1, 1, 1, 1]))); // 1.2 MB of weights
        Assert.False(PhaseGridConv.Applies(Shape([1, 64, 28, 28, 128, 1, 3, 3, 2, 2, 1, 1, 1, 1])));  // 14²: 35 tiles
        Assert.False(PhaseGridConv.Applies(Shape([1, 15, 56, 56, 128, 1, 3, 3, 2, 2, 1, 1, 1, 1])));  // 15 input channels
        Assert.False(PhaseGridConv.Applies(Shape([1, 64, 56, 56, 63, 1, 3, 3, 2, 2, 1, 1, 1, 1])));   // 63 output channels
        Assert.False(PhaseGridConv.Applies(Shape([1, 64, 56, 56, 128, 1, 3, 3, 1, 1, 1, 1, 1, 1])));  // stride 1
        Assert.False(PhaseGridConv.Applies(Shape([1, 64, 56, 56, 128, 1, 3, 3, 2, 1, 1, 1, 1, 1])));  // row stride only
        Assert.False(PhaseGridConv.Applies(Shape([1, 64, 56, 56, 128, 1, 3, 3, 2, 2, 2, 2, 2, 2])));  // dilated
        Assert.False(PhaseGridConv.Applies(Shape([1, 64, 56, 56, 128, 2, 3, 3, 2, 2, 1, 1, 1, 1])));  // two groups
    }

    [Fact]
    public void Results_do_not_depend_on_the_thread_count_and_the_switch_gives_another_path()
    {
        // Two images with the work-size rule lowered (bands shared out over the batch), and ResNet-18's layer.
        foreach (var g in new[] { new[] { 2, 32, 46, 46, 140, 1, 3, 3, 2, 2, 1, 1, 1, 1 }, [1, 64, 56, 56, 128, 1, 3, 3, 2, 2, 1, 1, 1, 1] })
        {
            var s = Shape(g);
            var (x, w, b) = RandomConvInputs(s, 4);
            long saved = ParallelFor.MinMultiplyAddsPerThread;
            float[] first;
            try
            {
                ParallelFor.MinMultiplyAddsPerThread = 1;
                first = SameOnOneTwoAndThreeThreads(() =>
                {
                    var y = new float[s.Batch * s.OutChannels * s.OutPlane];
                    Conv2dKernels.Forward<float>(s, x, w, b, y);
                    return [y];
                })[0];
            }
            finally { ParallelFor.MinMultiplyAddsPerThread = saved; }
            if (!PhaseGridConv.Applies(s)) continue;
            try
            {
                // Off, the dispatch takes the implicit GEMM: another summation order, within the reference's bound.
                PhaseGridConv.Enabled = false;
                var other = new float[first.Length];
                Conv2dKernels.Forward<float>(s, x, w, b, other);
                var scale = ConvReference.Forward(s, Abs(x), Abs(w), new double[s.OutChannels]);
                Assert.True(ErrorFactor(ConvReference.Forward(s, D(x), D(w), D(b)), other, scale) <= 8);
                Assert.True(ErrorFactor(ConvReference.Forward(s, D(x), D(w), D(b)), first, scale) <= 8);
            }
            finally { PhaseGridConv.Enabled = true; }
        }
    }
}
