using Xunit.Abstractions;
using static Fovea.Kernels.Tests.ConvTestData;

namespace Fovea.Kernels.Tests;

/// <summary>
/// The Winograd F(4x4, 3x3) weight gradient against the float64 reference (<see cref="ConvReference.BackwardWeight"/>):
/// paddings 0 … 2, images whose size is not a multiple of the 4x4 tile, batches cut into several blocks, channel counts
/// that are not multiples of the vector width or the GEMM tile, and output channels cut into many slabs. Each element
/// must satisfy the bound stated on <see cref="WinogradWeightGradient"/>: |dw − dw_ref| ≤ 32 · eps · Σ |x| |dy|.
/// </summary>
[Collection(nameof(ThreadSettingCollection))]
public class WinogradWeightGradientTests(ITestOutputHelper output)
{
    /// <summary>The bound's constant, in units of float32 eps times the reference gradient of |x| and |dy|.</summary>
    private const double BoundFactor = 32;

    /// <summary>(batch, in, h, w, out, pad h, pad w).</summary>
    public static TheoryData<int[]> Shapes => new()
    {
        new[] { 1, 1, 4, 4, 1, 1, 1 },      // a single tile, mostly padding
        new[] { 2, 3, 9, 7, 5, 1, 1 },      // partial tiles at the right and bottom: the gradient is padded
        new[] { 3, 17, 10, 13, 20, 0, 2 },  // unequal paddings; channels not a multiple of the vector width
        new[] { 5, 8, 12, 12, 7, 2, 2 },    // padding 2
        new[] { 5, 8, 32, 32, 8, 1, 1 },    // 64 tiles per image: two blocks, of 4 images and of 1
        new[] { 2, 130, 7, 9, 33, 1, 0 },
    };

    [Theory, MemberData(nameof(Shapes))]
    public void Weight_gradient_matches_the_reference_within_the_bound_with_one_slab_and_with_many(int[] g)
    {
        var s = WinogradShape(g);
        var x = RandomFloats(s.Batch * s.InChannels * s.Height * s.Width, 1);
        var dy = RandomFloats(s.Batch * s.OutChannels * s.OutPlane, 2);
        var expected = ConvReference.BackwardWeight(s, D(x), D(dy));
        var scale = ConvReference.BackwardWeight(s, Abs(x), Abs(dy));
        int saved = WinogradWeightGradient.SlabFloats;
        try
        {
            // The default (one slab for these widths), then one output channel per slab (every block's input transformed again).
            foreach (int slabFloats in new[] { saved, 1 })
            {
                WinogradWeightGradient.SlabFloats = slabFloats;
                var dw = new float[expected.Length];
                dw.AsSpan().Fill(float.NaN); // every element must be written
                WinogradWeightGradient.BackwardWeight(s, x, dy, dw);
                double f = ErrorFactor(expected, dw, scale);
                output.WriteLine($"{Gemm.Selected} {string.Join('x', g)} slab floats {slabFloats}: error factor {f:0.00}");
                Assert.True(f <= BoundFactor, $"{string.Join('x', g)}, slab floats {slabFloats}: error factor {f}");
            }
        }
        finally { WinogradWeightGradient.SlabFloats = saved; }
    }

    [Fact]
    public void A_single_tap_kernel_gradient_is_a_sum_of_shifted_products()
    {
        // One 4x4 image of 1 … 16, padding 1, output gradient 1 at (0, 0) only: dw(i, j) = x(i − 1, j − 1), zero where that is padding.
        var s = WinogradShape([1, 1, 4, 4, 1, 1, 1]);
        var x = Enumerable.Range(1, 16).Select(v => (float)v).ToArray();
        var dy = new float[16];
        dy[0] = 1;
        var dw = new float[9];
        WinogradWeightGradient.BackwardWeight(s, x, dy, dw);
        float[] expected = [0, 0, 0, 0, 1, 2, 0, 5, 6];
        for (int i = 0; i < 9; i++) Assert.True(Math.Abs(expected[i] - dw[i]) <= 1e-5f, $"dw[{i}] = {dw[i]}, expected {expected[i]}");
    }

    [Fact]
    public void Conv2dKernels_dispatches_float32_3x3_stride1_here_and_float64_to_the_exact_path()
    {
        var s = WinogradShape([3, 24, 12, 10, 32, 1, 1]);
        Assert.Equal(Gemm.Selected != GemmKernelKind.Scalar, WinogradWeightGradient.Applies(s));
        Assert.False(WinogradWeightGradient.Applies(s with { Window = new Window2d(3, 3, 2, 2, 1, 1, 1, 1), OutH = 6, OutW = 5 }));
        Assert.False(WinogradWeightGradient.Applies(WinogradShape([3, 8, 12, 10, 32, 1, 1])));
        // Outputs under 4x4 (2x2 and 1x1 planes with padding 1) stay on the direct form: a tile would cost as much or more.
        Assert.False(WinogradWeightGradient.Applies(WinogradShape([3, 24, 2, 2, 32, 1, 1])));
        Assert.False(WinogradWeightGradient.Applies(WinogradShape([3, 24, 1, 1, 32, 1, 1])));
        Assert.Equal(Gemm.Selected != GemmKernelKind.Scalar, WinogradWeightGradient.Applies(WinogradShape([3, 24, 4, 4, 32, 1, 1])));
        var x = RandomFloats(s.Batch * s.InChannels * s.Height * s.Width, 3);
        var dy = RandomFloats(s.Batch * s.OutChannels * s.OutPlane, 4);
        var dw = new float[s.OutChannels * s.ColRows];
        Conv2dKernels.BackwardWeight<float>(s, x, dy, dw);
        double f = ErrorFactor(ConvReference.BackwardWeight(s, D(x), D(dy)), dw, ConvReference.BackwardWeight(s, Abs(x), Abs(dy)));
        Assert.True(f <= BoundFactor, $"error factor {f}");

        var dwd = new double[dw.Length];
        Conv2dKernels.BackwardWeight<double>(s, D(x), D(dy), dwd);
        ConvTestData.Close(ConvReference.BackwardWeight(s, D(x), D(dy)), dwd, 1e-12, "float64 dw");
    }

    [Fact]
    public void Results_do_not_depend_on_the_thread_count()
    {
        var s = WinogradShape([10, 16, 24, 24, 16, 1, 1]); // two blocks; large enough to be split among threads
        var x = RandomFloats(s.Batch * s.InChannels * s.Height * s.Width, 5);
        var dy = RandomFloats(s.Batch * s.OutChannels * s.OutPlane, 6);
        int saved = Parallelism.MaxDegreeOfParallelism;
        try
        {
            float[]? first = null;
            foreach (int threads in new[] { 1, 2, 3 })
            {
                Parallelism.MaxDegreeOfParallelism = threads;
                var dw = new float[s.OutChannels * s.ColRows];
                WinogradWeightGradient.BackwardWeight(s, x, dy, dw);
                first ??= dw;
                Assert.Equal(first, dw);
            }
        }
        finally { Parallelism.MaxDegreeOfParallelism = saved; }
    }
}
