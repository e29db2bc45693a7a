using static Fovea.Kernels.Tests.ConvTestData;

namespace Fovea.Kernels.Tests;

/// <summary>
/// The im2col/GEMM convolution against the plain loops of <see cref="ConvReference"/>, in float32 and float64,
/// over strides, paddings, dilations, groups, 1x1 kernels and batches larger than the weight-gradient chunking.
/// </summary>
[Collection(nameof(ThreadSettingCollection))]
public class ConvKernelTests
{
    /// <summary>
    /// <see cref="Window2d.TapOffsets"/> gives tap k = (channel, i, j), in im2col's row order, the offset
    /// channel·channelStride + i·dh·rowStride + j·dw: the quotients of k, written out, for kernels with dilation and
    /// non-square shapes.
    /// </summary>
    [Theory]
    [InlineData(3, 3, 1, 1, 5)]
    [InlineData(3, 2, 2, 3, 4)]
    [InlineData(1, 1, 1, 1, 7)]
    [InlineData(7, 7, 1, 1, 3)]
    [InlineData(2, 5, 3, 1, 2)]
    public void TapOffsets_AreChannelRowAndColumnOffsetsInIm2colOrder(int kh, int kw, int dh, int dw, int channels)
    {
        var win = new Window2d(kh, kw, 1, 1, 0, 0, dh, dw);
        const int channelStride = 1000, rowStride = 37;
        var taps = new int[channels * kh * kw];
        win.TapOffsets(channels, channelStride, rowStride, taps);
        for (int k = 0; k < taps.Length; k++)
        {
            int ci = k / (kh * kw), i = k % (kh * kw) / kw, j = k % kw;
            Assert.Equal(ci * channelStride + i * dh * rowStride + j * dw, taps[k]);
        }
    }

    /// <summary>(batch, in, h, w, out, groups, kh, kw, sh, sw, ph, pw, dh, dw).</summary>
    public static TheoryData<int[]> Geometries => new()
    {
        new[] { 1, 1, 5, 5, 1, 1, 3, 3, 1, 1, 0, 0, 1, 1 },
        new[] { 2, 3, 7, 6, 4, 1, 3, 3, 1, 1, 1, 1, 1, 1 },
        new[] { 3, 2, 9, 8, 3, 1, 3, 2, 2, 3, 1, 0, 1, 1 },
        new[] { 2, 2, 9, 9, 2, 1, 3, 3, 1, 2, 2, 1, 2, 3 },
        new[] { 2, 4, 6, 6, 6, 2, 3, 3, 1, 1, 1, 1, 1, 1 },
        new[] { 2, 3, 5, 5, 3, 3, 3, 3, 1, 1, 1, 1, 1, 1 },   // depthwise
        new[] { 3, 5, 4, 3, 7, 1, 1, 1, 1, 1, 0, 0, 1, 1 },   // pointwise (direct GEMM)
        new[] { 2, 4, 5, 5, 4, 2, 1, 1, 2, 2, 0, 0, 1, 1 },   // strided 1x1 (im2col)
        new[] { 11, 2, 6, 5, 3, 1, 2, 2, 1, 1, 0, 1, 1, 1 },  // more images than weight chunks
        new[] { 2, 1, 4, 4, 2, 1, 5, 5, 1, 1, 2, 2, 1, 1 },   // kernel larger than the input, padded
        new[] { 1, 2, 3, 8, 2, 1, 1, 3, 1, 4, 0, 3, 1, 1 },   // stride larger than the kernel, wide padding
        new[] { 3, 4, 6, 5, 32, 2, 3, 3, 1, 1, 1, 1, 1, 1 },  // 16 outputs per group: transposed weight-gradient GEMM
        new[] { 2, 3, 5, 5, 17, 1, 2, 2, 1, 1, 0, 0, 1, 1 },
        new[] { 9, 3, 7, 9, 32, 1, 5, 3, 1, 1, 2, 1, 2, 1 },  // direct weight gradient: 2 channel tiles, 45 taps (a partial tap tile), dilation
        new[] { 7, 6, 14, 14, 16, 1, 5, 5, 1, 1, 0, 0, 1, 1 }, // LeNet's c3: blocks of 5 images, the gathered col2im
        new[] { 3, 8, 4, 4, 48, 1, 3, 3, 1, 1, 1, 1, 1, 1 },  // a ResNet's last stage at 112²: 4x4 planes, im2col by permutes
        new[] { 5, 4, 3, 3, 24, 1, 3, 3, 2, 2, 1, 1, 1, 1 },  // 2x2 outputs of 3x3 planes: permutes stored 4 lanes at a time
        new[] { 2, 3, 6, 41, 8, 1, 3, 3, 2, 2, 1, 1, 1, 1 },  // stride 2 on rows of 41 pixels: even elements gathered 8 at a time
    };


