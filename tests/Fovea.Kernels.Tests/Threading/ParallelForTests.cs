using System.Collections.Concurrent;
using Fovea.Kernels;

namespace Fovea.Kernels.Tests.Threading;

/// <summary>These tests set the global thread count, so the class runs alone and restores it.</summary>
[CollectionDefinition("Global thread count", DisableParallelization = true)]
public class GlobalThreadCountCollection;

[Collection("Global thread count")]
public class ParallelForTests
{
    private static void WithThreads(int threads, Action body)
    {
        int saved = Parallelism.MaxDegreeOfParallelism;
        try
        {
            Parallelism.MaxDegreeOfParallelism = threads;
            body();
        }
        finally { Parallelism.MaxDegreeOfParallelism = saved; }
    }

    [Fact]
    public void Background_work_leaves_its_processors_to_itself_and_keeps_the_chunks()
    {
        // Every processor but the caller's taken by background work: a region runs all its chunks on the caller.
        int threads = Math.Max(2, Environment.ProcessorCount);
        WithThreads(threads, () =>
        {
            Assert.Equal(0, Parallelism.BackgroundThreads);
            Assert.Equal(threads, Parallelism.RegionThreads(threads));
            int chunksBefore = ParallelFor.ChunkCount(1000, 1);
            var scopes = new Parallelism.BackgroundScope[Math.Max(1, Environment.ProcessorCount - 1)];
            try
            {
                for (int i = 0; i < scopes.Length; i++) scopes[i] = Parallelism.BackgroundWork();
                Assert.Equal(scopes.Length, Parallelism.BackgroundThreads);
                Assert.Equal(1, Parallelism.RegionThreads(threads));
                Assert.True(WorkerPool.Unusable(1)); // the helpers sleep rather than poll on the worker's processor
                Assert.Equal(chunksBefore, ParallelFor.ChunkCount(1000, 1)); // the same chunks, so the same bits
                int caller = Environment.CurrentManagedThreadId;
                var ran = new ConcurrentBag<(int Chunk, int Thread)>();
                // Chunks that take a while, so that a helper, were one allowed, would get some of them.
                for (int round = 0; round < 5; round++)
                    ParallelFor.ForChunks(threads * 4, c =>
                    {
                        Thread.Sleep(1);
                        ran.Add((c, Environment.CurrentManagedThreadId));
                    });
                Assert.Equal(5 * threads * 4, ran.Count);
                Assert.All(ran, r => Assert.Equal(caller, r.Thread));
            }
            finally
            {
                foreach (var scope in scopes) scope?.Dispose();
            }
            Assert.Equal(0, Parallelism.BackgroundThreads);
            scopes[0].Dispose(); // a second dispose of the same scope does nothing
            Assert.Equal(0, Parallelism.BackgroundThreads);
            Assert.Equal(threads, Parallelism.RegionThreads(threads));
            Assert.False(WorkerPool.Unusable(1));
        });
        // One background thread on a machine of more processors leaves the others to the region.
        if (Environment.ProcessorCount > 2)
        {
            using var scope = Parallelism.BackgroundWork();
            Assert.Equal(Environment.ProcessorCount - 1, Parallelism.RegionThreads(Environment.ProcessorCount));
            Assert.Equal(2, Parallelism.RegionThreads(2));
            Assert.False(WorkerPool.Unusable(Environment.ProcessorCount - 2));
            Assert.True(WorkerPool.Unusable(Environment.ProcessorCount - 1));
        }
    }

    public static TheoryData<int, int, int> ForCases()
    {
        var data = new TheoryData<int, int, int>();
        foreach (int threads in new[] { 1, 2, 3, 8 })
            foreach (var (count, grain) in new[] { (0, 1), (1, 1), (7, 1), (7, 3), (1000, 1), (1000, 999), (1001, 10), (100_003, 1000), (5, 0), (5, -4) })
                data.Add(threads, count, grain);
        return data;
    }

    [Theory]
    [MemberData(nameof(ForCases))]
    public void For_covers_every_index_exactly_once_in_contiguous_chunks(int threads, int count, int grain)
    {
        WithThreads(threads, () =>
        {
            var hits = new int[count];
            var chunks = new ConcurrentBag<(int Start, int End)>();
            ParallelFor.For(count, grain, (s, e) =>
            {
                chunks.Add((s, e));
                for (int i = s; i < e; i++) Interlocked.Increment(ref hits[i]);
            });
            Assert.All(hits, h => Assert.Equal(1, h));
            var sorted = chunks.OrderBy(c => c.Start).ToList();
            Assert.Equal(ParallelFor.ChunkCount(count, grain), sorted.Count);
            Assert.True(sorted.Count <= threads, $"{sorted.Count} chunks for {threads} threads");
            int at = 0;
            foreach (var (s, e) in sorted)
            {
                Assert.Equal(at, s);
                Assert.True(e > s, "chunks are non-empty");
                if (sorted.Count > 1) Assert.True(e - s >= Math.Max(1, grain), $"chunk [{s}, {e}) is below the grain {grain}");
                at = e;
            }
            Assert.Equal(count, at);
        });
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(4)]
    public void Reduce_is_deterministic_and_combines_in_chunk_order(int threads)
    {
        // Float addition is not associative: only a fixed chunking and combine order gives the same bits.
        var data = new float[100_000];
        var rng = new Random(1);
        for (int i = 0; i < data.Length; i++) data[i] = (float)(rng.NextDouble() * Math.Pow(10, rng.Next(-3, 4)));
        float Run() => ParallelFor.Reduce(data.Length, 1000, 0f, (s, e) =>
        {
            float acc = 0;
            for (int i = s; i < e; i++) acc += data[i];
            return acc;
        }, (a, b) => a + b);
        WithThreads(threads, () =>
        {
            float first = Run();
            for (int k = 0; k < 5; k++) Assert.Equal(first, Run());
            // The same as combining the chunk partials in order by hand.
            int chunks = ParallelFor.ChunkCount(data.Length, 1000);
            float manual = 0;
            for (int c = 0; c < chunks; c++)
            {
                float acc = 0;
                for (int i = ParallelFor.ChunkStart(data.Length, chunks, c); i < ParallelFor.ChunkStart(data.Length, chunks, c + 1); i++) acc += data[i];
                manual += acc;
            }
            Assert.Equal(manual, first);
        });
    }

