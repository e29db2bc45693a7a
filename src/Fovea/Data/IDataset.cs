namespace Fovea.Data;

/// <summary>A finite, indexable collection of samples.</summary>
public interface IDataset<out T>
{
    /// <summary>Number of samples.</summary>
    int Count { get; }

    /// <summary>Sample <paramref name="index"/> (0 ≤ index &lt; Count).</summary>
    T this[int index] { get; }
}

/// <summary>
/// A dataset that can assemble a whole batch at once (for tensors: one gather instead of one copy per
/// sample). <see cref="DataLoader{TItem, TBatch}"/> uses it when available.
/// </summary>
public interface IBatchedDataset<out TBatch>
{
    /// <summary>The batch made of samples <paramref name="indices"/>, in that order.</summary>
    TBatch GetBatch(ReadOnlySpan<int> indices);
}

/// <summary>Samples are rows of tensors that share their first dim (inputs and targets, as PyTorch's TensorDataset).</summary>
public sealed class TensorDataset : IDataset<(Tensor Input, Tensor Target)>, IBatchedDataset<(Tensor Input, Tensor Target)>
{
    /// <summary>All inputs, first dim = sample.</summary>
    public Tensor Inputs { get; }

    /// <summary>All targets, first dim = sample.</summary>
    public Tensor Targets { get; }

    /// <summary>Pairs row i of <paramref name="inputs"/> with row i of <paramref name="targets"/>.</summary>
    public TensorDataset(Tensor inputs, Tensor targets)
    {
        if (inputs.Rank == 0 || targets.Rank == 0 || inputs.Size(0) != targets.Size(0))
            throw new ShapeException("TensorDataset", $"inputs and targets must have the same first dim, got {ShapeChecks.Format(inputs.Shape)} and {ShapeChecks.Format(targets.Shape)}");
        Inputs = inputs.Contiguous();
        Targets = targets.Contiguous();
    }

    /// <inheritdoc/>
    public int Count => Inputs.Size(0);

    /// <inheritdoc/>
    public (Tensor Input, Tensor Target) this[int index] => (Inputs.Select(0, index), Targets.Select(0, index));

    /// <inheritdoc/>
    public (Tensor Input, Tensor Target) GetBatch(ReadOnlySpan<int> indices)
    {
        var idx = Tensor.FromArray(indices.ToArray(), indices.Length);
        return (Inputs.IndexSelect(0, idx), Targets.IndexSelect(0, idx));
    }
}
