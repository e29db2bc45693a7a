namespace Fovea.Data;

/// <summary>
/// A dataset whose sample <c>i</c> is made with a random generator of its own (random augmentation of a decoded
/// image, say) and may be unavailable (a file that cannot be read). <see cref="DataLoader{TItem, TBatch}"/> gives each
/// sample the generator <see cref="DataLoader.SampleGenerator"/>(seed, epoch, i), so the augmentation of a sample
/// depends only on those three numbers, never on which worker thread made it or when: a run resumed mid-epoch sees
/// the same samples as an uninterrupted one.
/// </summary>
public interface ISeededDataset<T> : IDataset<T>
{
    /// <summary>
    /// Makes sample <paramref name="index"/>, drawing any randomness from <paramref name="generator"/>. Returns false
    /// when the sample is to be skipped (the dataset reports why); the loader then leaves it out of its batch.
    /// Called from the loader's worker threads, several at once.
    /// </summary>
    bool TryGet(int index, Generator generator, out T item);
}
