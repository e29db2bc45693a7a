namespace Fovea.Data;

/// <summary>
/// Chooses which samples an epoch visits and in what order (PyTorch's <c>Sampler</c>). Set
/// <see cref="DataLoader{TItem, TBatch}.Sampler"/> to one to replace the loader's own sequential or shuffled order,
/// for example with a distributed sampler that gives each process its own shard.
/// </summary>
public interface ISampler
{
    /// <summary>How many indices <see cref="Order"/> returns (the same every epoch).</summary>
    int Count { get; }

    /// <summary>The dataset indices epoch <paramref name="epoch"/> visits, in order; a function of the epoch alone.</summary>
    int[] Order(int epoch);
}
