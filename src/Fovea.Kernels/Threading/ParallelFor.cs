namespace Fovea.Kernels;

/// <summary>
/// The one parallel-for helper of Fovea. Splits <c>[0, count)</c> into at most
/// <see cref="Parallelism.MaxDegreeOfParallelism"/> contiguous chunks of at least <c>minGrain</c> items.
/// It runs on the calling thread when the work is small, when one thread is allowed, or when it is
/// already inside a parallel region (no nesting: an inner kernel called from a worker runs serially); and it leaves
/// the processors that background work holds (<see cref="Parallelism.BackgroundWork"/>), running the same chunks on
/// fewer threads.
/// Chunk boundaries depend only on <c>count</c>, <c>minGrain</c> and the thread setting, never on
/// timing, so a caller that reduces per-chunk partials in chunk order gets the same bits every run.
/// </summary>
public static class ParallelFor
{
    [ThreadStatic] private static bool _insideRegion;

    /// <summary>True while the current thread executes the body of a parallel region.</summary>
    public static bool InsideRegion => _insideRegion;

    /// <summary>Marks the current thread as inside a region; returns the previous state for <see cref="LeaveRegion"/>.</summary>
    internal static bool EnterRegion()
    {
        bool outer = _insideRegion;
        _insideRegion = true;
        return outer;
    }

    /// <summary>Restores the state saved by <see cref="EnterRegion"/>.</summary>
    internal static void LeaveRegion(bool outer) => _insideRegion = outer;

    /// <summary>
    /// Multiply-adds a compute-bound kernel call must give each thread before it uses one more (2^20, about 1 M).
    /// A parallel region costs more than its work when the share is tiny: waking a sleeping helper (12–14 µs measured
    /// on the 2-core virtual machines Fovea is measured on), the helper's first cache misses on data the caller's core
    /// has just written, and, on a busy machine, a helper that claims a chunk and then loses its core for a scheduler
    /// slice. Small kernels (LeNet's 5x5 convolutions, GEMMs of a few hundred, a ResNet's 1x1 shortcuts at batch 1) run
    /// at 30–100 GFLOP/s per thread, so a share of 1 M multiply-adds is 20–70 µs of work. The rule was 4 M while a
    /// woken helper often landed on its caller's core and took no chunk (<see cref="CoreSeparation"/>); since the helper
    /// is kept off it, two threads gain at 2 M on a 2-core AMD EPYC (back-to-back calls, medians): LeNet's c1 forward
    /// (7.5 M) 0.23–0.35 → 0.19–0.30 ms, c3 (15.4 M) 0.28–0.44 → 0.26–0.37 ms, and ResNet-18's 1x1 stride-2 shortcuts
    /// at batch 1 (6.4 M each) 0.25–0.28 → 0.10–0.15 ms at 128@28² and 0.17 → 0.10–0.12 ms at 256@14² (at 64@56², 0.26
    /// → 0.15 in two passes of four and 0.40–0.42 in the other two). At 1 M (2026-12-05) LeNet-5's linear layers split
    /// too (fc1 is 3.1 M in each direction), like the convolutions and elementwise passes around them: its
    /// training step on two threads, medians of 20-step spells in a program of its own, with the cache-line probe of
    /// docs/performance-log.md telling the host's two placements apart, 1.67–1.80 → 1.60–1.67 ms near and 2.38–2.51 →
    /// 2.20–2.39 ms far; ResNet-18's batch-1 forward did not move (15.9–16.0 ms either way).
    /// Tests lower it to run the threaded paths on small shapes.
    /// </summary>
    public static long MinMultiplyAddsPerThread { get; internal set; } = 1L << 20;

    /// <summary>
    /// Bytes a memory-bound kernel call (copies, element-wise passes) must move per thread before it uses one more
    /// (256 KiB): one core streams 10–20 GB/s from L2/L3, so 256 KiB is 13–25 µs, several times what a region costs
    /// while the helpers poll between regions (they do for 200 µs after each). Such calls sit between parallel ones,
    /// whose outputs each thread left in its own core's caches: run on one thread, a call of a few hundred kilobytes
    /// first pulls half its data across from the other core. The rule was 1 MiB, which kept LeNet-5's ReLUs, poolings
    /// and their gradients (0.3–1.8 MB each) on one thread; at 256 KiB its training step on two threads, in a program of
    /// its own on a 2-core AMD EPYC (Zen 4), medians of 20-step spells after the warm-up, alternating runs:
    /// 1.85–2.13 → 1.79–1.85 ms; ResNet-18's batch-1 forward 16.1–16.2 → 15.8–16.0 ms.
    /// </summary>
    public static long MinBytesPerThread { get; internal set; } = 1L << 18;

    /// <summary>
    /// The one work-size rule of Fovea's kernels: the number of threads a compute-bound call of
    /// <paramref name="multiplyAdds"/> multiply-adds should use, at least <see cref="MinMultiplyAddsPerThread"/> per
    /// thread, at most <see cref="Parallelism.MaxDegreeOfParallelism"/>; 1 inside a parallel region (no nesting).
    /// </summary>
    public static int ThreadsForMultiplyAdds(long multiplyAdds) => Math.Max(1, ChunkCount(multiplyAdds, MinMultiplyAddsPerThread));

    /// <summary>
    /// The same rule for a memory-bound call that reads and writes <paramref name="bytes"/> bytes in all: at least
    /// <see cref="MinBytesPerThread"/> per thread.
    /// </summary>
    public static int ThreadsForBytes(long bytes) => Math.Max(1, ChunkCount(bytes, MinBytesPerThread));

