using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Fovea.Data;
using Fovea.IO;
using Fovea.NN;
using Fovea.Optim;
using Fovea.Vision.Datasets;
using Fovea.Vision.Models;
using Fovea.Vision.Serialization;
using Fovea.Vision.Transforms;

namespace Fovea.Vision.Training;

/// <summary>Progress after one training batch (epochs and batches count from 1).</summary>
/// <param name="Epoch">The epoch running.</param>
/// <param name="Epochs">Total epochs of the run.</param>
/// <param name="Batch">Batches done in this epoch.</param>
/// <param name="Batches">Batches per epoch.</param>
/// <param name="Loss">This batch's mean loss.</param>
/// <param name="RunningLoss">Mean loss over the epoch so far.</param>
/// <param name="RunningAccuracy">Training accuracy over the epoch so far.</param>
/// <param name="ImagesPerSecond">Training throughput over the epoch so far.</param>
public readonly record struct BatchProgress(int Epoch, int Epochs, int Batch, int Batches, double Loss, double RunningLoss, double RunningAccuracy, double ImagesPerSecond);

/// <summary>One epoch's figures, as written to the metrics file (one JSON object per line, snake_case keys).</summary>
/// <param name="Epoch">Epoch number, from 1.</param>
/// <param name="TrainLoss">Mean training loss over the epoch (in training mode, as the batches went).</param>
/// <param name="TrainAccuracy">Training accuracy over the epoch.</param>
/// <param name="TestLoss">Mean test loss after the epoch.</param>
/// <param name="TestAccuracy">Test accuracy after the epoch.</param>
/// <param name="Seconds">Wall time of the epoch, training and evaluation.</param>
/// <param name="ImagesPerSecond">Training images per second.</param>
public sealed record EpochMetrics(int Epoch, double TrainLoss, double TrainAccuracy, double TestLoss, double TestAccuracy, double Seconds, double ImagesPerSecond);

/// <summary>How a run ended.</summary>
/// <param name="Cancelled">True when the run stopped early on request (the checkpoint holds where it stopped).</param>
/// <param name="CompletedEpochs">Epochs finished.</param>
/// <param name="History">Metrics of every finished epoch, including those before a resume.</param>
/// <param name="CheckpointPath">The checkpoint written.</param>
/// <param name="MetricsPath">The metrics file.</param>
/// <param name="CurvePath">The PNG of the curves (written after the first finished epoch).</param>
public sealed record TrainResult(bool Cancelled, int CompletedEpochs, IReadOnlyList<EpochMetrics> History, string CheckpointPath, string MetricsPath, string CurvePath);

/// <summary>
/// Trains a zoo model on Fashion-MNIST: epochs of shuffled minibatches in training mode, then evaluation in eval mode
/// without gradients; after each epoch the metrics line, the checkpoint (model, optimizer, scheduler, epoch, arguments,
/// history) and the PNG curves. Cancellation finishes the current batch and saves a checkpoint that records the
/// position inside the epoch, so <see cref="TrainOptions.Resume"/> continues with exactly the numbers of an
/// uninterrupted run: the loader's epoch fixes the shuffle and the augmentation, the optimizer and scheduler states
/// are restored, and the batches already done are skipped.
/// </summary>
public sealed class Trainer
{
    /// <summary>Checkpoint file name inside the output directory.</summary>
    public const string CheckpointFile = "checkpoint.safetensors";

    /// <summary>Curve file name inside the output directory.</summary>
    public const string CurveFile = "curves.png";

    /// <summary>Default metrics file name inside the output directory.</summary>
    public const string MetricsFile = "metrics.jsonl";

    /// <summary>The generated serializers for the trainer's records (snake_case; reflection-free for trimming and AOT).</summary>
    private static TrainerJsonContext Json => TrainerJsonContext.Default;

