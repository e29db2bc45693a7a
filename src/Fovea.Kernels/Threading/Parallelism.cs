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
}
