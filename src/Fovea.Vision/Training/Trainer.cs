using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Fovea.Data;
using Fovea.IO;
using Fovea.NN;
using Fovea.Training;
using Fovea.Optim;
using Fovea.Vision.Datasets;
using Fovea.Vision.Models;
using Fovea.Vision.Serialization;
using Fovea.Vision.Transforms;

namespace Fovea.Vision.Training;

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
/// <param name="StoppedEarly">True when early stopping ended the run before its last epoch.</param>
/// <param name="BestEpoch">The epoch with the best monitored metric (from 1), or null before the first epoch.</param>
/// <param name="BestCheckpointPath">The best epoch's checkpoint, or null when it is not kept.</param>
public sealed record TrainResult(bool Cancelled, int CompletedEpochs, IReadOnlyList<EpochMetrics> History, string CheckpointPath, string MetricsPath, string CurvePath,
    bool StoppedEarly = false, int? BestEpoch = null, string? BestCheckpointPath = null)
{
    /// <summary>The figures of an epoch of the general loop, under the recipe's names (its validation is the test set or the held-out split).</summary>
    internal static EpochMetrics Metrics(EpochResult e) =>
        new(e.Epoch, e.TrainLoss, e.TrainAccuracy, e.ValidationLoss, e.ValidationAccuracy, e.Seconds, e.SamplesPerSecond);

    /// <summary>The inverse of <see cref="Metrics"/>.</summary>
    internal static EpochResult Result(EpochMetrics m) =>
        new(m.Epoch, m.TrainLoss, m.TrainAccuracy, m.TestLoss, m.TestAccuracy, m.Seconds, m.ImagesPerSecond);
}

/// <summary>
/// The Fashion-MNIST recipe, one user of the general <see cref="TrainingLoop"/>: it turns <see cref="TrainOptions"/>
/// into data (the chosen classes, optionally a held-out validation split), a model (zoo, linear classifier or MLP of
/// chosen widths), a loss (cross-entropy, multiclass hinge or MSE on one-hot targets), an optimizer and a schedule,
/// and writes after each epoch the metrics line, the checkpoint (the loop's state plus the arguments, the classes and
/// the history) and the PNG curves. Cancellation finishes the current batch and saves a checkpoint that records the
/// position inside the epoch, so <see cref="TrainOptions.Resume"/> continues with exactly the numbers of an
/// uninterrupted run.
/// </summary>
public sealed class Trainer
{
    /// <summary>Checkpoint file name inside the output directory.</summary>
    public const string CheckpointFile = "checkpoint.safetensors";

    /// <summary>The best epoch's checkpoint inside the output directory (with <see cref="TrainOptions.KeepBest"/>).</summary>
    public const string BestCheckpointFile = "best.safetensors";

    /// <summary>Curve file name inside the output directory.</summary>
    public const string CurveFile = "curves.png";

    /// <summary>Default metrics file name inside the output directory.</summary>
    public const string MetricsFile = "metrics.jsonl";

    /// <summary>The generated serializers for the trainer's records (snake_case; reflection-free for trimming and AOT).</summary>
    private static TrainerJsonContext Json => TrainerJsonContext.Default;

    private readonly TrainingLoop _loop;

    /// <summary>False on the ranks other than 0 of a data-parallel run: they write no checkpoint, metrics or curves.</summary>
    private bool WritesFiles { get; init; } = true;
    private readonly List<string> _notes = [];
    private readonly RecipeData _data;

    private Trainer(TrainOptions options, TrainingLoop loop, RecipeData data)
    {
        Options = options;
        _loop = loop;
        _data = data;
        foreach (var set in data.ImageSets) set.ImageSkipped += s => ImageSkipped?.Invoke(s);
    }

    /// <summary>The options of the run (for a resumed run: the checkpoint's, with the new epochs and paths).</summary>
    public TrainOptions Options { get; }

    /// <summary>The general loop running the epochs.</summary>
    public TrainingLoop Loop => _loop;