    [Theory, MemberData(nameof(Geometries))]
    public void Conv_float64_matches_reference(int[] g)
    {
        var s = Shape(g);
        var x = Random(s.Batch * s.InChannels * s.Height * s.Width, 1);
        var w = Random(s.OutChannels * s.ColRows, 2);
        var b = Random(s.OutChannels, 3);
        var dy = Random(s.Batch * s.OutChannels * s.OutPlane, 4);
        var y = new double[dy.Length];
        Conv2dKernels.Forward<double>(s, x, w, b, y);
        Close(ConvReference.Forward(s, x, w, b), y, 1e-12, "y");
        var dx = new double[x.Length];
        Conv2dKernels.BackwardInput<double>(s, dy, w, dx);
        Close(ConvReference.BackwardInput(s, dy, w), dx, 1e-12, "dx");
        var dw = new double[w.Length];
        Conv2dKernels.BackwardWeight<double>(s, x, dy, dw);
        Close(ConvReference.BackwardWeight(s, x, dy), dw, 1e-12, "dw");
    }

    [Theory, MemberData(nameof(Geometries))]
    public void Conv_float32_matches_reference(int[] g)
    {
        var s = Shape(g);
        var x = Array.ConvertAll(Random(s.Batch * s.InChannels * s.Height * s.Width, 5), v => (float)v);
        var w = Array.ConvertAll(Random(s.OutChannels * s.ColRows, 6), v => (float)v);
        var dy = Array.ConvertAll(Random(s.Batch * s.OutChannels * s.OutPlane, 7), v => (float)v);
        var y = new float[dy.Length];
        Conv2dKernels.Forward<float>(s, x, w, ReadOnlyMemory<float>.Empty, y);
        Close(ConvReference.Forward(s, D(x), D(w), []), D(y), 1e-4, "y");
        var dx = new float[x.Length];
        Conv2dKernels.BackwardInput<float>(s, dy, w, dx);
        Close(ConvReference.BackwardInput(s, D(dy), D(w)), D(dx), 1e-4, "dx");
        var dw = new float[w.Length];
        Conv2dKernels.BackwardWeight<float>(s, x, dy, dw);
        Close(ConvReference.BackwardWeight(s, D(x), D(dy)), D(dw), 1e-3, "dw");
    }

