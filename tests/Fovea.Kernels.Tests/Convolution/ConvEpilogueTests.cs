using System.Numerics.Tensors;
using static Fovea.Kernels.Tests.ConvTestData;

namespace Fovea.Kernels.Tests;

/// <summary>
/// The convolution with its residual and ReLU (<see cref="Conv2dKernels.Forward{T}(in ConvShape, ReadOnlyMemory{T}, ReadOnlyMemory{T}, ReadOnlyMemory{T}, Memory{T}, PreparedConvWeights?, ReadOnlyMemory{T}, bool)"/>),
/// applied by the kernels that have the epilogue (<see cref="ConvEpilogue"/>) or by the pass after the others: on every
/// forward path the bits of the convolution followed by the separate passes (round(y + r), then the IEEE maximum with
/// 0, as <c>TensorPrimitives</c> computes them), on one, two and three threads, in the kernel or not.
/// </summary>
[Collection(nameof(ThreadSettingCollection))]
public sealed class ConvEpilogueTests
{
    /// <summary>Geometry rows (batch, in, h, w, out, groups, kh, kw, sh, sw, ph, pw, dh, dw) and whether the weights are prepared.</summary>
    public static TheoryData<int[], bool> Geometries => new()
    {
        { [2, 16, 18, 18, 40, 1, 3, 3, 1, 1, 1, 1, 1, 1], false },    // Winograd F(4x4, 3x3): 50 tiles, the edge ones cut
        { [1, 32, 14, 14, 48, 1, 3, 3, 1, 1, 1, 1, 1, 1], true },     // 3x3 at 14², prepared: Winograd with few tiles, or pixel rows
        { [1, 64, 13, 11, 70, 1, 3, 3, 1, 1, 1, 1, 1, 1], true },     // Winograd F(2x2, 3x3): the last tile row and column cut
        { [1, 64, 28, 28, 64, 1, 3, 3, 1, 1, 1, 1, 1, 1], true },     // a ResNet 28² layer, prepared
        { [3, 6, 14, 14, 16, 1, 5, 5, 1, 1, 0, 0, 1, 1], false },     // LeNet's c3: direct, channel-major
        { [2, 1, 28, 28, 6, 1, 5, 5, 1, 1, 2, 2, 1, 1], false },      // LeNet's c1: direct, row tiles
        { [2, 3, 60, 210, 17, 1, 7, 7, 2, 2, 3, 3, 1, 1], false },    // a stem's stride-2 columns on 105-pixel rows
        { [2, 3, 50, 62, 32, 1, 7, 7, 2, 2, 3, 3, 1, 1], false },     // a stem with whole tiles of 16 channels: channel-major bands (AVX2)
        { [1, 40, 7, 7, 96, 1, 3, 3, 1, 1, 1, 1, 1, 1], true },       // 49 pixels: pixel rows (read in place on two threads)
        { [1, 32, 14, 14, 40, 1, 3, 3, 2, 2, 1, 1, 1, 1], true },     // pixel rows at stride 2
        { [1, 16, 56, 56, 40, 1, 3, 3, 2, 2, 1, 1, 1, 1], false },    // 3x3 stride 2: implicit GEMM packing slivers
        { [2, 16, 46, 46, 70, 1, 3, 3, 2, 2, 1, 1, 1, 1], true },     // 3x3 stride 2 onto 23², 70 channels: the phase grid
        { [2, 8, 66, 66, 20, 1, 3, 3, 2, 2, 1, 1, 1, 1], false },     // the same on 2178 output pixels: the wide tile
        { [1, 5, 70, 70, 20, 1, 7, 7, 2, 2, 3, 3, 1, 1], false },     // 7x7 stride 2, 5 channels: the wide tile on the column phases in place
        { [2, 8, 16, 16, 24, 1, 3, 3, 1, 1, 2, 2, 2, 2], false },     // dilated: implicit GEMM packing slivers
        { [1, 32, 15, 15, 48, 1, 1, 1, 2, 2, 0, 0, 1, 1], false },    // a 1x1 stride-2 shortcut: the strided 1x1 path
        { [2, 20, 23, 21, 70, 1, 1, 1, 2, 2, 0, 0, 1, 1], true },     // the same onto 12 x 11, 70 channels: a short sliver and row tile
        { [1, 40, 14, 14, 48, 1, 1, 1, 2, 2, 0, 0, 1, 1], true },     // onto 7², prepared: pixel rows (AVX-512: a short sliver)
        { [1, 64, 2, 2, 80, 1, 3, 3, 1, 1, 1, 1, 1, 1], false },      // 4 pixels, 80 channels: im2col and one GEMM
        { [2, 8, 12, 12, 8, 4, 3, 3, 1, 1, 1, 1, 1, 1], false },      // groups
    };

