using Fovea.Distributed;

namespace Fovea.Bench;

/// <summary>
/// All-reduce of float32 buffers (1, 8 and 64 MB) between two ranks of the in-process group (two threads of this
/// process sharing memory), against the anchor of the arithmetic alone: one thread adding the two buffers. What the
/// difference shows is the group's own cost (communication threads, barriers, the copy back). Bandwidth between
/// processes, through Open MPI, is measured by <c>mpirun -np 2 fovea allreduce</c>, which the harness cannot run (every
/// rank must issue the same number of collectives, and the harness picks its rounds by elapsed time).
/// </summary>
public sealed class InProcessAllReduceCase(int megabytes) : BenchCase
{
    private InProcessProcessGroup[] _ranks = [];
    private float[][] _buffers = [];

    /// <inheritdoc/>
    public override string Name => $"allreduce_inprocess_2ranks_{megabytes}MB";

    /// <inheritdoc/>
    public override string[] ExtraColumns => ["fovea_GB/s", "anchor_GB/s"];

    /// <summary>The three buffer sizes.</summary>
    public static IEnumerable<BenchCase> All() => [new InProcessAllReduceCase(1), new InProcessAllReduceCase(8), new InProcessAllReduceCase(64)];

    private int Count => megabytes * 1024 * 1024 / sizeof(float);

    /// <inheritdoc/>
    public override void Setup(int threads)
    {
        DisposeRanks();
        _ranks = InProcessProcessGroup.Create(2);
        _buffers = [new float[Count], new float[Count]];
        _buffers[0].AsSpan().Fill(0.5f);
        _buffers[1].AsSpan().Fill(0.25f);
    }

    /// <inheritdoc/>
    public override void RunFovea()
    {
        var first = _ranks[0].AllReduceAsync(_buffers[0].AsMemory(), ReduceOp.Average);
        var second = _ranks[1].AllReduceAsync(_buffers[1].AsMemory(), ReduceOp.Average);
        first.Wait();
        second.Wait();
    }

    /// <inheritdoc/>
    public override void RunAnchor()
    {
        var a = _buffers[0].AsSpan();
        var b = _buffers[1].AsSpan();
        for (int i = 0; i < a.Length; i++) a[i] = (a[i] + b[i]) * 0.5f;
    }

    /// <inheritdoc/>
    public override string[] Extra(int threads, double foveaMs, double anchorMs)
    {
        double bytes = (double)Count * sizeof(float);
        return [Harness.F(bytes / (foveaMs * 1e-3) / 1e9, "0.00"), Harness.F(bytes / (anchorMs * 1e-3) / 1e9, "0.00")];
    }

    /// <inheritdoc/>
    public override void Dispose()
    {
        DisposeRanks();
        base.Dispose();
    }

    private void DisposeRanks()
    {
        foreach (var r in _ranks) r.Dispose();
        _ranks = [];
    }
}
