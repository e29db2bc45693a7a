namespace Fovea;

/// <summary>
/// Undoes one registration (a hook): <see cref="Remove"/> or <c>Dispose</c> takes it out, once; later calls do
/// nothing (PyTorch's <c>torch.utils.hooks.RemovableHandle</c>). Use it in a <c>using</c> block for a hook that
/// should live only for a scope.
/// </summary>
public sealed class RemovableHandle : IDisposable
{
    private Action? _remove;

    /// <summary>A handle whose <see cref="Remove"/> runs <paramref name="remove"/> the first time.</summary>
    public RemovableHandle(Action remove) => _remove = remove ?? throw new ArgumentNullException(nameof(remove));

    /// <summary>Whether <see cref="Remove"/> has run.</summary>
    public bool IsRemoved => Volatile.Read(ref _remove) is null;

    /// <summary>Removes the registration; a second call does nothing.</summary>
    public void Remove() => Interlocked.Exchange(ref _remove, null)?.Invoke();

    /// <summary>Same as <see cref="Remove"/>.</summary>
    public void Dispose() => Remove();
}
