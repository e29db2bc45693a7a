using static Fovea.Kernels.Tests.ConvTestData;

namespace Fovea.Kernels.Tests;

/// <summary>
/// Float32 forwards with weights prepared once and kept (<see cref="PreparedConvWeights"/>) against the plain loops of
/// <see cref="ConvReference"/>: the implicit GEMM reading packed weights (several slivers per pass over them, output
/// channels split among threads when the pixels are few), and Winograd taking the small batches it leaves alone without
/// a kept kernel transform. Each forward runs twice, the second reusing what the first built; results may not depend on
/// the thread count.
/// </summary>
[Collection(nameof(ThreadSettingCollection))]
public class PreparedConvWeightsTests
{
    /// <summary>(batch, in, h, w, out, groups, kh, kw, sh, sw, ph, pw, dh, dw).</summary>
    public static TheoryData<int[]> Geometries => new()
    {
        new[] { 1, 16, 7, 7, 64, 1, 3, 3, 1, 1, 1, 1, 1, 1 },     // 49 pixels, 64 channels: a ResNet's last stage in small
        new[] { 1, 8, 14, 14, 70, 1, 3, 3, 2, 2, 1, 1, 1, 1 },    // strided, channels not a multiple of the tile rows
        new[] { 3, 10, 9, 9, 48, 1, 1, 1, 1, 1, 0, 0, 1, 1 },     // pointwise over three images: 243 pixels, 8 slivers and a partial one
        new[] { 2, 6, 20, 21, 12, 2, 3, 3, 1, 1, 1, 1, 1, 1 },    // two groups
        new[] { 1, 3, 37, 45, 16, 1, 7, 7, 2, 2, 3, 3, 1, 1 },    // the stem's window
        new[] { 2, 3, 64, 60, 20, 1, 7, 7, 2, 2, 3, 3, 1, 1 },    // the stem's window over 1,920 pixels: AVX-512's 6x64 tile
        new[] { 1, 24, 28, 28, 20, 1, 3, 3, 1, 1, 1, 1, 1, 1 },   // 49 tiles of 4x4: Winograd with the kept kernel transform
        new[] { 2, 17, 10, 13, 22, 1, 3, 3, 1, 1, 0, 2, 1, 1 },   // 2 x 12 tiles, unequal padding: Winograd
        // Few pixels and many channels: the pixels become the tile's rows (PixelRowGemmConv) wherever the channels fill
        // two slivers of the kernel in use (128 with AVX-512, 32 with AVX2, 8 without SIMD) and there are at least 128 taps.
        new[] { 1, 32, 7, 7, 128, 1, 3, 3, 1, 1, 1, 1, 1, 1 },    // 49 pixels, 128 channels
        new[] { 3, 15, 6, 5, 136, 1, 3, 3, 1, 1, 1, 1, 2, 2 },    // dilated, three images in one set of rows, a partial sliver
        new[] { 1, 128, 9, 11, 192, 1, 1, 1, 2, 2, 0, 0, 1, 1 },  // pointwise, stride 2: a downsampling shortcut
        new[] { 2, 9, 8, 8, 130, 1, 5, 3, 2, 1, 2, 1, 1, 1 },     // unequal window, stride and padding per axis
        new[] { 1, 128, 40, 24, 140, 1, 1, 1, 1, 1, 0, 0, 1, 1 }, // 960 pixels: near the most this path takes
        new[] { 1, 40, 7, 7, 96, 1, 3, 3, 1, 1, 1, 1, 1, 1 },    // 49 pixels: AVX-512's 7-row tile, three K blocks, three slivers
        new[] { 1, 15, 5, 5, 72, 1, 3, 3, 1, 1, 1, 1, 1, 1 },    // 25 pixels: 7-row tiles with a partial last one, a partial sliver
        // AVX2's 6-row tile ends a GEMM of 6q + 1 … 6q + 3 pixel rows with a short tile (SgemmKernel6x16.RunFirstRows); 135 and
        // 153 taps are K blocks of odd depth (68 + 67, 77 + 76), so the unrolled steps' tails run too.
        new[] { 2, 17, 7, 7, 40, 1, 3, 3, 1, 1, 1, 1, 1, 1 },    // 98 pixels: a last tile of two rows, a partial sliver
        new[] { 3, 15, 7, 7, 48, 1, 3, 3, 1, 1, 1, 1, 1, 1 },    // 147 pixels: a last tile of three rows
        new[] { 1, 256, 14, 14, 64, 1, 1, 1, 2, 2, 0, 0, 1, 1 }, // 49 pixels of a stride-2 shortcut: one row, 256 taps
    };