    private readonly DataLoader<(Tensor Input, Tensor Target), (Tensor Input, Tensor Target)> _train, _test;
    private readonly CrossEntropyLoss _loss = new();
    private readonly List<EpochMetrics> _history = [];
    private readonly List<string> _notes = [];
    private readonly bool _schedulePerBatch;
    private Partial? _partial;
    private int _batch; // the last batch done in the epoch running (for messages)

    /// <summary>Where an interrupted epoch stood: batches done and the running sums.</summary>
    internal sealed record Partial(int Batch, double LossSum, long Correct, long Seen, double Seconds);

    private Trainer(TrainOptions options, Module<Tensor, Tensor> model, Optimizer optimizer, LRScheduler? scheduler, bool perBatch,
        DataLoader<(Tensor Input, Tensor Target), (Tensor Input, Tensor Target)> train, DataLoader<(Tensor Input, Tensor Target), (Tensor Input, Tensor Target)> test,
        int[] classLabels, int trainCount, int testCount, int channels, int size)
    {
        InputChannels = channels;
        InputSize = size;
        Options = options;
        Model = model;
        Optimizer = optimizer;
        Scheduler = scheduler;
        _schedulePerBatch = perBatch;
        _train = train;
        _test = test;
        ClassLabels = classLabels;
        TrainCount = trainCount;
        TestCount = testCount;
    }

    /// <summary>The options of the run (for a resumed run: the checkpoint's, with the new epochs and paths).</summary>
    public TrainOptions Options { get; }

    /// <summary>The model being trained.</summary>
    public Module<Tensor, Tensor> Model { get; }

    /// <summary>The optimizer (over every parameter; frozen ones get no gradient and stay unchanged).</summary>
    public Optimizer Optimizer { get; }

    /// <summary>The learning-rate schedule, or null.</summary>
    public LRScheduler? Scheduler { get; }

    /// <summary>The dataset labels trained on; model output i is label <c>ClassLabels[i]</c>.</summary>
    public int[] ClassLabels { get; }

    /// <summary>Names of the model's outputs.</summary>
    public string[] ClassNames => ClassLabels.Select(c => FashionMnist.Classes[c]).ToArray();

    /// <summary>Channels of the input images.</summary>
    public int InputChannels { get; }

    /// <summary>Height and width of the input images.</summary>
    public int InputSize { get; }

    /// <summary>Training samples used.</summary>
    public int TrainCount { get; }

    /// <summary>Test samples used.</summary>
    public int TestCount { get; }

    /// <summary>Epochs finished so far.</summary>
    public int CompletedEpochs { get; private set; }

    /// <summary>Total epochs of the run.</summary>
    public int Epochs => Options.Epochs;

    /// <summary>Batches per epoch.</summary>
    public int BatchesPerEpoch => Math.Min(_train.BatchCount, Options.MaxBatches ?? int.MaxValue);

    /// <summary>The metrics of the finished epochs.</summary>
    public IReadOnlyList<EpochMetrics> History => _history;

    /// <summary>Things worth telling the user about the setup (partial weight loading, frozen parameters, resuming).</summary>
    public IReadOnlyList<string> Notes => _notes;

    /// <summary>The output folder (<see cref="Create"/> always sets it).</summary>
    private string OutDir => Options.OutDir!;

    /// <summary>The checkpoint written after every epoch and on cancellation.</summary>
    public string CheckpointPath => Path.Combine(OutDir, CheckpointFile);

    /// <summary>The metrics file.</summary>
    public string MetricsPath => Options.Metrics ?? Path.Combine(OutDir, MetricsFile);

    /// <summary>The PNG with the loss and accuracy curves.</summary>
    public string CurvePath => Path.Combine(OutDir, CurveFile);

    /// <summary>Where the data was read from (<see cref="MnistData.Directory"/>).</summary>
    public string DataDirectory { get; private init; } = "";

