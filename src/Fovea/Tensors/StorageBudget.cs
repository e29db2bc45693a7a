namespace Fovea;

/// <summary>
/// A limit on the bytes of tensor storage the current thread may allocate while the scope is open, for building
/// something whose size comes from untrusted input (a model described by a checkpoint's metadata): an allocation
/// that would exceed the limit throws <see cref="StorageBudgetExceededException"/> before it takes any memory.
/// Scopes nest; an inner scope never allows more than what is left of the outer one. Other threads are not limited.
/// </summary>
/// <example><code>
/// using (StorageBudget.Limit(expectedBytes)) model = build();
/// </code></example>
public sealed class StorageBudget : IDisposable
{
    [ThreadStatic] private static StorageBudget? _current;

    private readonly StorageBudget? _outer;
    private bool _disposed;

    private StorageBudget(long limit, StorageBudget? outer)
    {
        LimitBytes = limit;
        _outer = outer;
    }

    /// <summary>The bytes this scope allows.</summary>
    public long LimitBytes { get; }

    /// <summary>The bytes of tensor storage allocated on this thread since the scope opened.</summary>
    public long AllocatedBytes { get; private set; }

    /// <summary>Opens a scope that allows <paramref name="bytes"/> of tensor storage on this thread until disposed.</summary>
    public static StorageBudget Limit(long bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        var outer = _current;
        var budget = new StorageBudget(outer is null ? bytes : Math.Min(bytes, outer.LimitBytes - outer.AllocatedBytes), outer);
        _current = budget;
        return budget;
    }

    /// <summary>Charges an allocation of <paramref name="elements"/> elements of <paramref name="dtype"/> to the open scope, if any.</summary>
    internal static void Charge(DType dtype, long elements)
    {
        var budget = _current;
        if (budget is null) return;
        long bytes = elements * dtype.SizeOf();
        if (bytes > budget.LimitBytes - budget.AllocatedBytes)
            throw new StorageBudgetExceededException(bytes, budget.AllocatedBytes, budget.LimitBytes);
        budget.AllocatedBytes += bytes;
    }

    /// <summary>Closes the scope; what it allocated counts against the enclosing scope.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        if (_current != this)
            throw new InvalidOperationException("StorageBudget: scopes must be closed in the reverse order they were opened, on the thread that opened them");
        _current = _outer;
        if (_outer is not null) _outer.AllocatedBytes += AllocatedBytes;
    }
}

/// <summary>Thrown when a tensor allocation would exceed the open <see cref="StorageBudget"/>.</summary>
public sealed class StorageBudgetExceededException : Exception
{
    /// <summary>Creates the exception for a refused request.</summary>
    public StorageBudgetExceededException(long requestedBytes, long allocatedBytes, long limitBytes)
        : base($"allocating {requestedBytes} bytes of tensor storage would exceed the budget of {limitBytes} bytes ({allocatedBytes} already allocated)")
    {
        RequestedBytes = requestedBytes;
        AllocatedBytes = allocatedBytes;
        LimitBytes = limitBytes;
    }

    /// <summary>The bytes the refused allocation asked for.</summary>
    public long RequestedBytes { get; }

    /// <summary>The bytes the scope had already allocated.</summary>
    public long AllocatedBytes { get; }

    /// <summary>The scope's limit.</summary>
    public long LimitBytes { get; }
}