    [Theory, MemberData(nameof(Geometries))]
    public void Residual_and_relu_in_the_kernels_give_the_bits_of_the_separate_passes(int[] g, bool prepare)
    {
        var s = Shape(g);
        var (x, w, b) = RandomConvInputs(s, 1);
        int n = s.Batch * s.OutChannels * s.OutPlane;
        var prepared = prepare ? new PreparedConvWeights(s.OutChannels, s.GroupIn, s.Window.KernelH, s.Window.KernelW, s.Groups) : null;
        var plain = new float[n];
        Conv2dKernels.Forward<float>(s, x, w, b, plain, prepared);
        var residual = Residual(plain);

        var results = SameOnOneTwoAndThreeThreads(() =>
        {
            float[] joined = Filled(n), rectified = Filled(n), added = Filled(n);
            Conv2dKernels.Forward<float>(s, x, w, b, joined, prepared, residual, relu: true);
            Conv2dKernels.Forward<float>(s, x, w, b, rectified, prepared, default, relu: true);
            Conv2dKernels.Forward<float>(s, x, w, b, added, prepared, residual, relu: false);
            // Every epilogue as the pass after the convolution: the same bits.
            float[] passed = Filled(n);
            Conv2dKernels.EpiloguesInKernels = false;
            try { Conv2dKernels.Forward<float>(s, x, w, b, passed, prepared, residual, relu: true); }
            finally { Conv2dKernels.EpiloguesInKernels = true; }
            return [joined, rectified, added, passed];
        });

        var sum = new float[n];
        TensorPrimitives.Add(plain, residual, sum);
        var join = new float[n];
        TensorPrimitives.Max(sum, 0f, join);
        var relu = new float[n];
        TensorPrimitives.Max(plain, 0f, relu);
        SameBits(join, results[0], "relu(conv + residual)");
        SameBits(relu, results[1], "relu(conv)");
        SameBits(sum, results[2], "conv + residual");
        SameBits(join, results[3], "relu(conv + residual) as a pass after the convolution");
        Assert.Contains(results[0], v => v == 0f);
        Assert.Contains(results[0], v => v > 0f);
    }

