namespace Fovea.Distributed;

/// <summary>
/// A distributed run cannot start here: the process was not launched by <c>mpirun</c>, or Open MPI's library is not
/// installed. The message is one line saying which, and what to do.
/// </summary>
public sealed class DistributedUnavailableException : Exception
{
    /// <summary>Creates the exception with its one-line message.</summary>
    public DistributedUnavailableException(string message) : base(message) { }

    /// <summary>Creates the exception with its one-line message and the underlying failure.</summary>
    public DistributedUnavailableException(string message, Exception inner) : base(message, inner) { }
}
