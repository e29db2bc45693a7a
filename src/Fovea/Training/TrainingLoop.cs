using System.Diagnostics;
using System.Globalization;
using Fovea.NN;
using Fovea.Optim;

namespace Fovea.Training;

/// <summary>
/// The general training loop: epochs of minibatches in training mode (forward, loss, backward, optional gradient
/// clipping, optimizer step, per-batch or per-epoch scheduler step), then a validation pass in eval mode without
/// gradients; progress after every batch, figures after every epoch, a checkpoint after every epoch and on
/// cancellation, the best epoch's checkpoint kept apart, and early stopping when the monitored metric stops
/// improving. Model, loss, optimizer, scheduler and data are passed in; the loop knows no layer type (state that
/// must survive a resume, such as a dropout generator's position, is in the model's state dict).
/// <para>
/// Exact resume: cancellation finishes the current batch and checkpoints the position inside the epoch
/// (<see cref="EpochPosition"/>). <see cref="Restore"/> puts back the model, optimizer and scheduler states and
/// the position; <see cref="Run"/> then asks the batch source for the same epoch again (its order depends only on
/// the epoch), skips the batches already done, and continues with the numbers an uninterrupted run would have
/// computed, bit for bit.
/// </para>
/// <para>
/// A non-finite loss stops the run before the step (the weights stay as they were) with a
/// <see cref="TrainingDivergedException"/>; weights that became NaN or infinite are never written.
/// </para>
/// </summary>
public sealed class TrainingLoop
{
    private readonly List<EpochResult> _history = [];
    private EpochPosition? _position;
    private int _batch; // the last batch done in the epoch running (for messages)