    [Fact]
    public void The_stem_and_small_winograd_layers_on_two_threads_run_the_epilogue_in_their_kernels()
    {
        var stem = Shape([1, 3, 224, 224, 64, 1, 7, 7, 2, 2, 3, 3, 1, 1]);
        var layer1 = Shape([1, 64, 56, 56, 64, 1, 3, 3, 1, 1, 1, 1, 1, 1]);
        var layer1Batch16 = Shape([16, 64, 56, 56, 64, 1, 3, 3, 1, 1, 1, 1, 1, 1]);
        var down = Shape([1, 64, 56, 56, 128, 1, 3, 3, 2, 2, 1, 1, 1, 1]);
        var layer4 = Shape([1, 512, 7, 7, 512, 1, 3, 3, 1, 1, 1, 1, 1, 1]);
        var shortcut = Shape([1, 64, 56, 56, 128, 1, 1, 1, 2, 2, 0, 0, 1, 1]);
        int saved = Parallelism.MaxDegreeOfParallelism;
        try
        {
            Parallelism.MaxDegreeOfParallelism = 2;
            Assert.Equal(PhaseRowConv.Applies(stem) || DirectConv.StridedByChannels(stem), Conv2dKernels.EpilogueInKernel<float>(stem, null));
            Assert.Equal(WinogradConv.Applies(layer1), Conv2dKernels.EpilogueInKernel<float>(layer1, null));
            Assert.False(Conv2dKernels.EpilogueInKernel<float>(layer1Batch16, null));
            Assert.Equal(PhaseGridConv.Applies(down), Conv2dKernels.EpilogueInKernel<float>(down, null));
            Assert.Equal(PointwiseConv.Applies(shortcut), Conv2dKernels.EpilogueInKernel<float>(shortcut, null));
            Assert.False(Conv2dKernels.EpilogueInKernel<float>(layer4, null));
            Assert.False(Conv2dKernels.EpilogueInKernel<double>(layer1, null));
            Parallelism.MaxDegreeOfParallelism = 1;
            Assert.False(Conv2dKernels.EpilogueInKernel<float>(layer1, null));
            Assert.Equal(PhaseRowConv.Applies(stem) || DirectConv.StridedByChannels(stem), Conv2dKernels.EpilogueInKernel<float>(stem, null));
            Assert.True(PhaseRowConv.Applies(stem) ^ DirectConv.StridedByChannels(stem) || !System.Runtime.Intrinsics.X86.Fma.IsSupported);
        }
        finally { Parallelism.MaxDegreeOfParallelism = saved; }
    }

    [Fact]
    public void Float64_runs_the_epilogue_too()
    {
        foreach (var g in new[] { new[] { 2, 5, 9, 9, 7, 1, 3, 3, 1, 1, 1, 1, 1, 1 }, [1, 16, 2, 2, 20, 1, 3, 3, 1, 1, 1, 1, 1, 1] })
        {
            var s = Shape(g);
            var x = Random(s.Batch * s.InChannels * s.Height * s.Width, 4);
            var w = Random(s.OutChannels * s.ColRows, 5);
            var b = Random(s.OutChannels, 6);
            int n = s.Batch * s.OutChannels * s.OutPlane;
            var plain = new double[n];
            Conv2dKernels.Forward<double>(s, x, w, b, plain);
            var residual = Random(n, 7);
            var fused = new double[n];
            Conv2dKernels.Forward<double>(s, x, w, b, fused, null, residual, relu: true);
            for (int i = 0; i < n; i++) Assert.Equal(Math.Max(plain[i] + residual[i], 0), fused[i]);
        }
    }

    [Fact]
    public void A_residual_of_another_size_or_overlapping_the_output_is_refused()
    {
        var s = Shape([1, 2, 5, 5, 3, 1, 3, 3, 1, 1, 1, 1, 1, 1]);
        var x = RandomFloats(50, 1);
        var w = RandomFloats(54, 2);
        var y = new float[75];
        var e = Assert.Throws<ArgumentException>(() => Conv2dKernels.Forward<float>(s, x, w, default, y, null, new float[74], relu: true));
        Assert.Contains("74", e.Message);
        var both = new float[150];
        Assert.Throws<ArgumentException>(() => Conv2dKernels.Forward<float>(s, x, w, default, both.AsMemory(0, 75), null, both.AsMemory(40, 75), relu: true));
    }

