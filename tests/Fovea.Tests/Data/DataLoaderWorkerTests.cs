using System.Collections.Concurrent;
using Fovea.Data;

namespace Fovea.Tests.Data;

/// <summary>
/// The loader's worker threads and bounded queue: the same batches in the same order whatever the number of workers,
/// per-sample generators that depend only on (seed, epoch, index), resuming inside an epoch, skipped samples, errors,
/// and never more batches ahead than the queue holds.
/// </summary>
public class DataLoaderWorkerTests
{
    /// <summary>Sample i is (i, a draw from its generator); every index in <paramref name="skip"/> is skipped. Counts the samples made.</summary>
    private sealed class Noisy(int n, params int[] skip) : ISeededDataset<(int Index, double Noise)>
    {
        public int Made;
        public int Count => n;
        public (int Index, double Noise) this[int index] => (index, -1);

        public bool TryGet(int index, Generator generator, out (int Index, double Noise) item)
        {
            Interlocked.Increment(ref Made);
            // A little work, at a time that varies by thread, so batches finish out of order.
            Thread.SpinWait(Random.Shared.Next(200, 20_000));
            item = (index, generator.NextDouble());
            return !skip.Contains(index);
        }
    }

    private static List<(int Index, double Noise)[]> Epoch(DataLoader<(int, double), (int, double)[]> loader, int epoch, int start = 0) =>
        loader.Batches(epoch, start).ToList();

    private static DataLoader<(int, double), (int, double)[]> Loader(ISeededDataset<(int, double)> ds, int workers, int prefetch = 2, int batch = 4) =>
        new(ds, batch, items => items.ToArray(), shuffle: true, seed: 11, prefetch: prefetch, workers: workers);

    [Fact]
    public void ManyWorkers_GiveTheSameBatchesAsOne_InOrder()
    {
        var one = Epoch(Loader(new Noisy(37), workers: 1), 3);
        foreach (int workers in new[] { 2, 4, 7 })
        {
            var many = Epoch(Loader(new Noisy(37), workers, prefetch: 3), 3);
            Assert.Equal(one.Select(b => b.ToList()), many.Select(b => b.ToList()));
        }
        var sync = Epoch(Loader(new Noisy(37), workers: 1, prefetch: 0), 3);
        Assert.Equal(one.Select(b => b.ToList()), sync.Select(b => b.ToList()));
        // The order is the seeded shuffle of that epoch, every sample once.
        Assert.Equal(Loader(new Noisy(37), 1).Order(3), one.SelectMany(b => b.Select(s => s.Index)));
    }

    [Fact]
    public void SampleRandomness_DependsOnlyOnSeedEpochAndIndex()
    {
        var e3 = Epoch(Loader(new Noisy(20), 3), 3).SelectMany(b => b).ToDictionary(s => s.Index, s => s.Noise);
        foreach (var (index, noise) in e3)
            Assert.Equal(DataLoader.SampleGenerator(11, 3, index).NextDouble(), noise);
        var e4 = Epoch(Loader(new Noisy(20), 3), 4).SelectMany(b => b).ToDictionary(s => s.Index, s => s.Noise);
        Assert.All(e3.Keys, i => Assert.NotEqual(e3[i], e4[i]));
        // Without shuffling the same holds: the generator is the sample's, not the batch's.
        var plain = new DataLoader<(int, double), (int, double)[]>(new Noisy(9), 4, items => items.ToArray(), seed: 11, workers: 2);
        Assert.All(plain.Batches(3).SelectMany(b => b), s => Assert.Equal(e3[s.Item1], s.Item2));
    }

    [Fact]
    public void ResumingMidEpoch_GivesTheRemainingBatches_WithoutMakingTheOthers()
    {
        var full = Epoch(Loader(new Noisy(30), 2), 5);
        var ds = new Noisy(30);
        var rest = Epoch(Loader(ds, 2), 5, start: 3);
        Assert.Equal(full.Skip(3).Select(b => b.ToList()), rest.Select(b => b.ToList()));
        Assert.Equal(30 - 3 * 4, ds.Made);
        Assert.Empty(Epoch(Loader(new Noisy(30), 2), 5, start: 8));
    }

    [Fact]
    public void EnumeratingAdvancesTheEpoch_LikeBefore()
    {
        var loader = Loader(new Noisy(12), 2);
        var first = loader.SelectMany(b => b).ToList();
        var second = loader.SelectMany(b => b).ToList();
        Assert.Equal(2, loader.Epoch);
        Assert.Equal(Epoch(Loader(new Noisy(12), 1), 0).SelectMany(b => b), first);
        Assert.Equal(Epoch(Loader(new Noisy(12), 1), 1).SelectMany(b => b), second);
    }

    [Fact]
    public void SkippedSamples_AreLeftOutOfTheirBatch_AndAnAllSkippedBatchIsLeftOut()
    {
        var loader = new DataLoader<(int, double), (int, double)[]>(new Noisy(10, 1, 4, 5, 6, 7), 4, items => items.ToArray(), workers: 3);
        var batches = loader.Batches(0).Select(b => b.Select(s => s.Item1).ToArray()).ToList();
        Assert.Equal([[0, 2, 3], [8, 9]], batches);
    }

    /// <summary>Counts how many samples exist that the loop has not consumed yet, and notes the background threads marked as each is made.</summary>
    private sealed class Counting(int n) : ISeededDataset<int>
    {
        public int Ahead, MaxAhead;

        /// <summary>For each sample, how many threads were marked as background work while it was made.</summary>
        public readonly ConcurrentBag<int> Background = [];

        public int Count => n;
        public int this[int index] => index;