    /// <summary>
    /// Sets up a run: loads (or takes) the data, keeps the chosen classes, builds the model, loads weights
    /// (<see cref="TrainOptions.InitFrom"/>) or the whole state (<see cref="TrainOptions.Resume"/>), freezes, and
    /// builds the optimizer, the schedule and the loaders. A resume applies what it can change (more epochs, the output
    /// folder, the metrics file, the data folder) and refuses, with a <see cref="TrainOptionException"/> naming the option
    /// and the checkpoint's value, any other setting that differs from the checkpoint's.
    /// </summary>
    public static Trainer Create(TrainOptions options, MnistData? data = null)
    {
        Checkpoint? resume = null;
        if (options.Resume is { } resumePath)
        {
            resume = Checkpoint.Load(resumePath);
            RequireFiniteWeights(resume.Model, resumePath);
            options = ReconcileResume(StoredOptions(resume, resumePath), options, resume, resumePath);
        }
        else options = options with { OutDir = options.OutDir ?? TrainOptions.DefaultOutDir };
        options = options with { Model = options.ResolvedModel };
        options.Validate();
        data ??= FashionMnist.Load(options.DataDir, options.Download);

        int[] labels = options.Classes ?? Enumerable.Range(0, FashionMnist.Classes.Length).ToArray();
        var (trainX, trainY) = Subset(data.TrainImages, data.TrainLabels, labels, options.TrainLimit, "training");
        var (testX, testY) = Subset(data.TestImages, data.TestLabels, labels, options.TestLimit, "test");
        int channels = trainX.Size(1), size = trainX.Size(2);

        var model = ModelZoo.Create(options.Model!, channels, labels.Length, size, new Generator(options.Seed));
        var notes = new List<string> { $"data from {data.Directory}" };
        if (resume is not null)
        {
            LoadChecked(options.Resume!, () => model.LoadStateDict(resume.Model), $"the weights do not fit a {options.Model} model");
            notes.Add($"resuming {options.Resume} after epoch {resume.GetInt("epoch")}" + (resume.Metadata.ContainsKey("partial") ? $" (batch {resume.GetInt("batch")} of the next)" : "")
                      + $", {options.Epochs} epochs in all, writing into {options.OutDir}");
        }
        else if (options.InitFrom is { } init)
            notes.AddRange(InitFrom(model, options.Model!, init, labels.Length));
        if (options.Freeze is { } prefix)
        {
            var frozen = model.NamedParameters().Where(p => p.Name.StartsWith(prefix, StringComparison.Ordinal)).ToList();
            if (frozen.Count == 0)
                throw new TrainOptionException($"--freeze {prefix}: no parameter name starts with it (names: {string.Join(", ", model.NamedParameters().Select(p => p.Name).Take(6))}, ...)");
            foreach (var (_, p) in frozen) p.RequiresGrad = false;
            notes.Add($"froze {frozen.Count} parameter tensors under '{prefix}' ({frozen.Sum(p => (long)p.Parameter.Numel):N0} of {model.ParameterCount():N0} weights)");
        }

        var parameters = model.Parameters().ToList();
        Optimizer optimizer = options.Optimizer switch
        {
            "sgd" => new Sgd(parameters, options.Lr, momentum: options.Momentum, weightDecay: options.WeightDecay),
            "adam" => new Adam(parameters, options.Lr, weightDecay: options.WeightDecay),
            _ => new AdamW(parameters, options.Lr, weightDecay: options.WeightDecay),
        };

        ITransform? augment = options.Augment ? new Compose(new RandomCrop(size, padding: 2), new RandomHorizontalFlip()) : null;
        IDataset<(Tensor Input, Tensor Target)> trainSet = augment is null ? new TensorDataset(trainX, trainY) : new AugmentedDataset(trainX, trainY, augment, options.Seed);
        var train = new DataLoader<(Tensor Input, Tensor Target), (Tensor Input, Tensor Target)>(trainSet, options.BatchSize, shuffle: true, seed: options.Seed);
        var test = new DataLoader<(Tensor Input, Tensor Target), (Tensor Input, Tensor Target)>(new TensorDataset(testX, testY), Math.Max(options.BatchSize, 500));
        int batches = Math.Min(train.BatchCount, options.MaxBatches ?? int.MaxValue);

        LRScheduler? scheduler = options.Scheduler switch
        {
            "step" => new StepLR(optimizer, Math.Max(1, options.Epochs / 3), 0.1),
            "cosine" => new CosineAnnealingLR(optimizer, options.Epochs),
            "onecycle" => new OneCycleLR(optimizer, options.Lr, options.Epochs * batches),
            _ => null,
        };
        var trainer = new Trainer(options, model, optimizer, scheduler, options.Scheduler == "onecycle", train, test, labels, trainX.Size(0), testX.Size(0), channels, size)
        {
            DataDirectory = data.Directory,
        };
        trainer._notes.AddRange(notes);
        if (resume is not null) trainer.Restore(resume);
        return trainer;
    }

