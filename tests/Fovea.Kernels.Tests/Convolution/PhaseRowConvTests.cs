using Xunit.Abstractions;
using static Fovea.Kernels.Tests.ConvTestData;

namespace Fovea.Kernels.Tests;

/// <summary>
/// The column-stride-2 direct convolution for few input channels (<see cref="PhaseRowConv"/>, a network's stem) through
/// the dispatch, against the float64 reference (<see cref="ConvReference"/>): ResNet's 7x7 stem at 224², rows of 100,
/// 105, 110 and 224 pixels (a segment's last lanes dropped; two segments a row), odd and even kernels, paddings 0 … 3, row
/// stride 1 or 2, 1 to 4 input channels, output channels that are not a multiple of the tile's three, two images,
/// with and without bias. Direct summation: every output within 8 · eps · Σ |x| |w| over its window.
/// </summary>
[Collection(nameof(ThreadSettingCollection))]
public class PhaseRowConvTests(ITestOutputHelper output)
{
    /// <summary>(batch, in, h, w, out, groups, kh, kw, sh, sw, ph, pw, dh, dw).</summary>
    public static TheoryData<int[]> Shapes => new()
    {
        new[] { 1, 3, 224, 224, 64, 1, 7, 7, 2, 2, 3, 3, 1, 1 },  // ResNet's stem: 112 x 112, one segment a row
        new[] { 2, 3, 21, 199, 20, 1, 7, 7, 2, 2, 3, 3, 1, 1 },   // rows of 100 pixels, two images, 20 channels
        new[] { 1, 1, 9, 448, 16, 1, 3, 3, 1, 2, 1, 1, 1, 1 },    // rows of 224: two segments; row stride 1; one channel
        new[] { 1, 4, 12, 222, 17, 1, 4, 4, 2, 2, 0, 0, 1, 1 },   // an even kernel unpadded: rows of 110, four channels, 17 outputs
        new[] { 1, 2, 10, 209, 33, 1, 5, 3, 2, 2, 2, 1, 1, 1 },   // unequal window and padding: rows of 105
    };

    [Theory, MemberData(nameof(Shapes))]
    public void Forward_matches_the_reference(int[] g)
    {
        var s = Shape(g);
        var (x, w, b) = RandomConvInputs(s, 1);
        var scale = ConvReference.Forward(s, Abs(x), Abs(w), new double[s.OutChannels]);
        Assert.Equal(System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated, PhaseRowConv.Applies(s));
        foreach (bool withBias in new[] { true, false })
        {
            var expected = ConvReference.Forward(s, D(x), D(w), withBias ? D(b) : new double[s.OutChannels]);
            var y = new float[expected.Length];
            Array.Fill(y, float.NaN); // every output must be written
            Conv2dKernels.Forward<float>(s, x, w, withBias ? b : ReadOnlyMemory<float>.Empty, y);
            double f = ErrorFactor(expected, y, scale);
            output.WriteLine($"{string.Join('x', g)} bias {withBias}: error factor {f:0.00}");
            Assert.True(f <= 8, $"{string.Join('x', g)} bias {withBias}: error factor {f}");
        }
    }

    [Fact]
    public void Applies_to_stride_2_columns_few_channels_and_well_filled_segments()
    {
        if (!System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated)
        {
            Assert.False(PhaseRowConv.Applies(Shape([1, 3, 224, 224, 64, 1, 7, 7, 2, 2, 3, 3, 1, 1])));
            return;
        }
        Assert.True(PhaseRowConv.Applies(Shape([1, 3, 224, 224, 64, 1, 7, 7, 2, 2, 3, 3, 1, 1])));
        Assert.True(PhaseRowConv.Applies(Shape([1, 3, 199, 199, 64, 1, 7, 7, 2, 2, 3, 3, 1, 1])));   // 100 of 112 lanes
        Assert.False(PhaseRowConv.Applies(Shape([1, 3, 179, 179, 64, 1, 7, 7, 2, 2, 3, 3, 1, 1])));  // 90 of 112
        Assert.False(PhaseRowConv.Applies(Shape([1, 3, 32, 32, 64, 1, 7, 7, 2, 2, 3, 3, 1, 1])));    // CIFAR: 16 of 112
        Assert.False(PhaseRowConv.Applies(Shape([1, 5, 224, 224, 64, 1, 7, 7, 2, 2, 3, 3, 1, 1])));  // 5 input channels
        Assert.False(PhaseRowConv.Applies(Shape([1, 3, 224, 224, 8, 1, 7, 7, 2, 2, 3, 3, 1, 1])));   // 8 output channels
        Assert.False(PhaseRowConv.Applies(Shape([1, 3, 112, 112, 64, 1, 3, 3, 1, 1, 1, 1, 1, 1])));  // stride 1
        Assert.False(PhaseRowConv.Applies(Shape([1, 3, 224, 224, 64, 1, 7, 7, 2, 2, 6, 6, 2, 2])));  // dilated
        Assert.False(PhaseRowConv.Applies(Shape([1, 4, 224, 224, 64, 2, 7, 7, 2, 2, 3, 3, 1, 1])));  // two groups
    }

    [Fact]
    public void Results_do_not_depend_on_the_thread_count_and_the_switch_gives_another_path()
    {
        var s = Shape([1, 3, 64, 224, 64, 1, 7, 7, 2, 2, 3, 3, 1, 1]);
        var (x, w, b) = RandomConvInputs(s, 4);
        var first = SameOnOneTwoAndThreeThreads(() =>
        {
            var y = new float[s.Batch * s.OutChannels * s.OutPlane];
            Conv2dKernels.Forward<float>(s, x, w, b, y);
            return [y];
        })[0];
        if (!PhaseRowConv.Applies(s)) return;
        try
        {
            // Off, the dispatch takes the implicit GEMM: a different summation order, so other bits, within the reference's bound.
            PhaseRowConv.Enabled = false;
            var other = new float[first.Length];
            Conv2dKernels.Forward<float>(s, x, w, b, other);
            Assert.NotEqual(first, other);
            var scale = ConvReference.Forward(s, Abs(x), Abs(w), new double[s.OutChannels]);
            Assert.True(ErrorFactor(ConvReference.Forward(s, D(x), D(w), D(b)), other, scale) <= 8);
        }
        finally { PhaseRowConv.Enabled = true; }
    }
}