    /// <summary>
    /// The memory-bound rule as a grain for <see cref="For(int,int,Action{int,int})"/> and <see cref="ForBalanced"/>: the
    /// fewest items of <paramref name="bytesPerItem"/> bytes each that give a thread <see cref="MinBytesPerThread"/>, so
    /// a loop over such items uses the threads <see cref="ThreadsForBytes"/> would give it.
    /// </summary>
    public static int GrainForBytes(long bytesPerItem)
    {
        long per = Math.Max(1, bytesPerItem);
        return (int)Math.Clamp((MinBytesPerThread + per - 1) / per, 1, int.MaxValue);
    }

    /// <summary>Number of chunks <see cref="For(int,int,Action{int,int})"/> would use for this work.</summary>
    public static int ChunkCount(long count, long minGrain)
    {
        if (count <= 0) return 0;
        if (_insideRegion) return 1;
        long grain = Math.Max(1, minGrain);
        long byWork = Math.Max(1, count / grain);
        return (int)Math.Min(byWork, Parallelism.MaxDegreeOfParallelism);
    }

    /// <summary>Start of chunk <paramref name="chunk"/> of <paramref name="chunks"/> over <paramref name="count"/> items.</summary>
    public static int ChunkStart(int count, int chunks, int chunk) => (int)((long)count * chunk / chunks);

    /// <summary>Runs <paramref name="body"/>(start, end) over contiguous chunks of <c>[0, count)</c>.</summary>
    public static void For(int count, int minGrain, Action<int, int> body)
    {
        int chunks = ChunkCount(count, minGrain);
        if (chunks == 0) return;
        if (chunks == 1)
        {
            body(0, count);
            return;
        }
        ForChunks(chunks, c => body(ChunkStart(count, chunks, c), ChunkStart(count, chunks, c + 1)));
    }

    /// <summary>
    /// Like <see cref="For(int,int,Action{int,int})"/>, for bodies whose chunks write disjoint outputs and combine nothing:
    /// when it goes parallel, the range is cut into up to <paramref name="chunksPerThread"/> chunks per thread (never
    /// below <paramref name="minGrain"/> items) that threads take as they come free. On a busy machine a worker that starts
    /// late then leaves its share to the threads already running, instead of the call waiting for it.
    /// </summary>
    public static void ForBalanced(int count, int minGrain, Action<int, int> body, int chunksPerThread = 4)
    {
        int chunks = ChunkCount(count, minGrain);
        if (chunks == 0) return;
        if (chunks == 1)
        {
            body(0, count);
            return;
        }
        int n = (int)Math.Min(Math.Max(1, count / Math.Max(1, minGrain)), (long)Math.Max(1, chunksPerThread) * chunks);
        ForChunks(n, c => body(ChunkStart(count, n, c), ChunkStart(count, n, c + 1)));
    }

    /// <summary>
    /// Runs <paramref name="body"/>(chunk) for each chunk index in <c>[0, chunks)</c>, in parallel.
    /// Use with <see cref="ChunkCount"/> when each chunk writes its own partial result.
    /// </summary>
    public static void ForChunks(int chunks, Action<int> body)
    {
        if (chunks <= 0) return;
        if (chunks == 1 || _insideRegion)
        {
            for (int c = 0; c < chunks; c++) body(c);
            return;
        }
        ForChunks(chunks, new DelegateBody(body));
    }

    /// <summary>
    /// Allocation-free form of <see cref="ForChunks(int, Action{int})"/>: runs <paramref name="body"/>.Invoke(chunk) for
    /// each chunk in <c>[0, chunks)</c>. The body is a struct (its fields carry the state a lambda would capture), copied
    /// once into a per-thread cached job. Each thread (the calling one too) starts on its own contiguous range of chunks
    /// and then takes what is left of the others', so a slowed-down core simply runs fewer chunks. Steady-state calls
    /// allocate nothing.
    /// </summary>
    public static void ForChunks<TBody>(int chunks, in TBody body) where TBody : struct, IChunkBody
    {
        if (chunks <= 0) return;
        int workers = Parallelism.RegionThreads(Math.Min(chunks, Parallelism.MaxDegreeOfParallelism)) - 1;
        if (workers <= 0 || _insideRegion)
        {
            for (int c = 0; c < chunks; c++) body.Invoke(c);
            return;
        }
        ChunkJob<TBody>.Run(chunks, workers, body);
    }

    /// <summary>
    /// Deterministic parallel reduction: each chunk computes a partial with <paramref name="partial"/>(start, end),
    /// then the partials are combined in chunk order with <paramref name="combine"/>.
    /// </summary>
    public static T Reduce<T>(int count, int minGrain, T identity, Func<int, int, T> partial, Func<T, T, T> combine)
    {
        int chunks = ChunkCount(count, minGrain);
        if (chunks == 0) return identity;
        if (chunks == 1) return combine(identity, partial(0, count));
        var parts = new T[chunks];
        ForChunks(chunks, c => parts[c] = partial(ChunkStart(count, chunks, c), ChunkStart(count, chunks, c + 1)));
        T acc = identity;
        for (int c = 0; c < chunks; c++) acc = combine(acc, parts[c]);
        return acc;
    }
}

/// <summary>Adapts a chunk delegate to <see cref="IChunkBody"/>, so delegate and struct bodies share one region engine.</summary>
internal readonly struct DelegateBody(Action<int> body) : IChunkBody
{
    public void Invoke(int chunk) => body(chunk);
}

/// <summary>The work of one chunk for <see cref="ParallelFor.ForChunks{TBody}(int, in TBody)"/>.</summary>
public interface IChunkBody
{
    /// <summary>Processes chunk <paramref name="chunk"/>; called concurrently for different chunks.</summary>
    void Invoke(int chunk);
}