    /// <summary>The model being trained.</summary>
    public Module<Tensor, Tensor> Model => _loop.Model;

    /// <summary>The optimizer (over every parameter; frozen ones get no gradient and stay unchanged).</summary>
    public Optimizer Optimizer => _loop.Optimizer;

    /// <summary>The learning-rate schedule, or null.</summary>
    public LRScheduler? Scheduler => _loop.Scheduler;

    /// <summary>The dataset labels trained on; model output i is label <c>ClassLabels[i]</c> (0..K−1 for an image folder).</summary>
    public int[] ClassLabels => _data.ClassLabels;

    /// <summary>Names of the model's outputs (an image folder's class folders).</summary>
    public string[] ClassNames => _data.ClassNames;

    /// <summary>Channels of the input images.</summary>
    public int InputChannels => _data.Channels;

    /// <summary>Height and width of the input images.</summary>
    public int InputSize => _data.Size;

    /// <summary>How an image file becomes the model's input (recorded in the checkpoint), or null for Fashion-MNIST and MNIST.</summary>
    public Preprocessing? Preprocessing => _data.Preprocessing;

    /// <summary>Training samples used.</summary>
    public int TrainCount => _data.TrainCount;

    /// <summary>Samples the per-epoch validation runs on: the held-out split or <c>val/</c> folder, else the test set.</summary>
    public int ValidationCount => _data.ValidationCount;

    /// <summary>Test samples used (after training, when validation is a separate split).</summary>
    public int TestCount => _data.TestCount;

    /// <summary>Whether there is a test set apart from the validation data (<see cref="EvaluateTest"/>).</summary>
    public bool HasTest => _data.Test is not null;

    /// <summary>What the per-epoch validation figures are measured on: <c>val</c> (a held-out split or folder) or <c>test</c>.</summary>
    public string ValidationName => Options.ValSplit is null && Options.Dataset != TrainOptions.FolderDataset ? "test" : "val";

    /// <summary>Raised (on a decoding thread) for each image of a folder that cannot be decoded and is skipped.</summary>
    public event Action<SkippedImage>? ImageSkipped;

    /// <summary>The images of the folder skipped so far because they cannot be decoded.</summary>
    public IReadOnlyList<SkippedImage> SkippedImages => _data.ImageSets.SelectMany(s => s.SkippedImages).ToList();

    /// <summary>Epochs finished so far.</summary>
    public int CompletedEpochs => _loop.CompletedEpochs;

    /// <summary>Total epochs of the run.</summary>
    public int Epochs => Options.Epochs;

    /// <summary>Batches per epoch.</summary>
    public int BatchesPerEpoch => _loop.BatchesPerEpoch;

    /// <summary>The metrics of the finished epochs.</summary>
    public IReadOnlyList<EpochMetrics> History => _loop.History.Select(TrainResult.Metrics).ToList();

    /// <summary>Things worth telling the user about the setup (partial weight loading, frozen parameters, resuming).</summary>
    public IReadOnlyList<string> Notes => _notes;

    /// <summary>The output folder (<see cref="Create"/> always sets it).</summary>
    private string OutDir => Options.OutDir!;

    /// <summary>The checkpoint written after every epoch and on cancellation.</summary>
    public string CheckpointPath => Path.Combine(OutDir, CheckpointFile);

    /// <summary>The best epoch's checkpoint (written only with <see cref="TrainOptions.KeepBest"/>).</summary>
    public string BestCheckpointPath => Path.Combine(OutDir, BestCheckpointFile);

    /// <summary>The metrics file.</summary>
    public string MetricsPath => Options.Metrics ?? Path.Combine(OutDir, MetricsFile);

    /// <summary>The PNG with the loss and accuracy curves.</summary>
    public string CurvePath => Path.Combine(OutDir, CurveFile);

    /// <summary>Where the data was read from (<see cref="MnistData.Directory"/>).</summary>
    public string DataDirectory { get; private init; } = "";

