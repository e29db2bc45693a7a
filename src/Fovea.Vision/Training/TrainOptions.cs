using System.Globalization;
using Fovea.Vision.Datasets;
using Fovea.Training;
using Fovea.Vision.Models;

namespace Fovea.Vision.Training;

/// <summary>
/// Everything a training run needs (what <c>fovea train</c> parses). The defaults are the default recipe:
/// <see cref="DefaultModel"/>, Adam at 3e-3, batch 128, 5 epochs, inputs in [0, 1]; <c>fovea train</c> adds the
/// <see cref="DefaultRecipeScheduler"/> unless an optimizer or rate is named, so naming them gives the plain textbook recipe.
/// </summary>
public sealed record TrainOptions
{
    /// <summary>The model <c>fovea train</c> uses when none is named (falls back to LeNet-5 where the zoo lacks it).</summary>
    public const string DefaultModel = "fmnist_cnn";

    /// <summary>The schedule of <c>fovea train</c>'s default recipe (when neither an optimizer nor a rate is named).</summary>
    public const string DefaultRecipeScheduler = "onecycle";

    /// <summary>Where a new run writes when <see cref="OutDir"/> is not set.</summary>
    public const string DefaultOutDir = "runs/fovea";

    /// <summary>The dataset trained on when none is named and <see cref="DataDir"/> is not an image folder.</summary>
    public const string DefaultDataset = "fashion-mnist";

    /// <summary>The <see cref="Dataset"/> of an image folder.</summary>
    public const string FolderDataset = "folder";

    /// <summary>The fraction of each class an image folder without <c>val/</c> holds out for validation when <see cref="ValSplit"/> is not set.</summary>
    public const double DefaultFolderValSplit = 0.2;

    /// <summary>The datasets <see cref="Dataset"/> may name.</summary>
    public static IReadOnlyList<string> Datasets { get; } = ["fashion-mnist", "mnist", "cifar10", FolderDataset];

    /// <summary>
    /// Whether <paramref name="dir"/> is taken as an image folder when no dataset is named: it has sub-folders (not
    /// hidden) and holds neither the Fashion-MNIST/MNIST IDX files nor the CIFAR-10 batch files.
    /// </summary>
    public static bool IsImageFolder(string dir) =>
        System.IO.Directory.Exists(dir) && FashionMnist.Locate(dir) is null && Cifar10.Locate(dir) is null
        && System.IO.Directory.EnumerateDirectories(dir).Any(d => !Path.GetFileName(d).StartsWith('.'));

    /// <summary>
    /// The input size a zoo model is made for, the default <see cref="ImageSize"/> of an image folder: 28 for the
    /// Fashion-MNIST models (LeNet, fmnist_cnn, MLP, linear), 32 for the CIFAR ResNets, 224 for the ImageNet models.
    /// </summary>
    public static int ModelInputSize(string model)
    {
        string m = model.ToLowerInvariant();
        if (m.StartsWith("lenet", StringComparison.Ordinal) || m.StartsWith("fmnist", StringComparison.Ordinal) || m is "mlp" or "linear") return 28;
        return m is "resnet20" or "resnet32" or "resnet56" ? 32 : 224;
    }

    /// <summary>The metric early stopping and <see cref="KeepBest"/> watch when <see cref="Monitor"/> is not set.</summary>
    public const string DefaultMonitor = "val_loss";

    /// <summary>The losses <see cref="Loss"/> may name.</summary>
    public static IReadOnlyList<string> Losses { get; } = ["cross-entropy", "hinge", "mse"];

    /// <summary>The model used when <see cref="DefaultModel"/> is not in the zoo.</summary>
    public const string FallbackModel = "lenet5";

    /// <summary>Model name in <see cref="ModelZoo"/>; null: the default model.</summary>
    public string? Model { get; init; }

    /// <summary>
    /// Dataset name: <c>fashion-mnist</c>, <c>mnist</c>, <c>cifar10</c> or <c>folder</c> (an image folder in
    /// <see cref="DataDir"/>); null: <c>folder</c> when <see cref="DataDir"/> has sub-folders and no Fashion-MNIST
    /// files, else <c>fashion-mnist</c>.
    /// </summary>
    public string? Dataset { get; init; }

    /// <summary>
    /// The dataset's folder (used exactly: nothing else is searched when it is set): the IDX files of Fashion-MNIST or
    /// MNIST, the CIFAR-10 batch files, or an image folder (one sub-folder per class, optionally inside
    /// <c>train/</c>, <c>val/</c> and <c>test/</c>); null for the usual lookup of the named dataset.
    /// </summary>
    public string? DataDir { get; init; }

    /// <summary>Image folders: the side of the square model input; null: <see cref="ModelInputSize"/>.</summary>
    public int? ImageSize { get; init; }

