namespace Fovea.Training;

/// <summary>Progress after one training batch (epochs and batches count from 1).</summary>
/// <param name="Epoch">The epoch running.</param>
/// <param name="Epochs">Total epochs of the run.</param>
/// <param name="Batch">Batches done in this epoch.</param>
/// <param name="Batches">Batches per epoch.</param>
/// <param name="Loss">This batch's mean loss.</param>
/// <param name="RunningLoss">Mean loss over the epoch so far.</param>
/// <param name="RunningAccuracy">Training accuracy over the epoch so far (NaN when the loop counts no correct predictions).</param>
/// <param name="SamplesPerSecond">Training throughput over the epoch so far.</param>
public readonly record struct BatchProgress(int Epoch, int Epochs, int Batch, int Batches, double Loss, double RunningLoss, double RunningAccuracy, double SamplesPerSecond);

/// <summary>One epoch's figures.</summary>
/// <param name="Epoch">Epoch number, from 1.</param>
/// <param name="TrainLoss">Mean training loss over the epoch (in training mode, as the batches went).</param>
/// <param name="TrainAccuracy">Training accuracy over the epoch (NaN when not counted).</param>
/// <param name="ValidationLoss">Mean validation loss after the epoch (NaN without validation data).</param>
/// <param name="ValidationAccuracy">Validation accuracy after the epoch (NaN without validation data or counting).</param>
/// <param name="Seconds">Wall time of the epoch, training and validation.</param>
/// <param name="SamplesPerSecond">Training samples per second.</param>
public sealed record EpochResult(int Epoch, double TrainLoss, double TrainAccuracy, double ValidationLoss, double ValidationAccuracy, double Seconds, double SamplesPerSecond);

/// <summary>How <see cref="TrainingLoop.Run"/> ended.</summary>
/// <param name="Cancelled">True when the run stopped on request (the checkpoint, if any, holds where it stopped).</param>
/// <param name="StoppedEarly">True when early stopping ended the run: the monitored metric stopped improving.</param>
/// <param name="CompletedEpochs">Epochs finished.</param>
/// <param name="History">Every finished epoch, including those before a resume.</param>
/// <param name="BestEpoch">The epoch with the best monitored metric so far (from 1), or null before the first epoch.</param>
public sealed record TrainingRunResult(bool Cancelled, bool StoppedEarly, int CompletedEpochs, IReadOnlyList<EpochResult> History, int? BestEpoch);

/// <summary>A mean loss and an accuracy over some samples (a validation pass).</summary>
/// <param name="Loss">Mean loss per sample (NaN for no samples).</param>
/// <param name="Accuracy">Fraction classified correctly (NaN when not counted or for no samples).</param>
/// <param name="Count">Samples seen.</param>
public readonly record struct LossAndAccuracy(double Loss, double Accuracy, long Count);