    /// <summary>Sets up a run of <paramref name="epochs"/> epochs; the optional parts are init properties.</summary>
    /// <param name="model">The model trained (its <see cref="Module.Training"/> flag is set by the loop).</param>
    /// <param name="loss">The loss of a batch: (model output, target) → a scalar tensor, the mean over the batch.</param>
    /// <param name="optimizer">The optimizer over the model's trainable parameters.</param>
    /// <param name="train">The training batches of each epoch.</param>
    /// <param name="epochs">Total epochs of the run.</param>
    public TrainingLoop(Module<Tensor, Tensor> model, Func<Tensor, Tensor, Tensor> loss, Optimizer optimizer, IBatchSource train, int epochs)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(loss);
        ArgumentNullException.ThrowIfNull(optimizer);
        ArgumentNullException.ThrowIfNull(train);
        if (epochs < 1) throw new ArgumentOutOfRangeException(nameof(epochs), epochs, "TrainingLoop: epochs must be positive");
        Model = model;
        Loss = loss;
        Optimizer = optimizer;
        Train = train;
        Epochs = epochs;
    }

    /// <summary>The model trained.</summary>
    public Module<Tensor, Tensor> Model { get; }

    /// <summary>The loss of a batch (mean over its samples).</summary>
    public Func<Tensor, Tensor, Tensor> Loss { get; }

    /// <summary>The optimizer.</summary>
    public Optimizer Optimizer { get; }

    /// <summary>The training batches.</summary>
    public IBatchSource Train { get; }

    /// <summary>Total epochs of the run.</summary>
    public int Epochs { get; }

    /// <summary>The learning-rate schedule, or null.</summary>
    public LRScheduler? Scheduler { get; init; }

    /// <summary>True: the scheduler steps after every batch (one-cycle); false: after every epoch.</summary>
    public bool SchedulePerBatch { get; init; }

    /// <summary>Validation batches evaluated after every epoch, or null for none (validation figures are then NaN).</summary>
    public IEnumerable<(Tensor Input, Tensor Target)>? Validation { get; init; }

    /// <summary>Stop each epoch after this many batches (quick runs); null: the whole epoch.</summary>
    public int? MaxBatchesPerEpoch { get; init; }

    /// <summary>
    /// Counts the correct predictions of a batch: (output, target) → count, or null when accuracy does not apply.
    /// Defaults to <see cref="Classification.CorrectIfClassification"/>: arg-max against integer class indices.
    /// </summary>
    public Func<Tensor, Tensor, long?> CountCorrect { get; init; } = Classification.CorrectIfClassification;

    /// <summary>Clip the gradients to this global 2-norm before each step (<see cref="GradientClipping.ClipGradNorm"/>), or null.</summary>
    public double? ClipGradNorm { get; init; }

    /// <summary>Clamp every gradient element to ± this before each step (<see cref="GradientClipping.ClipGradValue"/>), or null.</summary>
    public double? ClipGradValue { get; init; }

    /// <summary>The metric that early stopping and the best checkpoint watch (default: validation loss, lower is better).</summary>
    public MonitoredMetric Monitor { get; init; } = new();

    /// <summary>Stop when <see cref="Monitor"/> has not improved for this many epochs; null: never stop early.</summary>
    public int? EarlyStoppingPatience { get; init; }

    /// <summary>
    /// Writes a checkpoint of the given state to the given path; it must write atomically (through
    /// <see cref="IO.AtomicFile"/>), so a crash never leaves a half-written file. Null: no checkpoints.
    /// </summary>
    public Action<string, TrainingState>? CheckpointWriter { get; init; }

    /// <summary>Where <see cref="CheckpointWriter"/> saves after every epoch and on cancellation (null: nowhere).</summary>
    public string? CheckpointPath { get; init; }

    /// <summary>Where <see cref="CheckpointWriter"/> saves each epoch that improves <see cref="Monitor"/> (null: nowhere).</summary>
    public string? BestCheckpointPath { get; init; }

    /// <summary>Epochs finished so far.</summary>
    public int CompletedEpochs { get; private set; }

    /// <summary>Batches per epoch.</summary>
    public int BatchesPerEpoch => Math.Min(Train.BatchCount, MaxBatchesPerEpoch ?? int.MaxValue);

    /// <summary>The figures of the finished epochs.</summary>
    public IReadOnlyList<EpochResult> History => _history;

    /// <summary>The epoch (from 1) with the best <see cref="Monitor"/> value so far, or null.</summary>
    public int? BestEpoch => Monitor.BestIndex(_history) is int i and >= 0 ? i + 1 : null;

    /// <summary>Where the next epoch starts when the last run was cancelled mid-epoch, else null.</summary>
    public EpochPosition? Position => _position;

    /// <summary>Whether early stopping has ended the run: <see cref="Monitor"/> has not improved for <see cref="EarlyStoppingPatience"/> epochs.</summary>
    public bool ShouldStopEarly => EarlyStoppingPatience is int patience && _history.Count > 0 && _history.Count - (BestEpoch ?? 0) >= patience;

    /// <summary>The state to checkpoint now: model, optimizer, scheduler, epochs, position and history.</summary>
    public TrainingState CaptureState() => new()
    {
        Model = Model.StateDict(),
        Optimizer = Optimizer.StateDict(),
        Scheduler = Scheduler?.StateDict(),
        CompletedEpochs = CompletedEpochs,
        Position = _position,
        History = _history.ToList(),
    };

    /// <summary>
    /// Continues from <paramref name="state"/>: loads the model, optimizer and scheduler states and takes the epochs
    /// done, the position inside the epoch and the history. Throws <see cref="ArgumentException"/> for a state that
    /// does not fit this run (wrong shapes, a missing scheduler state, a position or history that cannot be).
    /// </summary>
    public void Restore(TrainingState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (state.CompletedEpochs < 0 || state.CompletedEpochs > Epochs)
            throw new ArgumentException($"the state has {state.CompletedEpochs} finished epochs, this run has {Epochs}");
        if (state.History.Count != state.CompletedEpochs || state.History.Any(m => m is null))
            throw new ArgumentException($"the training history has {state.History.Count} entries for {state.CompletedEpochs} finished epochs");
        if (state.Position is { } q && (q.Batch < 1 || q.Batch >= BatchesPerEpoch || q.Seen < 0 || q.Correct < 0 || q.Correct > q.Seen
                                        || !double.IsFinite(q.LossSum) || !(q.Seconds >= 0) || state.CompletedEpochs >= Epochs))
            throw new ArgumentException("the position inside the epoch is impossible for this run");
        if (Scheduler is not null && state.Scheduler is null)
            throw new ArgumentException($"the run has a {Scheduler.Name} schedule but the state has no scheduler state");
        Load(() => Model.LoadStateDict(state.Model), $"the weights do not fit the {Model.GetType().Name} model");
        if (state.Optimizer is { } opt) Load(() => Optimizer.LoadStateDict(opt), $"the optimizer state does not fit this {Optimizer.Name} run");
        if (Scheduler is { } scheduler) Load(() => scheduler.LoadStateDict(state.Scheduler!), $"the scheduler state does not fit the {scheduler.Name} schedule");
        CompletedEpochs = state.CompletedEpochs;
        _position = state.Position;
        _history.Clear();
        _history.AddRange(state.History);
    }

    /// <summary>Runs one part of <see cref="Restore"/>; what it throws about a state that does not fit becomes one <see cref="ArgumentException"/> saying <paramref name="what"/>.</summary>
    private static void Load(Action load, string what)
    {
        try
        {
            load();
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or KeyNotFoundException or IndexOutOfRangeException)
        {
            throw new ArgumentException($"{what} ({e.Message})", e);
        }
    }

    /// <summary>
    /// Trains until <see cref="Epochs"/>, early stopping or cancellation. <paramref name="progress"/> hears after every
    /// batch and <paramref name="epochDone"/> after every epoch's validation and checkpoints. On cancellation the
    /// current batch finishes, a checkpoint is saved and the result says <c>Cancelled</c>.
    /// </summary>
    public TrainingRunResult Run(IProgress<BatchProgress>? progress = null, Action<EpochResult>? epochDone = null, CancellationToken cancel = default)
    {
        int batches = BatchesPerEpoch;
        for (int epoch = CompletedEpochs; epoch < Epochs && !ShouldStopEarly; epoch++)
        {
            var part = _position ?? new EpochPosition(0, 0, 0, 0, 0);
            _position = null;
            double lossSum = part.LossSum;
            long correct = part.Correct, seen = part.Seen, seenNow = 0;
            bool counted = true; // false once CountCorrect declines a batch: the loop then reports no accuracy
            var clock = Stopwatch.StartNew();
            Model.Train();
            int b = 0;
            bool stop = false;
            foreach (var (x, y) in Train.Batches(epoch))
            {
                if (b >= batches) break;
                if (b < part.Batch) { b++; continue; }
                Optimizer.ZeroGrad();
                var output = Model.Forward(x);
                var loss = Loss(output, y);
                double l = loss.ToScalar();
                // Stop before the step: the weights stay as they were, and nothing diverged is ever saved.
                if (!double.IsFinite(l)) throw Diverged(epoch + 1, b + 1, $"the loss is {l.ToString("R", CultureInfo.InvariantCulture)}");
                loss.Backward();
                if (ClipGradValue is double value) GradientClipping.ClipGradValue(Model.Parameters(), value);
                if (ClipGradNorm is double norm) GradientClipping.ClipGradNorm(Model.Parameters(), norm);
                Optimizer.Step();
                if (SchedulePerBatch) Scheduler?.Step();
                int n = x.Size(0);
                lossSum += l * n;
                if (CountCorrect(output, y) is long c) correct += c;
                else counted = false;
                seen += n;
                seenNow += n;
                b++;
                progress?.Report(new BatchProgress(epoch + 1, Epochs, b, batches, l, lossSum / seen, counted ? (double)correct / seen : double.NaN,
                    seenNow / Math.Max(1e-9, clock.Elapsed.TotalSeconds)));
                if (cancel.IsCancellationRequested && b < batches) { stop = true; break; }
            }
            if (stop)
            {
                _position = new EpochPosition(b, lossSum, correct, seen, part.Seconds + clock.Elapsed.TotalSeconds);
                _batch = b;
                SaveCheckpoint();
                return Result(cancelled: true);
            }
            double trainSeconds = part.Seconds + clock.Elapsed.TotalSeconds;
            if (!SchedulePerBatch) Scheduler?.Step();
            var validation = Validation is null ? new LossAndAccuracy(double.NaN, double.NaN, 0) : Evaluate(Model, Loss, Validation, CountCorrect);
            var result = new EpochResult(epoch + 1, lossSum / Math.Max(1, seen), counted ? (double)correct / Math.Max(1, seen) : double.NaN,
                validation.Loss, validation.Accuracy, part.Seconds + clock.Elapsed.TotalSeconds, seen / Math.Max(1e-9, trainSeconds));
            _batch = b;
            _history.Add(result);
            CompletedEpochs = epoch + 1;
            SaveCheckpoint();
            if (BestCheckpointPath is not null && BestEpoch == CompletedEpochs) Write(BestCheckpointPath);
            epochDone?.Invoke(result);
            if (cancel.IsCancellationRequested && CompletedEpochs < Epochs && !ShouldStopEarly) return Result(cancelled: true);
        }
        return Result(cancelled: false);
    }

    private TrainingRunResult Result(bool cancelled) => new(cancelled, !cancelled && ShouldStopEarly && CompletedEpochs < Epochs, CompletedEpochs, _history.ToList(), BestEpoch);

    /// <summary>
    /// Writes the checkpoint to <see cref="CheckpointPath"/> now (when both it and <see cref="CheckpointWriter"/> are
    /// set). Weights holding NaN or infinity are never written: the call throws <see cref="TrainingDivergedException"/>
    /// and the file on disk keeps the last good state.
    /// </summary>
    public void SaveCheckpoint()
    {
        if (CheckpointPath is not null) Write(CheckpointPath);
    }

    private void Write(string path)
    {
        if (CheckpointWriter is null) return;
        var state = CaptureState();
        if (state.Model.FirstNonFinite() is { } name)
            throw Diverged(CompletedEpochs + (_position is null ? 0 : 1), _batch, $"the weights hold NaN/Inf (tensor {name})");
        CheckpointWriter(path, state);
    }

    private TrainingDivergedException Diverged(int epoch, int batch, string what)
    {
        string kept = CheckpointPath is not null && File.Exists(CheckpointPath) ? $"{CheckpointPath} keeps the last good state" : "no checkpoint was written";
        return new TrainingDivergedException(epoch, batch,
            string.Create(CultureInfo.InvariantCulture, $"training stopped at epoch {epoch}, batch {batch}: {what}; the run diverged (try a lower learning rate); {kept}"));
    }

    /// <summary>
    /// Runs <paramref name="model"/> in eval mode without gradients over <paramref name="batches"/>: the mean of
    /// <paramref name="loss"/> per sample (each batch's mean weighted by its size) and the accuracy counted by
    /// <paramref name="countCorrect"/> (default: arg-max against class indices; NaN when it returns null).
    /// Restores the training mode after.
    /// </summary>
    public static LossAndAccuracy Evaluate(Module<Tensor, Tensor> model, Func<Tensor, Tensor, Tensor> loss, IEnumerable<(Tensor Input, Tensor Target)> batches,
        Func<Tensor, Tensor, long?>? countCorrect = null)
    {
        countCorrect ??= Classification.CorrectIfClassification;
        bool wasTraining = model.Training;
        model.Eval();
        try
        {
            using var _ = GradMode.Disable();
            double lossSum = 0;
            long correct = 0, seen = 0;
            bool counted = true;
            foreach (var (x, y) in batches)
            {
                var output = model.Forward(x);
                int n = x.Size(0);
                lossSum += loss(output, y).ToScalar() * n;
                if (countCorrect(output, y) is long c) correct += c;
                else counted = false;
                seen += n;
            }
            return seen == 0 ? new(double.NaN, double.NaN, 0) : new(lossSum / seen, counted ? (double)correct / seen : double.NaN, seen);
        }
        finally
        {
            model.Train(wasTraining);
        }
    }
}
