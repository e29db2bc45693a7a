using System.Runtime.CompilerServices;

namespace Fovea.Backends.Cpu;

internal sealed partial class CpuBackend
{
    [ThreadStatic] private static bool t_forbidden;

    /// <summary>
    /// Makes every primitive of the CPU backend throw on this thread until the scope is disposed: how a test proves
    /// that a computation inside <c>Backend.Use(other)</c> never reached the CPU backend. Costs one thread-static
    /// read per primitive call.
    /// </summary>
    internal static IDisposable Forbid()
    {
        bool previous = t_forbidden;
        t_forbidden = true;
        return new Restore(previous);
    }

    private sealed class Restore(bool previous) : IDisposable
    {
        private bool _disposed;

        public void Dispose()
        {
            if (_disposed) return;
            _disposed = true;
            t_forbidden = previous;
        }
    }

    /// <summary>Throws when <see cref="Forbid"/> is active on this thread; every primitive calls it first.</summary>
    private static void EnsureAllowed([CallerMemberName] string primitive = "")
    {
        if (t_forbidden)
            throw new InvalidOperationException($"the CPU backend's {primitive} was reached while it is forbidden on this thread");
    }
}
