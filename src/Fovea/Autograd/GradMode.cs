namespace Fovea;

/// <summary>
/// Whether ops record the graph on this thread (PyTorch's grad mode). <c>using var _ = GradMode.Disable();</c>
/// is <c>torch.no_grad()</c>.
/// </summary>
public static class GradMode
{
    [ThreadStatic] private static bool _disabled;

    /// <summary>True when ops on this thread record a graph for tensors that require grad.</summary>
    public static bool IsEnabled => !_disabled;

    /// <summary>Stops recording until the returned scope is disposed.</summary>
    public static Scope Disable() => Set(false);

    /// <summary>Records again (inside a disabled scope) until the returned scope is disposed.</summary>
    public static Scope Enable() => Set(true);

    /// <summary>Sets grad mode until the returned scope is disposed.</summary>
    public static Scope Set(bool enabled)
    {
        bool previous = !_disabled;
        _disabled = !enabled;
        return new Scope(previous);
    }

    /// <summary>Restores the previous grad mode when disposed (a struct: entering a scope allocates nothing).</summary>
    public readonly struct Scope(bool previous) : IDisposable
    {
        /// <summary>Restores the grad mode that was in force when the scope began.</summary>
        public void Dispose() => _disabled = !previous;
    }
}
