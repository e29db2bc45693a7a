namespace Fovea;

/// <summary>
/// Buffers proven dead, kept for the next tensor of the same element type and length: gradient buffers of a backward
/// pass, and the intermediate values of a graph run in inference (<see cref="Recycle"/>).
/// <para>
/// A training step allocates the same activation and gradient buffers every step. Fresh managed arrays cost twice:
/// each generation-0 collection copies the buffers still in flight (LeNet-5 at batch 64: 8.5 MB a step, a
/// collection every two steps, about 0.9 ms each), and a buffer first written after a collection is cold. During a
/// backward pass the engine knows which gradient buffers it alone holds (<see cref="Engine"/>): once the node that
/// consumed one is done, its array comes here, and the next allocation of that size (the rest of the pass, then the
/// next step's forward) reuses it. Pooled arrays soon live in the oldest generation, so collections no longer copy them.
/// An inference runner does the same with the activations it alone held once their last reader is done, so a
/// forward's layers write into buffers the layers before them have just freed, still in cache.
/// </para>
/// <para>
/// Only arrays of at least <see cref="MinLength"/> elements are kept, at most <see cref="MaxBytes"/> in all; a size
/// that no allocation asked for between two full collections is dropped at the second, so the pool gives its memory
/// back after training ends. <see cref="Enabled"/> turns it off; <see cref="Clear"/> empties it.
/// </para>
/// </summary>
public static class StoragePool
{
    /// <summary>Smaller buffers are left to the garbage collector, which allocates them cheaply.</summary>
    public const int MinLength = 4096;

    private static readonly Lock Gate = new();
    private static readonly Dictionary<(DType, int), Bucket> Buckets = [];
    private static long _bytes;
    private static long _maxBytes = 1L << 30;
    private static bool _trimmerStarted;

    /// <summary>Whether dead gradient buffers are kept for reuse (on by default). Turning it off empties the pool.</summary>
    public static bool Enabled
    {
        get => _enabled;
        set
        {
            _enabled = value;
            if (!value) Clear();
        }
    }

    private static volatile bool _enabled = true;

    /// <summary>The most bytes the pool holds (1 GiB by default); a buffer that would pass it is left to the collector.</summary>
    public static long MaxBytes
    {
        get => Interlocked.Read(ref _maxBytes);
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value);
            Interlocked.Exchange(ref _maxBytes, value);
        }
    }

    /// <summary>Bytes held now.</summary>
    public static long PooledBytes
    {
        get
        {
            lock (Gate) return _bytes;
        }
    }

    /// <summary>Drops every pooled buffer.</summary>
    public static void Clear()
    {
        lock (Gate)
        {
            Buckets.Clear();
            _bytes = 0;
        }
    }

    /// <summary>A pooled array of exactly <paramref name="length"/> elements of <paramref name="dtype"/>, or null.</summary>
    internal static Array? TryTake(DType dtype, int length)
    {
        if (length < MinLength || !_enabled) return null;
        lock (Gate)
        {
            if (!Buckets.TryGetValue((dtype, length), out var bucket)) return null;
            bucket.Used = true;
            if (bucket.Arrays.Count == 0) return null;
            _bytes -= Bytes(dtype, length);
            return bucket.Arrays.Pop();
        }
    }

    /// <summary>
    /// Hands the buffer of <paramref name="tensor"/> to the pool for the next tensor of its element type and length:
    /// for code that made an intermediate value and knows it is dead, as the ONNX runner does for the values of its
    /// graph that it alone held, and <see cref="NN.Sequential"/> for its layers' outputs. The caller guarantees that
    /// neither <paramref name="tensor"/> nor any tensor sharing its storage is read or written again by anyone but
    /// autograd (like <c>ArrayPool.Return</c>). A tensor that a recorded op made (it has a <see cref="Tensor.GradFn"/>)
    /// may still be needed by the backward pass: when a graph node saved it, the buffer goes to the pool only when
    /// the last such node lets go of it, in a backward pass that builds no graph of its own (<c>Backward()</c> in
    /// a training step), and never if no such pass comes. Refused (false, nothing changes) for a leaf that requires
    /// grad (a parameter), a tensor that covers only part of its storage, one under <see cref="MinLength"/> elements,
    /// a buffer already returned, or when the pool is off or full; true when the buffer was taken now or will be once
    /// the graph is done with it.
    /// </summary>
    public static bool Recycle(Tensor tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        if ((tensor.RequiresGrad && tensor.GradFn is null) || tensor.Offset != 0 || tensor.Numel != tensor.Storage.Length) return false;
        if (!_enabled || tensor.Storage.Length < MinLength) return false;
        return !tensor.Storage.Disown() || Return(tensor.Storage);
    }

    /// <summary>
    /// Takes back <paramref name="storage"/>'s array; false when it is refused (see <see cref="Recycle"/>). The caller
    /// guarantees that no tensor will read or write <paramref name="storage"/> again; the engine does so only for
    /// gradient buffers it made and alone held.
    /// </summary>
    internal static bool Return(Storage storage)
    {
        if (!_enabled || storage.Length < MinLength || !storage.MarkReturned()) return false;
        long bytes = Bytes(storage.DType, storage.Length);
        lock (Gate)
        {
            if (_bytes + bytes > MaxBytes) return false;
            var key = (storage.DType, storage.Length);
            if (!Buckets.TryGetValue(key, out var bucket)) Buckets[key] = bucket = new Bucket();
            bucket.Arrays.Push(storage.Data);
            bucket.Used = true;
            _bytes += bytes;
            if (!_trimmerStarted)
            {
                _trimmerStarted = true;
                _ = new Trimmer();
            }
        }
        return true;
    }

    private static long Bytes(DType dtype, int length) => (long)length * dtype.SizeOf();

    /// <summary>After a full collection, drops the sizes that nothing asked for since the one before.</summary>
    private static void Trim()
    {
        lock (Gate)
        {
            List<(DType, int)>? stale = null;
            foreach (var (key, bucket) in Buckets)
            {
                if (bucket.Used) bucket.Used = false;
                else (stale ??= []).Add(key);
            }
            if (stale is null) return;
            foreach (var key in stale)
            {
                _bytes -= Bytes(key.Item1, key.Item2) * Buckets[key].Arrays.Count;
                Buckets.Remove(key);
            }
        }
    }

    private sealed class Bucket
    {
        public readonly Stack<Array> Arrays = new();
        public bool Used;
    }

    /// <summary>An object that is finalized at each full collection once it reaches the oldest generation, and re-arms itself.</summary>
    private sealed class Trimmer
    {
        ~Trimmer()
        {
            if (Environment.HasShutdownStarted) return;
            if (GC.GetGeneration(this) == GC.MaxGeneration) Trim();
            GC.ReRegisterForFinalize(this);
        }
    }
}
