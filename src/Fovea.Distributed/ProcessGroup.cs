using System.Collections.Concurrent;

namespace Fovea.Distributed;

/// <summary>The element types the collectives carry.</summary>
internal enum ElementKind
{
    Float32,
    Float64,
}

/// <summary>
/// What every process group shares: one communication thread that runs the collectives one at a time in the order
/// they were issued (so an MPI library needs only <c>MPI_THREAD_FUNNELED</c>, and ranks see the same order), the
/// synchronous calls as "issue and wait", the asynchronous ones as "issue" with the buffer pinned until done, and the
/// averaging step. A subclass supplies the three blocking primitives on raw buffers, which run on that thread.
/// </summary>
public abstract unsafe class ProcessGroup : IProcessGroup
{
    private readonly BlockingCollection<Action> _work = new();
    private readonly Thread _thread;
    private int _disposed;

    /// <summary>Starts the communication thread (named after <paramref name="name"/>).</summary>
    private protected ProcessGroup(string name)
    {
        _thread = new Thread(Loop) { IsBackground = true, Name = name };
        _thread.Start();
    }

    /// <inheritdoc/>
    public abstract int Rank { get; }

    /// <inheritdoc/>
    public abstract int Size { get; }

    /// <summary>Sums <paramref name="count"/> elements at <paramref name="data"/> over the ranks, in place.</summary>
    private protected abstract void AllReduceSum(void* data, int count, ElementKind kind);

    /// <summary>Copies <paramref name="root"/>'s <paramref name="count"/> elements at <paramref name="data"/> to every rank.</summary>
    private protected abstract void BroadcastFrom(void* data, int count, ElementKind kind, int root);

    /// <summary>Blocks until every rank has arrived.</summary>
    private protected abstract void BarrierAll();

    /// <summary>Runs on the communication thread after the last collective (MPI: <c>MPI_Finalize</c>).</summary>
    private protected virtual void Shutdown() { }

    /// <summary>Runs <paramref name="work"/> on the communication thread and waits for it; rethrows its failure.</summary>
    private protected void Invoke(Action work) => Post(work).GetAwaiter().GetResult();

    /// <summary>Queues <paramref name="work"/> on the communication thread.</summary>
    private protected Task Post(Action work)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        try
        {
            _work.Add(() =>
            {
                try { work(); done.SetResult(); }
                catch (Exception e) { done.SetException(e); }
            });
        }
        catch (InvalidOperationException) { throw new ObjectDisposedException(GetType().Name, "the process group was disposed"); }
        return done.Task;
    }

    private void Loop()
    {
        foreach (var work in _work.GetConsumingEnumerable()) work();
    }

    /// <inheritdoc/>
    public void AllReduce(Span<float> data, ReduceOp op = ReduceOp.Sum)
    {
        fixed (float* p = data)
        {
            nint at = (nint)p;
            int count = data.Length;
            Invoke(() => AllReduceOnThread((void*)at, count, ElementKind.Float32, op));
        }
    }

    /// <inheritdoc/>
    public void AllReduce(Span<double> data, ReduceOp op = ReduceOp.Sum)
    {
        fixed (double* p = data)
        {
            nint at = (nint)p;
            int count = data.Length;
            Invoke(() => AllReduceOnThread((void*)at, count, ElementKind.Float64, op));
        }
    }

    /// <inheritdoc/>
    public CollectiveHandle AllReduceAsync(Memory<float> data, ReduceOp op = ReduceOp.Sum) =>
        StartAllReduce(data.Pin(), data.Length, ElementKind.Float32, op);

    /// <inheritdoc/>
    public CollectiveHandle AllReduceAsync(Memory<double> data, ReduceOp op = ReduceOp.Sum) =>
        StartAllReduce(data.Pin(), data.Length, ElementKind.Float64, op);

    private CollectiveHandle StartAllReduce(System.Buffers.MemoryHandle pin, int count, ElementKind kind, ReduceOp op)
    {
        nint at = (nint)pin.Pointer;
        try
        {
            return new CollectiveHandle(Post(() =>
            {
                try { AllReduceOnThread((void*)at, count, kind, op); }
                finally { pin.Dispose(); }
            }));
        }
        catch
        {
            pin.Dispose();
            throw;
        }
    }

    private void AllReduceOnThread(void* data, int count, ElementKind kind, ReduceOp op)
    {
        AllReduceSum(data, count, kind);
        if (op != ReduceOp.Average || Size == 1) return;
        // The mean is the sum divided by the number of ranks (PyTorch's DDP divides the same way), so a float32
        // gradient averaged over 2 or 4 ranks is exact up to the sum's own rounding.
        if (kind == ElementKind.Float32)
        {
            var span = new Span<float>(data, count);
            float n = Size;
            for (int i = 0; i < span.Length; i++) span[i] /= n;
        }
        else
        {
            var span = new Span<double>(data, count);
            double n = Size;
            for (int i = 0; i < span.Length; i++) span[i] /= n;
        }
    }

    /// <inheritdoc/>
    public void Broadcast(Span<float> data, int root = 0)
    {
        CheckRoot(root);
        fixed (float* p = data)
        {
            nint at = (nint)p;
            int count = data.Length;
            Invoke(() => BroadcastFrom((void*)at, count, ElementKind.Float32, root));
        }
    }

    /// <inheritdoc/>
    public void Broadcast(Span<double> data, int root = 0)
    {
        CheckRoot(root);
        fixed (double* p = data)
        {
            nint at = (nint)p;
            int count = data.Length;
            Invoke(() => BroadcastFrom((void*)at, count, ElementKind.Float64, root));
        }
    }

    /// <inheritdoc/>
    public void Barrier() => Invoke(BarrierAll);

    private void CheckRoot(int root)
    {
        if (root < 0 || root >= Size)
            throw new ArgumentOutOfRangeException(nameof(root), root, $"broadcast: root must be a rank of the group, 0 to {Size - 1}");
    }

    /// <summary>
    /// Finishes the collectives already issued, shuts the group down (MPI: <c>MPI_Finalize</c>) and stops the
    /// communication thread. Collectives issued afterwards throw <see cref="ObjectDisposedException"/>.
    /// </summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        var shutdown = Post(Shutdown);
        _work.CompleteAdding();
        _thread.Join();
        GC.SuppressFinalize(this);
        shutdown.GetAwaiter().GetResult();
    }
}
