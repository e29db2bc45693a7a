using System.Runtime.InteropServices;

namespace Fovea.Kernels;

/// <summary>
/// Moves a helper thread off the core of the thread that woke it. On the Linux virtual machines Fovea is measured on,
/// the scheduler often places a thread woken from sleep on the waker's own core although the other core is idle, and
/// there the helper waits behind the caller until the load balancer moves it, milliseconds later: measured on a
/// 2-core AMD EPYC, 30 to 33 of every 43–45 wake-ups of the helper landed on the caller's core in the bench's slow
/// passes, whose 256² GEMM then took one thread's time. The helper narrows its allowed cores to the
/// others (the kernel moves it at once), then allows them all again, so it is never pinned.
/// Linux only (<c>sched_getaffinity</c>/<c>sched_setaffinity</c> of the C library, which .NET itself calls); elsewhere,
/// or if the calls fail, it does nothing.
/// </summary>
internal static unsafe partial class CoreSeparation
{
    /// <summary>Affinity mask words: 1,024 processors, the C library's default <c>cpu_set_t</c>.</summary>
    private const int MaskWords = 16;

    /// <summary>Whether the C library's calls can be made here: Linux, and <c>sched_getcpu</c> found (tried once).</summary>
    private static readonly bool Available = OperatingSystem.IsLinux() && Probe();

    [LibraryImport("libc", EntryPoint = "sched_getcpu")]
    private static partial int SchedGetCpu();

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

    /// <summary>How many processors the calling thread may run on (0 where that is not known).</summary>
    internal static int AllowedCpuCount()
    {
        ulong* allowed = stackalloc ulong[MaskWords];
        if (!Available || SchedGetAffinity(0, MaskWords * sizeof(ulong), allowed) != 0) return 0;
        int count = 0;
        for (int i = 0; i < MaskWords; i++) count += System.Numerics.BitOperations.PopCount(allowed[i]);
        return count;
    }

    /// <summary>
    /// When the calling thread runs on processor <paramref name="busyCpu"/>, moves it to another processor it may use;
    /// true when it moved.
    /// </summary>
    public static bool MoveOff(int busyCpu)
    {
        if (!Available || busyCpu < 0 || busyCpu >= 64 * MaskWords || SchedGetCpu() != busyCpu) return false;
        ulong* allowed = stackalloc ulong[MaskWords];
        ulong* others = stackalloc ulong[MaskWords];
        if (SchedGetAffinity(0, MaskWords * sizeof(ulong), allowed) != 0) return false;
        bool any = false;
        for (int i = 0; i < MaskWords; i++)
        {
            others[i] = allowed[i];
            if (i == busyCpu / 64) others[i] &= ~(1UL << (busyCpu % 64));
            any |= others[i] != 0;
        }
        if (!any || SchedSetAffinity(0, MaskWords * sizeof(ulong), others) != 0) return false;
        // The kernel has moved this thread before the call returned; the full mask goes back at once.
        bool moved = SchedGetCpu() != busyCpu;
        SchedSetAffinity(0, MaskWords * sizeof(ulong), allowed);
        return moved;
    }
}
