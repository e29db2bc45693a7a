namespace Fovea.Kernels.Tests;

/// <summary>
/// The pool keeps its helpers off the caller's core (<see cref="CoreSeparation"/>) by narrowing each helper's allowed
/// processors: the narrowed set leaves out exactly that one, a negative number gives the whole set back, and a
/// processor number or thread that is unknown or out of range changes nothing.
/// </summary>
public class CoreSeparationTests
{
    /// <summary>Runs <paramref name="body"/> on a thread of its own, so narrowing its affinity touches no other test.</summary>
    private static void OnOwnThread(Action body)
    {
        Exception? error = null;
        var thread = new Thread(() =>
        {
            try { body(); }
            catch (Exception e) { error = e; }
        });
        thread.Start();
        thread.Join();
        if (error is not null) throw new Xunit.Sdk.XunitException($"on the test's thread: {error}");
    }

    [Fact]
    public void OnLinux_WithTwoOrMoreProcessors_TheThreadLeavesTheBusyCore_AndGetsItsWholeSetBack() => OnOwnThread(() =>
    {
        ulong[] allowed = CoreSeparation.AllowedCpus();
        int tid = CoreSeparation.CurrentThreadId();
        if (!OperatingSystem.IsLinux())
        {
            Assert.Equal(-1, CoreSeparation.CurrentCpu());
            Assert.Empty(allowed);
            Assert.False(CoreSeparation.KeepOff(tid, allowed, 0));
            return;
        }
        int count = CoreSeparation.Count(allowed);
        Assert.InRange(count, 1, 1024);
        Assert.True(tid > 0);
        // The scheduler may move the thread between reading its processor and the call; the set leaves out the
        // processor named whatever happens, and the thread is then never on it.
        int cpu = CoreSeparation.CurrentCpu();
        Assert.InRange(cpu, 0, 1023);
        bool narrowed = CoreSeparation.KeepOff(tid, allowed, cpu);
        Assert.Equal(count > 1, narrowed);
        if (narrowed)
        {
            Assert.Equal(count - 1, CoreSeparation.AllowedCpuCount());
            Assert.NotEqual(cpu, CoreSeparation.CurrentCpu());
            Assert.True(CoreSeparation.KeepOff(tid, allowed, -1));
        }
        Assert.Equal(allowed, CoreSeparation.AllowedCpus());
    });

    [Fact]
    public void AnUnknownOrImpossibleCoreOrThread_LeavesTheThreadAlone() => OnOwnThread(() =>
    {
        ulong[] allowed = CoreSeparation.AllowedCpus();
        int tid = CoreSeparation.CurrentThreadId();
        Assert.False(CoreSeparation.KeepOff(tid, allowed, 1 << 20));
        Assert.False(CoreSeparation.KeepOff(0, allowed, 0));
        Assert.False(CoreSeparation.KeepOff(-1, allowed, 0));
        Assert.False(CoreSeparation.KeepOff(tid, [], 0));
        Assert.False(CoreSeparation.KeepOff(tid, new ulong[3], 0));
        Assert.Equal(allowed, CoreSeparation.AllowedCpus());
    });

    [Fact]
    public void OneProcessorAllowed_CannotBeLeft() => OnOwnThread(() =>
    {
        if (!OperatingSystem.IsLinux()) return;
        ulong[] allowed = CoreSeparation.AllowedCpus();
        int tid = CoreSeparation.CurrentThreadId();
        int cpu = CoreSeparation.CurrentCpu();
        var only = new ulong[allowed.Length];
        only[cpu / 64] = 1UL << (cpu % 64);
        Assert.False(CoreSeparation.KeepOff(tid, only, cpu));
        Assert.Equal(allowed, CoreSeparation.AllowedCpus());
    });

    [Theory]
    [InlineData(1, 2, 1)] // a caller and one helper on two processors: the helper leaves the caller's
    [InlineData(3, 4, 3)] // four threads on four
    [InlineData(-1, 2, 2)] // three threads on two processors: every processor is needed
    [InlineData(-1, 5, 5)]
    public void TheCallersCoreIsLeftOut_OnlyWhenThePoolHasAProcessorToSpare(int expected, int processors, int helpers)
    {
        var allowed = new ulong[16];
        for (int p = 0; p < processors; p++) allowed[p / 64] |= 1UL << (p % 64);
        int callerCpu = expected < 0 ? 0 : expected;
        Assert.Equal(expected, WorkerPool.CpuToKeepOff(callerCpu, helpers, allowed));
    }
}