    [Theory, MemberData(nameof(Geometries))]
    public void Forward_with_prepared_weights_matches_the_reference(int[] g)
    {
        var s = Shape(g);
        var x = Array.ConvertAll(Random(s.Batch * s.InChannels * s.Height * s.Width, 1), v => (float)v);
        var w = Array.ConvertAll(Random(s.OutChannels * s.ColRows, 2), v => (float)v);
        var b = Array.ConvertAll(Random(s.OutChannels, 3), v => (float)v);
        var expected = ConvReference.Forward(s, D(x), D(w), D(b));
        var prepared = new PreparedConvWeights(s.OutChannels, s.GroupIn, s.Window.KernelH, s.Window.KernelW, s.Groups);
        Assert.Equal(0, prepared.Bytes);
        for (int call = 0; call < 2; call++)
        {
            var y = new float[expected.Length];
            Conv2dKernels.Forward<float>(s, x, w, b, y, prepared);
            // Winograd's bound (32 eps Σ|x||w|) and direct summation both sit well inside this.
            Close(expected, D(y), 2e-4 * Math.Sqrt(s.ColRows), $"call {call}: y");
            bool direct = !WinogradConv.Applies(s) && (DirectConv.AppliesByChannels(s) || DirectConv.Applies(s));
            Assert.Equal(!direct, prepared.Bytes > 0); // the direct kernels read the weights as they are
        }
    }

    [Fact]
    public void Winograd_takes_32_tiles_or_more_or_16_with_the_kernel_kept()
    {
        var resnet128 = Shape([1, 128, 28, 28, 128, 1, 3, 3, 1, 1, 1, 1, 1, 1]);   // 49 tiles
        var resnet256 = Shape([1, 256, 14, 14, 256, 1, 3, 3, 1, 1, 1, 1, 1, 1]);   // 16 tiles: one block, the 16-wide GEMM tile
        var resnet512 = Shape([1, 512, 7, 7, 512, 1, 3, 3, 1, 1, 1, 1, 1, 1]);     // 4 tiles
        bool simd = Gemm.Selected != GemmKernelKind.Scalar;
        Assert.Equal(simd, WinogradConv.Applies(resnet128));
        Assert.Equal(simd, WinogradConv.Applies(resnet128, kernelPrepared: true));
        Assert.False(WinogradConv.Applies(resnet256));
        Assert.Equal(simd, WinogradConv.Applies(resnet256, kernelPrepared: true));
        Assert.False(WinogradConv.Applies(resnet512, kernelPrepared: true));
    }

    [Fact]
    public void Pixel_rows_take_layers_of_128_taps_or_more()
    {
        var shortcut64 = Shape([1, 64, 56, 56, 128, 1, 1, 1, 2, 2, 0, 0, 1, 1]);    // 64 taps, 784 pixels: the implicit GEMM
        var shortcut128 = Shape([1, 128, 28, 28, 256, 1, 1, 1, 2, 2, 0, 0, 1, 1]);  // 128 taps, 196 pixels
        var last = Shape([1, 512, 7, 7, 512, 1, 3, 3, 1, 1, 1, 1, 1, 1]);           // 4,608 taps, 49 pixels
        Assert.False(PixelRowGemmConv<SgemmKernel6x16>.Applies(shortcut64));
        Assert.True(PixelRowGemmConv<SgemmKernel6x16>.Applies(shortcut128));
        Assert.True(PixelRowGemmConv<SgemmKernel6x16>.Applies(last));
        Assert.False(PixelRowGemmConv<SgemmKernel6x16>.Applies(Shape([1, 14, 7, 7, 64, 1, 3, 3, 1, 1, 1, 1, 1, 1])));   // 126 taps
    }

