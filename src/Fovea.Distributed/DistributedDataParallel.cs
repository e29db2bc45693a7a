using Fovea.NN;

namespace Fovea.Distributed;

/// <summary>
/// Data-parallel training of one model replicated on every rank of a process group (PyTorch's
/// <c>DistributedDataParallel</c>): each rank runs forward and backward on its own shard of the batch, and the gradients
/// are averaged over the ranks before the optimizer step, so every replica takes the same step and stays identical.
/// <list type="bullet">
/// <item>At construction the parameters and buffers of rank 0 are broadcast to all ranks.</item>
/// <item>The trainable parameters are packed, in reverse registration order (≈ the order backward finishes their
/// gradients), into buckets of about <see cref="BucketMegabytes"/> MB. A post-accumulate-grad hook on each parameter
/// copies its final gradient into its bucket; when a bucket is full its all-reduce starts on the group's communication
/// thread while backward goes on with the layers below, and buckets start strictly in order so every rank issues the
/// same collectives in the same order.</item>
/// <item>When the last bucket has started (end of backward) the averaged gradients are written back into
/// <see cref="Tensor.Grad"/>. <see cref="SynchronizeGradients"/>, called on every rank after backward and before the
/// optimizer step, makes sure of it even when some parameter got no gradient in this step (its zeros, or the gradient
/// it already had, take part).</item>
/// <item>Batch norm normalises each rank's batch with that batch's own statistics (as PyTorch does without
/// SyncBatchNorm): with 2 ranks of batch 32, the statistics are over 32 images, not 64. The running statistics are
/// buffers; <see cref="BroadcastBuffers"/> copies rank 0's to the others (PyTorch's <c>broadcast_buffers</c>), which
/// the training loop does every step so that evaluation gives the same figures on every rank.</item>
/// </list>
/// Gradient accumulation over several backward passes: run all but the last inside <see cref="NoSync"/>.
/// </summary>
public sealed class DistributedDataParallel : IDisposable
{
    /// <summary>PyTorch's default bucket size, in MB.</summary>
    public const double DefaultBucketMegabytes = 25;

    private readonly Bucket[] _buckets;
    private readonly List<RemovableHandle> _hooks = [];
    private readonly Lock _lock = new();
    private int _nextLaunch;
    private bool _finishedInBackward;
    private int _noSync;

    /// <summary>The model whose gradients are averaged.</summary>
    public Module Module { get; }

    /// <summary>The ranks it is replicated on.</summary>
    public IProcessGroup Group { get; }

    /// <summary>The bucket size limit, in MB (a parameter larger than it gets a bucket of its own).</summary>
    public double BucketMegabytes { get; }

    /// <summary>The parameter names of each bucket, in the order the buckets are reduced.</summary>
    public IReadOnlyList<IReadOnlyList<string>> BucketParameterNames => [.. _buckets.Select(b => (IReadOnlyList<string>)b.Names)];

    /// <summary>Bytes all-reduced per step: the size of all trainable parameters' gradients.</summary>
    public long GradientBytes => _buckets.Sum(b => b.Bytes);

    /// <summary>
    /// Replicates <paramref name="module"/> over <paramref name="group"/>: broadcasts rank 0's parameters and buffers,
    /// then hooks every trainable parameter. Call it on every rank, with the same model architecture.
    /// </summary>
    public DistributedDataParallel(Module module, IProcessGroup group, double bucketMegabytes = DefaultBucketMegabytes)
    {
        ArgumentNullException.ThrowIfNull(module);
        ArgumentNullException.ThrowIfNull(group);
        if (!(bucketMegabytes > 0) || double.IsInfinity(bucketMegabytes))
            throw new ArgumentOutOfRangeException(nameof(bucketMegabytes), bucketMegabytes, "the bucket size must be a positive number of MB");
        Module = module;
        Group = group;
        BucketMegabytes = bucketMegabytes;
        group.BroadcastModule(module);
        _buckets = MakeBuckets(module, (long)(bucketMegabytes * 1024 * 1024));
        for (int b = 0; b < _buckets.Length; b++)
            for (int i = 0; i < _buckets[b].Parameters.Length; i++)
            {
                var (bucket, slot) = (_buckets[b], i);
                _hooks.Add(bucket.Parameters[i].RegisterPostAccumulateGradHook(_ => OnGradientReady(bucket, slot)));
            }
    }

