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
}
