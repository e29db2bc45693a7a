using System.Runtime.Intrinsics;
using Xunit.Abstractions;
using static Fovea.Kernels.Tests.ConvTestData;

namespace Fovea.Kernels.Tests;

/// <summary>
/// The stem and its pooling in one kernel (<see cref="ConvMaxPool"/>) against the three ops in turn (the convolution
/// with its ReLU, then <see cref="Pool2dKernels.MaxForwardValues{T}"/>): the same bits, on both stem kernels where the
/// machine has them (<see cref="PhaseRowConv"/> with AVX-512, the channel-major direct path otherwise, which hands over
/// its rows' maxima or, switched off, its rows), on one to three threads, with each worker of a segment taking all of
/// its blocks, and with ties of −0 and +0 in the windows.
/// </summary>
[Collection(nameof(ThreadSettingCollection))]
public unsafe class ConvMaxPoolTests(ITestOutputHelper output)
{
    /// <summary>A convolution row (batch, in, h, w, out, groups, kh, kw, sh, sw, ph, pw, dh, dw), then the pool (kh, kw, sh, sw, ph, pw, ceil).</summary>
    public static TheoryData<int[], int[]> Shapes => new()
    {
        { new[] { 1, 3, 224, 224, 64, 1, 7, 7, 2, 2, 3, 3, 1, 1 }, new[] { 3, 3, 2, 2, 1, 1, 0 } },   // ResNet's stem and pool
        { new[] { 2, 3, 23, 199, 32, 1, 7, 7, 2, 2, 3, 3, 1, 1 }, new[] { 3, 3, 2, 2, 1, 1, 1 } },    // 12 x 100, ceil mode, two images
        { new[] { 3, 1, 40, 200, 16, 1, 5, 5, 2, 2, 2, 2, 1, 1 }, new[] { 2, 2, 2, 2, 0, 0, 0 } },    // a 2x2 pool, one channel, three images
        { new[] { 1, 4, 61, 222, 32, 1, 3, 3, 2, 2, 1, 1, 1, 1 }, new[] { 3, 3, 1, 1, 1, 1, 0 } },    // a stride-1 pool: windows share two rows
        { new[] { 1, 2, 90, 210, 16, 1, 4, 4, 2, 2, 1, 1, 1, 1 }, new[] { 5, 3, 2, 2, 2, 1, 0 } },    // a 5-row window, an even kernel
    };

    private static Window2d Pool(int[] p) => new(p[0], p[1], p[2], p[3], p[4], p[5], 1, 1);

    /// <summary>The three ops in turn, and the fused kernel's output (NaN where it wrote nothing) on the path the flags select.</summary>
    private static (float[] Expected, float[] Fused) Both(in ConvShape s, float[] x, float[] w, float[]? b, Window2d pool, bool ceil, Func<ConvShape, float[], float[], float[]?, Window2d, int, int, float[]> fused)
    {
        var (ph, pw) = pool.OutputSize(s.OutH, s.OutW, ceil);
        var conv = new float[s.Batch * s.OutChannels * s.OutPlane];
        Conv2dKernels.Forward<float>(s, x, w, b ?? ReadOnlyMemory<float>.Empty, conv, null, default, relu: true);
        var expected = new float[s.Batch * s.OutChannels * ph * pw];
        Pool2dKernels.MaxForwardValues<float>(conv, s.Batch * s.OutChannels, s.OutH, s.OutW, pool, ph, pw, expected);
        return (expected, fused(s, x, w, b, pool, ph, pw));
    }

    private static float[] Fused(ConvShape s, float[] x, float[] w, float[]? b, Window2d pool, int ph, int pw)
    {
        var y = new float[s.Batch * s.OutChannels * ph * pw];
        Array.Fill(y, float.NaN);
        Conv2dKernels.ForwardReluMaxPool(s, x, w, b ?? ReadOnlyMemory<float>.Empty, y, pool, ph, pw);
        return y;
    }