    [Theory]
    [InlineData(0, 0, 0, true)]                       // every float32 forward through the implicit GEMM
    [InlineData(int.MaxValue, 0, 0, true)]            // every stride-1 float32 forward read straight from the padded input: 6 channels x 2 rows x 16 pixels a tile on AVX-512
    [InlineData(int.MaxValue, 0, 0, false)]           // the same with the 256-bit tiles (one row of 16 pixels)
    [InlineData(0, int.MaxValue, 0, true)]            // stride 1 with whole tiles of 16 channels: row tiles of 12 pixels on AVX-512
    [InlineData(0, int.MaxValue, 0, false)]           // the same with the 256-bit tiles (6 pixels x 16 channels) on any machine
    [InlineData(0, 0, int.MaxValue, false)]           // strided, whole tiles of 16 channels: 6 pixels x 16 channels from bands of rows
    [InlineData(int.MaxValue, int.MaxValue, 4, true)] // the defaults' reach, every direct path on
    public void Every_float32_forward_path_matches_reference_with_bias(int directMaxGroupOut, int channelMajorMaxGroupOut, int stridedMaxInChannels, bool vector512Tiles)
    {
        int saved = DirectConv.MaxGroupOut, savedChannels = DirectConv.MaxChannelMajorGroupOut, savedStrided = DirectConv.MaxStridedInChannels;
        bool savedTiles = DirectConv.Vector512Tiles;
        try
        {
            DirectConv.MaxGroupOut = directMaxGroupOut;
            DirectConv.MaxChannelMajorGroupOut = channelMajorMaxGroupOut;
            DirectConv.MaxStridedInChannels = stridedMaxInChannels;
            DirectConv.Vector512Tiles = vector512Tiles;
            var geometries = ((IEnumerable<object[]>)Geometries).Select(row => (int[])row[0])
                .Append([2, 64, 30, 29, 8, 1, 3, 3, 1, 1, 1, 1, 1, 1])  // wide rows: several bands of output rows per image
                .Append([3, 2, 12, 40, 7, 1, 3, 5, 1, 1, 2, 0, 2, 1])   // 40-wide rows: several 16-pixel tiles, dilation
                .Append([5, 6, 14, 14, 16, 1, 5, 5, 1, 1, 0, 0, 1, 1])  // LeNet's c3: 100 pixels = 16 tiles of 6 and one of 4
                .Append([2, 4, 9, 7, 64, 2, 3, 3, 1, 1, 1, 1, 1, 2])    // two groups of 32 channels (two channel tiles each)
                .Append([1, 3, 40, 40, 16, 1, 3, 3, 1, 1, 1, 1, 1, 1])  // 1,600 pixels x 16 channels: two runs through the scratch (1,020 pixels, then 580)
                .Append([2, 3, 20, 26, 16, 1, 3, 3, 1, 1, 1, 1, 1, 1])  // rows of 26: row tiles of 12, 12 and 2 pixels; 520 pixels, 8 whole blocks of 16 and 8 more
                .Append([3, 4, 11, 13, 32, 1, 3, 2, 1, 1, 2, 1, 2, 1])  // two channel tiles, row dilation, a 2-wide window
                .Append([1, 2, 36, 36, 16, 1, 5, 5, 1, 1, 0, 0, 1, 1])  // the largest image the row tiles gather: 1,024 pixels x 16 channels
                .Append([2, 3, 20, 36, 32, 1, 5, 5, 1, 1, 0, 0, 1, 1])  // and 512 pixels x 32 channels
                .Append([2, 3, 23, 29, 32, 1, 7, 7, 2, 2, 3, 3, 1, 1])  // a stem: 12 output rows in 4 bands of 3
                .Append([1, 3, 64, 80, 64, 1, 7, 7, 2, 2, 3, 3, 1, 1])  // 64 channels: bands of 320 pixels, each 2 runs through the scratch (252 and 68)
                .Append([2, 4, 11, 13, 32, 2, 3, 3, 2, 1, 1, 1, 2, 1])  // two groups, stride 2 x 1, row dilation
                .Append([3, 1, 15, 17, 16, 1, 5, 3, 1, 3, 2, 0, 1, 2]); // stride 1 x 3, column dilation, one channel
            foreach (var g in geometries)
            {
                var s = Shape(g);
                var x = Array.ConvertAll(Random(s.Batch * s.InChannels * s.Height * s.Width, 11), v => (float)v);
                var w = Array.ConvertAll(Random(s.OutChannels * s.ColRows, 12), v => (float)v);
                var b = Array.ConvertAll(Random(s.OutChannels, 13), v => (float)v);
                var y = new float[s.Batch * s.OutChannels * s.OutPlane];
                Conv2dKernels.Forward<float>(s, x, w, b, y);
                Close(ConvReference.Forward(s, D(x), D(w), D(b)), D(y), 1e-4, $"y {string.Join('x', g)}");
                var dy = Array.ConvertAll(Random(y.Length, 14), v => (float)v);
                var dx = new float[x.Length];
                Conv2dKernels.BackwardInput<float>(s, dy, w, dx);
                Close(ConvReference.BackwardInput(s, D(dy), D(w)), D(dx), 1e-4, $"dx {string.Join('x', g)}");
                ThreadIndependent(s);
            }
        }
        finally
        {
            DirectConv.MaxGroupOut = saved;
            DirectConv.MaxChannelMajorGroupOut = savedChannels;
            DirectConv.MaxStridedInChannels = savedStrided;
            DirectConv.Vector512Tiles = savedTiles;
        }
    }

