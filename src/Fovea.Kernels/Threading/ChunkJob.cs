using System.Runtime.ExceptionServices;

namespace Fovea.Kernels;

/// <summary>
/// One parallel region of <see cref="ParallelFor.ForChunks{TBody}(int, in TBody)"/>: a reusable work item (one per
/// calling thread and body type) that hands out chunk indices from a shared counter. It runs on Fovea's polling
/// <see cref="WorkerPool"/>, or on the .NET thread pool when another thread's region holds that.
/// <para>
/// The caller never waits for a pool thread that has not started: when every chunk is done it revokes the worker
/// slots nobody has claimed yet, and waits only for workers already inside the region (they are finishing their
/// last chunk). A queued work item that starts later finds no slot (or a slot of a later region on the same job,
/// whose state was fully published before the slot was offered) and so can never see a half-written region.
/// </para>
/// </summary>
internal sealed class ChunkJob<TBody> : IThreadPoolWorkItem where TBody : struct, IChunkBody
{
    [ThreadStatic] private static ChunkJob<TBody>? _cached;

    // _state packs two counts so that claiming a slot and entering the region is one atomic step:
    // low 16 bits = worker slots offered but not yet claimed; high bits = workers inside the region.
    private const int SlotMask = 0xFFFF;
    private const int RunningOne = 1 << 16;

    private readonly ManualResetEventSlim _done = new(false);
    private TBody _body;
    private int _chunks;
    private int _next;
    private int _pending;
    private int _state;
    private ExceptionDispatchInfo? _error;

    /// <summary>Runs the region on the calling thread plus up to <paramref name="workers"/> pool threads; returns when every chunk is done.</summary>
    public static void Run(int chunks, int workers, in TBody body)
    {
        var job = _cached ??= new ChunkJob<TBody>();
        job._body = body;
        job._chunks = chunks;
        job._next = 0;
        job._pending = chunks;
        job._error = null;
        job._done.Reset();
        // Publishing the slots last makes every field above visible to whoever claims one.
        Volatile.Write(ref job._state, Math.Min(workers, SlotMask));
        bool pooled = WorkerPool.TryDispatch(job, workers);
        if (!pooled)
        {
            for (int w = 0; w < workers; w++)
                ThreadPool.UnsafeQueueUserWorkItem(job, preferLocal: false);
        }

        job.Work();
        job.AwaitChunks();

        int s;
        do { s = Volatile.Read(ref job._state); }
        while (Interlocked.CompareExchange(ref job._state, s & ~SlotMask, s) != s);
        var spin = new SpinWait();
        while ((Volatile.Read(ref job._state) & ~SlotMask) != 0) spin.SpinOnce();
        if (pooled) WorkerPool.Release();

        job._body = default; // drop references the body holds until the next region
        job._error?.Throw();
    }

    /// <summary>
    /// Waits for the chunks other threads are finishing: polls first (they usually end within microseconds of the
    /// caller's last chunk, and a sleeping caller would pay a wake-up), then sleeps on the event.
    /// </summary>
    private void AwaitChunks()
    {
        long deadline = System.Diagnostics.Stopwatch.GetTimestamp() + WorkerPool.PollTicks;
        int polls = 0;
        while (Volatile.Read(ref _pending) != 0)
        {
            if (System.Diagnostics.Stopwatch.GetTimestamp() > deadline)
            {
                _done.Wait();
                return;
            }
            WorkerPool.Poll(ref polls);
        }
    }

    /// <summary>Entry point on a pool thread: claims a worker slot if one is still offered, then helps.</summary>
    public void Execute()
    {
        int s;
        do
        {
            s = Volatile.Read(ref _state);
            if ((s & SlotMask) == 0) return;
        }
        while (Interlocked.CompareExchange(ref _state, s - 1 + RunningOne, s) != s);
        try { Work(); }
        finally { Interlocked.Add(ref _state, -RunningOne); }
    }

    private void Work()
    {
        bool outer = ParallelFor.EnterRegion();
        try
        {
            int c;
            while ((c = Interlocked.Increment(ref _next) - 1) < _chunks)
            {
                try { _body.Invoke(c); }
                catch (Exception e) { Interlocked.CompareExchange(ref _error, ExceptionDispatchInfo.Capture(e), null); }
                if (Interlocked.Decrement(ref _pending) == 0) _done.Set();
            }
        }
        finally { ParallelFor.LeaveRegion(outer); }
    }
}