    [Fact]
    public unsafe void Every_vector_width_and_the_scalar_tail_round_and_rectify_as_the_separate_passes()
    {
        // Runs of 1 to 40 elements reach the 16-, 8- and 4-wide steps and the scalar tail; the values include NaN, ±0,
        // sums that are exactly zero or −0 (−0 + −0), and ±∞.
        float[] special = [float.NaN, -0f, 0f, 1.5f, -1.5f, float.PositiveInfinity, float.NegativeInfinity, 2.5e-38f, -3f];
        for (int len = 1; len <= 40; len++)
        {
            var src = RandomFloats(len, len);
            var r = RandomFloats(len, 100 + len);
            for (int i = 0; i < len; i++)
            {
                if (i % 3 == 0) (src[i], r[i]) = (special[i % special.Length], special[(i / 3) % special.Length]);
                if (i % 5 == 1) r[i] = -src[i];
            }
            foreach (bool withResidual in new[] { false, true })
                foreach (bool relu in new[] { false, true })
                {
                    var expected = (float[])src.Clone();
                    if (withResidual) TensorPrimitives.Add(src, r, expected);
                    if (relu) TensorPrimitives.Max(expected, 0f, expected);
                    var y = new float[len];
                    var inPlace = (float[])src.Clone();
                    fixed (float* py = y, pr = r, ps = src, pi = inPlace)
                    {
                        new ConvEpilogue(py, withResidual ? pr : null, relu).Copy(ps, py, len);
                        new ConvEpilogue(pi, withResidual ? pr : null, relu).Run(pi, len);
                    }
                    SameBits(expected, y, $"copy of {len}, residual {withResidual}, relu {relu}");
                    SameBits(expected, inPlace, $"in place, {len}, residual {withResidual}, relu {relu}");

                    // A tile's rows with a bias first (two rows of len, the second a copy of the first with the
                    // residual shifted by one row): round(src + bias), then the same passes.
                    float[] bias = [special[len % special.Length], 0.25f];
                    var biased = new float[2 * len];
                    for (int row = 0; row < 2; row++)
                        for (int i = 0; i < len; i++) biased[row * len + i] = src[i] + bias[row];
                    var rowsExpected = (float[])biased.Clone();
                    var rowResidual = new float[2 * len];
                    r.CopyTo(rowResidual, 0);
                    r.CopyTo(rowResidual, len);
                    if (withResidual) TensorPrimitives.Add(biased, rowResidual, rowsExpected);
                    if (relu) TensorPrimitives.Max(rowsExpected, 0f, rowsExpected);
                    var tile = new float[2 * len];
                    src.CopyTo(tile, 0);
                    src.CopyTo(tile, len);
                    var rows = new float[2 * len];
                    fixed (float* pt = tile, prow = rows, prr = rowResidual, pb = bias)
                        new ConvEpilogue(prow, withResidual ? prr : null, relu).Rows(pt, len, prow, len, 2, len, pb);
                    SameBits(rowsExpected, rows, $"rows of {len} with a bias, residual {withResidual}, relu {relu}");
                }
        }
    }

    /// <summary>
    /// A residual that puts some sums below zero, some at exactly zero (r = −y), some above, NaN into a few, and adds
    /// −0 to others (which leaves y as it is).
    /// </summary>
    private static float[] Residual(float[] y)
    {
        var r = RandomFloats(y.Length, 11);
        for (int i = 0; i < r.Length; i += 7) r[i] = -y[i];
        for (int i = 3; i < r.Length; i += 101) r[i] = float.NaN;
        for (int i = 5; i < r.Length; i += 13) r[i] = -0f;
        return r;
    }

    private static float[] Filled(int n)
    {
        var a = new float[n];
        Array.Fill(a, 12345f);
        return a;
    }

    private static void SameBits(float[] expected, float[] actual, string what)
    {
        for (int i = 0; i < expected.Length; i++)
        {
            bool same = float.IsNaN(expected[i]) ? float.IsNaN(actual[i]) : BitConverter.SingleToInt32Bits(expected[i]) == BitConverter.SingleToInt32Bits(actual[i]);
            Assert.True(same, $"{what}: element {i} is {actual[i]}, expected {expected[i]}");
        }
    }
}