    /// <summary>The stem kernels this machine has: the phase-row kernel (AVX-512) and the channel-major one (AVX2; on AVX-512 with its 512-bit tiles off).</summary>
    private static IEnumerable<bool> Paths() => Vector512.IsHardwareAccelerated ? [true, false] : [false];

    [Theory, MemberData(nameof(Shapes))]
    public void Gives_the_bits_of_the_convolution_its_relu_and_the_pooling_in_turn(int[] g, int[] p)
    {
        var s = Shape(g);
        var pool = Pool(p);
        bool ceil = p[6] != 0;
        var (ph, pw) = pool.OutputSize(s.OutH, s.OutW, ceil);
        Assert.Equal(Vector256.IsHardwareAccelerated && System.Runtime.Intrinsics.X86.Fma.IsSupported, ConvMaxPool.Applies(s, pool, ph, pw));
        if (!ConvMaxPool.Applies(s, pool, ph, pw)) return;
        var (x, w, b) = RandomConvInputs(s, 3);
        bool saved = DirectConv.Vector512Tiles;
        try
        {
            foreach (bool wide in Paths())
                foreach (bool inKernel in new[] { true, false })
                {
                    DirectConv.Vector512Tiles = wide;
                    ConvMaxPool.RowMaximaInKernel = inKernel;
                    Assert.Equal(!wide, DirectConv.StridedByChannels(s));
                    foreach (var bias in new[] { b, null })
                    {
                        var results = SameOnOneTwoAndThreeThreads(() =>
                        {
                            var (expected, fused) = Both(s, x, w, bias, pool, ceil, Fused);
                            Assert.Equal(expected, fused);
                            return [fused];
                        });
                        output.WriteLine($"{string.Join('x', g)} pool {string.Join('x', p)} wide {wide} row maxima in the kernel {inKernel} bias {bias is not null}: {results[0].Length} outputs, {results[0].Count(v => v == 0)} zeros");
                    }
                }
        }
        finally
        {
            DirectConv.Vector512Tiles = saved;
            ConvMaxPool.RowMaximaInKernel = true;
        }
    }

    [Theory, MemberData(nameof(Shapes))]
    public void Either_worker_can_take_a_whole_segment_and_segments_meet_anywhere(int[] g, int[] p)
    {
        var s = Shape(g);
        var pool = Pool(p);
        bool ceil = p[6] != 0;
        var (ph, pw) = pool.OutputSize(s.OutH, s.OutW, ceil);
        if (!ConvMaxPool.Applies(s, pool, ph, pw)) return;
        var (x, w, b) = RandomConvInputs(s, 5);
        foreach (int segments in new[] { 1, 2, 3 })
            foreach (bool reverse in new[] { false, true })
            {
                var (expected, fused) = Both(s, x, w, b, pool, ceil, (s1, x1, w1, b1, pool1, h1, w2) =>
                {
                    var y = new float[s1.Batch * s1.OutChannels * h1 * w2];
                    Array.Fill(y, float.NaN);
                    fixed (float* px = x1, pw1 = w1, pb = b1, py = y)
                        ConvMaxPool.ForwardSerial(s1, px, pw1, pb, py, pool1, h1, w2, segments, reverse);
                    return y;
                });
                Assert.True(expected.AsSpan().SequenceEqual(fused), $"{segments} segments, reverse {reverse}: the outputs differ");
            }
    }

    [Fact]
    public void Ties_of_signed_zeros_and_negative_windows_pool_as_the_ops_do()
    {
        // A bias of −0 on weights of zero makes every convolution output −0 before the ReLU and +0 after it; a bias of
        // −1 makes them negative and 0 after it. The pooling then sees only ties, whose first element it keeps.
        var s = Shape([1, 3, 40, 200, 32, 1, 7, 7, 2, 2, 3, 3, 1, 1]);
        var pool = new Window2d(3, 3, 2, 2, 1, 1, 1, 1);
        var (ph, pw) = pool.OutputSize(s.OutH, s.OutW, false);
        if (!ConvMaxPool.Applies(s, pool, ph, pw)) return;
        var (x, w, _) = RandomConvInputs(s, 7);
        for (int i = 0; i < w.Length; i += 2) w[i] = 0;
        var bias = new float[s.OutChannels];
        for (int o = 0; o < bias.Length; o++) bias[o] = o % 3 == 0 ? -0f : o % 3 == 1 ? -1000f : 0.5f;
        SameBitsBothWays(s, x, w, bias, pool, fused => Assert.Contains(fused, v => v == 0));
    }

