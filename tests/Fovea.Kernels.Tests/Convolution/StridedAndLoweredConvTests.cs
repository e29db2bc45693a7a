using static Fovea.Kernels.Tests.ConvTestData;

namespace Fovea.Kernels.Tests;

/// <summary>
/// The two forward paths of <see cref="ImplicitGemmConv{T, TKernel}"/> that ResNets lean on, against the plain loops of
/// <see cref="ConvReference"/>: stride-2 windows packed eight pixels at a time (the 3x3 and 1x1 downsampling layers;
/// rows wide enough for the vector moves, padding on both sides, odd widths), large strided windows packed from the
/// image's column phases (the 7x7 stem, a 5x5 window with dilation and groups, stride 3), and the lowered
/// im2col + GEMM form that serves layers with no more output pixels than output channels (a ResNet's last stages
/// at batch 1), in float32 and float64, with bias, groups and several images, at any thread count.
/// </summary>
[Collection(nameof(ThreadSettingCollection))]
public class StridedAndLoweredConvTests
{
    /// <summary>(batch, in, h, w, out, groups, kh, kw, sh, sw, ph, pw, dh, dw).</summary>
    public static TheoryData<int[]> Geometries => new()
    {
        new[] { 1, 3, 37, 45, 8, 1, 7, 7, 2, 2, 3, 3, 1, 1 },     // the stem's window: 23-pixel output rows
        new[] { 2, 4, 34, 66, 12, 1, 3, 3, 2, 2, 1, 1, 1, 1 },    // 3x3 stride 2, 33 pixels a row (four vectors and one)
        new[] { 1, 16, 56, 56, 64, 1, 3, 3, 2, 2, 1, 1, 1, 1 },   // ResNet-18's 64 -> 128 layer in small: 784 pixels, items split finer on 2-3 threads
        new[] { 1, 6, 40, 40, 10, 2, 1, 1, 2, 2, 0, 0, 1, 1 },    // 1x1 stride 2, two groups
        new[] { 2, 3, 29, 51, 7, 1, 5, 3, 2, 2, 0, 2, 2, 1 },     // stride 2 with dilation, no padding in height
        new[] { 1, 2, 21, 40, 5, 1, 3, 3, 2, 2, 4, 5, 1, 1 },     // padding wider than the window (whole rows of zeros)
        new[] { 2, 4, 23, 31, 6, 2, 5, 5, 2, 2, 3, 2, 1, 2 },     // phases: 5x5 stride 2, dilated columns, two groups
        new[] { 1, 3, 26, 41, 5, 1, 7, 7, 3, 3, 3, 1, 1, 1 },     // phases: stride 3, unequal padding
        new[] { 1, 3, 160, 150, 13, 1, 7, 7, 2, 2, 3, 3, 1, 1 },  // phases on the 6x64 tile: 75-pixel rows (a run of 64, one of 11), 13 channels
        new[] { 2, 40, 40, 140, 16, 2, 5, 5, 2, 2, 2, 2, 1, 1 },  // phases on the 6x64 tile: two K blocks, two groups, two images
        new[] { 1, 3, 70, 140, 6, 1, 5, 5, 2, 2, 4, 4, 2, 2 },    // phases on the 6x64 tile: dilated, one row tile
        new[] { 1, 16, 7, 7, 64, 1, 3, 3, 1, 1, 1, 1, 1, 1 },     // lowered: 49 pixels, 64 channels
        new[] { 1, 8, 14, 14, 64, 1, 3, 3, 2, 2, 1, 1, 1, 1 },    // lowered and strided: 49 pixels
        new[] { 2, 8, 4, 4, 64, 1, 3, 3, 1, 1, 1, 1, 1, 1 },      // lowered, two images side by side
        new[] { 2, 8, 6, 6, 64, 2, 3, 3, 2, 2, 1, 1, 1, 1 },      // lowered, strided, two images, two groups
        new[] { 3, 10, 4, 4, 48, 1, 1, 1, 1, 1, 0, 0, 1, 1 },     // lowered pointwise over three images
    };

