namespace Fovea.Kernels.Tests;

/// <summary>The allocation-free struct-body overload of <see cref="ParallelFor.ForChunks{TBody}(int, in TBody)"/>.</summary>
[Collection(nameof(ThreadSettingCollection))]
public class ParallelForStructBodyTests
{
    private struct CountBody(int[] hits, bool[] nested) : IChunkBody
    {
        public readonly void Invoke(int chunk)
        {
            Interlocked.Increment(ref hits[chunk]);
            nested[chunk] = ParallelFor.InsideRegion;
        }
    }

    private struct ThrowBody : IChunkBody
    {
        public readonly void Invoke(int chunk)
        {
            if (chunk == 3) throw new InvalidOperationException("chunk 3 failed");
        }
    }

    private struct NestedBody(int[] innerChunks) : IChunkBody
    {
        public readonly void Invoke(int chunk) => innerChunks[chunk] = ParallelFor.ChunkCount(1000, 1);
    }

    [Theory]
    [InlineData(1, 5)]
    [InlineData(2, 1)]
    [InlineData(2, 2)]
    [InlineData(2, 37)]
    [InlineData(4, 100)]
    public void Every_chunk_runs_exactly_once_inside_a_region(int threads, int chunks)
    {
        int saved = Parallelism.MaxDegreeOfParallelism;
        try
        {
            Parallelism.MaxDegreeOfParallelism = threads;
            for (int round = 0; round < 20; round++)
            {
                var hits = new int[chunks];
                var nested = new bool[chunks];
                ParallelFor.ForChunks(chunks, new CountBody(hits, nested));
                Assert.All(hits, h => Assert.Equal(1, h));
                // Multi-chunk regions mark their bodies as inside a region (so inner kernels stay serial).
                if (threads > 1 && chunks > 1) Assert.All(nested, Assert.True);
            }
            Assert.False(ParallelFor.InsideRegion);
        }
        finally { Parallelism.MaxDegreeOfParallelism = saved; }
    }

    [Fact]
    public async Task Concurrent_callers_each_get_every_chunk_once()
    {
        // Several threads open regions at once: one owns the polling worker pool, the others fall back to the
        // .NET thread pool; a late helper must never run a chunk of a region that already ended.
        int saved = Parallelism.MaxDegreeOfParallelism;
        try
        {
            Parallelism.MaxDegreeOfParallelism = 3;
            var callers = Enumerable.Range(0, 4).Select(_ => Task.Run(() =>
            {
                for (int round = 0; round < 200; round++)
                {
                    int chunks = 1 + round % 13;
                    var hits = new int[chunks];
                    ParallelFor.ForChunks(chunks, new CountBody(hits, new bool[chunks]));
                    if (hits.Any(h => h != 1)) return false;
                }
                return true;
            })).ToArray();
            bool[] results = await Task.WhenAll(callers).WaitAsync(TimeSpan.FromMinutes(1));
            Assert.All(results, Assert.True);
        }
        finally { Parallelism.MaxDegreeOfParallelism = saved; }
    }

    [Fact]
    public void Exceptions_from_a_chunk_reach_the_caller()
    {
        int saved = Parallelism.MaxDegreeOfParallelism;
        try
        {
            Parallelism.MaxDegreeOfParallelism = 2;
            var ex = Assert.Throws<InvalidOperationException>(() => ParallelFor.ForChunks(8, new ThrowBody()));
            Assert.Equal("chunk 3 failed", ex.Message);
            Assert.False(ParallelFor.InsideRegion);
        }
        finally { Parallelism.MaxDegreeOfParallelism = saved; }
    }

    [Fact]
    public void Inner_regions_do_not_nest()
    {
        int saved = Parallelism.MaxDegreeOfParallelism;
        try
        {
            Parallelism.MaxDegreeOfParallelism = 2;
            var inner = new int[4];
            ParallelFor.ForChunks(4, new NestedBody(inner));
            Assert.All(inner, c => Assert.Equal(1, c));
        }
        finally { Parallelism.MaxDegreeOfParallelism = saved; }
    }

    [Fact]
    public void Steady_state_calls_do_not_allocate()
    {
        int saved = Parallelism.MaxDegreeOfParallelism;
        try
        {
            Parallelism.MaxDegreeOfParallelism = 2;
            var hits = new int[16];
            var nested = new bool[16];
            var body = new CountBody(hits, nested);
            for (int i = 0; i < 10; i++) ParallelFor.ForChunks(16, body);
            long least = long.MaxValue;
            // A worker that starts late can force one fresh job; the minimum over a few calls must still be zero.
            for (int i = 0; i < 5; i++)
            {
                long before = GC.GetAllocatedBytesForCurrentThread();
                ParallelFor.ForChunks(16, body);
                least = Math.Min(least, GC.GetAllocatedBytesForCurrentThread() - before);
            }
            Assert.Equal(0, least);
        }
        finally { Parallelism.MaxDegreeOfParallelism = saved; }
    }
}