    /// <summary>
    /// The options a checkpoint was trained with, ready to resume it: its settings, its epochs, and its own folder as
    /// the output folder. Change only what a resume may change (more epochs, <c>OutDir</c>, <c>Metrics</c>,
    /// <c>DataDir</c>, <c>Download</c>) before passing them to <see cref="Create"/>.
    /// </summary>
    /// <exception cref="InvalidDataException">The checkpoint has no training arguments, or they are malformed.</exception>
    public static TrainOptions ResumeOptions(string checkpoint)
    {
        var stored = StoredOptions(Checkpoint.Load(checkpoint), checkpoint);
        return stored with { Resume = checkpoint, OutDir = CheckpointFolder(checkpoint), InitFrom = null, Download = false };
    }

    private static string CheckpointFolder(string checkpoint) => Path.GetDirectoryName(checkpoint) is { Length: > 0 } dir ? dir : ".";

    /// <summary>The training arguments recorded in a checkpoint's metadata, checked.</summary>
    private static TrainOptions StoredOptions(Checkpoint ckpt, string path)
    {
        if (!ckpt.Metadata.TryGetValue("args", out var args))
            throw new InvalidDataException($"{path}: the checkpoint has no training arguments to resume with (metadata 'args')");
        TrainOptions stored;
        try
        {
            stored = JsonSerializer.Deserialize(args, Json.TrainOptions) ?? throw new InvalidDataException($"{path}: the training arguments (metadata 'args') are null");
            (stored with { Resume = null }).Validate();
        }
        catch (Exception e) when (e is JsonException or NotSupportedException or ArgumentException)
        {
            throw new InvalidDataException($"{path}: the training arguments (metadata 'args') are malformed: {e.Message}", e);
        }
        int done = ckpt.GetInt("epoch", -1);
        if (done < 0 || done > stored.Epochs)
            throw new InvalidDataException($"{path}: the metadata 'epoch' must be a number of finished epochs in 0-{stored.Epochs}, got '{ckpt.Metadata.GetValueOrDefault("epoch")}'");
        return stored;
    }