    /// <summary>
    /// The fused kernel's bits against the ops in turn, with the row maxima from the kernel and from its rows, then
    /// <paramref name="check"/> on each output.
    /// </summary>
    private static void SameBitsBothWays(in ConvShape s, float[] x, float[] w, float[] b, Window2d pool, Action<float[]> check)
    {
        try
        {
            foreach (bool inKernel in new[] { true, false })
            {
                ConvMaxPool.RowMaximaInKernel = inKernel;
                var (expected, fused) = Both(s, x, w, b, pool, false, Fused);
                Assert.Equal(expected.Select(BitConverter.SingleToInt32Bits), fused.Select(BitConverter.SingleToInt32Bits));
                check(fused);
            }
        }
        finally { ConvMaxPool.RowMaximaInKernel = true; }
    }

    [Fact]
    public void A_nan_in_the_input_reaches_the_same_pooled_outputs_with_the_same_bits()
    {
        var s = Shape([1, 3, 40, 200, 16, 1, 7, 7, 2, 2, 3, 3, 1, 1]);
        var pool = new Window2d(3, 3, 2, 2, 1, 1, 1, 1);
        var (ph, pw) = pool.OutputSize(s.OutH, s.OutW, false);
        if (!ConvMaxPool.Applies(s, pool, ph, pw)) return;
        var (x, w, b) = RandomConvInputs(s, 9);
        x[1 * 40 * 200 + 17 * 200 + 101] = float.NaN; // channel 1, row 17, column 101
        x[2 * 40 * 200 + 0 * 200 + 0] = float.NaN;    // channel 2's corner
        SameBitsBothWays(s, x, w, b, pool, fused =>
        {
            Assert.Contains(fused, float.IsNaN);
            Assert.Contains(fused, v => !float.IsNaN(v));
        });
    }

    [Fact]
    public void Applies_to_the_stem_kernels_and_separable_windows()
    {
        var stem = Shape([1, 3, 224, 224, 64, 1, 7, 7, 2, 2, 3, 3, 1, 1]);
        var pool = new Window2d(3, 3, 2, 2, 1, 1, 1, 1);
        bool machine = Vector256.IsHardwareAccelerated && System.Runtime.Intrinsics.X86.Fma.IsSupported;
        Assert.Equal(machine, ConvMaxPool.Applies(stem, pool, 56, 56));
        Assert.False(ConvMaxPool.Applies(stem, new Window2d(3, 3, 2, 2, 1, 1, 2, 2), 55, 55));                     // dilated pool
        Assert.False(ConvMaxPool.Applies(stem, new Window2d(2, 2, 3, 3, 0, 0, 1, 1), 38, 38));                     // rows stride past the window
        Assert.False(ConvMaxPool.Applies(Shape([1, 3, 112, 112, 64, 1, 3, 3, 1, 1, 1, 1, 1, 1]), pool, 56, 56));    // stride 1: not a stem kernel
        Assert.False(ConvMaxPool.Applies(Shape([1, 8, 224, 224, 64, 1, 7, 7, 2, 2, 3, 3, 1, 1]), pool, 56, 56));    // 8 input channels
        Assert.False(ConvMaxPool.Applies(Shape([0, 3, 224, 224, 64, 1, 7, 7, 2, 2, 3, 3, 1, 1]), pool, 56, 56));    // no images
        try
        {
            ConvMaxPool.Enabled = false;
            Assert.False(ConvMaxPool.Applies(stem, pool, 56, 56));
        }
        finally { ConvMaxPool.Enabled = true; }
    }
}
