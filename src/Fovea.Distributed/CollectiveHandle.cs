namespace Fovea.Distributed;

/// <summary>An asynchronous collective in flight (PyTorch's <c>Work</c>): wait on it before using its buffer.</summary>
public sealed class CollectiveHandle
{
    private readonly Task _done;

    internal CollectiveHandle(Task done) => _done = done;

    /// <summary>Whether the collective has finished (successfully or not).</summary>
    public bool IsCompleted => _done.IsCompleted;

    /// <summary>Blocks until the collective has finished; rethrows its failure.</summary>
    public void Wait() => _done.GetAwaiter().GetResult();

    /// <summary>The collective as a task, for <c>await</c>.</summary>
    public Task AsTask() => _done;
}
