namespace Fovea.Training;

/// <summary>
/// Training met a non-finite loss or non-finite weights and stopped before saving anything diverged: the checkpoint on
/// disk keeps the last good state. The message names the epoch and the batch.
/// </summary>
public sealed class TrainingDivergedException : InvalidOperationException
{
    /// <summary>Creates the exception for <paramref name="epoch"/> and <paramref name="batch"/> (both from 1).</summary>
    public TrainingDivergedException(int epoch, int batch, string message) : base(message)
    {
        Epoch = epoch;
        Batch = batch;
    }

    /// <summary>The epoch running, from 1.</summary>
    public int Epoch { get; }

    /// <summary>The batch of that epoch where it was seen, from 1 (0: before the first batch).</summary>
    public int Batch { get; }
}
