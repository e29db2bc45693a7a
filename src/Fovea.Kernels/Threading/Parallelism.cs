namespace Fovea.Kernels;

/// <summary>
/// The thread setting every kernel reads (through <see cref="ParallelFor"/>). Users set it as
/// <c>Fovea.Threading.MaxDegreeOfParallelism</c>, which forwards here.
/// </summary>
public static class Parallelism
{
    private static int _maxDegreeOfParallelism = Environment.ProcessorCount;

    /// <summary>
    /// The most threads a single kernel call may use (default: the processor count).
    /// Set to 1 to run everything on the calling thread.
    /// </summary>
    public static int MaxDegreeOfParallelism
    {
        get => _maxDegreeOfParallelism;
        set
        {
            if (value < 1)
                throw new ArgumentOutOfRangeException(nameof(value), value, "MaxDegreeOfParallelism must be at least 1.");
            _maxDegreeOfParallelism = value;
        }
    }

    /// <summary>Longest a <see cref="YieldToParallelRegion"/> call waits (1 ms, in <see cref="System.Diagnostics.Stopwatch"/> ticks).</summary>
    private static readonly long YieldLimitTicks = System.Diagnostics.Stopwatch.Frequency / 1000;

    /// <summary>
    /// For background threads (an image loader) between small units of their work: while a kernel's parallel region
    /// runs on as many threads as there are processors, gives up the core (sched_yield, for at most 1 ms), so that with
    /// no core to spare the background work runs in the moments between regions instead of preempting a thread of the
    /// region, which leaves the region's other threads waiting for its chunks (a scheduler slice, milliseconds). True
    /// when it gave way; false at once when no region runs, when the region leaves a processor free, or when called
    /// from inside a region.
    /// </summary>
    public static bool YieldToParallelRegion()
    {
        if (!WorkerPool.RegionFillsEveryCore || ParallelFor.InsideRegion) return false;
        long deadline = System.Diagnostics.Stopwatch.GetTimestamp() + YieldLimitTicks;
        do Thread.Yield();
        while (WorkerPool.RegionFillsEveryCore && System.Diagnostics.Stopwatch.GetTimestamp() < deadline);
        return true;
    }
}
