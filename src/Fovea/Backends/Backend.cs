using Fovea.Backends.Cpu;
using Fovea.Backends.Reference;

namespace Fovea.Backends;

/// <summary>Chooses the backend that tensor ops run on (per thread; the fast CPU backend by default).</summary>
public static class Backend
{
    /// <summary>The fast CPU backend (SIMD, packed GEMM, threads).</summary>
    public static IBackend Cpu { get; } = new CpuBackend();

    /// <summary>Plain loops with float64 accumulation: the oracle tests hold the fast path against.</summary>
    public static IBackend Reference { get; } = new ReferenceBackend();

    [ThreadStatic] private static IBackend? _current;

    /// <summary>The backend used by ops on this thread.</summary>
    public static IBackend Current => _current ?? Cpu;

    /// <summary>Runs ops on <paramref name="backend"/> until the returned scope is disposed.</summary>
    public static IDisposable Use(IBackend backend)
    {
        var previous = _current;
        _current = backend;
        return new Scope(previous);
    }

    private sealed class Scope(IBackend? previous) : IDisposable
    {
        private bool _disposed;
        public void Dispose()
        {
            if (_disposed) return;
            _disposed = true;
            _current = previous;
        }
    }
}
