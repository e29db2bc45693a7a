using Fovea.Distributed.Mpi;

namespace Fovea.Distributed;

/// <summary>
/// The process group of a job started by Open MPI's <c>mpirun</c> (<c>MPI_COMM_WORLD</c>): <c>mpirun -np 4 fovea ...</c>
/// on one machine, or with <c>--host a,b</c> / a host file across machines. MPI is initialised on the group's
/// communication thread (<c>MPI_Init_thread</c> with <c>MPI_THREAD_FUNNELED</c>), every collective runs there, and
/// <see cref="ProcessGroup.Dispose"/> calls <c>MPI_Finalize</c>. Sums use MPI's own reduction (<c>MPI_Allreduce</c>
/// with <c>MPI_IN_PLACE</c>), which gives every rank the same bits.
/// </summary>
public sealed unsafe class MpiProcessGroup : ProcessGroup
{
    /// <summary>Environment variables that Open MPI's launcher (and PMIx) set in every process it starts.</summary>
    internal static readonly string[] LauncherVariables = ["OMPI_COMM_WORLD_SIZE", "PMIX_RANK"];

    private OpenMpi? _mpi;
    private readonly int _rank, _size;

    /// <inheritdoc/>
    public override int Rank => _rank;

    /// <inheritdoc/>
    public override int Size => _size;

    /// <summary>The library file that was loaded (for logs).</summary>
    public string LibraryName => _mpi!.LibraryName;

    /// <summary>
    /// Joins the MPI job this process belongs to. Throws <see cref="DistributedUnavailableException"/> (one line) when
    /// the process was not started by <c>mpirun</c> or Open MPI is not installed.
    /// </summary>
    public MpiProcessGroup() : base("fovea-mpi")
    {
        try
        {
            if (!LaunchedByMpirun(Environment.GetEnvironmentVariable))
                throw new DistributedUnavailableException(NotLaunchedMessage);
            Invoke(() =>
            {
                var mpi = OpenMpi.Load();
                if (!mpi.Initialized()) mpi.InitThread(OpenMpi.ThreadFunneled);
                _mpi = mpi;
            });
            int rank = 0, size = 0;
            Invoke(() => (rank, size) = (_mpi!.CommRank(), _mpi.CommSize()));
            (_rank, _size) = (rank, size);
        }
        catch
        {
            _mpi = null; // nothing to finalise
            Dispose();
            throw;
        }
    }

    /// <summary>The one line said to a user who started a distributed run without <c>mpirun</c>.</summary>
    public const string NotLaunchedMessage =
        "this process was not started by mpirun (no OMPI_COMM_WORLD_SIZE or PMIX_RANK in its environment): start it with `mpirun -np N <command>` (as root add --allow-run-as-root)";

    /// <summary>Whether the environment read by <paramref name="getVariable"/> is that of a process started by Open MPI's launcher.</summary>
    public static bool LaunchedByMpirun(Func<string, string?> getVariable) =>
        Array.Exists(LauncherVariables, v => !string.IsNullOrEmpty(getVariable(v)));

    private protected override void AllReduceSum(void* data, int count, ElementKind kind) =>
        _mpi!.AllReduceSumInPlace(data, count, kind == ElementKind.Float32 ? _mpi.Float : _mpi.Double);

    private protected override void BroadcastFrom(void* data, int count, ElementKind kind, int root) =>
        _mpi!.Broadcast(data, count, kind == ElementKind.Float32 ? _mpi.Float : _mpi.Double, root);

    private protected override void BarrierAll() => _mpi!.Barrier();

    private protected override void Shutdown()
    {
        _mpi?.FinalizeMpi();
        _mpi = null;
    }
}
