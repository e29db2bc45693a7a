using System.Diagnostics;
using System.Globalization;
using Fovea.Distributed;

namespace Fovea.Cli;

/// <summary>
/// <c>mpirun -np N fovea allreduce</c>: measures all-reduce bandwidth between the processes of an MPI job, for float32
/// buffers of 1 MB doubling up to 64 MB — the figure that decides how far data-parallel training scales on a given
/// network (see docs/distributed.md). A command rather than a bench case because it must run as N processes under
/// mpirun, on the user's own cluster, and every rank must issue the same number of collectives, which the bench
/// harness (rounds chosen by elapsed time, one process) cannot promise.
/// </summary>
public static class AllReduceCommand
{
    /// <summary>The command.</summary>
    public static Command Command { get; } = new("allreduce", "[--min-mb 1] [--max-mb 64] [--iters 20] (under mpirun -np N)",
        "Measure all-reduce bandwidth between the processes of an MPI job (GB/s for 1-64 MB buffers)", (a, o) =>
        {
            int minMb = a.Int("--min-mb", 1, 1, 1024);
            int maxMb = a.Int("--max-mb", 64, minMb, 1024);
            int iterations = a.Int("--iters", 20, 1, 10_000);
            a.Done();
            return Run(minMb, maxMb, iterations, o);
        });

    /// <summary>Runs the measurement in this MPI job; rank 0 prints one line per buffer size.</summary>
    public static int Run(int minMb, int maxMb, int iterations, TextWriter o)
    {
        using var group = MpiJob.Join();
        if (group.Rank == 0)
        {
            o.WriteLine($"all-reduce (sum, float32) over {group.Size} processes, {iterations} iterations per size after 2 warm-up");
            o.WriteLine("size_MB,ms_per_allreduce,algorithm_GB/s,bus_GB/s");
        }
        for (long mb = minMb; mb <= maxMb; mb *= 2)
        {
            var buffer = new float[mb * 1024 * 1024 / sizeof(float)];
            buffer.AsSpan().Fill(1f / group.Size);
            for (int i = 0; i < 2; i++) group.AllReduce(buffer.AsSpan());
            group.Barrier();
            var sw = Stopwatch.StartNew();
            for (int i = 0; i < iterations; i++) group.AllReduce(buffer.AsSpan());
            group.Barrier();
            double seconds = sw.Elapsed.TotalSeconds / iterations;
            // nccl-tests' conventions: algorithm bandwidth = bytes / time; bus bandwidth = that × 2(N − 1)/N, the bytes
            // each link of a ring all-reduce carries, comparable with the link's own speed.
            double bytes = buffer.Length * (double)sizeof(float);
            double algorithm = bytes / seconds / 1e9;
            double bus = algorithm * 2 * (group.Size - 1) / group.Size;
            if (group.Rank == 0)
                o.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{mb},{seconds * 1e3:0.000},{algorithm:0.00},{bus:0.00}"));
        }
        return 0;
    }
}