    /// <summary>Buckets of parameters in reverse registration order, closed at the size limit or a change of dtype.</summary>
    private static Bucket[] MakeBuckets(Module module, long capBytes)
    {
        var trainable = module.NamedParameters().Where(np => np.Parameter.RequiresGrad).Reverse().ToList();
        var buckets = new List<Bucket>();
        var names = new List<string>();
        var parameters = new List<Tensor>();
        long bytes = 0;
        void Close()
        {
            if (parameters.Count == 0) return;
            buckets.Add(new Bucket([.. names], [.. parameters]));
            names.Clear();
            parameters.Clear();
            bytes = 0;
        }
        foreach (var (name, p) in trainable)
        {
            if (p.DType is not (DType.Float32 or DType.Float64))
                throw new DTypeException("DistributedDataParallel", $"parameter {name} is {p.DType.Name()}; gradients are averaged for float32 and float64 parameters");
            long size = (long)p.Numel * (p.DType == DType.Float32 ? sizeof(float) : sizeof(double));
            if (parameters.Count > 0 && (parameters[0].DType != p.DType || bytes + size > capBytes)) Close();
            names.Add(name);
            parameters.Add(p);
            bytes += size;
        }
        Close();
        return [.. buckets];
    }

    /// <summary>
    /// Within the returned scope backward passes accumulate gradients locally without communicating (for gradient
    /// accumulation: the first k − 1 micro-batches inside, the last outside, then one synchronisation).
    /// </summary>
    public IDisposable NoSync()
    {
        Interlocked.Increment(ref _noSync);
        return new RemovableHandle(() => Interlocked.Decrement(ref _noSync));
    }

    private void OnGradientReady(Bucket bucket, int slot)
    {
        if (Volatile.Read(ref _noSync) > 0) return;
        lock (_lock)
        {
            if (bucket.Handle is not null)
                throw new InvalidOperationException("DistributedDataParallel: a second backward pass ran before the gradients of the first were synchronised; call SynchronizeGradients() before the next backward, or accumulate inside NoSync()");
            _finishedInBackward = false;
            bucket.Collect(slot);
            while (_nextLaunch < _buckets.Length && _buckets[_nextLaunch].IsFull) Launch(_buckets[_nextLaunch]);
            if (_nextLaunch == _buckets.Length)
            {
                Finish();
                _finishedInBackward = true;
            }
        }
    }

    private void Launch(Bucket bucket)
    {
        bucket.Handle = bucket.Float32 is { } f
            ? Group.AllReduceAsync(f.AsMemory(), ReduceOp.Average)
            : Group.AllReduceAsync(bucket.Float64!.AsMemory(), ReduceOp.Average);
        _nextLaunch++;
    }

    /// <summary>Waits for every bucket, in order, and writes the averages into the parameters' gradients.</summary>
    private void Finish()
    {
        foreach (var bucket in _buckets)
        {
            bucket.Handle!.Wait();
            bucket.WriteBack();
        }
        _nextLaunch = 0;
    }

    /// <summary>
    /// Makes sure the parameters' gradients hold the averages over the ranks: starts the buckets that backward did not
    /// fill (a parameter without a gradient in this step contributes zeros) and waits for all. Call it on every rank,
    /// after backward and before the optimizer step; when backward has already finished the averaging it returns at once.
    /// </summary>
    public void SynchronizeGradients()
    {
        if (Volatile.Read(ref _noSync) > 0)
            throw new InvalidOperationException("DistributedDataParallel: SynchronizeGradients() inside NoSync(); leave the NoSync scope first");
        lock (_lock)
        {
            if (_finishedInBackward)
            {
                _finishedInBackward = false;
                return;
            }
            for (int b = _nextLaunch; b < _buckets.Length; b++)
            {
                _buckets[b].CollectMissing();
                Launch(_buckets[b]);
            }
            Finish();
        }
    }

