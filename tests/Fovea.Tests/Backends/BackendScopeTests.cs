using Fovea.Backends;

namespace Fovea.Tests.Backends;

public class BackendScopeTests
{
    [Fact]
    public void Use_switches_this_thread_and_restores_on_dispose_even_when_nested()
    {
        Assert.Same(Backend.Cpu, Backend.Current);
        using (Backend.Use(Backend.Reference))
        {
            Assert.Same(Backend.Reference, Backend.Current);
            using (Backend.Use(Backend.Cpu)) Assert.Same(Backend.Cpu, Backend.Current);
            Assert.Same(Backend.Reference, Backend.Current);
            // Other threads keep their own backend.
            IBackend? seen = null;
            var t = new Thread(() => seen = Backend.Current);
            t.Start();
            t.Join();
            Assert.Same(Backend.Cpu, seen);
        }
        Assert.Same(Backend.Cpu, Backend.Current);
        var scope = Backend.Use(Backend.Reference);
        scope.Dispose();
        scope.Dispose(); // a second dispose must not restore a stale backend
        Assert.Same(Backend.Cpu, Backend.Current);
    }

    [Fact]
    public void Reference_backend_returns_contiguous_results_of_its_own()
    {
        var x = Tensor.Arange(6).Reshape(2, 3).T;
        using (Backend.Use(Backend.Reference))
        {
            var y = x.Exp();
            Assert.True(y.IsContiguous);
            Assert.NotSame(x.Storage, y.Storage);
            Assert.Equal("reference", Backend.Current.Name);
        }
        Assert.Equal("cpu", Backend.Current.Name);
    }
}