        public bool TryGet(int index, Generator generator, out int item)
        {
            Background.Add(Fovea.Kernels.Parallelism.BackgroundThreads);
            int now = Interlocked.Increment(ref Ahead);
            int max;
            while ((max = Volatile.Read(ref MaxAhead)) < now && Interlocked.CompareExchange(ref MaxAhead, now, max) != max) { }
            item = index;
            return true;
        }
    }

    [Fact]
    public void TheQueueIsBounded_ByPrefetchOrWorkers()
    {
        var ds = new Counting(200);
        var loader = new DataLoader<int, int[]>(ds, 2, items => items.ToArray(), prefetch: 3, workers: 2);
        foreach (var batch in loader)
        {
            Thread.Sleep(2); // a slow training step: the workers run ahead until the queue is full
            Interlocked.Add(ref ds.Ahead, -batch.Length);
        }
        // At most max(prefetch, workers) = 3 batches of 2 exist ahead of the loop, plus the one it holds.
        Assert.InRange(ds.MaxAhead, 2, (3 + 1) * 2);
    }

    [Fact]
    public void AFailingSample_StopsTheEpochWithItsMessage_AfterTheBatchesBeforeIt()
    {
        var loader = new DataLoader<int, int[]>(new Squares(40), 4, items => items.Any(i => i == 20 * 20) ? throw new InvalidDataException("bad item") : items.ToArray(), workers: 4);
        var seen = new List<int[]>();
        var e = Assert.Throws<InvalidOperationException>(() => { foreach (var b in loader) seen.Add(b); });
        Assert.Contains("bad item", e.Message);
        Assert.Equal(5, seen.Count); // batches 0..4 came out; batch 5 holds sample 20
    }

    [Fact]
    public void BreakingOut_StopsTheWorkers()
    {
        var ds = new Counting(10_000);
        var loader = new DataLoader<int, int[]>(ds, 10, items => items.ToArray(), prefetch: 2, workers: 3);
        foreach (var _ in loader) break;
        int made = ds.Ahead;
        Thread.Sleep(50);
        Assert.Equal(made, ds.Ahead);
        Assert.True(made <= 10 * 4, $"{made} samples made after one batch");
        Assert.Throws<ArgumentOutOfRangeException>(() => new DataLoader<int, int[]>(ds, 10, items => items.ToArray(), workers: 0));
    }

    [Fact]
    public void Workers_MarkTheirBatchesAsBackgroundWork_SoKernelsLeaveThemACore()
    {
        var ds = new Counting(60);
        var loader = new DataLoader<int, int[]>(ds, 6, items => items.ToArray(), prefetch: 2, workers: 2);
        var batches = loader.Batches(0).ToList();
        Assert.Equal(Enumerable.Range(0, 60), batches.SelectMany(b => b));
        Assert.Equal(60, ds.Background.Count);
        // Made on a worker inside its scope (other tests' loaders may add to the count, never take from it).
        Assert.All(ds.Background, count => Assert.True(count >= 1, $"a sample was made with {count} background threads marked"));
    }

    [Fact]
    public void Stack_CollatesTensorPairs()
    {
        var items = new[] { (Tensor.From(1f, 2f), Tensor.FromArray(new[] { 3 })), (Tensor.From(4f, 5f), Tensor.FromArray(new[] { 6 })) };
        var (x, y) = DataLoader.Stack(items);
        Assert.Equal([2, 2], x.Shape);
        Assert.Equal([1f, 2f, 4f, 5f], x.ToArray<float>());
        Assert.Equal([3, 6], y.ToArray<int>());
    }

    [Fact]
    public void Stack_CopiesPlainSamplesAndKeepsViewsAndGraphs()
    {
        var g = new Generator(3);
        var plain = Enumerable.Range(0, 5).Select(_ => (Tensor.Rand([2, 3, 4], g), Tensor.FromArray(new[] { 1 }, []))).ToList();
        var (x, y) = DataLoader.Stack(plain);
        Assert.Equal(Tensor.Stack(plain.Select(p => p.Item1).ToList()).ToArray<float>(), x.ToArray<float>());
        Assert.Equal([5, 2, 3, 4], x.Shape);
        Assert.Equal([5], y.Shape);
        // Views (here transposed, so not contiguous) and offsets into a larger storage are read as views.
        var big = Tensor.Rand([4, 3, 2], g);
        var views = Enumerable.Range(0, 3).Select(i => (big.Select(0, i + 1).Transpose(0, 1), Tensor.FromArray(new[] { i }, []))).ToList();
        Assert.Equal(Tensor.Stack(views.Select(v => v.Item1).ToList()).ToArray<float>(), DataLoader.Stack(views).Input.ToArray<float>());
        var rows = Enumerable.Range(0, 3).Select(i => (big.Select(0, i), Tensor.FromArray(new[] { i }, []))).ToList();
        Assert.Equal(Tensor.Stack(rows.Select(v => v.Item1).ToList()).ToArray<float>(), DataLoader.Stack(rows).Input.ToArray<float>());
        // A sample that is part of a graph keeps the gradient path.
        var leaf = Tensor.Rand([2], g).RequiresGrad_();
        var (stacked, _) = DataLoader.Stack([(leaf * 3, Tensor.FromArray(new[] { 0 }, [])), (Tensor.Rand([2], g), Tensor.FromArray(new[] { 1 }, []))]);
        Assert.True(stacked.RequiresGrad);
        stacked.Sum().Backward();
        Assert.Equal([3f, 3f], leaf.Grad!.ToArray<float>());
    }

    private sealed class Squares(int n) : IDataset<int>
    {
        public int Count => n;
        public int this[int index] => index * index;
    }
}
