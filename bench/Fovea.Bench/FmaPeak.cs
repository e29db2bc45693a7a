using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Fovea.Bench;

/// <summary>
/// Measures this machine's float32 FMA peak with a tight loop of independent FMA chains on the widest
/// accelerated vector (Vector512 when accelerated, else Vector256), on a given number of threads at once.
/// Twelve chains cover FMA latency x throughput (4 cycles x 2 pipes on current x86 cores) with room to spare.
/// </summary>
public static class FmaPeak
{
    private static readonly Dictionary<int, double> Cache = [];

    /// <summary>Vector width used, for the printed line.</summary>
    public static string Width => Vector512.IsHardwareAccelerated ? "Vector512" : "Vector256";

    /// <summary>
    /// Peak GFLOP/s on <paramref name="threads"/> threads running at once: the best of every measurement taken so far
    /// in this process. Load from other processes only ever lowers a measurement, so the maximum is the estimate.
    /// </summary>
    public static double GFlops(int threads)
    {
        if (!Cache.ContainsKey(threads)) Remeasure(threads, 7);
        return Cache[threads];
    }

    /// <summary>
    /// Takes <paramref name="attempts"/> more measurements (the first is a warm-up) and keeps the best; returns the
    /// best of these attempts alone, which shows whether every core was there just now.
    /// </summary>
    public static double Remeasure(int threads, int attempts = 3)
    {
        const long iterations = 20_000_000;
        double best = Cache.GetValueOrDefault(threads), now = 0;
        for (int attempt = 0; attempt < attempts; attempt++)
        {
            using var start = new Barrier(threads + 1);
            var workers = new Thread[threads];
            for (int t = 0; t < threads; t++)
            {
                workers[t] = new Thread(() => { start.SignalAndWait(); Sink(Loop(attempt == 0 ? iterations / 10 : iterations)); });
                workers[t].Start();
            }
            start.SignalAndWait();
            long t0 = Stopwatch.GetTimestamp();
            foreach (var w in workers) w.Join();
            double seconds = Stopwatch.GetElapsedTime(t0).TotalSeconds;
            if (attempt == 0) continue; // warm-up: JIT and clock ramp
            double flops = threads * (double)iterations * 12 * Lanes * 2;
            now = Math.Max(now, flops / seconds / 1e9);
        }
        Cache[threads] = Math.Max(best, now);
        return now;
    }

    private static int Lanes => Vector512.IsHardwareAccelerated ? 16 : 8;

    private static float _sink;

    private static void Sink(float x) => Volatile.Write(ref _sink, x);

    private static float Loop(long iterations) => Vector512.IsHardwareAccelerated ? Loop512(iterations) : Loop256(iterations);

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static float Loop256(long iterations)
    {
        var x = Vector256.Create(0.999999f);
        var y = Vector256.Create(1e-7f);
        Vector256<float> a0 = Vector256.Create(1f), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0;
        Vector256<float> a6 = a0, a7 = a0, a8 = a0, a9 = a0, a10 = a0, a11 = a0;
        for (long i = 0; i < iterations; i++)
        {
            a0 = Vector256.FusedMultiplyAdd(a0, x, y); a1 = Vector256.FusedMultiplyAdd(a1, x, y);
            a2 = Vector256.FusedMultiplyAdd(a2, x, y); a3 = Vector256.FusedMultiplyAdd(a3, x, y);
            a4 = Vector256.FusedMultiplyAdd(a4, x, y); a5 = Vector256.FusedMultiplyAdd(a5, x, y);
            a6 = Vector256.FusedMultiplyAdd(a6, x, y); a7 = Vector256.FusedMultiplyAdd(a7, x, y);
            a8 = Vector256.FusedMultiplyAdd(a8, x, y); a9 = Vector256.FusedMultiplyAdd(a9, x, y);
            a10 = Vector256.FusedMultiplyAdd(a10, x, y); a11 = Vector256.FusedMultiplyAdd(a11, x, y);
        }
        var s = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11;
        return Vector256.Sum(s);
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static float Loop512(long iterations)
    {
        var x = Vector512.Create(0.999999f);
        var y = Vector512.Create(1e-7f);
        Vector512<float> a0 = Vector512.Create(1f), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0;
        Vector512<float> a6 = a0, a7 = a0, a8 = a0, a9 = a0, a10 = a0, a11 = a0;
        for (long i = 0; i < iterations; i++)
        {
            a0 = Vector512.FusedMultiplyAdd(a0, x, y); a1 = Vector512.FusedMultiplyAdd(a1, x, y);
            a2 = Vector512.FusedMultiplyAdd(a2, x, y); a3 = Vector512.FusedMultiplyAdd(a3, x, y);
            a4 = Vector512.FusedMultiplyAdd(a4, x, y); a5 = Vector512.FusedMultiplyAdd(a5, x, y);
            a6 = Vector512.FusedMultiplyAdd(a6, x, y); a7 = Vector512.FusedMultiplyAdd(a7, x, y);
            a8 = Vector512.FusedMultiplyAdd(a8, x, y); a9 = Vector512.FusedMultiplyAdd(a9, x, y);
            a10 = Vector512.FusedMultiplyAdd(a10, x, y); a11 = Vector512.FusedMultiplyAdd(a11, x, y);
        }
        var s = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11;
        return Vector512.Sum(s);
    }
}