    [Fact]
    public void Reduce_uses_the_combine_in_order_for_non_commutative_ops()
    {
        WithThreads(3, () =>
        {
            // String concatenation is order-sensitive: the result must list the chunks left to right.
            string s = ParallelFor.Reduce(30, 1, "", (a, b) => $"[{a},{b})", (x, y) => x + y);
            Assert.Equal("[0,10)[10,20)[20,30)", s);
            Assert.Equal("id", ParallelFor.Reduce(0, 1, "id", (a, b) => "x", (x, y) => x + y));
        });
    }

    [Fact]
    public void Nested_regions_run_serially_on_the_worker()
    {
        WithThreads(2, () =>
        {
            var innerChunkCounts = new ConcurrentBag<int>();
            var innerThreadsMatch = new ConcurrentBag<bool>();
            bool outerSawRegion = false;
            ParallelFor.For(2, 1, (s, e) =>
            {
                if (ParallelFor.InsideRegion) outerSawRegion = true;
                int outerThread = Environment.CurrentManagedThreadId;
                innerChunkCounts.Add(ParallelFor.ChunkCount(1_000_000, 1));
                ParallelFor.For(1_000_000, 1, (a, b) => innerThreadsMatch.Add(Environment.CurrentManagedThreadId == outerThread));
            });
            Assert.True(outerSawRegion);
            Assert.All(innerChunkCounts, c => Assert.Equal(1, c));
            Assert.Equal(2, innerThreadsMatch.Count);
            Assert.All(innerThreadsMatch, Assert.True);
            Assert.False(ParallelFor.InsideRegion); // restored on the calling thread
        });
    }

    [Fact]
    public void Region_flag_is_restored_after_an_exception()
    {
        WithThreads(2, () =>
        {
            Assert.ThrowsAny<Exception>(() => ParallelFor.For(4, 1, (s, e) => throw new InvalidOperationException("boom")));
            Assert.False(ParallelFor.InsideRegion);
            // A later region still runs in parallel chunks.
            Assert.Equal(2, ParallelFor.ChunkCount(4, 1));
        });
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void Single_thread_or_small_work_stays_on_the_calling_thread(int threads)
    {
        WithThreads(threads, () =>
        {
            int caller = Environment.CurrentManagedThreadId;
            var seen = new ConcurrentBag<int>();
            ParallelFor.For(threads == 1 ? 1000 : 10, threads == 1 ? 1 : 100, (s, e) => seen.Add(Environment.CurrentManagedThreadId));
            Assert.Equal([caller], seen.ToArray());
        });
    }

    [Fact]
    public void ChunkStart_partitions_evenly()
    {
        Assert.Equal(0, ParallelFor.ChunkStart(10, 3, 0));
        Assert.Equal(3, ParallelFor.ChunkStart(10, 3, 1));
        Assert.Equal(6, ParallelFor.ChunkStart(10, 3, 2));
        Assert.Equal(10, ParallelFor.ChunkStart(10, 3, 3));
        // No int overflow for large counts.
        Assert.Equal(int.MaxValue, ParallelFor.ChunkStart(int.MaxValue, 7, 7));
        Assert.Equal(0, ParallelFor.ChunkCount(0, 1));
        Assert.Equal(0, ParallelFor.ChunkCount(-5, 1));
    }

    [Fact]
    public void Thread_count_setting_rejects_zero_and_is_honoured()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Parallelism.MaxDegreeOfParallelism = 0);
        WithThreads(3, () => Assert.Equal(3, ParallelFor.ChunkCount(1_000_000, 1)));
        WithThreads(1, () => Assert.Equal(1, ParallelFor.ChunkCount(1_000_000, 1)));
    }

    [Theory]
    [MemberData(nameof(ForCases))]
    public void ForBalanced_covers_every_index_exactly_once_in_at_most_four_chunks_per_thread(int threads, int count, int grain)
    {
        WithThreads(threads, () =>
        {
            var hits = new int[count];
            var chunks = new ConcurrentBag<(int Start, int End)>();
            ParallelFor.ForBalanced(count, grain, (s, e) =>
            {
                chunks.Add((s, e));
                for (int i = s; i < e; i++) Interlocked.Increment(ref hits[i]);
            });
            Assert.All(hits, h => Assert.Equal(1, h));
            Assert.True(chunks.Count <= Math.Max(1, 4 * threads), $"{chunks.Count} chunks for {threads} threads");
            if (count > 0 && ParallelFor.ChunkCount(count, grain) > 1)
                Assert.All(chunks, c => Assert.True(c.End - c.Start >= Math.Max(1, grain) / 2, $"chunk {c} under the grain {grain}"));
        });
    }
}
