using System.Runtime.InteropServices;

namespace Fovea.Kernels;

/// <summary>
/// Keeps the pool's helper threads off the core of the thread whose parallel region they serve. On the Linux virtual
/// machines Fovea is measured on, the scheduler often places a woken thread on the waker's own core although the
/// other core is idle (the guest counts an idle virtual CPU that the host has descheduled as busy), and there the
/// helper waits behind the caller until the load balancer moves it, milliseconds later. Measured on a 2-core AMD
/// EPYC: 30 to 33 of every 43–45 wake-ups of the helper landed on the caller's core in the bench's slow passes, whose
/// 256² GEMM then took one thread's time; and a helper woken from sleep, or resumed from the garbage collector's
/// suspension by the caller's thread, waited 1–3.5 ms there before it ran (<c>perf sched</c>), so LeNet-5's pooling
/// ran at one thread's speed in most calls after a pause. So the caller's core is left out of the processors each
/// helper may use, for as long as the caller stays on it: a wake-up can then only place the helper elsewhere, and a
/// helper running there is moved by the kernel at once. The set is narrowed from the one the helper started with,
/// never to nothing, and follows the caller when it moves (see <see cref="WorkerPool"/>).
/// Linux only (<c>sched_getaffinity</c>/<c>sched_setaffinity</c> of the C library, which .NET itself calls); elsewhere,
/// or if the calls fail, it does nothing.
/// </summary>
internal static unsafe partial class CoreSeparation
{
    /// <summary>Affinity mask words: 1,024 processors, the C library's default <c>cpu_set_t</c>.</summary>
    private const int MaskWords = 16;

    /// <summary>Whether the C library's calls can be made here: Linux, and <c>sched_getcpu</c> found (tried once).</summary>
    private static readonly bool Available = OperatingSystem.IsLinux() && Probe();

    // Called for every parallel region: it reads the processor number the kernel keeps for the thread (no system
    // call on current C libraries), so the runtime's transition around a native call would cost more than the call.
    [LibraryImport("libc", EntryPoint = "sched_getcpu")]
    [SuppressGCTransition]
    private static partial int SchedGetCpu();

    [LibraryImport("libc", EntryPoint = "gettid")]
    private static partial int GetTid();

    [LibraryImport("libc", EntryPoint = "sched_getaffinity")]
    private static partial int SchedGetAffinity(int pid, nuint size, ulong* mask);

    [LibraryImport("libc", EntryPoint = "sched_setaffinity")]
    private static partial int SchedSetAffinity(int pid, nuint size, ulong* mask);

    /// <summary>
    /// The processor the calling thread runs on, or -1 where that is not known. (Not <see cref="Thread.GetCurrentProcessorId"/>,
    /// which may answer from a cache that is stale after the thread has moved.)
    /// </summary>
    public static int CurrentCpu() => Available ? SchedGetCpu() : -1;

    private static bool Probe()
    {
        try
        {
            return SchedGetCpu() >= 0;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
    }

    /// <summary>The calling thread's kernel id, or 0 where it is not known.</summary>
    public static int CurrentThreadId()
    {
        if (!Available) return 0;
        try
        {
            return GetTid();
        }
        catch (EntryPointNotFoundException)
        {
            return 0;
        }
    }

    /// <summary>The processors the calling thread may run on now, or an empty array where that is not known.</summary>
    public static ulong[] AllowedCpus()
    {
        if (!Available) return [];
        var allowed = new ulong[MaskWords];
        fixed (ulong* mask = allowed)
            return SchedGetAffinity(0, MaskWords * sizeof(ulong), mask) == 0 ? allowed : [];
    }

    /// <summary>How many processors <paramref name="allowed"/> (from <see cref="AllowedCpus"/>) holds.</summary>
    public static int Count(ReadOnlySpan<ulong> allowed)
    {
        int count = 0;
        foreach (ulong word in allowed) count += System.Numerics.BitOperations.PopCount(word);
        return count;
    }

    /// <summary>How many processors the calling thread may run on (0 where that is not known).</summary>
    internal static int AllowedCpuCount() => Count(AllowedCpus());

    /// <summary>
    /// Lets thread <paramref name="threadId"/> run on <paramref name="allowed"/> less processor
    /// <paramref name="busyCpu"/> (a negative number: all of <paramref name="allowed"/>); if it runs on that processor,
    /// the kernel moves it before the call returns. Nothing changes when the set would be empty or the numbers are
    /// unknown. True when the thread's set was changed.
    /// </summary>
    public static bool KeepOff(int threadId, ReadOnlySpan<ulong> allowed, int busyCpu)
    {
        if (!Available || threadId <= 0 || allowed.Length != MaskWords || busyCpu >= 64 * MaskWords) return false;
        ulong* narrowed = stackalloc ulong[MaskWords];
        bool any = false;
        for (int i = 0; i < MaskWords; i++)
        {
            narrowed[i] = allowed[i];
            if (busyCpu >= 0 && i == busyCpu / 64) narrowed[i] &= ~(1UL << (busyCpu % 64));
            any |= narrowed[i] != 0;
        }
        return any && SchedSetAffinity(threadId, MaskWords * sizeof(ulong), narrowed) == 0;
    }
}