    /// <summary>Float32 input, weights and bias from seeds <paramref name="seed"/> to seed + 2, and the float64 reference output.</summary>
    private static (float[] X, float[] W, float[] B, double[] Expected) Float32Data(in ConvShape s, int seed)
    {
        var x = Array.ConvertAll(Random(s.Batch * s.InChannels * s.Height * s.Width, seed), v => (float)v);
        var w = Array.ConvertAll(Random(s.OutChannels * s.ColRows, seed + 1), v => (float)v);
        var b = Array.ConvertAll(Random(s.OutChannels, seed + 2), v => (float)v);
        return (x, w, b, ConvReference.Forward(s, D(x), D(w), D(b)));
    }

    [Fact]
    public void The_geometries_take_the_paths_they_name()
    {
        var rows = ((IEnumerable<object[]>)Geometries).Select(r => Shape((int[])r[0])).ToArray();
        Assert.Equal(11, rows.Count(s => !ImplicitGemmConv<float, SgemmKernelScalar4x4>.UsesLoweredGemm(s) && s.Window.StrideW > 1));
        Assert.Equal(6, rows.Count(s => !ImplicitGemmConv<float, SgemmKernelScalar4x4>.UsesLoweredGemm(s) && ImplicitGemmConv<float, SgemmKernelScalar4x4>.UsesPolyphase(s)));
        Assert.Equal(3, rows.Count(s => ImplicitGemmConv<float, SgemmKernelScalar4x4>.UsesPolyphase(s) && Conv2dKernels.WideTiles(s)));
        Assert.Equal(5, rows.Count(s => ImplicitGemmConv<float, SgemmKernelScalar4x4>.UsesLoweredGemm(s)));
    }

    [Theory, MemberData(nameof(Geometries))]
    public void Float32_forward_matches_reference(int[] g)
    {
        var s = Shape(g);
        var (x, w, b, expected) = Float32Data(s, 1);
        var y = new float[expected.Length];
        Conv2dKernels.Forward<float>(s, x, w, b, y);
        Close(expected, D(y), 1e-4 * Math.Sqrt(s.ColRows), "y");
        var unbiased = new float[expected.Length];
        Conv2dKernels.Forward<float>(s, x, w, ReadOnlyMemory<float>.Empty, unbiased);
        Close(ConvReference.Forward(s, D(x), D(w), []), D(unbiased), 1e-4 * Math.Sqrt(s.ColRows), "y without bias");
    }

    [Theory, MemberData(nameof(Geometries))]
    public void Float32_forward_with_prepared_weights_matches_reference(int[] g)
    {
        // Prepared weights keep the small planes on the implicit GEMM (runs of a few pixels, partial last slivers) and,
        // on two threads with few slivers, on the copy of the slivers that the row chunks share.
        var s = Shape(g);
        var (x, w, b, expected) = Float32Data(s, 7);
        int saved = Parallelism.MaxDegreeOfParallelism;
        long savedMacs = ParallelFor.MinMultiplyAddsPerThread, savedBytes = ParallelFor.MinBytesPerThread;
        try
        {
            // The column phases are then written on two threads too.
            ParallelFor.MinMultiplyAddsPerThread = 1;
            ParallelFor.MinBytesPerThread = 1;
            // Each call follows one on other data on one thread, so the buffers it rents (the column phases, the shared
            // slivers) hold that data: a row or sliver the call failed to write would show.
            var other = Array.ConvertAll(Random(x.Length, 10), v => (float)v);
            foreach (int threads in new[] { 1, 2 })
            {
                var prepared = new PreparedConvWeights(s.OutChannels, s.GroupIn, s.Window.KernelH, s.Window.KernelW, s.Groups);
                var y = new float[expected.Length];
                Parallelism.MaxDegreeOfParallelism = 1;
                Conv2dKernels.Forward<float>(s, other, w, b, y, prepared);
                Parallelism.MaxDegreeOfParallelism = threads;
                Conv2dKernels.Forward<float>(s, x, w, b, y, prepared);
                Close(expected, D(y), 1e-4 * Math.Sqrt(s.ColRows), $"y on {threads} threads");
            }
        }
        finally
        {
            Parallelism.MaxDegreeOfParallelism = saved;
            ParallelFor.MinMultiplyAddsPerThread = savedMacs;
            ParallelFor.MinBytesPerThread = savedBytes;
        }
    }

