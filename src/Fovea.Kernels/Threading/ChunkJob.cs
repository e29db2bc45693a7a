using System.Runtime.ExceptionServices;

namespace Fovea.Kernels;

/// <summary>
/// One parallel region of <see cref="ParallelFor.ForChunks{TBody}(int, in TBody)"/>: a reusable work item (one per
/// calling thread and body type) that hands out chunk indices. It runs on Fovea's polling <see cref="WorkerPool"/>, or
/// on the .NET thread pool when another thread's region holds that.
/// <para>
/// Each thread of the region owns a contiguous range of chunks (the caller the first, the first helper to arrive the
/// second, ...) and claims them from a counter on a cache line of its own; a thread that runs out takes the chunks
/// left in the others' ranges, so a late or slowed-down thread still leaves no work undone. A single shared counter
/// cost one cache-line transfer between cores per chunk claimed and per chunk finished: about 50 ns on a 2-core
/// virtual machine whose two virtual CPUs sit close together, but 300–600 ns in the spells (minutes long) when they
/// sit far apart, where the per-plane padding of a ResNet-18's convolutions (up to 512 chunks a region) made its
/// two-thread forward a third slower. Contiguous ranges also leave each thread the same part of every output.
/// </para>
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

    /// <summary>Ints per cache line: participant p's counter is at <see cref="Line"/>·(p + 1), its range end next to it.</summary>
    private const int Line = 16;

    private readonly ManualResetEventSlim _done = new(false);
    private TBody _body;
    private int _participants;
    private int _pending;
    private int _state;
    private int[] _ranges = new int[2 * Line];
    private ExceptionDispatchInfo? _error;

    /// <summary>Runs the region on the calling thread plus up to <paramref name="workers"/> pool threads; returns when every chunk is done.</summary>
    public static void Run(int chunks, int workers, in TBody body)
    {
        var job = _cached ??= new ChunkJob<TBody>();
        job._body = body;
        int participants = Math.Min(workers, SlotMask) + 1;
        job._participants = participants;
        if (job._ranges.Length < Line * (participants + 1)) job._ranges = new int[Line * (participants + 1)];
        for (int p = 0; p < participants; p++)
        {
            job._ranges[Line * (p + 1)] = ParallelFor.ChunkStart(chunks, participants, p);
            job._ranges[Line * (p + 1) + 1] = ParallelFor.ChunkStart(chunks, participants, p + 1);
        }
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

        job.Work(0);
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
        // Slots are claimed from the last offered down, so the first helper in is participant 1.
        try { Work(_participants - (s & SlotMask)); }
        finally { Interlocked.Add(ref _state, -RunningOne); }
    }

    /// <summary>Runs participant <paramref name="me"/>'s own chunks, then whatever is left of the others'.</summary>
    private void Work(int me)
    {
        bool outer = ParallelFor.EnterRegion();
        int done = 0;
        try
        {
            int participants = _participants;
            int[] ranges = _ranges;
            for (int k = 0; k < participants; k++)
            {
                int p = me + k < participants ? me + k : me + k - participants;
                ref int next = ref ranges[Line * (p + 1)];
                int end = ranges[Line * (p + 1) + 1];
                int c;
                while ((c = Interlocked.Increment(ref next) - 1) < end)
                {
                    try { _body.Invoke(c); }
                    catch (Exception e) { Interlocked.CompareExchange(ref _error, ExceptionDispatchInfo.Capture(e), null); }
                    done++;
                }
            }
        }
        finally
        {
            ParallelFor.LeaveRegion(outer);
            if (done > 0 && Interlocked.Add(ref _pending, -done) == 0) _done.Set();
        }
    }
}
