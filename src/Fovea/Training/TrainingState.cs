using Fovea.NN;
using Fovea.Optim;

namespace Fovea.Training;

/// <summary>
/// Where an interrupted epoch stood: the batches already done and the running sums, so a resumed run reports
/// the figures an uninterrupted one would have.
/// </summary>
/// <param name="Batch">Batches done in the epoch (at least 1, fewer than the epoch has).</param>
/// <param name="LossSum">Sum over those batches of the mean batch loss times the batch size.</param>
/// <param name="Correct">Correct training predictions counted so far.</param>
/// <param name="Seen">Training samples seen so far.</param>
/// <param name="Seconds">Training time spent on the epoch so far.</param>
public sealed record EpochPosition(int Batch, double LossSum, long Correct, long Seen, double Seconds);

/// <summary>
/// Everything a <see cref="TrainingLoop"/> needs to continue a run exactly where it stopped: the model's state dict
/// (weights, buffers and registered state such as dropout generators), the optimizer's and scheduler's states, the
/// epochs done, the position inside an unfinished epoch, and the history. What a checkpoint file holds, apart from
/// the application's own metadata.
/// </summary>
public sealed class TrainingState
{
    /// <summary>The model's <see cref="Module.StateDict"/>.</summary>
    public required StateDict Model { get; init; }

    /// <summary>The optimizer's state (null: the optimizer keeps its own).</summary>
    public OptimizerState? Optimizer { get; init; }

    /// <summary>The scheduler's state, or null when the run has none.</summary>
    public IReadOnlyDictionary<string, double>? Scheduler { get; init; }

    /// <summary>Epochs finished.</summary>
    public int CompletedEpochs { get; init; }

    /// <summary>The position inside the next epoch when the run was cancelled mid-epoch, else null.</summary>
    public EpochPosition? Position { get; init; }

    /// <summary>The finished epochs' figures (one per completed epoch).</summary>
    public IReadOnlyList<EpochResult> History { get; init; } = [];
}
