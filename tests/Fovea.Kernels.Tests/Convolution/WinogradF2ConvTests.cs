using Xunit.Abstractions;
using static Fovea.Kernels.Tests.ConvTestData;

namespace Fovea.Kernels.Tests;

/// <summary>
/// The Winograd F(2x2, 3x3) convolution (<see cref="WinogradF2Conv"/>) against the float64 reference
/// (<see cref="ConvReference"/>) on both GEMM tiles: a ResNet's 14x14 stage at batch 1, odd planes (tiles cut at the
/// right and bottom), rows of tiles wider than one vector, tiles that span row slivers and images, paddings 0 … 2,
/// output channels that are not a multiple of the tile's columns. Each output must satisfy the bound stated on
/// <see cref="WinogradConv"/>: |y − y_ref| ≤ 32 · eps · Σ |x| |w| over the output's window.
/// </summary>
[Collection(nameof(ThreadSettingCollection))]
public class WinogradF2ConvTests(ITestOutputHelper output)
{
    private const double BoundFactor = 32;

    /// <summary>(batch, in, h, w, out, pad h, pad w).</summary>
    public static TheoryData<int[]> Shapes => new()
    {
        new[] { 1, 256, 14, 14, 256, 1, 1 }, // a ResNet's 14x14 stage at batch 1: 7 x 7 tiles, each tile row one 7-row sliver on AVX-512
        new[] { 1, 64, 13, 11, 70, 1, 1 },   // odd planes: the last tile row and column cut; 70 channels, a partial column sliver
        new[] { 2, 64, 8, 8, 64, 1, 1 },     // two images of 4 x 4 tiles: row slivers span tile rows and images
        new[] { 1, 80, 16, 16, 64, 0, 2 },   // unequal paddings: 7 x 9 tiles, a tile row wider than one vector
        new[] { 1, 64, 12, 12, 96, 2, 2 },   // padding 2
        new[] { 1, 64, 14, 12, 64, 1, 1 },   // 7 x 6 tiles: each tile row one 6-row sliver on AVX2
    };

    [Theory, MemberData(nameof(Shapes))]
    public void Forward_matches_the_reference_within_the_bound_on_both_tiles(int[] g)
    {
        var s = WinogradShape(g);
        Assert.InRange(WinogradF2Conv.Tiles(s), WinogradF2Conv.MinTiles, WinogradF2Conv.MaxTiles);
        var (x, w, b) = RandomConvInputs(s, 1);
        var y0 = ConvReference.Forward(s, D(x), D(w), D(b));
        var yNoBias = ConvReference.Forward(s, D(x), D(w), new double[s.OutChannels]);
        var scale = ConvReference.Forward(s, Abs(x), Abs(w), new double[s.OutChannels]);
        foreach (var kind in new[] { GemmKernelKind.Vector512, GemmKernelKind.Vector256 })
        {
            var y = new float[y0.Length];
            Array.Fill(y, float.NaN); // every output must be written
            WinogradF2Conv.Forward(kind, s, x, w, b, y);
            double f = ErrorFactor(y0, y, scale);
            output.WriteLine($"{kind} {string.Join('x', g)}: error factor {f:0.00}");
            Assert.True(f <= BoundFactor, $"{kind} {string.Join('x', g)}: error factor {f}");

            var prepared = new PreparedConvWeights(s.OutChannels, s.InChannels, 3, 3, 1);
            var yp = new float[y0.Length];
            WinogradF2Conv.Forward(kind, s, x, w, [], yp, prepared);
            WinogradF2Conv.Forward(kind, s, x, w, [], yp, prepared); // the second call reads the kept U
            Assert.True(ErrorFactor(yNoBias, yp, scale) <= BoundFactor, $"{kind} {string.Join('x', g)} without bias, prepared");
        }
    }

    [Theory, MemberData(nameof(Shapes))]
    public void The_transform_stores_by_slivers_give_the_bits_of_the_stores_by_lane(int[] g)
    {
        var s = WinogradShape(g);
        var (x, w, b) = RandomConvInputs(s, 3);
        foreach (var kind in new[] { GemmKernelKind.Vector512, GemmKernelKind.Vector256 })
        {
            var bySliver = new float[s.Batch * s.OutChannels * s.OutPlane];
            var byLane = new float[bySliver.Length];
            try
            {
                WinogradF2Conv.Forward(kind, s, x, w, b, bySliver);
                WinogradF2Conv.VectorPieces = false;
                WinogradF2Conv.Forward(kind, s, x, w, b, byLane);
            }
            finally
            {
                WinogradF2Conv.VectorPieces = true;
            }
            Assert.Equal(byLane, bySliver);
        }
    }

