using static Fovea.Kernels.Tests.ConvTestData;

namespace Fovea.Kernels.Tests.Threading;

/// <summary>
/// The work-size rule (<see cref="ParallelFor.ThreadsForMultiplyAdds"/>, <see cref="ParallelFor.ThreadsForBytes"/>):
/// how many threads a call of a given size gets, and that the kernels which follow it give the same bits whatever it
/// picks (the per-thread minimum is lowered here so that small shapes run the threaded paths).
/// </summary>
[Collection(nameof(ThreadSettingCollection))]
public class WorkSizeRuleTests
{
    [Theory]
    [InlineData(1, 0L, 1)]
    [InlineData(2, 1L, 1)]
    [InlineData(2, 2_000_000L, 1)]        // under two shares: one thread
    [InlineData(2, 3_070_000L, 2)]        // LeNet's fc1 (64x400x120) at batch 64: two threads
    [InlineData(2, 7_500_000L, 2)]        // LeNet c1 forward at batch 64: two
    [InlineData(4, 3_070_000L, 2)]
    [InlineData(8, 15_400_000L, 8)]       // LeNet c3 forward at batch 64: eight shares and more
    [InlineData(16, 15_400_000L, 14)]
    [InlineData(8, 1L << 30, 8)]
    [InlineData(1, 1L << 30, 1)]
    public void Threads_grow_with_the_multiply_adds_up_to_the_setting(int setting, long macs, int expected)
    {
        int saved = Parallelism.MaxDegreeOfParallelism;
        try
        {
            Parallelism.MaxDegreeOfParallelism = setting;
            Assert.Equal(1_048_576L, ParallelFor.MinMultiplyAddsPerThread);
            Assert.Equal(expected, ParallelFor.ThreadsForMultiplyAdds(macs));
        }
        finally { Parallelism.MaxDegreeOfParallelism = saved; }
    }

    [Fact]
    public void Bytes_rule_and_no_nesting_inside_a_region()
    {
        int saved = Parallelism.MaxDegreeOfParallelism;
        try
        {
            Parallelism.MaxDegreeOfParallelism = 2;
            Assert.Equal(1, ParallelFor.ThreadsForBytes(ParallelFor.MinBytesPerThread * 2 - 1));
            Assert.Equal(2, ParallelFor.ThreadsForBytes(ParallelFor.MinBytesPerThread * 2));
            // The same rule as a grain: LeNet's first pooling (384 planes of 28² + 14² floats and 14² indices, 1.8 MB)
            // and VGG's (2,048 planes of 56² + 28², 32 MB) take both threads; one image's pooling at LeNet's first
            // layer (6 planes, 28 KB) stays on one.
            long lenetPlane = (28 * 28 + 14 * 14) * 4 + 14 * 14 * 4, vggPlane = (56 * 56 + 28 * 28) * 4;
            Assert.Equal(2, ParallelFor.ChunkCount(384, ParallelFor.GrainForBytes(lenetPlane)));
            Assert.Equal(1, ParallelFor.ChunkCount(6, ParallelFor.GrainForBytes(lenetPlane)));
            Assert.Equal(2, ParallelFor.ChunkCount(2048, ParallelFor.GrainForBytes(vggPlane)));
            Assert.Equal(1, ParallelFor.GrainForBytes(ParallelFor.MinBytesPerThread * 3));
            Assert.Equal(ParallelFor.MinBytesPerThread, ParallelFor.GrainForBytes(0));
            var inner = new int[2];
            ParallelFor.ForChunks(2, c => inner[c] = ParallelFor.ThreadsForMultiplyAdds(1L << 40));
            Assert.Equal([1, 1], inner);
        }
        finally { Parallelism.MaxDegreeOfParallelism = saved; }
    }

