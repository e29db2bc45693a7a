using System.Diagnostics;

namespace Fovea.Kernels;

/// <summary>
/// Fovea's own helper threads for parallel regions. After a region they keep polling for the next one for a short
/// while before they sleep, the way OpenMP runtimes do: a training step or a blocked GEMM opens regions back to back,
/// microseconds apart, and waking a sleeping thread (a futex, then on a virtual machine an interrupt to an idle
/// virtual CPU) can take longer than a whole small region. With a thread-pool work item per region the second core
/// often joined only after the caller had done every chunk itself.
/// <para>
/// One region at a time owns the pool. A caller that finds it owned by another thread's region hands its work to the
/// .NET thread pool instead, so concurrent callers never wait on each other. A helper that arrives late, after its
/// region ended, finds no slot left to claim (see <see cref="ChunkJob{TBody}"/>) and goes back to polling.
/// </para>
/// </summary>
internal static class WorkerPool
{
    /// <summary>
    /// How long a thread polls before it sleeps: a helper waiting for the next region, or a caller waiting for the
    /// helpers' last chunks (200 µs, in <see cref="Stopwatch"/> ticks).
    /// </summary>
    public static readonly long PollTicks = Stopwatch.Frequency / 5000;

    private static readonly object Gate = new();
    private static IThreadPoolWorkItem? _job;
    private static long _generation;
    private static int _owned;
    private static int _sleeping;
    private static int _started;

    /// <summary>The started helpers, in start order (replaced, not changed, when more start).</summary>
    private static Helper[] _helpers = [];

    /// <summary>A helper thread as <see cref="CoreSeparation"/> sees it.</summary>
    private sealed class Helper
    {
        /// <summary>Kernel thread id, 0 until the thread has started and published it.</summary>
        public int ThreadId;

        /// <summary>The processors the thread was allowed when it started.</summary>
        public ulong[] Allowed = [];

        /// <summary>The processor the thread is kept off (see <see cref="KeepOffCaller"/>); -1 for none.</summary>
        public int KeptOff = -1;

        /// <summary>The helper's place in a region (1 for the first: the caller is 0), which it takes in start order.</summary>
        public int Participant;
    }

    /// <summary>
    /// Offers <paramref name="job"/> to the pool's helpers; returns false (and does nothing) when another region
    /// owns the pool. A true return must be matched by <see cref="Release"/> once the region is over.
    /// </summary>
    public static bool TryDispatch(IThreadPoolWorkItem job, int helpers)
    {
        if (Interlocked.CompareExchange(ref _owned, 1, 0) != 0) return false;
        EnsureThreads(helpers);
        KeepOffCaller();
        Volatile.Write(ref _job, job);
        // The increment is a full fence: a helper that reads _sleeping == 0 after this sees the new generation, and
        // one that went to sleep before it is counted here and gets woken.
        Interlocked.Increment(ref _generation);
        if (Volatile.Read(ref _sleeping) > 0)
        {
            lock (Gate) Monitor.PulseAll(Gate);
        }
        return true;
    }

    /// <summary>
    /// Keeps every helper off the calling thread's core (<see cref="CoreSeparation"/>), before the region is published,
    /// so that neither waking one nor the garbage collector resuming one puts it there. A system call per helper only
    /// when the caller has moved since the last region; otherwise a processor number read and a comparison per helper.
    /// A pool with as many threads as allowed processors or more (the caller's among them) cannot spare the core, and
    /// leaves its helpers on every processor they started with.
    /// </summary>
    private static void KeepOffCaller()
    {
        int cpu = CoreSeparation.CurrentCpu();
        if (cpu < 0) return;
        foreach (var helper in Volatile.Read(ref _helpers))
        {
            if (helper.KeptOff == cpu || Volatile.Read(ref helper.ThreadId) == 0) continue;
            int keepOff = CpuToKeepOff(cpu, _started, helper.Allowed);
            if (helper.KeptOff == keepOff) continue;
            CoreSeparation.KeepOff(helper.ThreadId, helper.Allowed, keepOff);
            helper.KeptOff = keepOff;
        }
    }

    /// <summary>Ends the region that <see cref="TryDispatch"/> started; the job must already have revoked its slots.</summary>
    public static void Release()
    {
        Volatile.Write(ref _job, null);
        Volatile.Write(ref _owned, 0);
    }

    /// <summary>
    /// The processor a helper is kept off: the caller's, unless the pool (<paramref name="helpers"/> and the caller)
    /// has as many threads as the helper's <paramref name="allowed"/> processors or more; then -1, none.
    /// </summary>
    internal static int CpuToKeepOff(int callerCpu, int helpers, ReadOnlySpan<ulong> allowed) =>
        helpers < CoreSeparation.Count(allowed) ? callerCpu : -1;

    private static void EnsureThreads(int helpers)
    {
        if (Volatile.Read(ref _started) >= helpers) return;
        lock (Gate)
        {
            while (_started < helpers)
            {
                var helper = new Helper { Participant = _started + 1 };
                var thread = new Thread(() => Loop(helper)) { IsBackground = true, Name = $"Fovea worker {_started + 1}" };
                Volatile.Write(ref _helpers, [.. _helpers, helper]);
                thread.Start();
                _started++;
            }
        }
    }

    private static void Loop(Helper helper)
    {
        helper.Allowed = CoreSeparation.AllowedCpus();
        Volatile.Write(ref helper.ThreadId, CoreSeparation.CurrentThreadId());
        long seen = Volatile.Read(ref _generation);
        while (true)
        {
            seen = WaitForRegion(seen, helper.Participant);
            Volatile.Read(ref _job)?.Execute();
        }
    }

    /// <summary>Whether no region may use helper <paramref name="participant"/> now (background work holds its processor).</summary>
    internal static bool Unusable(int participant) =>
        Parallelism.BackgroundThreads > 0 && Parallelism.RegionThreads(int.MaxValue) <= participant;

    /// <summary>
    /// One step of a polling wait: a short spin, and every eighth step a yield of the core (sched_yield; about a
    /// microsecond when nothing else wants it). A thread that only spun would hold its core for the whole poll, so a
    /// background thread of the same process — the image loader decoding the next batches while a training step runs
    /// on every core — could only take it by preemption, and the step's idle moments would not help it.
    /// </summary>
    internal static void Poll(ref int polls)
    {
        if ((++polls & 7) == 0) Thread.Yield();
        else Thread.SpinWait(20);
    }

    /// <summary>
    /// Polls for a generation after <paramref name="seen"/>, then sleeps until one is published; returns it. A helper
    /// that no region can use while background work runs (<see cref="Parallelism.RegionThreads"/>: a data loader's
    /// worker building a batch on a machine with no core to spare) sleeps at once: its polls would take the very core
    /// the worker was left. On a 2-core machine a LeNet-5 epoch streamed from a folder of JPEGs, training on two threads
    /// while the worker decodes, had the helper polling 200 µs after every region of the step, about half of the
    /// worker's core.
    /// </summary>
    private static long WaitForRegion(long seen, int participant)
    {
        long deadline = Stopwatch.GetTimestamp() + PollTicks;
        long generation;
        int polls = 0;
        while ((generation = Volatile.Read(ref _generation)) == seen)
        {
            if (Stopwatch.GetTimestamp() < deadline && !Unusable(participant))
            {
                Poll(ref polls);
                continue;
            }
            lock (Gate)
            {
                Interlocked.Increment(ref _sleeping);
                while ((generation = Volatile.Read(ref _generation)) == seen)
                    Monitor.Wait(Gate);
                Interlocked.Decrement(ref _sleeping);
            }
            break;
        }
        return generation;
    }
}