    /// <summary>
    /// The options of a resumed run: the checkpoint's settings, with what a resume may change taken from
    /// <paramref name="asked"/>; a differing setting that a resume cannot change is refused, naming the option.
    /// </summary>
    private static TrainOptions ReconcileResume(TrainOptions stored, TrainOptions asked, Checkpoint ckpt, string path)
    {
        // Null in a nullable setting means "not asked"; every other value must equal the checkpoint's.
        void Keep(string option, object? wanted, object? recorded, bool asks = true)
        {
            if (!asks || Equals(wanted, recorded)) return;
            throw new TrainOptionException($"{option} {Show(wanted)} contradicts the checkpoint {path}, which was trained with {Show(recorded)}; a resumed run keeps the settings it was trained with (start a new run to change them)");
        }
        Keep("--model", asked.Model?.ToLowerInvariant(), stored.ResolvedModel.ToLowerInvariant(), asked.Model is not null);
        Keep("--dataset", asked.Dataset, stored.Dataset);
        Keep("--classes", asked.Classes is { } c ? string.Join(",", c) : null, stored.Classes is { } sc ? string.Join(",", sc) : null, asked.Classes is not null);
        Keep("--limit", asked.TrainLimit, stored.TrainLimit, asked.TrainLimit is not null);
        Keep("test limit", asked.TestLimit, stored.TestLimit, asked.TestLimit is not null);
        Keep("--batch-size", asked.BatchSize, stored.BatchSize);
        Keep("--max-batches", asked.MaxBatches, stored.MaxBatches, asked.MaxBatches is not null);
        Keep("--optimizer", asked.Optimizer, stored.Optimizer);
        Keep("--lr", asked.Lr, stored.Lr);
        Keep("--momentum", asked.Momentum, stored.Momentum);
        Keep("--weight-decay", asked.WeightDecay, stored.WeightDecay);
        Keep("--scheduler", asked.Scheduler, stored.Scheduler);
        Keep("--seed", asked.Seed, stored.Seed);
        Keep("--augment", asked.Augment, stored.Augment);
        Keep("--freeze", asked.Freeze, stored.Freeze, asked.Freeze is not null);
        if (asked.InitFrom is not null)
            throw new TrainOptionException($"--init-from {asked.InitFrom}: a resumed run takes its weights from the checkpoint {path}");

        int done = ckpt.GetInt("epoch");
        int epochs = asked.Epochs > 0 ? asked.Epochs : stored.Epochs;
        if (epochs < done)
            throw new TrainOptionException($"--epochs {epochs}: the checkpoint {path} has already finished {done} epochs");
        // The step, cosine and one-cycle schedules are planned over the run's length: a new length has no well-defined continuation.
        if (epochs != stored.Epochs && stored.Scheduler != "none")
            throw new TrainOptionException($"--epochs {epochs}: the {stored.Scheduler} schedule of {path} was planned for {stored.Epochs} epochs; resume with --epochs {stored.Epochs}");
        return stored with
        {
            Epochs = epochs,
            OutDir = asked.OutDir ?? CheckpointFolder(path),
            Metrics = asked.Metrics ?? stored.Metrics,
            DataDir = asked.DataDir ?? stored.DataDir,
            Download = asked.Download,
            Resume = path,
            InitFrom = null,
        };
    }

    private static string Show(object? value) => value switch
    {
        null => "none",
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        bool b => b ? "on" : "off",
        _ => Convert.ToString(value, CultureInfo.InvariantCulture) ?? "none",
    };

    /// <summary>
    /// Runs a state load from the checkpoint at <paramref name="path"/>; the argument errors the modules and optimizers raise
    /// for a state of the wrong shape become one <see cref="InvalidDataException"/> naming the file and <paramref name="what"/>.
    /// </summary>
    private static void LoadChecked(string path, Action load, string what)
    {
        try
        {
            load();
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or KeyNotFoundException or IndexOutOfRangeException)
        {
            throw new InvalidDataException($"{path}: {what} ({e.Message})", e);
        }
    }

    /// <summary>Refuses weights holding NaN or infinity: <c>FILE: the weights hold NaN/Inf (tensor NAME)</c>.</summary>
    internal static void RequireFiniteWeights(StateDict weights, string path)
    {
        if (weights.FirstNonFinite() is { } name) throw new InvalidDataException($"{path}: the weights hold NaN/Inf (tensor {name})");
    }