    /// <summary>Image folders: 1 (gray) or 3 (RGB) input channels; null: those of the first training image.</summary>
    public int? Channels { get; init; }

    /// <summary>Image folders: threads decoding and transforming images; null: the processor count less one.</summary>
    public int? Workers { get; init; }

    /// <summary>Image folders: keep decoded images in memory after the first epoch.</summary>
    public bool Cache { get; init; }

    /// <summary>Image folders: an image that cannot be decoded stops the run instead of being skipped.</summary>
    public bool Strict { get; init; }

    /// <summary>Download the dataset into the cache when it is not found.</summary>
    public bool Download { get; init; }

    /// <summary>Total number of epochs (when resuming, 0 keeps the checkpoint's).</summary>
    public int Epochs { get; init; } = 5;

    /// <summary>Samples per training batch.</summary>
    public int BatchSize { get; init; } = 128;

    /// <summary><c>sgd</c>, <c>adam</c> or <c>adamw</c>.</summary>
    public string Optimizer { get; init; } = "adam";

    /// <summary>Learning rate (the peak rate for <c>onecycle</c>).</summary>
    public double Lr { get; init; } = 3e-3;

    /// <summary>SGD momentum.</summary>
    public double Momentum { get; init; } = 0.9;

    /// <summary>Weight decay (L2 for SGD and Adam, decoupled for AdamW).</summary>
    public double WeightDecay { get; init; }

    /// <summary><c>none</c>, <c>step</c> (×0.1 every third of the run), <c>cosine</c> (per epoch) or <c>onecycle</c> (per batch).</summary>
    public string Scheduler { get; init; } = "none";

    /// <summary>Seed of the initialisation, the shuffles and the augmentation.</summary>
    public ulong Seed { get; init; }

    /// <summary>Directory for the checkpoint, the metrics and the curves; null: <see cref="DefaultOutDir"/> for a new run,
    /// the checkpoint's own folder for a resumed one (so a resume never writes into another run).</summary>
    public string? OutDir { get; init; }

    /// <summary>
    /// Checkpoint to continue from, or null. A resumed run keeps the checkpoint's settings: build the options with
    /// <see cref="Trainer.ResumeOptions"/> and change only what a resume can change (more <see cref="Epochs"/>,
    /// <see cref="OutDir"/>, <see cref="Metrics"/>, <see cref="DataDir"/>, <see cref="Download"/>); any other setting
    /// that differs from the checkpoint's makes <see cref="Trainer.Create"/> refuse, naming it.
    /// </summary>
    public string? Resume { get; init; }

    /// <summary>Parameters whose name starts with this prefix are frozen (<c>features</c> for the zoo's CNNs).</summary>
    public string? Freeze { get; init; }

    /// <summary>Checkpoint whose weights initialise the model (a classifier head of another class count is left fresh).</summary>
    public string? InitFrom { get; init; }

    /// <summary>Metrics file (one JSON object per epoch); null: <c>metrics.jsonl</c> in <see cref="OutDir"/>.</summary>
    public string? Metrics { get; init; }

    /// <summary>Random crop (padding 2) and horizontal flip of the training images.</summary>
    public bool Augment { get; init; }

    /// <summary>Train and test only on these labels (remapped to 0..k−1 in this order); null: all.</summary>
    public int[]? Classes { get; init; }

    /// <summary>Use only the first N training samples (quick runs and tests); null: all.</summary>
    public int? TrainLimit { get; init; }

    /// <summary>Use only the first N test samples; null: all.</summary>
    public int? TestLimit { get; init; }

    /// <summary>Stop each epoch after this many batches (quick runs and tests); null: the whole epoch.</summary>
    public int? MaxBatches { get; init; }

    /// <summary>
    /// The loss: <c>cross-entropy</c> (softmax), <c>hinge</c> (the multiclass SVM loss) or <c>mse</c> (squared error
    /// against one-hot targets); see <see cref="Trainer.LossFunction"/>.
    /// </summary>
    public string Loss { get; init; } = "cross-entropy";

    /// <summary>Hidden layer widths of the <c>mlp</c> model (e.g. 256, 128); null: the zoo's mlp (784-256-128-K).</summary>
    public int[]? Hidden { get; init; }

    /// <summary>
    /// Hold out this fraction of each class of the training images as the validation set of every epoch (the test
    /// set is then evaluated only at the end); null: validate on the test set, as the default recipe does.
    /// </summary>
    public double? ValSplit { get; init; }

    /// <summary>Stop when <see cref="Monitor"/> has not improved for this many epochs; null: train every epoch.</summary>
    public int? EarlyStop { get; init; }

    /// <summary>The metric early stopping and <see cref="KeepBest"/> watch (<c>val_loss</c>, <c>val_accuracy</c>, ..., optionally <c>:min</c>/<c>:max</c>); null: <see cref="DefaultMonitor"/>.</summary>
    public string? Monitor { get; init; }

