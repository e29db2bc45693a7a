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
    /// Marks the calling thread's work as background (a data loader's worker building a batch) until the returned
    /// scope is disposed: meanwhile kernels run their parallel regions on the processors it leaves free
    /// (<see cref="Parallelism.BackgroundWork"/>), with the same results. <see cref="Data.DataLoader{TItem, TBatch}"/>'s
    /// workers hold one while they build a batch.
    /// </summary>
    public static Parallelism.BackgroundScope BackgroundWork() => Parallelism.BackgroundWork();
}