    /// <summary>
    /// Sets up a run: loads (or takes) the data, keeps the chosen classes, splits off the validation part, builds the
    /// model, loads weights (<see cref="TrainOptions.InitFrom"/>) or the whole state (<see cref="TrainOptions.Resume"/>),
    /// freezes, and builds the loss, the optimizer, the schedule, the loaders and the loop. A resume applies what it
    /// can change (more epochs, the output folder, the metrics file, the data folder) and refuses, with a
    /// <see cref="TrainOptionException"/> naming the option and the checkpoint's value, any other setting that
    /// differs from the checkpoint's.
    /// </summary>
    /// <param name="options">The run's settings.</param>
    /// <param name="data">The data, or null to load it as the options say.</param>
    /// <param name="parallel">This process's part of a data-parallel run (<see cref="TrainOptions.Processes"/> processes;
    /// rank 0 alone writes files), or null for a run in one process.</param>
    public static Trainer Create(TrainOptions options, MnistData? data = null, DataParallelism? parallel = null)
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
        options = options with { Dataset = RecipeData.ResolveDataset(options) };
        options.Validate();
        var source = RecipeData.Load(options, data, parallel?.Shard);
        // What the data decided (channels, input size) is part of the run: a resume must see the same.
        if (options.Dataset == TrainOptions.FolderDataset) options = options with { Channels = source.Channels, ImageSize = source.Size };
        int[] labels = source.ClassLabels;

        var model = BuildModel(options.Model!, options.Hidden, source.Channels, labels.Length, source.Size, new Generator(options.Seed));
        var notes = new List<string> { $"data from {source.Directory}" };
        notes.AddRange(source.Notes);
        if (resume is not null)
            notes.Add($"resuming {options.Resume} after epoch {resume.GetInt("epoch")}" + (resume.Metadata.ContainsKey("partial") ? $" (batch {resume.GetInt("batch")} of the next)" : "")
                      + $", {options.Epochs} epochs in all, writing into {options.OutDir}");
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

        var transfer = model as ITransferClassifier;
        if (transfer is not null)
        {
            transfer.BodyFrozen = !options.Unfreeze;
            long body = transfer.BodyParameters.Sum(p => (long)p.Numel), head = transfer.HeadParameters.Sum(p => (long)p.Numel);
            notes.Add(options.Unfreeze
                ? string.Create(CultureInfo.InvariantCulture, $"pretrained {options.Pretrained}: fine-tuning the body ({body:N0} weights) at {options.BodyLrScale} x the rate and the new head ({head:N0} weights)")
                : $"pretrained {options.Pretrained}: body frozen ({body:N0} weights), training the new head ({head:N0} weights)");
        }

        // Fine-tuning a pretrained body: two parameter groups, the body at BodyLrScale times the head's rate.
        var bodyGroup = transfer is not null && options.Unfreeze ? transfer.BodyParameters.ToList() : [];
        var parameters = model.Parameters().Where(p => !bodyGroup.Contains(p)).ToList();
        double bodyLr = options.Lr * options.BodyLrScale;
        Optimizer optimizer;
        switch (options.Optimizer)
        {
            case "sgd":
                var sgd = new Sgd(parameters, options.Lr, momentum: options.Momentum, weightDecay: options.WeightDecay);
                if (bodyGroup.Count > 0) sgd.AddParamGroup(bodyGroup, lr: bodyLr);
                optimizer = sgd;
                break;
            case "adam":
                var adam = new Adam(parameters, options.Lr, weightDecay: options.WeightDecay);
                if (bodyGroup.Count > 0) adam.AddParamGroup(bodyGroup, lr: bodyLr);
                optimizer = adam;
                break;
            default:
                var adamw = new AdamW(parameters, options.Lr, weightDecay: options.WeightDecay);
                if (bodyGroup.Count > 0) adamw.AddParamGroup(bodyGroup, lr: bodyLr);
                optimizer = adamw;
                break;
        }

