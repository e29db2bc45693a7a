using Fovea.Training;

namespace Fovea.Distributed;

/// <summary>
/// Data parallelism for the general training loop (<see cref="TrainingLoop"/>) and the recipes built on it: each rank
/// trains on its <see cref="DistributedSampler"/> shard, and after every backward pass the gradients are averaged
/// (<see cref="DistributedDataParallel"/>), rank 0's buffers (batch-norm running statistics) are copied to the others so
/// that evaluation and checkpoints agree, and the ranks agree on whether to stop.
/// </summary>
public static class DataParallel
{
    /// <summary>The <see cref="DataParallelism"/> of this rank of <paramref name="group"/>.</summary>
    /// <param name="group">The processes of the run.</param>
    /// <param name="stop">Turns a stop request on any rank into a stop of all ranks after the same batch; null: none.</param>
    /// <param name="bucketMegabytes">Gradient bucket size.</param>
    public static DataParallelism Over(IProcessGroup group, StopAgreement? stop = null, double bucketMegabytes = DistributedDataParallel.DefaultBucketMegabytes)
    {
        ArgumentNullException.ThrowIfNull(group);
        return new DataParallelism(group.Rank, group.Size,
            (count, seed) => new DistributedSampler(count, group, shuffle: true, seed: seed),
            model =>
            {
                var ddp = new DistributedDataParallel(model, group, bucketMegabytes);
                return () =>
                {
                    ddp.SynchronizeGradients();
                    ddp.BroadcastBuffers();
                    stop?.Agree();
                };
            });
    }
}

/// <summary>
/// A stop that all ranks take at the same step. A signal (Ctrl-C, or the SIGTERM that mpirun or a batch scheduler
/// forwards to every process) reaches the ranks at slightly different moments; were each to stop at once, one would
/// wait forever in a collective the others never issue. Instead each rank calls <see cref="Agree"/> once per step,
/// which sums the local requests over the group; when any rank has one, every rank's <see cref="Token"/> is cancelled
/// in the same step.
/// </summary>
public sealed class StopAgreement(IProcessGroup group, CancellationToken local)
{
    private readonly CancellationTokenSource _agreed = new();

    /// <summary>Cancelled on every rank in the same step, once some rank has been asked to stop.</summary>
    public CancellationToken Token => _agreed.Token;

    /// <summary>One all-reduce of a single number: does any rank want to stop?</summary>
    public void Agree()
    {
        Span<double> wanted = [local.IsCancellationRequested ? 1 : 0];
        group.AllReduce(wanted);
        if (wanted[0] > 0) _agreed.Cancel();
    }
}