    [Fact]
    public void Row_tiles_by_column_stride_give_the_bits_of_the_general_tile()
    {
        // The channel-major forward's 256-bit tile over six pixels of one output row (stride 1 or 2) against the tile
        // with a base per pixel: the same multiply-adds in the same order. Stems, LeNet's c3 (100-pixel planes: tiles
        // that wrap onto the next row take the general tile), stride 3 (always the general tile).
        bool savedTiles = DirectConv.Vector512Tiles, savedPhaseRows = PhaseRowConv.Enabled;
        try
        {
            DirectConv.Vector512Tiles = false;
            PhaseRowConv.Enabled = false;
            foreach (var g in new[]
            {
                new[] { 2, 3, 23, 29, 32, 1, 7, 7, 2, 2, 3, 3, 1, 1 },
                [1, 3, 64, 80, 64, 1, 7, 7, 2, 2, 3, 3, 1, 1],
                [5, 6, 14, 14, 16, 1, 5, 5, 1, 1, 0, 0, 1, 1],
                [2, 3, 20, 26, 16, 1, 3, 3, 1, 1, 1, 1, 1, 1],
                [3, 1, 15, 17, 16, 1, 5, 3, 1, 3, 2, 0, 1, 2],
            })
            {
                var s = Shape(g);
                var x = RandomFloats(s.Batch * s.InChannels * s.Height * s.Width, 21);
                var w = RandomFloats(s.OutChannels * s.ColRows, 22);
                var b = RandomFloats(s.OutChannels, 23);
                float[] byStride = new float[s.Batch * s.OutChannels * s.OutPlane], general = new float[byStride.Length];
                Conv2dKernels.Forward<float>(s, x, w, b, byStride);
                DirectConv.RowTilesByStride = false;
                try { Conv2dKernels.Forward<float>(s, x, w, b, general); }
                finally { DirectConv.RowTilesByStride = true; }
                Assert.Equal(general, byStride);
                Close(ConvReference.Forward(s, D(x), D(w), D(b)), D(byStride), 1e-4, $"y {string.Join('x', g)}");
            }
        }
        finally
        {
            DirectConv.Vector512Tiles = savedTiles;
            PhaseRowConv.Enabled = savedPhaseRows;
        }
    }

