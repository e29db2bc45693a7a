using System.Collections.Concurrent;

namespace Fovea.Data;

/// <summary>
/// Iterates a dataset in minibatches: optional seeded shuffle (a new permutation each epoch, the same for
/// the same seed and epoch), optional dropping of the last short batch, and background prefetch of the next
/// batches so the training loop never waits on decoding or augmentation. Each enumeration is one epoch.
/// </summary>
public sealed class DataLoader<TItem, TBatch> : IEnumerable<TBatch>
{
    private readonly IDataset<TItem> _dataset;
    private readonly Func<IReadOnlyList<TItem>, TBatch>? _collate;

    /// <summary>Samples per batch.</summary>
    public int BatchSize { get; }

    /// <summary>Whether each epoch visits the samples in a new seeded order.</summary>
    public bool Shuffle { get; }

    /// <summary>Seed of the shuffles.</summary>
    public ulong Seed { get; }

    /// <summary>Whether a final batch smaller than <see cref="BatchSize"/> is skipped.</summary>
    public bool DropLast { get; }

    /// <summary>How many batches are prepared ahead on a background thread (0: none).</summary>
    public int Prefetch { get; }

    /// <summary>
    /// Where the sample order comes from when set (for example a distributed sampler giving this process its shard);
    /// <see cref="Shuffle"/> and <see cref="Seed"/> then play no part. Null: all samples, shuffled or in order.
    /// </summary>
    public ISampler? Sampler { get; init; }

    /// <summary>The epoch the next enumeration runs (set it to resume: the shuffle depends on it).</summary>
    public int Epoch { get; set; }

    /// <summary>
    /// Creates a loader. <paramref name="collate"/> turns a list of samples into a batch; it may be null when
    /// the dataset implements <see cref="IBatchedDataset{TBatch}"/>.
    /// </summary>
    public DataLoader(IDataset<TItem> dataset, int batchSize, Func<IReadOnlyList<TItem>, TBatch>? collate = null,
        bool shuffle = false, ulong seed = 0, bool dropLast = false, int prefetch = 2)
    {
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "batch size must be at least 1");
        if (prefetch < 0) throw new ArgumentOutOfRangeException(nameof(prefetch), prefetch, "prefetch must be non-negative");
        if (collate is null && dataset is not IBatchedDataset<TBatch>)
            throw new ArgumentException($"DataLoader: {dataset.GetType().Name} cannot build batches itself; pass a collate function");
        _dataset = dataset;
        _collate = collate;
        BatchSize = batchSize;
        Shuffle = shuffle;
        Seed = seed;
        DropLast = dropLast;
        Prefetch = prefetch;
    }

    /// <summary>Batches per epoch.</summary>
    public int BatchCount => DropLast ? SampleCount / BatchSize : (SampleCount + BatchSize - 1) / BatchSize;

    /// <summary>Samples per epoch: the sampler's count, or the dataset's.</summary>
    public int SampleCount => Sampler?.Count ?? _dataset.Count;

    /// <summary>The sample order of <paramref name="epoch"/>.</summary>
    public int[] Order(int epoch)
    {
        if (Sampler is not null) return CheckedOrder(Sampler, epoch, _dataset.Count);
        if (!Shuffle)
        {
            var order = new int[_dataset.Count];
            for (int i = 0; i < order.Length; i++) order[i] = i;
            return order;
        }
        return new Generator(Seed).SelectStream(epoch).Permutation(_dataset.Count);
    }

    private static int[] CheckedOrder(ISampler sampler, int epoch, int datasetCount)
    {
        var order = sampler.Order(epoch);
        if (order.Length != sampler.Count)
            throw new InvalidOperationException($"DataLoader: {sampler.GetType().Name} returned {order.Length} indices for epoch {epoch} but says its count is {sampler.Count}");
        foreach (int i in order)
            if ((uint)i >= (uint)datasetCount)
                throw new InvalidOperationException($"DataLoader: {sampler.GetType().Name} returned index {i} for epoch {epoch}, outside the dataset of {datasetCount} samples");
        return order;
    }

    private TBatch Build(int[] order, int batch)
    {
        int start = batch * BatchSize;
        int len = Math.Min(BatchSize, order.Length - start);
        var indices = order.AsSpan(start, len);
        if (_collate is null) return ((IBatchedDataset<TBatch>)_dataset).GetBatch(indices);
        var items = new TItem[len];
        for (int i = 0; i < len; i++) items[i] = _dataset[indices[i]];
        return _collate(items);
    }

    /// <inheritdoc/>
    public IEnumerator<TBatch> GetEnumerator()
    {
        int epoch = Epoch++;
        var order = Order(epoch);
        int batches = BatchCount;
        if (Prefetch == 0)
        {
            for (int b = 0; b < batches; b++) yield return Build(order, b);
            yield break;
        }
        using var queue = new BlockingCollection<TBatch>(Prefetch);
        using var cancel = new CancellationTokenSource();
        Exception? failure = null;
        var producer = Task.Run(() =>
        {
            try
            {
                for (int b = 0; b < batches && !cancel.IsCancellationRequested; b++)
                    queue.Add(Build(order, b), cancel.Token);
            }
            catch (OperationCanceledException) { }
            catch (Exception e) { failure = e; }
            finally { queue.CompleteAdding(); }
        });
        try
        {
            foreach (var batch in queue.GetConsumingEnumerable())
                yield return batch;
            if (failure is not null) throw new InvalidOperationException($"DataLoader: building a batch failed: {failure.Message}", failure);
        }
        finally
        {
            cancel.Cancel();
            try { producer.Wait(); } catch (AggregateException) { }
        }
    }

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
}

/// <summary>Shortcuts for the common loaders.</summary>
public static class DataLoader
{
    /// <summary>A loader over input/target tensors whose batches are gathered in one step.</summary>
    public static DataLoader<(Tensor Input, Tensor Target), (Tensor Input, Tensor Target)> FromTensors(Tensor inputs, Tensor targets, int batchSize,
        bool shuffle = false, ulong seed = 0, bool dropLast = false, int prefetch = 2) =>
        new(new TensorDataset(inputs, targets), batchSize, null, shuffle, seed, dropLast, prefetch);
}
