namespace Fovea.Data;

/// <summary>
/// Iterates a dataset in minibatches: optional seeded shuffle (a new permutation each epoch, the same for the same
/// seed and epoch), optional dropping of the last short batch, and background preparation of the next batches on
/// worker threads, through a bounded queue, so the training loop does not wait on decoding or augmentation while
/// there are cores to spare. Each enumeration is one epoch. Batches come out in order whatever the number of workers,
/// and a sample of an <see cref="ISeededDataset{T}"/> is made with <see cref="DataLoader.SampleGenerator"/>(seed,
/// epoch, index), so the batches do not depend on thread timing.
/// </summary>
public sealed class DataLoader<TItem, TBatch> : IEnumerable<TBatch>
{
    private readonly IDataset<TItem> _dataset;
    private readonly Func<IReadOnlyList<TItem>, TBatch>? _collate;

    /// <summary>Samples per batch.</summary>
    public int BatchSize { get; }

    /// <summary>Whether each epoch visits the samples in a new seeded order.</summary>
    public bool Shuffle { get; }

    /// <summary>Seed of the shuffles and of the per-sample generators.</summary>
    public ulong Seed { get; }

    /// <summary>Whether a final batch smaller than <see cref="BatchSize"/> is skipped.</summary>
    public bool DropLast { get; }

    /// <summary>
    /// How many batches may be ready or in preparation ahead of the one the loop is using (0: none, everything is
    /// built on the enumerating thread). The queue holds at most <c>max(Prefetch, Workers)</c> batches, which bounds
    /// the memory the loader uses.
    /// </summary>
    public int Prefetch { get; }

    /// <summary>
    /// Where the sample order comes from when set (for example a distributed sampler giving this process its shard);
    /// <see cref="Shuffle"/> and <see cref="Seed"/> then play no part. Null: all samples, shuffled or in order.
    /// </summary>
    public ISampler? Sampler { get; init; }

    /// <summary>Threads that build batches at once (each builds whole batches; 1 is a single background thread).</summary>
    public int Workers { get; }

    /// <summary>The epoch the next enumeration runs (set it to resume: the shuffle depends on it).</summary>
    public int Epoch { get; set; }

