using Xunit.Abstractions;
using static Fovea.Kernels.Tests.ConvTestData;

namespace Fovea.Kernels.Tests;

/// <summary>
/// The Winograd F(4x4, 3x3) convolution against the float64 reference (<see cref="ConvReference"/>): forward and input
/// gradient, on both GEMM tiles, over paddings 0 … 2, images whose size is not a multiple of the 4x4 tile, blocks of 32
/// tiles that span images, and channel counts that are not multiples of the tile rows. Each output must satisfy the error
/// bound stated on <see cref="WinogradConv"/>: |y − y_ref| ≤ 32 · eps · Σ |x| |w| over the output's window.
/// </summary>
[Collection(nameof(ThreadSettingCollection))]
public class WinogradConvTests(ITestOutputHelper output)
{
    /// <summary>The bound's constant, in units of float32 eps times Σ |x| |w|.</summary>
    private const double BoundFactor = 32;

    /// <summary>(batch, in, h, w, out, pad h, pad w).</summary>
    public static TheoryData<int[]> Shapes => new()
    {
        new[] { 1, 1, 4, 4, 1, 1, 1 },      // a single tile, mostly padding
        new[] { 2, 3, 9, 7, 5, 1, 1 },      // partial tiles at the right and bottom
        new[] { 3, 17, 10, 13, 20, 0, 2 },  // unequal paddings; channels not a multiple of 6
        new[] { 5, 8, 12, 12, 7, 2, 2 },    // padding 2 (its input gradient has padding 0); 45 tiles: two blocks of 23 and 22, across images
        new[] { 1, 64, 24, 24, 64, 1, 1 },  // VGG-like channel counts
        new[] { 2, 130, 7, 9, 33, 1, 0 },
        new[] { 4, 20, 4, 4, 19, 1, 1 },    // 4x4 planes, one tile each (a ResNet's last stage at 112²)
        new[] { 2, 512, 4, 4, 512, 1, 1 },  // 512 channels on each side: a transformed kernel of 38 MB, written with streaming stores
        new[] { 1, 256, 14, 14, 40, 1, 1 }, // 16 tiles (a ResNet's 14x14 stage at batch 1): the 16-wide tile, one sliver, on both kinds
        new[] { 1, 24, 17, 13, 30, 1, 1 },  // 20 tiles: the 32-wide tile on AVX-512; two 16-wide slivers on AVX2
    };

    private static void Forward(GemmKernelKind kind, ConvShape s, float[] x, float[] w, float[] b, float[] y) => WinogradConv.Forward(kind, s, x, w, b, y);

    private static void BackwardInput(GemmKernelKind kind, ConvShape s, float[] dy, float[] w, float[] dx) => WinogradConv.BackwardInput(kind, s, dy, w, dx);

    [Theory, MemberData(nameof(Shapes))]
    public void Forward_and_input_gradient_match_the_reference_within_the_bound_on_both_tiles(int[] g)
    {
        var s = WinogradShape(g);
        var (x, w, b) = RandomConvInputs(s, 1);
        var dy = RandomFloats(s.Batch * s.OutChannels * s.OutPlane, 4);
        var y0 = ConvReference.Forward(s, D(x), D(w), D(b));
        var yScale = ConvReference.Forward(s, Abs(x), Abs(w), new double[s.OutChannels]);
        var dx0 = ConvReference.BackwardInput(s, D(dy), D(w));
        var dxScale = ConvReference.BackwardInput(s, Abs(dy), Abs(w));
        foreach (var kind in new[] { GemmKernelKind.Vector512, GemmKernelKind.Vector256 })
        {
            var y = new float[y0.Length];
            Forward(kind, s, x, w, b, y);
            double fy = ErrorFactor(y0, y, yScale);
            Assert.True(fy <= BoundFactor, $"{kind} forward {string.Join('x', g)}: error factor {fy}");
            var dx = new float[x.Length];
            BackwardInput(kind, s, dy, w, dx);
            double fx = ErrorFactor(dx0, dx, dxScale);
            output.WriteLine($"{kind} {string.Join('x', g)}: error factor forward {fy:0.00}, input gradient {fx:0.00}");
            Assert.True(fx <= BoundFactor, $"{kind} input gradient {string.Join('x', g)}: error factor {fx}");
        }
    }