        int batches = Math.Min(source.Train.BatchCount, options.MaxBatches ?? int.MaxValue);

        LRScheduler? scheduler = options.Scheduler switch
        {
            "step" => new StepLR(optimizer, Math.Max(1, options.Epochs / 3), 0.1),
            "cosine" => new CosineAnnealingLR(optimizer, options.Epochs),
            "onecycle" => new OneCycleLR(optimizer, optimizer.ParamGroups.Select(g => g.Lr).ToArray(), options.Epochs * batches),
            _ => null,
        };
        // A frozen body gives an image the same features every time: without augmentation they are computed once.
        var trained = model;
        if (transfer is not null && !options.Unfreeze && !options.Augment && !options.PcaColor)
        {
            trained = new FeatureCachingClassifier(model);
            notes.Add("frozen body, no augmentation: each image's features are computed once and kept, later epochs train the head alone");
        }
        string outDir = options.OutDir!;
        Trainer? trainer = null;
        var loop = new TrainingLoop(trained, LossFunction(options.Loss, labels.Length), optimizer, source.Train, options.Epochs)
        {
            Scheduler = scheduler,
            SchedulePerBatch = options.Scheduler == "onecycle",
            Validation = source.Validation,
            MaxBatchesPerEpoch = options.MaxBatches,
            ClipGradNorm = options.ClipGradNorm,
            ClipGradValue = options.ClipGradValue,
            Monitor = MonitoredMetric.Parse(options.Monitor ?? TrainOptions.DefaultMonitor),
            EarlyStoppingPatience = options.EarlyStop,
            CheckpointPath = Path.Combine(outDir, CheckpointFile),
            BestCheckpointPath = options.KeepBest ? Path.Combine(outDir, BestCheckpointFile) : null,
            CheckpointWriter = parallel is { IsMain: false } ? null : (path, state) => trainer!.ToCheckpoint(state).Save(path),
            AfterBackward = parallel?.Replicate(model),
        };
        trainer = new Trainer(options, loop, source)
        {
            DataDirectory = source.Directory,
            WritesFiles = parallel?.IsMain ?? true,
        };
        trainer._notes.AddRange(notes);
        if (resume is not null) trainer.Restore(resume);
        return trainer;
    }

    /// <summary>
    /// Builds the model a run or a checkpoint names: <paramref name="hidden"/> widths make an <see cref="Mlp"/> of
    /// those hidden layers (only for <c>mlp</c>); anything else comes from <see cref="ModelZoo"/>.
    /// </summary>
    public static Module<Tensor, Tensor> BuildModel(string name, int[]? hidden, int channels, int classes, int size, Generator? generator = null)
    {
        if (hidden is null) return ModelZoo.Create(name, channels, classes, size, generator);
        if (!string.Equals(name, "mlp", StringComparison.OrdinalIgnoreCase))
            throw new ArgumentException($"hidden layer widths apply to the mlp model, not to '{name}'");
        return Mlp.ForImages(channels, size, hidden, classes, generator: generator);
    }

    /// <summary>
    /// The loss of a run over <paramref name="classes"/> classes, on logits [N, K] and class indices [N]:
    /// <c>cross-entropy</c> (softmax), <c>hinge</c> (the multiclass SVM loss of the notes,
    /// Lᵢ = Σ_{j≠yᵢ} max(0, sⱼ − s_{yᵢ} + 1) averaged over the batch; PyTorch's <c>MultiMarginLoss</c> divides the sum by
    /// K, so it is multiplied back) or <c>mse</c> (mean squared error against one-hot targets).
    /// </summary>
    public static Func<Tensor, Tensor, Tensor> LossFunction(string name, int classes)
    {
        switch (name)
        {
            case "cross-entropy":
                var ce = new CrossEntropyLoss();
                return ce.Forward;
            case "hinge":
                var hinge = new MultiMarginLoss(p: 1, margin: 1);
                return (logits, y) => hinge.Forward(logits, y).Mul(classes);
            case "mse":
                var mse = new MSELoss();
                return (output, y) => mse.Forward(output, Classification.OneHot(y, classes, output.DType));
            default:
                throw new ArgumentException($"unknown loss '{name}' ({string.Join(", ", TrainOptions.Losses)})");
        }
    }

    /// <summary>
    /// A seeded split of sample indices that holds out <paramref name="fraction"/> of each class (rounded, at least one
    /// sample of a class with two or more): returns (kept, held out), each in increasing order.
    /// </summary>
    public static (Tensor Kept, Tensor HeldOut) StratifiedSplit(Tensor labels, double fraction, ulong seed)
    {
        if (!(fraction > 0 && fraction < 1)) throw new ArgumentOutOfRangeException(nameof(fraction), fraction, "the validation fraction must be in (0, 1)");
        var y = labels.To(DType.Int32).Contiguous().ToArray<int>();
        var held = new List<int>();
        var byClass = Enumerable.Range(0, y.Length).GroupBy(i => y[i]).OrderBy(g => g.Key);
        foreach (var group in byClass)
        {
            var members = group.ToArray();
            int take = (int)Math.Round(fraction * members.Length, MidpointRounding.AwayFromZero);
            if (members.Length >= 2) take = Math.Clamp(take, 1, members.Length - 1);
            else take = 0;
            var order = new Generator(seed).SelectStream(group.Key + 1L).Permutation(members.Length);
            for (int i = 0; i < take; i++) held.Add(members[order[i]]);
        }
        if (held.Count == 0) throw new ArgumentException("the validation split holds out nothing: each class needs at least two samples");
        var heldSet = held.ToHashSet();
        var kept = Enumerable.Range(0, y.Length).Where(i => !heldSet.Contains(i)).ToArray();
        var heldSorted = held.Order().ToArray();
        return (Tensor.FromArray(kept, kept.Length), Tensor.FromArray(heldSorted, heldSorted.Length));
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
        Keep("--dataset", asked.Dataset, stored.Dataset, asked.Dataset is not null);
        Keep("--image-size", asked.ImageSize, stored.ImageSize, asked.ImageSize is not null);
        Keep("--channels", asked.Channels, stored.Channels, asked.Channels is not null);
        Keep("--classes", asked.Classes is { } c ? string.Join(",", c) : null, stored.Classes is { } sc ? string.Join(",", sc) : null, asked.Classes is not null);
        Keep("--limit", asked.TrainLimit, stored.TrainLimit, asked.TrainLimit is not null);
        Keep("test limit", asked.TestLimit, stored.TestLimit, asked.TestLimit is not null);
        Keep("--batch-size", asked.BatchSize, stored.BatchSize);
        Keep("processes (mpirun -np)", asked.Processes, stored.Processes);
        Keep("--max-batches", asked.MaxBatches, stored.MaxBatches, asked.MaxBatches is not null);
        Keep("--optimizer", asked.Optimizer, stored.Optimizer);
        Keep("--lr", asked.Lr, stored.Lr);
        Keep("--momentum", asked.Momentum, stored.Momentum);
        Keep("--weight-decay", asked.WeightDecay, stored.WeightDecay);
        Keep("--scheduler", asked.Scheduler, stored.Scheduler);
        Keep("--seed", asked.Seed, stored.Seed);
        Keep("--augment", asked.Augment, stored.Augment);
        Keep("--augment pca", asked.PcaColor, stored.PcaColor);
        Keep("--pretrained", asked.Pretrained, stored.Pretrained, asked.Pretrained is not null);
        Keep("--unfreeze", asked.Unfreeze, stored.Unfreeze);
        Keep("--body-lr-scale", asked.BodyLrScale, stored.BodyLrScale);
        Keep("--freeze", asked.Freeze, stored.Freeze, asked.Freeze is not null);
        Keep("--loss", asked.Loss, stored.Loss);
        Keep("--hidden", asked.Hidden is { } hd ? string.Join(",", hd) : null, stored.Hidden is { } sh ? string.Join(",", sh) : null, asked.Hidden is not null);
        Keep("--val-split", asked.ValSplit, stored.ValSplit, asked.ValSplit is not null);
        Keep("--clip-grad-norm", asked.ClipGradNorm, stored.ClipGradNorm, asked.ClipGradNorm is not null);
        Keep("--clip-grad-value", asked.ClipGradValue, stored.ClipGradValue, asked.ClipGradValue is not null);
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
            // Early stopping and the best checkpoint only watch the run: a resume may change them.
            EarlyStop = asked.EarlyStop ?? stored.EarlyStop,
            Monitor = asked.Monitor ?? stored.Monitor,
            KeepBest = asked.KeepBest || stored.KeepBest,
            // How images are decoded does not change the numbers: the order and augmentation depend on (seed, epoch, index).
            Workers = asked.Workers ?? stored.Workers,
            Cache = asked.Cache,
            Strict = asked.Strict,
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

    /// <summary>Readers of foreign weight files for <see cref="TrainOptions.InitFrom"/>, by file extension (lower case, with the dot).</summary>
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, Func<string, StateDict>> WeightReaders = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// Lets <see cref="TrainOptions.InitFrom"/> read files ending in <paramref name="extension"/> (e.g. <c>.onnx</c>):
    /// <paramref name="read"/> returns the file's named weights (throwing <see cref="InvalidDataException"/> naming the
    /// file when it is malformed). Fovea.Onnx registers <c>.onnx</c> in <c>PretrainedModels.RegisterForTraining</c>.
    /// </summary>
    public static void RegisterWeightReader(string extension, Func<string, StateDict> read)
    {
        ArgumentException.ThrowIfNullOrEmpty(extension);
        ArgumentNullException.ThrowIfNull(read);
        WeightReaders[extension.StartsWith('.') ? extension : "." + extension] = read;
    }

    /// <summary>
    /// Loads matching weights from a checkpoint, a torchvision safetensors file or a registered format (ONNX: the
    /// initializers); a classifier head shaped for another class count stays fresh. A checkpoint must hold every weight
    /// of the model; a foreign file (ONNX) loads the tensors whose names it shares with the model, and the notes list
    /// those left initialised.
    /// </summary>
    private static List<string> InitFrom(Module<Tensor, Tensor> model, string modelName, string path, int classes)
    {
        StateDict weights;
        bool foreign = WeightReaders.TryGetValue(Path.GetExtension(path), out var reader);
        if (foreign)
            weights = reader!(path);
        else
        {
            var ckpt = TorchvisionWeights.ReadInitialWeights(path, model, modelName);
            if (ckpt.Metadata.TryGetValue("model", out var saved) && !string.Equals(saved, modelName, StringComparison.OrdinalIgnoreCase))
                throw new TrainOptionException($"--init-from {path}: the checkpoint holds a '{saved}' model, this run trains '{modelName}'");
            weights = ckpt.Model;
        }
        RequireFiniteWeights(weights, path);
        var own = model.StateDict();
        var keep = new StateDict();
        var skipped = new List<string>();
        var unknown = new List<string>();
        foreach (var (name, t) in weights)
        {
            if (!own.TryGetValue(name, out var mine))
            {
                unknown.Add(name);
                if (foreign) continue;
            }
            else if (!mine.Shape.SequenceEqual(t.Shape))
            {
                // Only the head may differ, and only in its class dimension.
                if (mine.Size(0) != classes || !mine.Shape.Skip(1).SequenceEqual(t.Shape.Skip(1)))
                    throw new TrainOptionException($"--init-from {path}: {name} is {ShapeChecks.Format(t.Shape)} in the {(foreign ? "file" : "checkpoint")} but {ShapeChecks.Format(mine.Shape)} in the model");
                skipped.Add(name);
                continue;
            }
            keep.Add(name, t);
        }
        if (foreign && keep.Count == 0)
            throw new TrainOptionException($"--init-from {path}: none of its {weights.Count} tensors matches a weight of {modelName} by name and shape (the file has {string.Join(", ", weights.Keys.Take(4))}{(weights.Count > 4 ? ", ..." : "")}; the model {string.Join(", ", own.Keys.Take(4))}, ...)");
        LoadChecked(path, () => model.LoadStateDict(keep, strict: !foreign && skipped.Count == 0), $"the weights do not fit a {modelName} model");
        var notes = new List<string> { $"initialised from {path} ({keep.Count} tensors)" };
        if (skipped.Count > 0)
            notes.Add($"the {(foreign ? "file" : "checkpoint")}'s classifier head is for {weights[skipped[0]].Size(0)} classes, this run has {classes}: kept fresh {string.Join(", ", skipped)}");
        if (foreign)
        {
            var fresh = own.Keys.Where(n => !keep.ContainsKey(n) && !skipped.Contains(n)).ToList();
            if (fresh.Count > 0) notes.Add($"not in the file, kept as initialised: {fresh.Count} tensors ({string.Join(", ", fresh.Take(4))}{(fresh.Count > 4 ? ", ..." : "")})");
            if (unknown.Count > 0) notes.Add($"in the file but not in the model, ignored: {unknown.Count} tensors ({string.Join(", ", unknown.Take(4))}{(unknown.Count > 4 ? ", ..." : "")})");
        }
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
    /// Continues the loop from <paramref name="ckpt"/>: weights (and the registered state of layers such as dropout),
    /// optimizer, scheduler, epochs done, the position inside an interrupted epoch and the history. Checkpoints from
    /// before dropout kept its generator in the state dict carry it as metadata <c>rng.NAME</c> = <c>seed:position</c>;
    /// those are read into the state dict entries <c>NAME.rng_state</c>.
    /// </summary>
    private void Restore(Checkpoint ckpt)
    {
        string path = Options.Resume!;
        var model = new StateDict();
        foreach (var (name, t) in ckpt.Model) model.Add(name, t);
        foreach (var (key, value) in ckpt.Metadata)
        {
            if (!key.StartsWith("rng.", StringComparison.Ordinal)) continue;
            var parts = value.Split(':');
            if (parts.Length != 2 || !ulong.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out ulong seed)
                || !long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out long drawn))
                throw new InvalidDataException($"{path}: the generator state '{UntrustedJson.Quote(value, quotes: false)}' of '{UntrustedJson.Quote(key[4..], quotes: false)}' is malformed");
            string entry = key[4..] + ".rng_state";
            if (model.ContainsKey(entry)) continue;
            var generator = new Generator();
            generator.SetState(seed, drawn);
            model.Add(entry, GeneratorState.ToTensor(generator));
        }
        List<EpochMetrics> history = [];
        EpochPosition? position = null;
        try
        {
            if (ckpt.Metadata.TryGetValue("history", out var h)) history = JsonSerializer.Deserialize(h, Json.ListEpochMetrics) ?? [];
            if (ckpt.Metadata.TryGetValue("partial", out var p)) position = JsonSerializer.Deserialize(p, Json.EpochPosition);
        }
        catch (Exception e) when (e is JsonException or NotSupportedException)
        {
            throw new InvalidDataException($"{path}: the training history in the metadata is malformed ({e.Message})", e);
        }
        if (history.Any(m => m is null))
            throw new InvalidDataException($"{path}: the training history in the metadata has an empty entry");
        var state = new TrainingState
        {
            Model = model,
            Optimizer = ckpt.Optimizer,
            Scheduler = ckpt.Scheduler,
            CompletedEpochs = ckpt.GetInt("epoch"),
            Position = position,
            History = history.Select(TrainResult.Result).ToList(),
        };
        try
        {
            _loop.Restore(state);
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or KeyNotFoundException or IndexOutOfRangeException)
        {
            throw new InvalidDataException($"{path}: {e.Message}", e);
        }
    }

    /// <summary>
    /// Trains until <see cref="Epochs"/>, early stopping or cancellation. <paramref name="progress"/> hears after every
    /// batch and <paramref name="epochDone"/> after every epoch's evaluation and files. On cancellation the current
    /// batch finishes, a checkpoint is saved, and the result says <c>Cancelled</c>.
    /// </summary>
    public TrainResult Run(IProgress<BatchProgress>? progress = null, Action<EpochMetrics>? epochDone = null, CancellationToken cancel = default)
    {
        Directory.CreateDirectory(OutDir);
        var result = _loop.Run(progress, e =>
        {
            if (WritesFiles)
            {
                WriteMetrics();
                Charts.TrainingCurves(History).Save(CurvePath);
            }
            epochDone?.Invoke(TrainResult.Metrics(e));
        }, cancel);
        return new TrainResult(result.Cancelled, result.CompletedEpochs, result.History.Select(TrainResult.Metrics).ToList(), CheckpointPath, MetricsPath, CurvePath,
            result.StoppedEarly, result.BestEpoch, Options.KeepBest && result.BestEpoch is not null ? BestCheckpointPath : null);
    }

    /// <summary>
    /// Evaluates the model as it is now on the test set kept apart from validation (<see cref="HasTest"/>): the mean of
    /// the run's loss and the accuracy.
    /// </summary>
    public LossAndAccuracy EvaluateTest() =>
        TrainingLoop.Evaluate(Model, _loop.Loss, _data.Test ?? throw new InvalidOperationException("this run has no test set apart from its validation data"));

    /// <summary>
    /// Writes the checkpoint now (atomically): model, optimizer, scheduler, epoch, arguments and history. Weights holding
    /// NaN or infinity are never written: the call throws <see cref="TrainingDivergedException"/> and the file on disk
    /// keeps the last good state.
    /// </summary>
    public void SaveCheckpoint() => _loop.SaveCheckpoint();

    /// <summary>The checkpoint of <paramref name="state"/>: the loop's state with the recipe's metadata.</summary>
    private Checkpoint ToCheckpoint(TrainingState state)
    {
        var meta = new Dictionary<string, string>
        {
            ["epoch"] = state.CompletedEpochs.ToString(CultureInfo.InvariantCulture),
            ["model"] = Options.Model!,
            ["dataset"] = Options.Dataset!,
            ["classes"] = string.Join(",", ClassLabels),
            ["class_names"] = JsonSerializer.Serialize(ClassNames, CheckpointJsonContext.Default.StringArray),
            ["in_channels"] = InputChannels.ToString(CultureInfo.InvariantCulture),
            ["input_size"] = InputSize.ToString(CultureInfo.InvariantCulture),
            ["seed"] = Options.Seed.ToString(CultureInfo.InvariantCulture),
            ["loss"] = Options.Loss,
            ["args"] = JsonSerializer.Serialize(Options with { Resume = null }, Json.TrainOptions),
            ["history"] = JsonSerializer.Serialize(state.History.Select(TrainResult.Metrics).ToList(), Json.ListEpochMetrics),
        };
        if (Options.Hidden is { } hidden) meta["hidden"] = string.Join(",", hidden);
        if (Preprocessing is { } pre) meta["preprocessing"] = pre.ToJson();
        if (state.Position is { } p)
        {
            meta["partial"] = JsonSerializer.Serialize(p, Json.EpochPosition);
            meta["batch"] = p.Batch.ToString(CultureInfo.InvariantCulture);
        }
        return new Checkpoint { Model = state.Model, Optimizer = state.Optimizer, Scheduler = state.Scheduler, Metadata = meta };
    }

    private void WriteMetrics() => AtomicFile.WriteAllLines(MetricsPath, History.Select(m => JsonSerializer.Serialize(m, Json.EpochMetrics)));
}
