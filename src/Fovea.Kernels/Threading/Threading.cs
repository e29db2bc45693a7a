namespace Fovea;

/// <summary>
/// Global threading settings for every Fovea kernel. One knob, read by <see cref="Kernels.ParallelFor"/>.
/// </summary>
public static class Threading
{
    private static int _maxDegreeOfParallelism = Environment.ProcessorCount;

    /// <summary>
    /// The most threads a single kernel call may use (default: the processor count).
    /// Set to 1 to run everything on the calling thread. The CLI's <c>--threads</c> sets this.
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
}