    /// <summary>Also keep the checkpoint of the best epoch (by <see cref="Monitor"/>) as <see cref="Trainer.BestCheckpointFile"/>.</summary>
    public bool KeepBest { get; init; }

    /// <summary>Clip the gradients' global 2-norm to this before each step; null: no clipping.</summary>
    public double? ClipGradNorm { get; init; }

    /// <summary>Clamp each gradient element to ± this before each step; null: no clipping.</summary>
    public double? ClipGradValue { get; init; }

    /// <summary>
    /// Processes training data-parallel (<c>fovea train --distributed</c> under <c>mpirun -np N</c>); 1: one process.
    /// <see cref="BatchSize"/> is then each process's batch, and the global batch is their product. Recorded in the
    /// checkpoint: a resume must use as many processes, since the shards and the position inside the epoch depend on it.
    /// </summary>
    public int Processes { get; init; } = 1;

    /// <summary>
    /// Colour augmentation "fancy PCA" (<see cref="Transforms.PcaColorAugmentation"/>, σ = 0.1), fitted on the training
    /// images: <c>--augment pca</c>. Needs colour images (a gray dataset is refused).
    /// </summary>
    public bool PcaColor { get; init; }

    /// <summary>The pretrained networks <see cref="Pretrained"/> may name.</summary>
    public static IReadOnlyList<string> PretrainedNetworks { get; } = ["resnet18"];

    /// <summary>
    /// Start from a pretrained network's body with a new linear head for the dataset's classes (<c>--pretrained
    /// resnet18</c>: the ImageNet ResNet-18 of Fovea.Onnx, which registers it in the zoo as
    /// <see cref="PretrainedModelName"/>); the body is frozen unless <see cref="Unfreeze"/>. Null: train
    /// <see cref="Model"/> from its initialisation.
    /// </summary>
    public string? Pretrained { get; init; }

    /// <summary>Fine-tune the pretrained body too, at <see cref="BodyLrScale"/> times the rate (with <see cref="Pretrained"/>).</summary>
    public bool Unfreeze { get; init; }

    /// <summary>The body's learning rate as a fraction of <see cref="Lr"/> when <see cref="Unfreeze"/> fine-tunes it.</summary>
    public double BodyLrScale { get; init; } = 0.1;

    /// <summary>The zoo name under which a pretrained network is registered (<c>resnet18</c> → <c>pretrained_resnet18</c>).</summary>
    public static string PretrainedModelName(string network) => "pretrained_" + network.ToLowerInvariant();

    /// <summary>The model actually built: the pretrained network's zoo name, <see cref="Model"/>, or the default.</summary>
    public string ResolvedModel => Pretrained is { } p ? PretrainedModelName(p)
        : Model ?? (ModelZoo.Names.Contains(DefaultModel, StringComparer.OrdinalIgnoreCase) ? DefaultModel : FallbackModel);