    private void Restore(Checkpoint ckpt)
    {
        string path = Options.Resume!;
        if (ckpt.Optimizer is { } opt) LoadChecked(path, () => Optimizer.LoadStateDict(opt), $"the optimizer state does not fit this {Options.Optimizer} run");
        if (Scheduler is not null)
        {
            var schedule = ckpt.Scheduler ?? throw new InvalidDataException($"{path}: the run used scheduler '{Options.Scheduler}' but the checkpoint has no scheduler state");
            LoadChecked(path, () => Scheduler.LoadStateDict(schedule), $"the scheduler state does not fit the '{Options.Scheduler}' schedule");
        }
        CompletedEpochs = ckpt.GetInt("epoch");
        foreach (var (name, module) in Model.NamedModules())
            if (module is Fovea.NN.Dropout dropout && ckpt.Metadata.TryGetValue($"rng.{name}", out var state))
            {
                var parts = state.Split(':');
                if (parts.Length != 2 || !ulong.TryParse(parts[0], NumberStyles.Integer, CultureInfo.InvariantCulture, out ulong seed)
                    || !long.TryParse(parts[1], NumberStyles.Integer, CultureInfo.InvariantCulture, out long position))
                    throw new InvalidDataException($"{path}: the dropout generator state '{state}' of '{name}' is malformed");
                dropout.Generator.SetState(seed, position);
            }
        try
        {
            if (ckpt.Metadata.TryGetValue("history", out var h)) _history.AddRange(JsonSerializer.Deserialize(h, Json.ListEpochMetrics) ?? []);
            if (ckpt.Metadata.TryGetValue("partial", out var p)) _partial = JsonSerializer.Deserialize(p, Json.Partial);
        }
        catch (Exception e) when (e is JsonException or NotSupportedException)
        {
            throw new InvalidDataException($"{path}: the training history in the metadata is malformed ({e.Message})", e);
        }
        if (_history.Any(m => m is null) || _history.Count != CompletedEpochs)
            throw new InvalidDataException($"{path}: the training history in the metadata has {_history.Count} entries for {CompletedEpochs} finished epochs");
        if (_partial is { } q && (q.Batch < 1 || q.Batch >= BatchesPerEpoch || q.Seen < 0 || q.Correct < 0 || q.Correct > q.Seen || CompletedEpochs >= Epochs))
            throw new InvalidDataException($"{path}: the position inside the epoch (metadata 'partial') is malformed");
    }

    /// <summary>Loads matching weights from a checkpoint; a classifier head shaped for another class count stays fresh.</summary>
    private static List<string> InitFrom(Module<Tensor, Tensor> model, string modelName, string path, int classes)
    {
        var ckpt = Checkpoint.Load(path);
        RequireFiniteWeights(ckpt.Model, path);
        if (ckpt.Metadata.TryGetValue("model", out var saved) && !string.Equals(saved, modelName, StringComparison.OrdinalIgnoreCase))
            throw new TrainOptionException($"--init-from {path}: the checkpoint holds a '{saved}' model, this run trains '{modelName}'");
        var own = model.StateDict();
        var keep = new StateDict();
        var skipped = new List<string>();
        foreach (var (name, t) in ckpt.Model)
        {
            if (own.TryGetValue(name, out var mine) && !mine.Shape.SequenceEqual(t.Shape))
            {
                // Only the head may differ, and only in its class dimension.
                if (mine.Size(0) != classes || !mine.Shape.Skip(1).SequenceEqual(t.Shape.Skip(1)))
                    throw new TrainOptionException($"--init-from {path}: {name} is {ShapeChecks.Format(t.Shape)} in the checkpoint but {ShapeChecks.Format(mine.Shape)} in the model");
                skipped.Add(name);
                continue;
            }
            keep.Add(name, t);
        }
        LoadChecked(path, () => model.LoadStateDict(keep, strict: skipped.Count == 0), $"the weights do not fit a {modelName} model");
        var notes = new List<string> { $"initialised from {path} ({keep.Count} tensors)" };
        if (skipped.Count > 0)
            notes.Add($"the checkpoint's classifier head is for {ckpt.Model[skipped[0]].Size(0)} classes, this run has {classes}: kept fresh {string.Join(", ", skipped)}");
        return notes;
    }