    [Fact]
    public void Pixel_rows_take_seven_row_tiles_where_six_row_ones_compute_five_percent_more_rows()
    {
        Assert.True(Conv2dKernels.SevenRowTiles(Shape([1, 512, 7, 7, 512, 1, 3, 3, 1, 1, 1, 1, 1, 1])));    // 49: 54 rows against 49
        Assert.True(Conv2dKernels.SevenRowTiles(Shape([1, 256, 14, 14, 512, 1, 3, 3, 2, 2, 1, 1, 1, 1])));  // strided to 7x7
        Assert.True(Conv2dKernels.SevenRowTiles(Shape([1, 12, 5, 5, 72, 1, 3, 3, 1, 1, 1, 1, 1, 1])));      // 25: 30 against 28
        Assert.False(Conv2dKernels.SevenRowTiles(Shape([1, 256, 14, 14, 256, 1, 3, 3, 1, 1, 1, 1, 1, 1]))); // 196: 198 against 196
        Assert.False(Conv2dKernels.SevenRowTiles(Shape([1, 16, 6, 6, 128, 1, 3, 3, 1, 1, 1, 1, 1, 1])));    // 36: 36 against 42
    }

    [Theory]
    // (batch, in, h, w, out, groups, kh, kw, sh, sw, ph, pw, dh, dw): output rows of 7 or 14 pixels, stride 1 across
    // (the stride-2 ones pack, and must give the same bits too).
    [InlineData(new[] { 1, 64, 7, 7, 128, 1, 3, 3, 1, 1, 1, 1, 1, 1 })]     // a ResNet's last stage in small: 5 K blocks
    [InlineData(new[] { 1, 32, 8, 14, 96, 1, 3, 3, 2, 1, 1, 1, 1, 1 })]     // stride 2 down, 1 across: 4x14, three slivers
    [InlineData(new[] { 2, 40, 2, 7, 64, 1, 3, 3, 1, 1, 1, 1, 1, 1 })]      // two images of 2x7: tiles 2 and 3 in the second
    [InlineData(new[] { 1, 20, 11, 11, 70, 1, 3, 3, 1, 1, 0, 0, 2, 2 })]    // dilated, unpadded, a partial sliver
    [InlineData(new[] { 1, 128, 7, 7, 64, 1, 1, 1, 1, 1, 0, 0, 1, 1 })]     // pointwise: read from x itself, unpadded
    [InlineData(new[] { 1, 64, 14, 14, 128, 1, 3, 3, 2, 2, 1, 1, 1, 1 })]   // stride 2: packed on either setting
    [InlineData(new[] { 1, 128, 4, 14, 128, 1, 3, 3, 1, 1, 0, 1, 1, 1 })]   // rows of 14: two tiles a row, unequal padding
    public void Pixel_rows_read_from_the_input_give_the_packed_slivers_bits(int[] g)
    {
        var s = Shape(g);
        var x = Array.ConvertAll(Random(s.Batch * s.InChannels * s.Height * s.Width, 7), v => (float)v);
        var w = Array.ConvertAll(Random(s.OutChannels * s.ColRows, 8), v => (float)v);
        var b = Array.ConvertAll(Random(s.OutChannels, 9), v => (float)v);
        var expected = ConvReference.Forward(s, D(x), D(w), D(b));
        int saved = Parallelism.MaxDegreeOfParallelism;
        long savedGrain = ParallelFor.MinMultiplyAddsPerThread;
        try
        {
            Parallelism.MaxDegreeOfParallelism = 2;
            ParallelFor.MinMultiplyAddsPerThread = 1;
            bool avx512 = Gemm.Selected == GemmKernelKind.Vector512;
            // Where AVX-512's 7-row tile runs these shapes, it reads the input at stride 1 (elsewhere both runs pack or take other paths).
            Assert.Equal(avx512 && s.Window.StrideW == 1, avx512 && Conv2dKernels.SevenRowTiles(s) && PixelRowGemmConv<SgemmKernel7x32>.Applies(s) && PixelRowGemmConv<SgemmKernel7x32>.ReadsInput(s, 2));
            Assert.False(PixelRowGemmConv<SgemmKernel7x32>.ReadsInput(s, 1));
            var prepared = new PreparedConvWeights(s.OutChannels, s.GroupIn, s.Window.KernelH, s.Window.KernelW, s.Groups);
            var packed = new float[expected.Length];
            var fromInput = new float[expected.Length];
            Array.Fill(fromInput, float.NaN);
            PixelRowGemm.FromInput = false;
            Conv2dKernels.Forward<float>(s, x, w, b, packed, prepared);
            PixelRowGemm.FromInput = true;
            Conv2dKernels.Forward<float>(s, x, w, b, fromInput, prepared);
            Close(expected, D(fromInput), 2e-4 * Math.Sqrt(s.ColRows), "y");
            Assert.Equal(packed, fromInput);
            // A second call on another input: each thread pads it again (its scratch holds the first call's).
            var x2 = Array.ConvertAll(Random(x.Length, 10), v => (float)v);
            PixelRowGemm.FromInput = false;
            Conv2dKernels.Forward<float>(s, x2, w, b, packed, prepared);
            PixelRowGemm.FromInput = true;
            Conv2dKernels.Forward<float>(s, x2, w, b, fromInput, prepared);
            Assert.Equal(packed, fromInput);
        }
        finally
        {
            PixelRowGemm.FromInput = true;
            ParallelFor.MinMultiplyAddsPerThread = savedGrain;
            Parallelism.MaxDegreeOfParallelism = saved;
        }
    }