    [Fact]
    public void Results_do_not_depend_on_the_thread_count()
    {
        var s = WinogradShape([1, 256, 14, 14, 256, 1, 1]);
        var (x, w, b) = RandomConvInputs(s, 9);
        SameOnOneTwoAndThreeThreads(() =>
        {
            var y = new float[s.Batch * s.OutChannels * s.OutPlane];
            WinogradF2Conv.Forward(Gemm.Selected == GemmKernelKind.Vector512 ? GemmKernelKind.Vector512 : GemmKernelKind.Vector256, s, x, w, b, y);
            return [y];
        });
    }

    [Fact]
    public void The_short_last_tile_changes_only_the_last_tiles_outputs()
    {
        // 7 x 7 tiles: eight 6-row tiles and a short one holding the last tile, the 2x2 outputs at (12, 12).
        var s = WinogradShape([1, 64, 14, 14, 64, 1, 1]);
        var (x, w, b) = RandomConvInputs(s, 12);
        var full = new float[s.OutChannels * s.OutPlane];
        var shortTile = new float[full.Length];
        try
        {
            GemmTuning.ShortRowTiles = false;
            WinogradF2Conv.Forward(GemmKernelKind.Vector256, s, x, w, b, full);
            GemmTuning.ShortRowTiles = true;
            WinogradF2Conv.Forward(GemmKernelKind.Vector256, s, x, w, b, shortTile);
        }
        finally
        {
            GemmTuning.ShortRowTiles = true;
        }
        var scale = ConvReference.Forward(s, Abs(x), Abs(w), new double[s.OutChannels]);
        Assert.True(ErrorFactor(ConvReference.Forward(s, D(x), D(w), D(b)), shortTile, scale) <= BoundFactor);
        int differ = 0;
        for (int o = 0; o < s.OutChannels; o++)
            for (int q = 0; q < s.OutPlane; q++)
            {
                int i = o * s.OutPlane + q;
                bool lastTile = q / s.OutW >= 12 && q % s.OutW >= 12;
                if (!lastTile) Assert.Equal(full[i], shortTile[i]);
                else if (full[i] != shortTile[i]) differ++;
            }
        // The short tile sums each row's steps in another order, so some of the 256 last-tile outputs round otherwise:
        // the switch did change the path.
        Assert.True(differ > 0, "the last tile's outputs are the full tile's bits: the short tile did not run");
    }

    [Fact]
    public void Conv2dKernels_takes_this_path_for_small_planes_with_prepared_weights()
    {
        bool simd = Gemm.Selected != GemmKernelKind.Scalar;
        Assert.Equal(simd, WinogradF2Conv.Applies(WinogradShape([1, 256, 14, 14, 256, 1, 1]))); // 49 tiles
        Assert.False(WinogradF2Conv.Applies(WinogradShape([1, 128, 28, 28, 128, 1, 1])));      // 196 tiles: F(4x4, 3x3)'s blocks are full
        Assert.False(WinogradF2Conv.Applies(WinogradShape([1, 512, 7, 7, 512, 1, 1])));        // 16 tiles
        Assert.False(WinogradF2Conv.Applies(WinogradShape([16, 256, 14, 14, 256, 1, 1])));     // batch 16
        Assert.False(WinogradF2Conv.Applies(WinogradShape([1, 32, 14, 14, 256, 1, 1])));       // few input channels

        // Through the dispatch with prepared weights, the same bits as this path's own call.
        var s = WinogradShape([1, 64, 14, 14, 64, 1, 1]);
        var (x, w, b) = RandomConvInputs(s, 5);
        var y = new float[s.Batch * s.OutChannels * s.OutPlane];
        Conv2dKernels.Forward<float>(s, x, w, b, y, new PreparedConvWeights(64, 64, 3, 3, 1));
        var scale = ConvReference.Forward(s, Abs(x), Abs(w), new double[s.OutChannels]);
        Assert.True(ErrorFactor(ConvReference.Forward(s, D(x), D(w), D(b)), y, scale) <= BoundFactor);
        if (!simd) return; // the scalar GEMM tile: another path
        var expected = new float[y.Length];
        WinogradF2Conv.Forward(Gemm.Selected, s, x, w, b, expected);
        Assert.Equal(expected, y);
    }
}
