using Fovea.Data;

namespace Fovea.Training;

/// <summary>
/// The training batches of each epoch. An exact resume needs the batches of epoch k to be the same whenever they are
/// asked for, so the order (and any random augmentation) must depend on the epoch number, not on how many epochs
/// were enumerated before: <see cref="DataLoader{TItem, TBatch}"/> shuffles by (seed, epoch), and
/// <see cref="BatchSource.From{TItem}"/> adapts it.
/// </summary>
public interface IBatchSource
{
    /// <summary>Batches per epoch.</summary>
    int BatchCount { get; }

    /// <summary>The batches of epoch <paramref name="epoch"/> (from 0), in order.</summary>
    IEnumerable<(Tensor Input, Tensor Target)> Batches(int epoch);
}

/// <summary>Adapters to <see cref="IBatchSource"/>.</summary>
public static class BatchSource
{
    /// <summary>The batches of <paramref name="loader"/>, epoch k being its enumeration with <c>Epoch = k</c>.</summary>
    public static IBatchSource From<TItem>(DataLoader<TItem, (Tensor Input, Tensor Target)> loader) => new LoaderSource<TItem>(loader);

    /// <summary>The same batches every epoch, in order (full-batch training, small synthetic sets).</summary>
    public static IBatchSource Fixed(params (Tensor Input, Tensor Target)[] batches) => new FixedSource(batches);

    private sealed class LoaderSource<TItem>(DataLoader<TItem, (Tensor Input, Tensor Target)> loader) : IBatchSource
    {
        public int BatchCount => loader.BatchCount;

        public IEnumerable<(Tensor Input, Tensor Target)> Batches(int epoch)
        {
            loader.Epoch = epoch;
            return loader;
        }
    }

    private sealed class FixedSource((Tensor Input, Tensor Target)[] batches) : IBatchSource
    {
        public int BatchCount => batches.Length;

        public IEnumerable<(Tensor Input, Tensor Target)> Batches(int epoch) => batches;
    }
}