    /// <summary>The geometries that take the column-phase path (six of them).</summary>
    public static TheoryData<int[]> PhaseGeometries
    {
        get
        {
            var rows = new TheoryData<int[]>();
            foreach (var r in (IEnumerable<object[]>)Geometries)
            {
                var s = Shape((int[])r[0]);
                if (ImplicitGemmConv<float, SgemmKernel6x64>.UsesPolyphase(s) && !ImplicitGemmConv<float, SgemmKernel6x64>.UsesLoweredGemm(s)) rows.Add((int[])r[0]);
            }
            return rows;
        }
    }

    [Theory, MemberData(nameof(PhaseGeometries))]
    public unsafe void The_6x64_tile_reads_the_phases_in_place_with_the_packed_paths_bits(int[] g)
    {
        // Run on the 6x64 tile whatever the machine picks (Vector512 works without AVX-512, only slower), so the in-place
        // phase path is checked everywhere CI runs, against the packed path and the reference, on one and two threads.
        var s = Shape(g);
        var (x, w, b, expected) = Float32Data(s, 11);
        int saved = Parallelism.MaxDegreeOfParallelism;
        long savedMacs = ParallelFor.MinMultiplyAddsPerThread;
        try
        {
            ParallelFor.MinMultiplyAddsPerThread = 1;
            foreach (int threads in new[] { 1, 2 })
            {
                Parallelism.MaxDegreeOfParallelism = threads;
                foreach (bool biased in new[] { true, false })
                {
                    var inPlace = Run(true, biased);
                    Assert.Equal(Run(false, biased), inPlace);
                    if (biased) Close(expected, D(inPlace), 1e-4 * Math.Sqrt(s.ColRows), $"y on {threads} threads");
                }
            }
        }
        finally
        {
            PhaseRows.Enabled = true;
            Parallelism.MaxDegreeOfParallelism = saved;
            ParallelFor.MinMultiplyAddsPerThread = savedMacs;
        }

        float[] Run(bool inPlace, bool biased)
        {
            PhaseRows.Enabled = inPlace;
            // Stale values where the output starts, so a pixel the path failed to write shows.
            var y = Enumerable.Repeat(float.NaN, expected.Length).ToArray();
            fixed (float* px = x, pw = w, pb = b, py = y)
                ImplicitGemmConv<float, SgemmKernel6x64>.Forward(s, px, pw, biased ? pb : null, py);
            return y;
        }
    }

    [Theory, MemberData(nameof(Geometries))]
    public void Float64_forward_matches_reference(int[] g)
    {
        var s = Shape(g);
        var x = Random(s.Batch * s.InChannels * s.Height * s.Width, 4);
        var w = Random(s.OutChannels * s.ColRows, 5);
        var b = Random(s.OutChannels, 6);
        var y = new double[s.Batch * s.OutChannels * s.OutPlane];
        Conv2dKernels.Forward<double>(s, x, w, b, y);
        Close(ConvReference.Forward(s, x, w, b), y, 1e-12, "y");
    }

    [Theory, MemberData(nameof(Geometries))]
    public void Forward_does_not_depend_on_the_thread_count(int[] g)
    {
        var s = Shape(g);
        var x = Array.ConvertAll(Random(s.Batch * s.InChannels * s.Height * s.Width, 7), v => (float)v);
        var w = Array.ConvertAll(Random(s.OutChannels * s.ColRows, 8), v => (float)v);
        SameOnOneTwoAndThreeThreads(() =>
        {
            var y = new float[s.Batch * s.OutChannels * s.OutPlane];
            Conv2dKernels.Forward<float>(s, x, w, ReadOnlyMemory<float>.Empty, y);
            return [y];
        });
    }

}
