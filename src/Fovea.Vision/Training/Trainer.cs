using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Fovea.Data;
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

    internal static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    private readonly DataLoader<(Tensor Input, Tensor Target), (Tensor Input, Tensor Target)> _train, _test;
    private readonly CrossEntropyLoss _loss = new();
    private readonly List<EpochMetrics> _history = [];
    private readonly List<string> _notes = [];
    private readonly bool _schedulePerBatch;
    private Partial? _partial;

    /// <summary>Where an interrupted epoch stood: batches done and the running sums.</summary>
    private sealed record Partial(int Batch, double LossSum, long Correct, long Seen, double Seconds);

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

    /// <summary>The checkpoint written after every epoch and on cancellation.</summary>
    public string CheckpointPath => Path.Combine(Options.OutDir, CheckpointFile);

    /// <summary>The metrics file.</summary>
    public string MetricsPath => Options.Metrics ?? Path.Combine(Options.OutDir, MetricsFile);

    /// <summary>The PNG with the loss and accuracy curves.</summary>
    public string CurvePath => Path.Combine(Options.OutDir, CurveFile);

    /// <summary>
    /// Sets up a run: loads (or takes) the data, keeps the chosen classes, builds the model, loads weights
    /// (<see cref="TrainOptions.InitFrom"/>) or the whole state (<see cref="TrainOptions.Resume"/>), freezes, and
    /// builds the optimizer, the schedule and the loaders.
    /// </summary>
    public static Trainer Create(TrainOptions options, MnistData? data = null)
    {
        Checkpoint? resume = null;
        if (options.Resume is { } resumePath)
        {
            resume = Checkpoint.Load(resumePath);
            var stored = resume.Metadata.TryGetValue("args", out var args) ? JsonSerializer.Deserialize<TrainOptions>(args, Json) : null;
            if (stored is null) throw new InvalidDataException($"{resumePath}: the checkpoint has no training arguments to resume with");
            if (stored.Scheduler == "onecycle" && options.Epochs > 0 && options.Epochs != stored.Epochs)
                throw new ArgumentException($"{resumePath}: the one-cycle schedule was planned for {stored.Epochs} epochs; resume with --epochs {stored.Epochs}");
            options = stored with
            {
                Epochs = options.Epochs > 0 ? options.Epochs : stored.Epochs,
                OutDir = options.OutDir,
                Metrics = options.Metrics,
                DataDir = options.DataDir ?? stored.DataDir,
                Download = options.Download,
                Resume = resumePath,
                InitFrom = null,
            };
        }
        options = options with { Model = options.ResolvedModel };
        options.Validate();
        data ??= FashionMnist.Load(options.DataDir, options.Download);

        int[] labels = options.Classes ?? Enumerable.Range(0, FashionMnist.Classes.Length).ToArray();
        var (trainX, trainY) = Subset(data.TrainImages, data.TrainLabels, labels, options.TrainLimit, "training");
        var (testX, testY) = Subset(data.TestImages, data.TestLabels, labels, options.TestLimit, "test");
        int channels = trainX.Size(1), size = trainX.Size(2);

        var model = ModelZoo.Create(options.Model!, channels, labels.Length, size, new Generator(options.Seed));
        var notes = new List<string>();
        if (resume is not null)
        {
            model.LoadStateDict(resume.Model);
            notes.Add($"resuming {options.Resume} after epoch {resume.GetInt("epoch")}" + (resume.Metadata.ContainsKey("partial") ? $" (batch {resume.GetInt("batch")} of the next)" : ""));
        }
        else if (options.InitFrom is { } init)
            notes.AddRange(InitFrom(model, options.Model!, init, labels.Length));
        if (options.Freeze is { } prefix)
        {
            var frozen = model.NamedParameters().Where(p => p.Name.StartsWith(prefix, StringComparison.Ordinal)).ToList();
            if (frozen.Count == 0)
                throw new ArgumentException($"--freeze {prefix}: no parameter name starts with it (names: {string.Join(", ", model.NamedParameters().Select(p => p.Name).Take(6))}, ...)");
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
        var trainer = new Trainer(options, model, optimizer, scheduler, options.Scheduler == "onecycle", train, test, labels, trainX.Size(0), testX.Size(0), channels, size);
        trainer._notes.AddRange(notes);
        if (resume is not null) trainer.Restore(resume);
        return trainer;
    }

    private void Restore(Checkpoint ckpt)
    {
        string path = Options.Resume!;
        if (ckpt.Optimizer is { } opt) Optimizer.LoadStateDict(opt);
        if (Scheduler is not null)
            Scheduler.LoadStateDict(ckpt.Scheduler ?? throw new InvalidDataException($"{path}: the run used scheduler '{Options.Scheduler}' but the checkpoint has no scheduler state"));
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
            if (ckpt.Metadata.TryGetValue("history", out var h)) _history.AddRange(JsonSerializer.Deserialize<List<EpochMetrics>>(h, Json) ?? []);
            if (ckpt.Metadata.TryGetValue("partial", out var p)) _partial = JsonSerializer.Deserialize<Partial>(p, Json);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: the training history in the metadata is malformed ({e.Message})", e);
        }
    }

    /// <summary>Loads matching weights from a checkpoint; a classifier head shaped for another class count stays fresh.</summary>
    private static List<string> InitFrom(Module<Tensor, Tensor> model, string modelName, string path, int classes)
    {
        var ckpt = Checkpoint.Load(path);
        if (ckpt.Metadata.TryGetValue("model", out var saved) && !string.Equals(saved, modelName, StringComparison.OrdinalIgnoreCase))
            throw new ArgumentException($"--init-from {path}: the checkpoint holds a '{saved}' model, this run trains '{modelName}'");
        var own = model.StateDict();
        var keep = new StateDict();
        var skipped = new List<string>();
        foreach (var (name, t) in ckpt.Model)
        {
            if (own.TryGetValue(name, out var mine) && !mine.Shape.SequenceEqual(t.Shape))
            {
                // Only the head may differ, and only in its class dimension.
                if (mine.Size(0) != classes || !mine.Shape.Skip(1).SequenceEqual(t.Shape.Skip(1)))
                    throw new ArgumentException($"--init-from {path}: {name} is {ShapeChecks.Format(t.Shape)} in the checkpoint but {ShapeChecks.Format(mine.Shape)} in the model");
                skipped.Add(name);
                continue;
            }
            keep.Add(name, t);
        }
        model.LoadStateDict(keep, strict: skipped.Count == 0);
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
        Directory.CreateDirectory(Options.OutDir);
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
                loss.Backward();
                Optimizer.Step();
                if (_schedulePerBatch) Scheduler!.Step();
                int n = x.Size(0);
                double l = loss.ToScalar();
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
                SaveCheckpoint();
                return Result(cancelled: true);
            }
            double trainSeconds = part.Seconds + clock.Elapsed.TotalSeconds;
            if (!_schedulePerBatch) Scheduler?.Step();
            var test = Evaluation.Evaluate(Model, _test, ClassLabels.Length);
            var metrics = new EpochMetrics(epoch + 1, lossSum / Math.Max(1, seen), (double)correct / Math.Max(1, seen), test.Loss, test.Accuracy,
                part.Seconds + clock.Elapsed.TotalSeconds, seen / Math.Max(1e-9, trainSeconds));
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

    /// <summary>Writes the checkpoint now (atomically): model, optimizer, scheduler, epoch, arguments and history.</summary>
    public void SaveCheckpoint()
    {
        var meta = new Dictionary<string, string>
        {
            ["epoch"] = CompletedEpochs.ToString(CultureInfo.InvariantCulture),
            ["model"] = Options.Model!,
            ["dataset"] = Options.Dataset,
            ["classes"] = string.Join(",", ClassLabels),
            ["class_names"] = JsonSerializer.Serialize(ClassNames),
            ["in_channels"] = InputChannels.ToString(CultureInfo.InvariantCulture),
            ["input_size"] = InputSize.ToString(CultureInfo.InvariantCulture),
            ["seed"] = Options.Seed.ToString(CultureInfo.InvariantCulture),
            ["args"] = JsonSerializer.Serialize(Options with { Resume = null }, Json),
            ["history"] = JsonSerializer.Serialize(_history, Json),
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
            meta["partial"] = JsonSerializer.Serialize(p, Json);
            meta["batch"] = p.Batch.ToString(CultureInfo.InvariantCulture);
        }
        Directory.CreateDirectory(Options.OutDir);
        new Checkpoint { Model = Model.StateDict(), Optimizer = Optimizer.StateDict(), Scheduler = Scheduler?.StateDict(), Metadata = meta }.Save(CheckpointPath);
    }

    private void WriteMetrics()
    {
        string path = Path.GetFullPath(MetricsPath);
        if (Path.GetDirectoryName(path) is { } dir) Directory.CreateDirectory(dir);
        string temp = path + ".tmp-" + Environment.ProcessId;
        File.WriteAllLines(temp, _history.Select(m => JsonSerializer.Serialize(m, Json)));
        File.Move(temp, path, overwrite: true);
    }
}