    /// <summary>LeNet-5's two convolutions (small batch): forward, input and weight gradients on 1–3 threads, bit for bit.</summary>
    [Theory]
    [InlineData(new[] { 5, 1, 28, 28, 6, 1, 5, 5, 1, 1, 2, 2, 1, 1 })]
    [InlineData(new[] { 5, 6, 14, 14, 16, 1, 5, 5, 1, 1, 0, 0, 1, 1 })]
    [InlineData(new[] { 3, 4, 9, 11, 24, 1, 3, 3, 1, 1, 1, 1, 1, 1 })] // 24 channels: the channel-major variant
    public void Small_convolutions_give_the_same_bits_on_any_thread_count(int[] geometry)
    {
        var s = Shape(geometry);
        var x = Array.ConvertAll(Random(s.Batch * s.InChannels * s.Height * s.Width, 1), v => (float)v);
        var w = Array.ConvertAll(Random(s.OutChannels * s.ColRows, 2), v => (float)v);
        var b = Array.ConvertAll(Random(s.OutChannels, 3), v => (float)v);
        var dy = Array.ConvertAll(Random(s.Batch * s.OutChannels * s.OutPlane, 4), v => (float)v);
        WithSmallShares(() =>
        {
            float[]? y1 = null, dx1 = null, dw1 = null;
            foreach (int threads in new[] { 1, 2, 3 })
            {
                Parallelism.MaxDegreeOfParallelism = threads;
                Assert.True(threads == 1 || ParallelFor.ThreadsForMultiplyAdds(s.Batch * s.MacsPerImage) > 1);
                var y = new float[dy.Length];
                var dx = new float[x.Length];
                var dw = new float[w.Length];
                Conv2dKernels.Forward<float>(s, x, w, b, y);
                Conv2dKernels.BackwardInput<float>(s, dy, w, dx);
                Conv2dKernels.BackwardWeight<float>(s, x, dy, dw);
                y1 ??= y;
                dx1 ??= dx;
                dw1 ??= dw;
                Assert.True(y1.AsSpan().SequenceEqual(y), $"y on {threads} threads differs from 1 thread");
                Assert.True(dx1.AsSpan().SequenceEqual(dx), $"dx on {threads} threads differs from 1 thread");
                Assert.True(dw1.AsSpan().SequenceEqual(dw), $"dw on {threads} threads differs from 1 thread");
            }
            var expected = ConvReference.Forward(s, Array.ConvertAll(x, v => (double)v), Array.ConvertAll(w, v => (double)v), Array.ConvertAll(b, v => (double)v));
            for (int i = 0; i < expected.Length; i++)
                Assert.True(Math.Abs(expected[i] - y1![i]) <= 1e-4 * (1 + Math.Abs(expected[i])), $"y[{i}]: expected {expected[i]}, got {y1[i]}");
        });
    }

    /// <summary>GEMMs below the default per-thread minimum, run threaded: the same bits as on one thread.</summary>
    [Theory]
    [InlineData(64, 64, 64, false, false)]
    [InlineData(13, 300, 40, true, false)]
    [InlineData(100, 7, 90, false, true)]
    public void Small_gemms_give_the_same_bits_on_any_thread_count(int m, int n, int k, bool ta, bool tb)
    {
        var rng = new Random(m * n + k);
        float[] a = Enumerable.Range(0, m * k).Select(_ => rng.NextSingle() - 0.5f).ToArray();
        float[] bm = Enumerable.Range(0, k * n).Select(_ => rng.NextSingle() - 0.5f).ToArray();
        WithSmallShares(() =>
        {
            float[]? first = null;
            foreach (int threads in new[] { 1, 2, 4 })
            {
                Parallelism.MaxDegreeOfParallelism = threads;
                var c = new float[m * n];
                Gemm.Sgemm(ta, tb, m, n, k, 1f, a, ta ? m : k, bm, tb ? k : n, 0f, c, n);
                first ??= c;
                Assert.True(first.AsSpan().SequenceEqual(c), $"{threads} threads differ from 1 thread");
            }
        });
    }

    private static void WithSmallShares(Action body)
    {
        int savedThreads = Parallelism.MaxDegreeOfParallelism;
        long savedMin = ParallelFor.MinMultiplyAddsPerThread;
        try
        {
            ParallelFor.MinMultiplyAddsPerThread = 1000;
            body();
        }
        finally
        {
            ParallelFor.MinMultiplyAddsPerThread = savedMin;
            Parallelism.MaxDegreeOfParallelism = savedThreads;
        }
    }
}
