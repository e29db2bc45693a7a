using Fovea.Data;

namespace Fovea.Distributed;

/// <summary>
/// Gives each of <see cref="Replicas"/> processes its own shard of a dataset every epoch (PyTorch's
/// <c>DistributedSampler</c>): all ranks draw the same seeded permutation for the epoch — the one a
/// <see cref="DataLoader{TItem, TBatch}"/> with the same seed would use — pad it by repeating its start until its length
/// divides evenly (or cut the tail with <see cref="DropLast"/>), and rank r takes positions r, r + N, r + 2N, … So the
/// shards are disjoint apart from the padding, together cover the dataset, and all have <see cref="Count"/> samples,
/// which keeps the ranks' step counts (and so their collectives) in lock-step. Batch k of every rank's loader together
/// is batch k of a single-process loader with N times the batch size.
/// </summary>
public sealed class DistributedSampler : ISampler
{
    /// <summary>Samples in the dataset.</summary>
    public int DatasetCount { get; }

    /// <summary>Number of ranks sharing the dataset.</summary>
    public int Replicas { get; }

    /// <summary>This rank's index.</summary>
    public int Rank { get; }

    /// <summary>Whether each epoch uses a new seeded permutation (otherwise the dataset order).</summary>
    public bool Shuffle { get; }

    /// <summary>Seed of the permutations; every rank must use the same.</summary>
    public ulong Seed { get; }

    /// <summary>Whether the tail that does not divide evenly is dropped instead of padded.</summary>
    public bool DropLast { get; }

    /// <summary>Samples per rank per epoch.</summary>
    public int Count { get; }

    /// <summary>Samples over all ranks per epoch (<see cref="Count"/> × <see cref="Replicas"/>).</summary>
    public int TotalCount => Count * Replicas;

    /// <summary>Creates the sampler of rank <paramref name="rank"/> of <paramref name="replicas"/>.</summary>
    public DistributedSampler(int datasetCount, int replicas, int rank, bool shuffle = true, ulong seed = 0, bool dropLast = false)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(datasetCount);
        if (replicas < 1) throw new ArgumentOutOfRangeException(nameof(replicas), replicas, "there must be at least one replica");
        if (rank < 0 || rank >= replicas) throw new ArgumentOutOfRangeException(nameof(rank), rank, $"rank must be 0 to {replicas - 1}");
        DatasetCount = datasetCount;
        Replicas = replicas;
        Rank = rank;
        Shuffle = shuffle;
        Seed = seed;
        DropLast = dropLast;
        // As PyTorch: ceil(n / N) per rank when padding, floor(n / N) when dropping the tail.
        Count = dropLast ? datasetCount / replicas : (datasetCount + replicas - 1) / replicas;
    }

    /// <summary>The sampler of this rank of <paramref name="group"/>.</summary>
    public DistributedSampler(int datasetCount, IProcessGroup group, bool shuffle = true, ulong seed = 0, bool dropLast = false)
        : this(datasetCount, group.Size, group.Rank, shuffle, seed, dropLast) { }

    /// <summary>This rank's dataset indices for <paramref name="epoch"/>.</summary>
    public int[] Order(int epoch)
    {
        var all = Shuffle ? new Generator(Seed).SelectStream(epoch).Permutation(DatasetCount) : Identity(DatasetCount);
        var mine = new int[Count];
        // Position p of the padded list is all[p mod n]: the padding repeats the permutation's start (as often as
        // needed when there are more ranks than samples).
        for (int i = 0; i < mine.Length; i++) mine[i] = all[(Rank + i * Replicas) % all.Length];
        return mine;
    }

    private static int[] Identity(int n)
    {
        var order = new int[n];
        for (int i = 0; i < n; i++) order[i] = i;
        return order;
    }
}
