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

    private static int _backgroundThreads;

    /// <summary>Threads inside a <see cref="BackgroundWork"/> scope now (a data loader's workers building batches).</summary>
    public static int BackgroundThreads => Volatile.Read(ref _backgroundThreads);

    /// <summary>
    /// Marks the calling thread as doing background work (a data loader's worker building a batch) until the scope is
    /// disposed. While it is, a kernel's parallel region runs on at most the processors left over
    /// (<see cref="ParallelFor.ForChunks{TBody}(int, in TBody)"/>; at least the calling thread): on a 2-core machine a
    /// training step on two threads and a worker decoding images would otherwise share two cores three ways, the
    /// worker preempting a thread of each region (a scheduler slice, while the region's other thread waits for its
    /// chunks). Only the threads that run the chunks change, never the chunks, so results keep their bits.
    /// </summary>
    public static BackgroundScope BackgroundWork()
    {
        Interlocked.Increment(ref _backgroundThreads);
        return new BackgroundScope();
    }

    /// <summary>The threads a region of <paramref name="wanted"/> threads (its caller included) may run on now.</summary>
    internal static int RegionThreads(int wanted)
    {
        int background = Volatile.Read(ref _backgroundThreads);
        if (background == 0) return wanted;
        return Math.Max(1, Math.Min(wanted, Environment.ProcessorCount - background));
    }

    /// <summary>The scope <see cref="BackgroundWork"/> returns; disposing it ends the background work.</summary>
    public sealed class BackgroundScope : IDisposable
    {
        private int _ended;

        internal BackgroundScope() { }

        /// <summary>Ends the background work (once; later calls do nothing).</summary>
        public void Dispose()
        {
            if (Interlocked.Exchange(ref _ended, 1) == 0) Interlocked.Decrement(ref _backgroundThreads);
        }
    }
}
