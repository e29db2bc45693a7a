using Fovea.Data;
using Fovea.NN;

namespace Fovea.Training;

/// <summary>
/// How one run is replicated over several processes (data parallelism), in the terms a training recipe needs, without
/// tying the core library to a transport: this process's <see cref="Rank"/> among <see cref="Size"/>, its shard of the
/// training set, and the model replication that returns what to run after every backward pass. Fovea.Distributed makes
/// one from a process group (<c>DataParallel.Over(group)</c>). Rank 0 is the one that prints and writes files.
/// </summary>
/// <param name="Rank">This process's index, from 0.</param>
/// <param name="Size">Number of processes.</param>
/// <param name="Shard">(dataset size, seed) → the sampler giving this rank its shard of every epoch.</param>
/// <param name="Replicate">
/// Called once with the model, after its weights are loaded: makes the replicas identical and returns the step to run
/// after each backward pass (average the gradients; agree on stopping), before clipping and the optimizer step.
/// </param>
public sealed record DataParallelism(int Rank, int Size, Func<int, ulong, ISampler> Shard, Func<Module, Action> Replicate)
{
    /// <summary>Whether this is rank 0, which prints progress and writes checkpoints and metrics.</summary>
    public bool IsMain => Rank == 0;
}
