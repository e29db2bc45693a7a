using Fovea.Data;

namespace Fovea.Vision.Transforms;

/// <summary>
/// Input/target tensors whose input batches pass through a transform as they are assembled (on the
/// loader's prefetch thread). Each batch's randomness comes from a generator stream chosen by the batch's
/// sample indices, so the same seed and order give the same augmented batches on every run.
/// </summary>
public sealed class AugmentedDataset(Tensor inputs, Tensor targets, ITransform transform, ulong seed = 0)
    : IDataset<(Tensor Input, Tensor Target)>, IBatchedDataset<(Tensor Input, Tensor Target)>
{
    private readonly TensorDataset _data = new(inputs, targets);

    /// <inheritdoc/>
    public int Count => _data.Count;

    /// <inheritdoc/>
    public (Tensor Input, Tensor Target) this[int index]
    {
        get
        {
            var (x, y) = GetBatch([index]);
            return (x.Select(0, 0), y.Select(0, 0));
        }
    }

    /// <inheritdoc/>
    public (Tensor Input, Tensor Target) GetBatch(ReadOnlySpan<int> indices)
    {
        var (x, y) = _data.GetBatch(indices);
        ulong h = seed;
        foreach (int i in indices) h = Generator.Hash(h, (ulong)i);
        return (transform.Apply(x, new Generator(h)), y);
    }
}
