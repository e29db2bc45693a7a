using System.Diagnostics;
using System.Globalization;
using System.Numerics.Tensors;
using Fovea.Kernels;

namespace Fovea.Bench;

/// <summary>
/// The memory side of the roofline: how fast this machine streams float32 arrays far larger than its caches, on one
/// and on several threads (<c>--memory-bandwidth</c>). Two passes over 64 MiB arrays, as STREAM names them: a copy
/// (c = a: 8 bytes read and written per element) and an add (c = a + b: 12 bytes), each thread on its own contiguous
/// share, the thread counts alternating round by round. The figure counts the bytes the program reads and writes
/// (not the extra read a store's cache line may cost), as <c>docs/performance.md</c>'s roofline does for the kernels.
/// </summary>
public static class MemoryBandwidth
{
    private const int Elements = 16 << 20; // 64 MiB a float32 array: three of them overflow any L3 of this class
    private const int Rounds = 40, WarmUp = 5;

    /// <summary>Prints the median and the best of <see cref="Rounds"/> rounds of each pass at each thread count.</summary>
    public static void Run(int[] threadCounts)
    {
        var a = new float[Elements];
        var b = new float[Elements];
        var c = new float[Elements];
        for (int i = 0; i < Elements; i++) { a[i] = i; b[i] = 1; c[i] = 2; }
        var copy = threadCounts.ToDictionary(t => t, _ => new List<double>());
        var add = threadCounts.ToDictionary(t => t, _ => new List<double>());
        int saved = Parallelism.MaxDegreeOfParallelism;
        try
        {
            for (int round = 0; round < WarmUp + Rounds; round++)
            {
                foreach (int threads in threadCounts)
                {
                    Parallelism.MaxDegreeOfParallelism = threads;
                    double copySeconds = Time(threads, (s, e) => a.AsSpan(s, e - s).CopyTo(c.AsSpan(s, e - s)));
                    double addSeconds = Time(threads, (s, e) => TensorPrimitives.Add(a.AsSpan(s, e - s), b.AsSpan(s, e - s), c.AsSpan(s, e - s)));
                    if (round < WarmUp) continue;
                    copy[threads].Add(8.0 * Elements / copySeconds / 1e9);
                    add[threads].Add(12.0 * Elements / addSeconds / 1e9);
                }
            }
        }
        finally
        {
            Parallelism.MaxDegreeOfParallelism = saved;
        }
        Console.WriteLine("# memory bandwidth: GB/s read + written over 64 MiB float32 arrays, median and best of " + Rounds.ToString(CultureInfo.InvariantCulture) + " rounds");
        Console.WriteLine("pass, threads, median_gb_s, best_gb_s");
        foreach (int threads in threadCounts)
        {
            Print("copy", threads, copy[threads]);
            Print("add", threads, add[threads]);
        }
    }

    private static double Time(int threads, Action<int, int> pass)
    {
        long t0 = Stopwatch.GetTimestamp();
        ParallelFor.ForChunks(threads, chunk => pass(ParallelFor.ChunkStart(Elements, threads, chunk), ParallelFor.ChunkStart(Elements, threads, chunk + 1)));
        return Stopwatch.GetElapsedTime(t0).TotalSeconds;
    }

    private static void Print(string pass, int threads, List<double> gbPerSecond)
    {
        var sorted = gbPerSecond.Order().ToArray();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{pass}, {threads}, {sorted[sorted.Length / 2]:0.0}, {sorted[^1]:0.0}"));
    }
}