    /// <summary>Parses a label list such as <c>0-4</c>, <c>5,7,9</c> or <c>0-2,8</c>.</summary>
    public static int[] ParseClasses(string text, int classCount = 10)
    {
        var result = new List<int>();
        foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var ends = part.Split('-');
            if (ends.Length is < 1 or > 2 || !ends.All(e => int.TryParse(e, NumberStyles.None, CultureInfo.InvariantCulture, out _)))
                throw new ArgumentException($"classes: '{part}' is not a label or a range like 0-4");
            int a = int.Parse(ends[0], CultureInfo.InvariantCulture), b = int.Parse(ends[^1], CultureInfo.InvariantCulture);
            if (a > b || b >= classCount) throw new ArgumentException($"classes: '{part}' must be an increasing range of labels below {classCount}");
            for (int c = a; c <= b; c++)
                if (!result.Contains(c)) result.Add(c);
        }
        if (result.Count < 2) throw new ArgumentException($"classes: '{text}' names fewer than two classes");
        return [.. result];
    }

    /// <summary>Checks the values (names, ranges) and throws one <see cref="ArgumentException"/> naming the first problem.</summary>
    public void Validate()
    {
        if (Pretrained is { } net)
        {
            if (!PretrainedNetworks.Contains(net, StringComparer.OrdinalIgnoreCase))
                throw new ArgumentException($"unknown pretrained network '{net}' (choose {string.Join(", ", PretrainedNetworks)})");
            if (Model is not null && !string.Equals(Model, PretrainedModelName(net), StringComparison.OrdinalIgnoreCase))
                throw new ArgumentException($"--pretrained {net} brings its own model; --model {Model} contradicts it");
            if (!ModelZoo.Contains(PretrainedModelName(net)))
                throw new ArgumentException($"the pretrained {net} comes with Fovea.Onnx: call Fovea.Onnx.PretrainedModels.RegisterForTraining() once before training (the fovea tool does)");
        }
        if (Unfreeze && Pretrained is null) throw new ArgumentException("--unfreeze fine-tunes a pretrained body: it needs --pretrained");
        if (!(BodyLrScale > 0 && BodyLrScale <= 10)) throw new ArgumentException($"the body's learning-rate scale must be in (0, 10], got {BodyLrScale}");
        if (Model is not null && !ModelZoo.Names.Contains(Model, StringComparer.OrdinalIgnoreCase))
            throw new ArgumentException($"unknown model '{Model}' (choose one of: {string.Join(", ", ModelZoo.Names)})");
        if (Dataset is not null && !Datasets.Contains(Dataset)) throw new ArgumentException($"unknown dataset '{Dataset}' ({string.Join(", ", Datasets)})");
        if (Dataset == FolderDataset && DataDir is null) throw new ArgumentException("an image-folder run needs the folder (--data DIR)");
        if (Dataset == FolderDataset && (Classes is not null || TrainLimit is not null || TestLimit is not null))
            throw new ArgumentException("--classes and --limit apply to Fashion-MNIST, MNIST and CIFAR-10; an image folder trains on its class folders");
        if (ImageSize is int side && (side < 8 || side > 1024)) throw new ArgumentException($"the image size must be in [8, 1024], got {side}");
        if (Channels is int ch && ch is not (1 or 3)) throw new ArgumentException($"input channels must be 1 or 3, got {ch}");
        if (Workers is int w && (w < 1 || w > 256)) throw new ArgumentException($"decoding threads must be in [1, 256], got {w}");
        if (Optimizer is not ("sgd" or "adam" or "adamw")) throw new ArgumentException($"unknown optimizer '{Optimizer}' (sgd, adam, adamw)");
        if (Scheduler is not ("none" or "step" or "cosine" or "onecycle")) throw new ArgumentException($"unknown scheduler '{Scheduler}' (none, step, cosine, onecycle)");
        if (Epochs < 0 || (Epochs == 0 && Resume is null)) throw new ArgumentException($"epochs must be positive, got {Epochs}");
        if (BatchSize < 1) throw new ArgumentException($"batch size must be positive, got {BatchSize}");
        if (Processes < 1) throw new ArgumentException($"processes must be positive, got {Processes}");
        if (!(Lr > 0) || !double.IsFinite(Lr)) throw new ArgumentException($"learning rate must be positive, got {Lr}");
        if (!(Momentum >= 0 && Momentum < 1)) throw new ArgumentException($"momentum must be in [0, 1), got {Momentum}");
        if (!(WeightDecay >= 0) || !double.IsFinite(WeightDecay)) throw new ArgumentException($"weight decay must be non-negative, got {WeightDecay}");
        if (Classes is { } classes && (classes.Length < 2 || classes.Distinct().Count() != classes.Length || classes.Any(c => c < 0 || c >= FashionMnist.Classes.Length)))
            throw new ArgumentException($"classes must be two or more distinct labels in 0-{FashionMnist.Classes.Length - 1}, got {string.Join(",", classes)}");
        if (!Losses.Contains(Loss)) throw new ArgumentException($"unknown loss '{Loss}' ({string.Join(", ", Losses)})");
        if (Hidden is { } hidden && (hidden.Length == 0 || hidden.Any(h => h < 1 || h > 1 << 20)))
            throw new ArgumentException($"hidden layer widths must be positive (at most {1 << 20}), got {string.Join(",", hidden)}");
        if (Hidden is not null && !string.Equals(ResolvedModel, "mlp", StringComparison.OrdinalIgnoreCase))
            throw new ArgumentException($"hidden layer widths apply to the mlp model, not to '{ResolvedModel}'");
        if (ValSplit is double f && !(f > 0 && f < 1)) throw new ArgumentException($"the validation split must be a fraction in (0, 1), got {f}");
        if (EarlyStop < 1) throw new ArgumentException($"early-stopping patience must be a positive number of epochs, got {EarlyStop}");
        if (Monitor is not null) MonitoredMetric.Parse(Monitor);
        if (ClipGradNorm is double n && !(n > 0 && double.IsFinite(n))) throw new ArgumentException($"the gradient-norm clip must be positive, got {n}");
        if (ClipGradValue is double v && !(v > 0 && double.IsFinite(v))) throw new ArgumentException($"the gradient-value clip must be positive, got {v}");
        if (TrainLimit < 1 || TestLimit < 1 || MaxBatches < 1)
            throw new ArgumentException($"limits must be positive, got {TrainLimit?.ToString(CultureInfo.InvariantCulture) ?? "none"} training / {TestLimit?.ToString(CultureInfo.InvariantCulture) ?? "none"} test samples, {MaxBatches?.ToString(CultureInfo.InvariantCulture) ?? "none"} batches");
    }
}