    /// <summary>Copies rank 0's floating buffers (batch-norm running statistics) to every rank, in one collective per dtype.</summary>
    public void BroadcastBuffers()
    {
        foreach (var dtype in new[] { DType.Float32, DType.Float64 })
        {
            var buffers = Module.NamedBuffers().Select(b => b.Buffer).Where(b => b.DType == dtype).ToList();
            if (buffers.Count == 0) continue;
            int total = buffers.Sum(b => b.Numel);
            if (dtype == DType.Float32) Pack<float>(buffers, total, (g, s) => g.Broadcast(s));
            else Pack<double>(buffers, total, (g, s) => g.Broadcast(s));
        }
    }

    private delegate void SpanAction<T>(IProcessGroup group, Span<T> data);

    /// <summary>Packs <paramref name="buffers"/> into one array, runs <paramref name="collective"/> on it, and unpacks.</summary>
    private void Pack<T>(List<Tensor> buffers, int total, SpanAction<T> collective) where T : unmanaged
    {
        var flat = new T[total];
        int at = 0;
        foreach (var b in buffers)
        {
            b.Contiguous().AsSpan<T>().CopyTo(flat.AsSpan(at));
            at += b.Numel;
        }
        collective(Group, flat);
        at = 0;
        using var _ = GradMode.Disable();
        foreach (var b in buffers)
        {
            b.CopyFrom(Tensor.FromSpan<T>(flat.AsSpan(at, b.Numel), b.Shape));
            at += b.Numel;
        }
    }

    /// <summary>Removes the gradient hooks (the model trains on alone afterwards); the group stays open.</summary>
    public void Dispose()
    {
        foreach (var h in _hooks) h.Remove();
        _hooks.Clear();
    }

    /// <summary>Gradients of a run of parameters in one flat buffer, and the all-reduce in flight on it.</summary>
    private sealed class Bucket
    {
        private readonly int[] _offsets;
        private readonly bool[] _ready;
        private int _readyCount;

        public string[] Names { get; }
        public Tensor[] Parameters { get; }
        public float[]? Float32 { get; }
        public double[]? Float64 { get; }
        public long Bytes { get; }
        public CollectiveHandle? Handle { get; set; }
        public bool IsFull => _readyCount == Parameters.Length;

        public Bucket(string[] names, Tensor[] parameters)
        {
            Names = names;
            Parameters = parameters;
            _offsets = new int[parameters.Length + 1];
            for (int i = 0; i < parameters.Length; i++) _offsets[i + 1] = checked(_offsets[i] + parameters[i].Numel);
            _ready = new bool[parameters.Length];
            int total = _offsets[^1];
            if (parameters[0].DType == DType.Float32) { Float32 = new float[total]; Bytes = (long)total * sizeof(float); }
            else { Float64 = new double[total]; Bytes = (long)total * sizeof(double); }
        }

        /// <summary>Copies parameter <paramref name="slot"/>'s gradient (or zeros, when it has none) into the buffer.</summary>
        public void Collect(int slot)
        {
            int at = _offsets[slot], length = _offsets[slot + 1] - at;
            var grad = Parameters[slot].Grad?.Contiguous();
            if (Float32 is not null)
            {
                var dst = Float32.AsSpan(at, length);
                if (grad is null) dst.Clear(); else grad.AsSpan<float>().CopyTo(dst);
            }
            else
            {
                var dst = Float64.AsSpan(at, length);
                if (grad is null) dst.Clear(); else grad.AsSpan<double>().CopyTo(dst);
            }
            if (!_ready[slot]) { _ready[slot] = true; _readyCount++; }
        }

        public void CollectMissing()
        {
            for (int i = 0; i < Parameters.Length; i++)
                if (!_ready[i]) Collect(i);
        }

        /// <summary>Each parameter's gradient becomes a new tensor with its part of the averaged buffer.</summary>
        public void WriteBack()
        {
            for (int i = 0; i < Parameters.Length; i++)
            {
                int at = _offsets[i], length = _offsets[i + 1] - at;
                var p = Parameters[i];
                // A new tensor rather than a write into the old gradient: two gradients may share storage (an add's
                // backward hands the same tensor to both of its inputs).
                p.Grad = Float32 is not null
                    ? Tensor.FromSpan<float>(Float32.AsSpan(at, length), p.Shape)
                    : Tensor.FromSpan<double>(Float64.AsSpan(at, length), p.Shape);
            }
            Array.Clear(_ready);
            _readyCount = 0;
            Handle = null;
        }
    }
}
