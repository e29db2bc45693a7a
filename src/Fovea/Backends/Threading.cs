using Fovea.Kernels;

namespace Fovea;

/// <summary>Global threading settings for every Fovea kernel: one knob.</summary>
public static class Threading
{
    /// <summary>
    /// The most threads a single kernel call may use (default: the processor count; at least 1).
    /// Set to 1 to run everything on the calling thread. The CLI's <c>--threads</c> sets this.
    /// </summary>
    public static int MaxDegreeOfParallelism
    {
        get => Parallelism.MaxDegreeOfParallelism;
        set => Parallelism.MaxDegreeOfParallelism = value;
    }

    /// <summary>
    /// For background work between small units (a data loader between images): while a kernel's parallel region runs
    /// on Fovea's helper threads, gives up the core for at most 1 ms (<see cref="Parallelism.YieldToParallelRegion"/>);
    /// true when it gave way. <see cref="Data.DataLoader{TItem, TBatch}"/>'s workers call it before each sample.
    /// </summary>
    public static bool YieldToKernels() => Parallelism.YieldToParallelRegion();
}