    /// <summary>
    /// Creates a loader. <paramref name="collate"/> turns a list of samples into a batch; it may be null when the
    /// dataset implements <see cref="ISeededBatchedDataset{TBatch}"/> or (unseeded) <see cref="IBatchedDataset{TBatch}"/>. <paramref name="workers"/> threads build batches in
    /// the background, at most <c>max(prefetch, workers)</c> ahead.
    /// </summary>
    public DataLoader(IDataset<TItem> dataset, int batchSize, Func<IReadOnlyList<TItem>, TBatch>? collate = null,
        bool shuffle = false, ulong seed = 0, bool dropLast = false, int prefetch = 2, int workers = 1)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "batch size must be at least 1");
        if (prefetch < 0) throw new ArgumentOutOfRangeException(nameof(prefetch), prefetch, "prefetch must be non-negative");
        if (workers < 1) throw new ArgumentOutOfRangeException(nameof(workers), workers, "workers must be at least 1");
        if (collate is null && dataset is not ISeededBatchedDataset<TBatch> && (dataset is not IBatchedDataset<TBatch> || dataset is ISeededDataset<TItem>))
            throw new ArgumentException($"DataLoader: {dataset.GetType().Name} cannot build batches itself; pass a collate function");
        _dataset = dataset;
        _collate = collate;
        BatchSize = batchSize;
        Shuffle = shuffle;
        Seed = seed;
        DropLast = dropLast;
        Prefetch = prefetch;
        Workers = workers;
    }

    /// <summary>The dataset the batches are drawn from.</summary>
    public IDataset<TItem> Dataset => _dataset;

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

    /// <summary>
    /// Batch <paramref name="batch"/> of the epoch whose order is <paramref name="order"/>; its samples that the
    /// dataset skips are left out, and when it skips them all the batch is <c>default</c> and <c>Has</c> is false.
    /// </summary>
    private (bool Has, TBatch Batch) Build(int[] order, int epoch, int batch)
    {
        int start = batch * BatchSize;
        int len = Math.Min(BatchSize, order.Length - start);
        var indices = order.AsSpan(start, len);
        if (_collate is null)
        {
            if (_dataset is ISeededBatchedDataset<TBatch> seededBatches)
                return seededBatches.TryGetBatch(indices, Seed, epoch, out var made) ? (true, made) : (false, default!);
            return (true, ((IBatchedDataset<TBatch>)_dataset).GetBatch(indices));
        }
        var items = new List<TItem>(len);
        if (_dataset is ISeededDataset<TItem> seeded)
        {
            foreach (int i in indices)
                if (seeded.TryGet(i, DataLoader.SampleGenerator(Seed, epoch, i), out var item)) items.Add(item);
            if (items.Count == 0) return (false, default!);
        }
        else
        {
            foreach (int i in indices)
                items.Add(_dataset[i]);
        }
        return (true, _collate(items));
    }

    /// <inheritdoc/>
    public IEnumerator<TBatch> GetEnumerator() => Batches(Epoch++).GetEnumerator();

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>
    /// The batches of <paramref name="epoch"/> from batch <paramref name="startBatch"/> on: what a run resumed in the
    /// middle of an epoch needs, without building the batches already done. A batch whose samples the dataset all
    /// skips is left out. Does not change <see cref="Epoch"/>.
    /// </summary>
    public IEnumerable<TBatch> Batches(int epoch, int startBatch = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(epoch);
        ArgumentOutOfRangeException.ThrowIfNegative(startBatch);
        var order = Order(epoch);
        int batches = BatchCount;
        if (Prefetch == 0)
        {
            for (int b = startBatch; b < batches; b++)
            {
                var (has, batch) = Build(order, epoch, b);
                if (has) yield return batch;
            }
            yield break;
        }
        using var queue = new BatchQueue(this, order, epoch, startBatch, batches);
        for (int b = startBatch; b < batches; b++)
        {
            var (has, batch) = queue.Take(b);
            if (has) yield return batch;
        }
    }

    /// <summary>
    /// The bounded queue between the workers and the loop: a ring of <c>max(Prefetch, Workers)</c> slots. A worker
    /// takes a permit, claims the next batch number and puts the batch in slot (number mod capacity); the loop takes
    /// the batches in order and returns a permit for each, so at most capacity batches exist ahead of the loop and
    /// no two of them share a slot.
    /// </summary>
    private sealed class BatchQueue : IDisposable
    {
        private readonly DataLoader<TItem, TBatch> _loader;
        private readonly int[] _order;
        private readonly int _epoch, _end;
        private readonly Slot[] _slots;
        private readonly SemaphoreSlim _free;
        private readonly CancellationTokenSource _cancel = new();
        private readonly Thread[] _threads;
        private readonly object _gate = new();
        private int _next;

        private struct Slot
        {
            public int Batch;
            public bool Full, Has;
            public TBatch Value;
            public Exception? Error;
        }

        public BatchQueue(DataLoader<TItem, TBatch> loader, int[] order, int epoch, int start, int end)
        {
            _loader = loader;
            _order = order;
            _epoch = epoch;
            _end = end;
            _next = start;
            int capacity = Math.Max(loader.Prefetch, loader.Workers);
            _slots = new Slot[capacity];
            _free = new SemaphoreSlim(capacity, capacity);
            int threads = Math.Max(0, Math.Min(loader.Workers, end - start));
            _threads = new Thread[threads];
            for (int t = 0; t < threads; t++)
            {
                _threads[t] = new Thread(Work) { IsBackground = true, Name = $"Fovea DataLoader worker {t}" };
                _threads[t].Start();
            }
        }

        private void Work()
        {
            var token = _cancel.Token;
            while (true)
            {
                try { _free.Wait(token); }
                catch (OperationCanceledException) { return; }
                int b = Interlocked.Increment(ref _next) - 1;
                if (b >= _end)
                {
                    _free.Release();
                    return;
                }
                var slot = new Slot { Batch = b, Full = true };
                try
                {
                    using var background = Threading.BackgroundWork(); // the step's kernels leave this worker a core
                    (slot.Has, slot.Value) = _loader.Build(_order, _epoch, b);
                }
                catch (Exception e)
                {
                    slot.Error = e;
                    _cancel.Cancel(); // no point building more: the loop stops at this batch
                }
                lock (_gate)
                {
                    _slots[b % _slots.Length] = slot;
                    Monitor.PulseAll(_gate);
                }
                if (slot.Error is not null) return;
            }
        }

        /// <summary>Waits for batch <paramref name="b"/>, frees its slot and returns it.</summary>
        public (bool Has, TBatch Batch) Take(int b)
        {
            Slot slot;
            lock (_gate)
            {
                ref var s = ref _slots[b % _slots.Length];
                while (!s.Full || s.Batch != b) Monitor.Wait(_gate);
                slot = s;
                s = default;
            }
            _free.Release();
            if (slot.Error is not null)
                throw new InvalidOperationException($"DataLoader: building a batch failed: {slot.Error.Message}", slot.Error);
            return (slot.Has, slot.Value);
        }

        public void Dispose()
        {
            _cancel.Cancel();
            foreach (var t in _threads) t.Join();
            _cancel.Dispose();
            _free.Dispose();
        }
    }
}

