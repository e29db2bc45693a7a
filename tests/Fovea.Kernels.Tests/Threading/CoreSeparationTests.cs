namespace Fovea.Kernels.Tests;

/// <summary>
/// A helper woken on its caller's core moves off it (<see cref="CoreSeparation"/>): the move is done by narrowing the
/// thread's allowed processors, which must be restored whole, and a processor number that is unknown or out of range changes nothing.
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
    public void OnLinux_WithTwoOrMoreProcessors_TheThreadLeavesTheBusyCore_AndKeepsEveryAllowedProcessor() => OnOwnThread(() =>
    {
        if (!OperatingSystem.IsLinux())
        {
            Assert.Equal(-1, CoreSeparation.CurrentCpu());
            Assert.False(CoreSeparation.MoveOff(0));
            return;
        }
        int allowed = CoreSeparation.AllowedCpuCount();
        Assert.InRange(allowed, 1, 1024);
        // With one allowed processor there is nowhere to go; with more, the move happens (MoveOff checks it did). The
        // scheduler may move the thread between reading its processor and the call, so it gets a few tries.
        bool moved = false;
        for (int attempt = 0; attempt < 5 && !moved; attempt++)
        {
            int cpu = CoreSeparation.CurrentCpu();
            Assert.InRange(cpu, 0, 1023);
            moved = CoreSeparation.MoveOff(cpu);
        }
        Assert.Equal(allowed > 1, moved);
        Assert.Equal(allowed, CoreSeparation.AllowedCpuCount());
    });

    [Fact]
    public void AnUnknownOrImpossibleCore_LeavesTheThreadAlone() => OnOwnThread(() =>
    {
        int allowed = CoreSeparation.AllowedCpuCount();
        Assert.False(CoreSeparation.MoveOff(-1));
        Assert.False(CoreSeparation.MoveOff(1 << 20));
        Assert.Equal(allowed, CoreSeparation.AllowedCpuCount());
    });
}