    [Theory]
    [InlineData(true, true)]   // direct: row tiles for 3- and 5-wide windows on AVX-512, 6 taps x 16 channels for the rest
    [InlineData(true, false)]  // direct with the 256-bit tiles only
    [InlineData(false, true)]  // im2col and GEMM
    public void Both_float32_weight_gradient_paths_match_reference(bool direct, bool vector512Tiles)
    {
        bool saved = DirectConv.WeightGradient, savedTiles = DirectConv.Vector512Tiles;
        try
        {
            DirectConv.WeightGradient = direct;
            DirectConv.Vector512Tiles = vector512Tiles;
            foreach (var g in new[] { new[] { 9, 3, 7, 9, 32, 1, 5, 3, 1, 1, 2, 1, 2, 1 }, new[] { 3, 4, 6, 5, 32, 2, 3, 3, 1, 1, 1, 1, 1, 1 }, new[] { 11, 6, 14, 14, 16, 1, 5, 5, 1, 1, 0, 0, 1, 1 },
                // Row tiles: a 5-wide window with an odd row count (the last kernel row alone), row dilation and padding;
                // a 3-wide one on rows of 21 with two channel tiles.
                new[] { 5, 2, 9, 11, 16, 1, 3, 5, 1, 1, 1, 2, 2, 1 }, new[] { 4, 3, 8, 21, 32, 1, 5, 3, 1, 1, 2, 1, 1, 1 },
                new[] { 3, 3, 7, 8, 16, 1, 2, 4, 1, 1, 1, 1, 1, 1 }, // a 4-wide window: 6 taps x 16 channels on 512-bit vectors

                // Few output channels (pixel-major on 512-bit vectors): LeNet's first layer, and groups of 3 with dilation, a
                // 2-lane last vector and partial channel and tap tiles; then 7 channels (a full tile and one more) on rows of 33.
                new[] { 11, 1, 28, 28, 6, 1, 5, 5, 1, 1, 2, 2, 1, 1 }, new[] { 9, 4, 7, 19, 6, 2, 3, 2, 1, 1, 1, 0, 2, 1 },
                new[] { 3, 2, 6, 35, 7, 1, 2, 3, 1, 1, 0, 0, 1, 1 } })
            {
                var s = Shape(g);
                var x = Array.ConvertAll(Random(s.Batch * s.InChannels * s.Height * s.Width, 15), v => (float)v);
                var dy = Array.ConvertAll(Random(s.Batch * s.OutChannels * s.OutPlane, 16), v => (float)v);
                var dw = new float[s.OutChannels * s.ColRows];
                Conv2dKernels.BackwardWeight<float>(s, x, dy, dw);
                Close(ConvReference.BackwardWeight(s, D(x), D(dy)), D(dw), 1e-3, $"dw {string.Join('x', g)}");
                ThreadIndependent(s);
            }
        }
        finally
        {
            DirectConv.WeightGradient = saved;
            DirectConv.Vector512Tiles = savedTiles;
        }
    }

    [Fact]
    public void Weight_gradient_takes_nothing_from_inputs_past_a_row_that_no_tap_reads()
    {
        // Without padding, tap column 0 never reads an image's last column, but a row's last vector of pixels spans it:
        // an infinity there must not reach the weight gradient of the taps that do not read it.
        var s = Shape([3, 2, 6, 20, 6, 1, 3, 3, 1, 1, 0, 0, 1, 1]);
        var x = Array.ConvertAll(Random(s.Batch * s.InChannels * s.Height * s.Width, 17), v => (float)v);
        for (int r = 0; r < s.Batch * s.InChannels * s.Height; r++) x[r * s.Width + s.Width - 1] = float.PositiveInfinity;
        var dy = Array.ConvertAll(Random(s.Batch * s.OutChannels * s.OutPlane, 18), v => (float)v);
        var dw = new float[s.OutChannels * s.ColRows];
        Conv2dKernels.BackwardWeight<float>(s, x, dy, dw);
        var expected = ConvReference.BackwardWeight(s, D(x), D(dy));
        for (int i = 0; i < dw.Length; i++)
            if (double.IsFinite(expected[i])) Assert.True(Math.Abs(expected[i] - dw[i]) <= 1e-3, $"dw[{i}]: expected {expected[i]}, got {dw[i]}");
            else Assert.False(float.IsFinite(dw[i]), $"dw[{i}] should not be finite");
        Assert.Contains(expected, double.IsFinite);
    }

    [Fact]
    public void Results_do_not_depend_on_the_thread_count()
    {
        foreach (var geometry in new[] { new[] { 13, 4, 10, 10, 6, 2, 3, 3, 1, 1, 1, 1, 1, 1 }, new[] { 37, 3, 6, 6, 16, 1, 3, 3, 1, 1, 0, 0, 1, 1 } })
            ThreadIndependent(Shape(geometry));
    }