    /// <summary>
    /// The samples whose label is in <paramref name="labels"/>, labels remapped to their position there, at most
    /// <paramref name="limit"/> of them (the first ones).
    /// </summary>
    public static (Tensor Images, Tensor Labels) Subset(Tensor images, Tensor labels, int[] classLabels, int? limit = null, string what = "data")
    {
        var y = labels.To(DType.Int32).Contiguous().ToArray<int>();
        var map = new Dictionary<int, int>();
        for (int i = 0; i < classLabels.Length; i++) map[classLabels[i]] = i;
        var idx = new List<int>();
        var remapped = new List<int>();
        for (int i = 0; i < y.Length && idx.Count < (limit ?? int.MaxValue); i++)
            if (map.TryGetValue(y[i], out int k)) { idx.Add(i); remapped.Add(k); }
        if (idx.Count == 0) throw new ArgumentException($"no {what} samples with labels {string.Join(",", classLabels)}");
        if (idx.Count == y.Length && remapped.SequenceEqual(y)) return (images, labels);
        return (images.IndexSelect(0, Tensor.FromArray(idx.ToArray(), idx.Count)), Tensor.FromArray(remapped.ToArray(), remapped.Count));
    }

    /// <summary>
    /// Trains until <see cref="Epochs"/> or cancellation. <paramref name="progress"/> hears after every batch and
    /// <paramref name="epochDone"/> after every epoch's evaluation and files. On cancellation the current batch
    /// finishes, a checkpoint is saved, and the result says <c>Cancelled</c>.
    /// </summary>
    public TrainResult Run(IProgress<BatchProgress>? progress = null, Action<EpochMetrics>? epochDone = null, CancellationToken cancel = default)
    {
        Directory.CreateDirectory(OutDir);
        int batches = BatchesPerEpoch;
        for (int epoch = CompletedEpochs; epoch < Epochs; epoch++)
        {
            var part = _partial ?? new Partial(0, 0, 0, 0, 0);
            _partial = null;
            double lossSum = part.LossSum;
            long correct = part.Correct, seen = part.Seen, seenNow = 0;
            var clock = Stopwatch.StartNew();
            Model.Train();
            _train.Epoch = epoch;
            int b = 0;
            bool stop = false;
            foreach (var (x, y) in _train)
            {
                if (b >= batches) break;
                if (b < part.Batch) { b++; continue; }
                Optimizer.ZeroGrad();
                var logits = Model.Forward(x);
                var loss = _loss.Forward(logits, y);
                double l = loss.ToScalar();
                // Stop before the step: the weights stay as they were, and nothing diverged is ever saved.
                if (!double.IsFinite(l)) throw Diverged(epoch + 1, b + 1, $"the loss is {Show(l)}");
                loss.Backward();
                Optimizer.Step();
                if (_schedulePerBatch) Scheduler!.Step();
                int n = x.Size(0);
                lossSum += l * n;
                correct += Evaluation.Correct(logits, y);
                seen += n;
                seenNow += n;
                b++;
                progress?.Report(new BatchProgress(epoch + 1, Epochs, b, batches, l, lossSum / seen, (double)correct / seen, seenNow / Math.Max(1e-9, clock.Elapsed.TotalSeconds)));
                if (cancel.IsCancellationRequested && b < batches) { stop = true; break; }
            }
            if (stop)
            {
                _partial = new Partial(b, lossSum, correct, seen, part.Seconds + clock.Elapsed.TotalSeconds);
                _batch = b;
                SaveCheckpoint();
                return Result(cancelled: true);
            }
            double trainSeconds = part.Seconds + clock.Elapsed.TotalSeconds;
            if (!_schedulePerBatch) Scheduler?.Step();
            var test = Evaluation.Evaluate(Model, _test, ClassLabels.Length);
            var metrics = new EpochMetrics(epoch + 1, lossSum / Math.Max(1, seen), (double)correct / Math.Max(1, seen), test.Loss, test.Accuracy,
                part.Seconds + clock.Elapsed.TotalSeconds, seen / Math.Max(1e-9, trainSeconds));
            _batch = b;
            _history.Add(metrics);
            CompletedEpochs = epoch + 1;
            SaveCheckpoint();
            WriteMetrics();
            Charts.TrainingCurves(_history).Save(CurvePath);
            epochDone?.Invoke(metrics);
            if (cancel.IsCancellationRequested && CompletedEpochs < Epochs) return Result(cancelled: true);
        }
        return Result(cancelled: false);
    }

