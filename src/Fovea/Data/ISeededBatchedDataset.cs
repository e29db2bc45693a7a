namespace Fovea.Data;

/// <summary>
/// A seeded dataset (<see cref="ISeededDataset{T}"/>) that can also make a whole batch at once, straight into the
/// batch's storage: no tensor per sample and no collation pass (an image dataset decodes each image into its row of the
/// batch). <see cref="DataLoader{TItem, TBatch}"/> uses it when it is given no collate function. The batch must be what
/// collating the samples one by one would give: sample <c>i</c> made with
/// <see cref="DataLoader.SampleGenerator"/>(seed, epoch, i), the skipped samples left out, the rest in order.
/// </summary>
public interface ISeededBatchedDataset<TBatch>
{
    /// <summary>
    /// The batch of samples <paramref name="indices"/> (in that order) of <paramref name="epoch"/> of a loader seeded
    /// with <paramref name="seed"/>, leaving out the samples the dataset skips; false, and no batch, when it skips
    /// them all. Called from the loader's worker threads, several at once.
    /// </summary>
    bool TryGetBatch(ReadOnlySpan<int> indices, ulong seed, int epoch, out TBatch batch);
}