    private static void ThreadIndependent(ConvShape s)
    {
        var x = Array.ConvertAll(Random(s.Batch * s.InChannels * s.Height * s.Width, 8), v => (float)v);
        var w = Array.ConvertAll(Random(s.OutChannels * s.ColRows, 9), v => (float)v);
        var dy = Array.ConvertAll(Random(s.Batch * s.OutChannels * s.OutPlane, 10), v => (float)v);
        SameOnOneTwoAndThreeThreads(() =>
        {
            var y = new float[dy.Length];
            var dx = new float[x.Length];
            var dw = new float[w.Length];
            Conv2dKernels.Forward<float>(s, x, w, ReadOnlyMemory<float>.Empty, y);
            Conv2dKernels.BackwardInput<float>(s, dy, w, dx);
            Conv2dKernels.BackwardWeight<float>(s, x, dy, dw);
            return [y, dx, dw];
        });
    }

    [Theory, MemberData(nameof(Geometries))]
    public void Im2col_entries_follow_the_definition_and_col2im_is_its_adjoint(int[] g)
    {
        var s = Shape(g);
        var win = s.Window;
        int c = s.InChannels;
        var x = Random(c * s.Height * s.Width, 11);
        var col = new double[c * win.KernelSize * s.OutPlane];
        Im2Col.Forward<double>(x, c, s.Height, s.Width, win, s.OutH, s.OutW, col);
        for (int ch = 0; ch < c; ch++)
            for (int i = 0; i < win.KernelH; i++)
                for (int j = 0; j < win.KernelW; j++)
                    for (int oy = 0; oy < s.OutH; oy++)
                        for (int ox = 0; ox < s.OutW; ox++)
                        {
                            int iy = oy * win.StrideH - win.PadH + i * win.DilationH, ix = ox * win.StrideW - win.PadW + j * win.DilationW;
                            double expected = iy < 0 || iy >= s.Height || ix < 0 || ix >= s.Width ? 0 : x[(ch * s.Height + iy) * s.Width + ix];
                            Assert.Equal(expected, col[((ch * win.KernelH + i) * win.KernelW + j) * s.OutPlane + oy * s.OutW + ox]);
                        }
        // <im2col(x), c> = <x, col2im(c)> for any c: col2im is the adjoint.
        var r = Random(col.Length, 12);
        var back = new double[x.Length];
        Im2Col.Backward<double>(r, c, s.Height, s.Width, win, s.OutH, s.OutW, back);
        double lhs = 0, rhs = 0;
        for (int i = 0; i < col.Length; i++) lhs += col[i] * r[i];
        for (int i = 0; i < x.Length; i++) rhs += x[i] * back[i];
        Assert.Equal(lhs, rhs, 10);
    }

    /// <summary>(h, w, kh, kw, ph, pw, dh, dw): stride-1 windows on rows of 1 to 16 pixels.</summary>
    public static TheoryData<int[]> GatheredWindows => new()
    {
        new[] { 14, 14, 5, 5, 0, 0, 1, 1 },   // LeNet's c3
        new[] { 28, 16, 5, 5, 2, 2, 1, 1 },   // a full register, padded
        new[] { 5, 1, 3, 3, 1, 1, 1, 1 },     // one pixel wide
        new[] { 6, 9, 3, 3, 1, 1, 1, 1 },     // past one 256-bit half
        new[] { 9, 13, 2, 7, 0, 3, 2, 2 },    // dilated, an even kernel
        new[] { 4, 4, 5, 5, 2, 2, 1, 1 },     // kernel larger than the image
        new[] { 7, 11, 1, 9, 0, 4, 1, 2 },    // reads 12 floats before a row (the slack)
    };