    private TrainResult Result(bool cancelled) => new(cancelled, CompletedEpochs, _history.ToList(), CheckpointPath, MetricsPath, CurvePath);

    /// <summary>
    /// Writes the checkpoint now (atomically): model, optimizer, scheduler, epoch, arguments and history. Weights holding
    /// NaN or infinity are never written: the call throws <see cref="TrainingDivergedException"/> and the file on disk
    /// keeps the last good state.
    /// </summary>
    public void SaveCheckpoint()
    {
        RequireFiniteModel(CompletedEpochs + (_partial is null ? 0 : 1));
        var meta = new Dictionary<string, string>
        {
            ["epoch"] = CompletedEpochs.ToString(CultureInfo.InvariantCulture),
            ["model"] = Options.Model!,
            ["dataset"] = Options.Dataset,
            ["classes"] = string.Join(",", ClassLabels),
            ["class_names"] = JsonSerializer.Serialize(ClassNames, CheckpointJsonContext.Default.StringArray),
            ["in_channels"] = InputChannels.ToString(CultureInfo.InvariantCulture),
            ["input_size"] = InputSize.ToString(CultureInfo.InvariantCulture),
            ["seed"] = Options.Seed.ToString(CultureInfo.InvariantCulture),
            ["args"] = JsonSerializer.Serialize(Options with { Resume = null }, Json.TrainOptions),
            ["history"] = JsonSerializer.Serialize(_history, Json.ListEpochMetrics),
        };
        // Dropout masks come from generators that advance with every batch: their positions make a resume exact.
        foreach (var (name, module) in Model.NamedModules())
            if (module is Fovea.NN.Dropout dropout)
            {
                var (seed, position) = dropout.Generator.State;
                meta[$"rng.{name}"] = string.Create(CultureInfo.InvariantCulture, $"{seed}:{position}");
            }
        if (_partial is { } p)
        {
            meta["partial"] = JsonSerializer.Serialize(p, Json.Partial);
            meta["batch"] = p.Batch.ToString(CultureInfo.InvariantCulture);
        }
        new Checkpoint { Model = Model.StateDict(), Optimizer = Optimizer.StateDict(), Scheduler = Scheduler?.StateDict(), Metadata = meta }.Save(CheckpointPath);
    }

    private void WriteMetrics() => AtomicFile.WriteAllLines(MetricsPath, _history.Select(m => JsonSerializer.Serialize(m, Json.EpochMetrics)));

    /// <summary>Stops the run when a weight went NaN or infinite in <paramref name="epoch"/> (its last batch is <see cref="_batch"/>).</summary>
    private void RequireFiniteModel(int epoch)
    {
        if (Model.StateDict().FirstNonFinite() is { } name) throw Diverged(epoch, _batch, $"the weights hold NaN/Inf (tensor {name})");
    }

    private TrainingDivergedException Diverged(int epoch, int batch, string what)
    {
        string kept = File.Exists(CheckpointPath) ? $"{CheckpointPath} keeps the last good state" : "no checkpoint was written";
        return new TrainingDivergedException(epoch, batch,
            string.Create(CultureInfo.InvariantCulture, $"training stopped at epoch {epoch}, batch {batch}: {what}; the run diverged (try a lower learning rate); {kept}"));
    }
}