    [Fact]
    public unsafe void Kernel_transform_of_many_lanes_equals_the_single_kernel_one_to_the_bit()
    {
        const int ls = WinogradTransforms.KernelLaneStride, lanes = 48;
        var g = ConvTestData.Random(9 * ls, 41);
        var u = new double[36 * ls];
        fixed (double* pg = g, pu = u) WinogradTransforms.KernelLanes(pg, pu, lanes);
        Span<double> one = stackalloc double[9];
        Span<double> expected = stackalloc double[36];
        for (int l = 0; l < lanes; l++)
        {
            for (int e = 0; e < 9; e++) one[e] = g[e * ls + l];
            WinogradTransforms.Kernel(one, expected);
            for (int xi = 0; xi < 36; xi++) Assert.Equal(expected[xi], u[xi * ls + l]);
        }
    }

    [Fact]
    public void Transforms_reproduce_a_hand_computed_tile()
    {
        // One 4x4 input, padding 1, kernel with a single 1 at (0, 0): y(i, j) = x(i − 1, j − 1), zero on the first row and column.
        var s = WinogradShape([1, 1, 4, 4, 1, 1, 1]);
        var x = Enumerable.Range(1, 16).Select(v => (float)v).ToArray();
        var w = new float[9];
        w[0] = 1;
        var y = new float[16];
        Forward(GemmKernelKind.Vector256, s, x, w, [], y);
        float[] expected = [0, 0, 0, 0, 0, 1, 2, 3, 0, 5, 6, 7, 0, 9, 10, 11];
        for (int i = 0; i < 16; i++) Assert.True(Math.Abs(expected[i] - y[i]) <= 1e-5f, $"y[{i}] = {y[i]}, expected {expected[i]}");
    }

    [Fact]
    public void Conv2dKernels_dispatches_float32_3x3_stride1_here_and_float64_elsewhere()
    {
        var s = WinogradShape([2, 32, 64, 64, 24, 1, 1]); // 2 x 16 x 16 = 512 tiles
        bool simd = Gemm.Selected != GemmKernelKind.Scalar;
        Assert.Equal(simd, WinogradConv.Applies(s));
        Assert.Equal(simd, WinogradConv.AppliesToInputGradient(s));
        Assert.False(WinogradConv.Applies(s with { Window = new Window2d(3, 3, 2, 2, 1, 1, 1, 1), OutH = 8, OutW = 10 }));
        Assert.False(WinogradConv.Applies(WinogradShape([2, 8, 64, 64, 24, 1, 1])));
        Assert.Equal(simd, WinogradConv.Applies(WinogradShape([32, 512, 4, 4, 512, 1, 1])));  // a ResNet's last stage at 112², batch 32: 32 one-tile planes
        Assert.Equal(simd, WinogradConv.AppliesToInputGradient(WinogradShape([32, 512, 4, 4, 512, 1, 1])));
        Assert.False(WinogradConv.Applies(WinogradShape([16, 512, 4, 4, 512, 1, 1])));        // 16 tiles: the kernel transform would dominate
        Assert.False(WinogradConv.Applies(WinogradShape([64, 32, 3, 3, 24, 1, 1])));          // 3x3 outputs waste most of a tile
        Assert.Equal(simd, WinogradConv.Applies(WinogradShape([1, 128, 28, 28, 128, 1, 1]))); // ResNet-18's batch-1 layer: 49 tiles
        Assert.False(WinogradConv.Applies(WinogradShape([1, 256, 14, 14, 256, 1, 1])));      // 16 tiles
        var (x, w, b) = RandomConvInputs(s, 5);
        var dy = RandomFloats(s.Batch * s.OutChannels * s.OutPlane, 8);

        var y = new float[dy.Length];
        Conv2dKernels.Forward<float>(s, x, w, b, y);
        double fy = ErrorFactor(ConvReference.Forward(s, D(x), D(w), D(b)), y, ConvReference.Forward(s, Abs(x), Abs(w), new double[s.OutChannels]));
        Assert.True(fy <= BoundFactor, $"forward error factor {fy}");
        var dx = new float[x.Length];
        Conv2dKernels.BackwardInput<float>(s, dy, w, dx);
        double fx = ErrorFactor(ConvReference.BackwardInput(s, D(dy), D(w)), dx, ConvReference.BackwardInput(s, Abs(dy), Abs(w)));
        Assert.True(fx <= BoundFactor, $"input gradient error factor {fx}");

        // Float64 keeps the exact algorithm: agreement to rounding of direct sums, far below Winograd's error.
        var yd = new double[dy.Length];
        Conv2dKernels.Forward<double>(s, D(x), D(w), D(b), yd);
        var yRef = ConvReference.Forward(s, D(x), D(w), D(b));
        for (int i = 0; i < yd.Length; i++) Assert.True(Math.Abs(yd[i] - yRef[i]) <= 1e-12, $"float64 y[{i}]");
        var dxd = new double[x.Length];
        Conv2dKernels.BackwardInput<double>(s, D(dy), D(w), dxd);
        var dxRef = ConvReference.BackwardInput(s, D(dy), D(w));
        for (int i = 0; i < dxd.Length; i++) Assert.True(Math.Abs(dxd[i] - dxRef[i]) <= 1e-12, $"float64 dx[{i}]");
    }

