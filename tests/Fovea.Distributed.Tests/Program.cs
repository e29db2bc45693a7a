using System.Globalization;

namespace Fovea.Distributed.Tests;

/// <summary>
/// Run by CI under Open MPI: <c>mpirun -np 2 dotnet Fovea.Distributed.Tests.dll mpi-check</c>. Every rank joins the MPI
/// job and trains its shard with averaged gradients; rank 0 also trains the single-process reference with the global
/// batch and compares. Exit 0 when the parameters agree within <see cref="Equivalence.Tolerance"/>, 1 otherwise.
/// (Under the test runner this entry point is not used.)
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        if (args is not ["mpi-check"])
        {
            Console.Error.WriteLine("usage: mpirun -np N dotnet Fovea.Distributed.Tests.dll mpi-check");
            return 2;
        }
        try
        {
            using var group = new MpiProcessGroup();
            var sw = System.Diagnostics.Stopwatch.StartNew();
            var (distributed, first, last) = Equivalence.Train(group);
            // Every rank must hold the same parameters: all-reduce the rank-0 copy's difference.
            var spread = new[] { 0.0 };
            var reference0 = (float[])distributed.Clone();
            group.Broadcast(reference0.AsSpan());
            spread[0] = Equivalence.RelativeDifference(distributed, reference0);
            group.AllReduce(spread.AsSpan());
            if (group.Rank != 0) return 0;
            var (single, _, _) = Equivalence.Train(null);
            double diff = Equivalence.RelativeDifference(distributed, single);
            bool ok = diff <= Equivalence.Tolerance && spread[0] == 0 && last < first;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"mpi-check: {group.Size} processes x batch {Equivalence.GlobalBatch / group.Size} vs 1 x {Equivalence.GlobalBatch}, {Equivalence.Steps} steps ({sw.Elapsed.TotalSeconds:0.0} s): max |diff| / max |param| = {diff:E2} (tolerance {Equivalence.Tolerance:E0}), ranks identical: {spread[0] == 0}, loss {first:0.####} -> {last:0.####}: {(ok ? "ok" : "FAILED")}"));
            return ok ? 0 : 1;
        }
        catch (DistributedUnavailableException e)
        {
            Console.Error.WriteLine($"mpi-check: {e.Message}");
            return 1;
        }
    }
}