/// <summary>Shortcuts for the common loaders, and the per-sample generator.</summary>
public static class DataLoader
{
    /// <summary>A loader over input/target tensors whose batches are gathered in one step.</summary>
    public static DataLoader<(Tensor Input, Tensor Target), (Tensor Input, Tensor Target)> FromTensors(Tensor inputs, Tensor targets, int batchSize,
        bool shuffle = false, ulong seed = 0, bool dropLast = false, int prefetch = 2) =>
        new(new TensorDataset(inputs, targets), batchSize, null, shuffle, seed, dropLast, prefetch);

    /// <summary>
    /// The generator of sample <paramref name="index"/> in <paramref name="epoch"/> of a loader seeded with
    /// <paramref name="seed"/>: its own stream, a hash of the three numbers (SplitMix64 twice), so the sample's
    /// random augmentation depends on nothing else.
    /// </summary>
    public static Generator SampleGenerator(ulong seed, int epoch, int index) =>
        new(Generator.Hash(Generator.Hash(seed, (ulong)epoch), (ulong)index));

    /// <summary>
    /// Stacks samples (input [..], target [..] or a 0-d label) into a batch (inputs [N, ..], targets [N, ..]): the
    /// collate function for datasets of tensor pairs.
    /// </summary>
    public static (Tensor Input, Tensor Target) Stack(IReadOnlyList<(Tensor Input, Tensor Target)> items)
    {
        ArgumentNullException.ThrowIfNull(items);
        var inputs = new Tensor[items.Count];
        var targets = new Tensor[items.Count];
        for (int i = 0; i < items.Count; i++) (inputs[i], targets[i]) = items[i];
        return (StackSamples(inputs), StackSamples(targets));
    }

    /// <summary>
    /// <see cref="Tensor.Stack"/> of samples along a new first dim. Samples that are plain data (contiguous, one
    /// dtype and shape, not part of a graph: what datasets produce) are copied straight into the batch's storage, one
    /// block each, instead of through the differentiable concatenation; anything else goes through Tensor.Stack.
    /// </summary>
    private static Tensor StackSamples(Tensor[] samples)
    {
        if (samples.Length == 0) return Tensor.Stack(samples);
        var first = samples[0];
        foreach (var t in samples)
            if (t is null || t.RequiresGrad || t.DType != first.DType || !t.IsContiguous || !t._shape.AsSpan().SequenceEqual(first._shape))
                return Tensor.Stack(samples);
        int per = first.Numel;
        var shape = new int[first.Rank + 1];
        shape[0] = samples.Length;
        for (int d = 0; d < first.Rank; d++) shape[d + 1] = first.Size(d);
        var storage = Storage.AllocateUninitialized(first.DType, ShapeChecks.Numel("stack", shape));
        for (int i = 0; i < samples.Length; i++)
            Array.Copy(samples[i].Storage.Data, samples[i].Offset, storage.Data, (long)i * per, per);
        return new Tensor(storage, shape);
    }
}