    [Theory]
    [InlineData(49, 1, "32 17")]                        // a ResNet's 28² stage at batch 1 on one thread
    [InlineData(49, 2, "25 24")]                        // on two: a block a thread, the tiles shared out evenly
    [InlineData(196, 1, "32 32 32 32 32 32 4")]         // its 56² stage: 13 AVX2 slivers (seven of 28 took 14)
    [InlineData(196, 2, "32 32 32 2 32 32 32 2")]       // a share of 98 a thread, full blocks first (four of 25 took 8 slivers)
    [InlineData(196, 3, "32 32 1 32 32 1 32 32 2")]     // shares of 65, 65 and 66
    [InlineData(193, 2, "32 32 32 0 32 32 32 1")]       // shares of 96 and 97: the first share's spare block holds nothing
    [InlineData(16, 2, "16")]                           // one block: its output channels are split instead
    [InlineData(147, 2, "32 32 9 32 32 10")]            // shares of 73 and 74
    [InlineData(128, 2, "32 32 32 32")]                 // a whole number of blocks a thread
    [InlineData(1, 4, "1")]
    public void Blocks_hold_at_most_32_consecutive_tiles_and_even_out_the_threads(long tiles, int threads, string sizes)
    {
        var blocks = WinogradConv.Blocking(tiles, threads);
        var expected = sizes.Split(' ').Select(int.Parse).ToArray();
        Assert.Equal(expected, Enumerable.Range(0, blocks.Count).Select(blocks.Size).ToArray());
        // Every tile in exactly one block, in order.
        long next = 0;
        for (int b = 0; b < blocks.Count; b++)
        {
            Assert.InRange(blocks.Size(b), 0, WinogradConv.BlockTiles);
            if (blocks.Size(b) == 0) continue;
            Assert.Equal(next, blocks.First(b));
            next += blocks.Size(b);
        }
        Assert.Equal(tiles, next);
        // The busiest thread (ParallelFor's contiguous ranges of blocks) gets no more blocks than it would with as few
        // blocks as fit, and no more 16-tile slivers.
        long fewest = (tiles + WinogradConv.BlockTiles - 1) / WinogradConv.BlockTiles;
        Assert.True((blocks.Count + threads - 1) / threads <= (fewest + threads - 1) / threads);
        int Slivers(int b) => (blocks.Size(b) + 15) / 16;
        int busiest = Enumerable.Range(0, Math.Min(threads, blocks.Count))
            .Max(p => Enumerable.Range(ParallelFor.ChunkStart(blocks.Count, threads, p), ParallelFor.ChunkStart(blocks.Count, threads, p + 1) - ParallelFor.ChunkStart(blocks.Count, threads, p)).Sum(Slivers));
        Assert.True(busiest <= ((tiles + threads - 1) / threads + 15) / 16 + 1, $"busiest thread: {busiest} slivers");
    }

    [Theory]
    [InlineData(new[] { 3, 40, 27, 28, 20, 1, 1 })] // 3 x 7 x 7 = 147 tiles: five blocks, shared unevenly among the threads
    [InlineData(new[] { 4, 64, 8, 8, 64, 1, 1 })]   // 16 tiles: one block, its output channels split among the threads
    [InlineData(new[] { 1, 48, 28, 28, 48, 1, 1 })] // 49 tiles: two blocks, a block a thread on two threads, split into output-channel parts on three
    [InlineData(new[] { 1, 32, 56, 56, 32, 1, 1 })] // 196 tiles: six blocks of 32 and one of 4 on one thread; shares of full blocks on two and three
    public void Results_do_not_depend_on_the_thread_count(int[] g)
    {
        var s = WinogradShape(g);
        var (x, w, b) = RandomConvInputs(s, 9);
        var dy = RandomFloats(s.Batch * s.OutChannels * s.OutPlane, 12);
        SameOnOneTwoAndThreeThreads(() =>
        {
            var y = new float[dy.Length];
            var dx = new float[x.Length];
            Forward(Gemm.Selected == GemmKernelKind.Vector512 ? GemmKernelKind.Vector512 : GemmKernelKind.Vector256, s, x, w, b, y);
            BackwardInput(GemmKernelKind.Vector256, s, dy, w, dx);
            return [y, dx];
        });
    }
}
