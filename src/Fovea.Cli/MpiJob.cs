using Fovea.Distributed;

namespace Fovea.Cli;

/// <summary>Joining the MPI job for the commands that run under <c>mpirun</c>.</summary>
internal static class MpiJob
{
    /// <summary>The MPI process group; a process not started by mpirun (or without Open MPI) is a usage mistake.</summary>
    public static MpiProcessGroup Join()
    {
        try { return new MpiProcessGroup(); }
        catch (DistributedUnavailableException e) { throw new UsageException(e.Message); }
    }
}
