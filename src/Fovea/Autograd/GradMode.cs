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
    public static IDisposable Disable() => Set(false);

    /// <summary>Records again (inside a disabled scope) until the returned scope is disposed.</summary>
    public static IDisposable Enable() => Set(true);

    /// <summary>Sets grad mode until the returned scope is disposed.</summary>
    public static IDisposable Set(bool enabled)
    {
        bool previous = !_disabled;
        _disabled = !enabled;
        return new Scope(previous);
    }

    private sealed class Scope(bool previous) : IDisposable
    {
        private bool _done;
        public void Dispose()
        {
            if (_done) return;
            _done = true;
            _disabled = !previous;
        }
    }
}