    [Theory, MemberData(nameof(GatheredWindows))]
    public unsafe void Gathered_col2im_equals_the_scatter_overwrites_and_stays_in_its_rows(int[] g)
    {
        int h = g[0], w = g[1], channels = 3, images = 2;
        var win = new Window2d(g[2], g[3], 1, 1, g[4], g[5], g[6], g[7]);
        var (oh, ow) = win.OutputSize(h, w);
        Assert.True(Im2Col.GathersRows(win, w, ow) || !System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated);
        if (!Im2Col.GathersRows(win, w, ow)) return;
        int plane = oh * ow, rows = channels * win.KernelSize, ld = images * plane, image = channels * h * w;
        // The matrix of two images side by side, in NaN slack: a lane that should be masked would poison its row.
        var col = new float[rows * ld + 2 * Im2Col.GatherSlack];
        Array.Fill(col, float.NaN);
        var values = Array.ConvertAll(Random(rows * ld, 21), v => (float)v);
        values.CopyTo(col, Im2Col.GatherSlack);
        // Old values in x (overwritten) and a sentinel after each image (never touched).
        var x = new float[images * (image + 1)];
        Array.Fill(x, 7f);
        fixed (float* pc = col, px = x)
            for (int j = 0; j < images; j++)
                Im2Col.BackwardGathered(pc + Im2Col.GatherSlack + j * plane, ld, channels, h, w, win, oh, ow, px + j * (image + 1));
        for (int j = 0; j < images; j++)
        {
            var expected = new float[image];
            Im2Col.Backward<float>(values.AsSpan(j * plane), channels, h, w, win, oh, ow, expected, ld);
            for (int k = 0; k < image; k++)
                Assert.True(Math.Abs(expected[k] - x[j * (image + 1) + k]) <= 1e-5f * (1 + Math.Abs(expected[k])),
                    $"image {j}, element {k}: {x[j * (image + 1) + k]} against {expected[k]}");
            Assert.Equal(7f, x[j * (image + 1) + image]);
        }
    }

    /// <summary>Planes of at most 16 pixels: (h, w, kh, kw, stride, pad, dilation).</summary>
    public static TheoryData<int[]> SmallPlaneWindows => new()
    {
        new[] { 4, 4, 3, 3, 1, 1, 1 },   // a ResNet's last stage at 112²
        new[] { 4, 4, 3, 3, 2, 1, 1 },   // strided: 2x2 outputs
        new[] { 3, 5, 2, 3, 1, 0, 1 },   // not square, no padding
        new[] { 4, 4, 3, 3, 1, 2, 2 },   // dilated, wide padding
        new[] { 1, 1, 3, 3, 1, 1, 1 },   // one pixel: eight of nine taps in the padding
        new[] { 2, 8, 1, 1, 1, 0, 1 },   // a pointwise window on a 16-pixel plane
    };

    [Theory, MemberData(nameof(SmallPlaneWindows))]
    public void Small_plane_im2col_equals_the_row_copy_and_stays_in_its_columns(int[] g)
    {
        int h = g[0], w = g[1], channels = 5, images = 2;
        var win = new Window2d(g[2], g[3], g[4], g[4], g[5], g[5], g[6], g[6]);
        var (oh, ow) = win.OutputSize(h, w);
        Assert.True(Im2Col.SmallPlanes(h, w, oh, ow) || !System.Runtime.Intrinsics.X86.Avx512F.IsSupported);
        int plane = oh * ow, rows = channels * win.KernelSize, ld = images * plane + 3, image = channels * h * w;
        // x holds exactly the images, so the last planes' loads come through the buffer.
        var x = Array.ConvertAll(Random(images * image, 31), v => (float)v);
        float[] Run(bool small)
        {
            var col = new float[rows * ld];
            Array.Fill(col, -9f);
            bool was = Im2Col.SmallPlaneEnabled;
            Im2Col.SmallPlaneEnabled = small;
            try
            {
                for (int j = 0; j < images; j++)
                    Im2Col.Forward<float>(x.AsSpan(j * image, image), channels, h, w, win, oh, ow, col.AsSpan(j * plane), ld);
            }
            finally
            {
                Im2Col.SmallPlaneEnabled = was;
            }
            return col;
        }
        var expected = Run(small: false);
        var actual = Run(small: true);
        for (int k = 0; k < expected.Length; k++)
            Assert.True(expected[k] == actual[k], $"row {k / ld}, column {k % ld}: {actual[k]} against {expected[k]}");
        // The three columns past the images are never written.
        for (int r = 0; r < rows; r++)
            for (int c = images * plane; c < ld; c++)
                Assert.Equal(-9f, actual[r * ld + c]);
    }
}