    [Fact]
    public void Prepared_weights_of_another_shape_are_refused()
    {
        var s = Shape([1, 4, 6, 6, 8, 1, 3, 3, 1, 1, 1, 1, 1, 1]);
        var other = new PreparedConvWeights(8, 4, 1, 1, 1);
        var ex = Assert.Throws<ArgumentException>(() => Conv2dKernels.Forward<float>(s, new float[144], new float[288], ReadOnlyMemory<float>.Empty, new float[288], other));
        Assert.Contains("prepared weights", ex.Message);
        Assert.Throws<ArgumentException>(() => new PreparedConvWeights(10, 4, 3, 3, 4));
    }

    [Theory]
    // 98 pixels and 150 channels: few slivers, so the output channels are split among the threads, which share one
    // packed copy of the slivers.
    [InlineData(new[] { 2, 20, 7, 7, 150, 1, 3, 3, 1, 1, 1, 1, 1, 1 })]
    // The same at batch 1 in two groups, and with stride 2 on a 14x14 input (a ResNet's downsampling layer).
    [InlineData(new[] { 1, 40, 7, 7, 300, 2, 3, 3, 1, 1, 1, 1, 1, 1 })]
    [InlineData(new[] { 1, 24, 14, 14, 160, 1, 3, 3, 2, 2, 1, 1, 1, 1 })]
    // Pixel rows: 196 pixels and 256 channels, split by slivers and by rows (15 input channels: 135 taps, not Winograd's).
    [InlineData(new[] { 1, 15, 14, 14, 256, 1, 3, 3, 1, 1, 1, 1, 1, 1 })]
    // Pixel rows: 49 pixels and 640 channels, more slivers than chunks on two threads (with AVX-512's 7-row tile: 20
    // slivers in 16 chunks), each chunk's weights prefetched from the one before.
    [InlineData(new[] { 1, 16, 7, 7, 640, 1, 3, 3, 1, 1, 1, 1, 1, 1 })]
    // Winograd with the kernel kept: 16 tiles, one block.
    [InlineData(new[] { 1, 32, 14, 14, 48, 1, 3, 3, 1, 1, 1, 1, 1, 1 })]
    public void Results_do_not_depend_on_the_thread_count(int[] shape)
    {
        var s = Shape(shape);
        var x = Array.ConvertAll(Random(s.Batch * s.InChannels * s.Height * s.Width, 4), v => (float)v);
        var w = Array.ConvertAll(Random(s.OutChannels * s.ColRows, 5), v => (float)v);
        var b = Array.ConvertAll(Random(s.OutChannels, 6), v => (float)v);
        var prepared = new PreparedConvWeights(s.OutChannels, s.GroupIn, 3, 3, s.Groups);
        SameOnOneTwoAndThreeThreads(() =>
        {
            var y = new float[s.Batch * s.OutChannels * s.OutPlane];
            Conv2dKernels.Forward<float>(s, x, w, b, y, prepared);
            return [y];
        });
    }
}
