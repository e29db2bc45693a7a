using System.Globalization;
using Fovea.NN;
using Fovea.Vision.Datasets;
using Fovea.Vision.Imaging;
using Fovea.Vision.Models;
using Fovea.Vision.Serialization;
using Fovea.Vision.Transforms;
using F = Fovea.NN.Functional;

namespace Fovea.Vision.Training;

/// <summary>A model rebuilt from a training checkpoint, with its classes, ready to evaluate or predict.</summary>
public sealed class TrainedModel
{
    private TrainedModel(Module<Tensor, Tensor> model, string name, int[] labels, string[] names, int channels, int size, int epoch)
    {
        Model = model;
        ModelName = name;
        ClassLabels = labels;
        ClassNames = names;
        InputChannels = channels;
        InputSize = size;
        Epoch = epoch;
    }

    /// <summary>The network, in eval mode.</summary>
    public Module<Tensor, Tensor> Model { get; }

    /// <summary>The zoo name it was built with.</summary>
    public string ModelName { get; }

    /// <summary>Dataset label of each output.</summary>
    public int[] ClassLabels { get; }

    /// <summary>Name of each output.</summary>
    public string[] ClassNames { get; }

    /// <summary>Input channels.</summary>
    public int InputChannels { get; }

    /// <summary>Input height and width.</summary>
    public int InputSize { get; }

    /// <summary>Epochs trained.</summary>
    public int Epoch { get; }

    /// <summary>What it was trained on: <c>fashion-mnist</c>, <c>mnist</c>, <c>cifar10</c> or <c>folder</c>.</summary>
    public string Dataset { get; private init; } = TrainOptions.DefaultDataset;

    /// <summary>How training prepared an image file (image folders, CIFAR-10), or null: the gray path of <see cref="PrepareImage"/>.</summary>
    public Preprocessing? Preprocessing { get; private init; }

    /// <summary>The checkpoint file.</summary>
    public string Path { get; private init; } = "";

    /// <summary>
    /// The preprocessing that turns an image file into this model's input: the checkpoint's, or for a Fashion-MNIST or
    /// MNIST model the data's own form (gray, <see cref="InputSize"/>², values in [0, 1]).
    /// </summary>
    public Preprocessing InputPreprocessing => Preprocessing ?? Preprocessing.Create(InputSize, InputChannels is 1 or 3 ? InputChannels : 1);

    /// <summary>
    /// The images of an image folder (<paramref name="dir"/>: class sub-folders, or <c>train/</c>, <c>val/</c>,
    /// <c>test/</c> of which <c>test/</c>, else <c>val/</c>, is taken), prepared as training prepared them and labelled
    /// by this model's outputs. A folder class the model does not know is an <see cref="InvalidDataException"/>.
    /// </summary>
    public ImageDataset FolderDataset(string dir, bool strict = false)
    {
        var folder = ImageFolder.Open(dir, validationFraction: 0);
        var files = folder.HasSplitFolders ? (folder.Test.Count > 0 ? folder.Test : folder.Validation) : folder.Train;
        var map = new int[folder.Classes.Count];
        for (int i = 0; i < map.Length; i++)
        {
            map[i] = Array.IndexOf(ClassNames, folder.Classes[i]);
            if (map[i] < 0 && files.Any(f => f.Label == i))
                throw new InvalidDataException($"{dir}: class folder '{folder.Classes[i]}' is not a class of {Path} ({string.Join(", ", ClassNames)})");
        }
        return new ImageDataset(files.Select(f => f with { Label = map[f.Label] }).ToList(), ClassNames, InputPreprocessing.Transform(), strict: strict);
    }

    /// <summary>Evaluation on <paramref name="batches"/> labelled by this model's outputs: loss, accuracy, per-class accuracy and confusion matrix.</summary>
    public EvaluationResult Evaluate(IEnumerable<(Tensor Input, Tensor Target)> batches) => Evaluation.Evaluate(Model, batches, ClassLabels.Length);

    /// <summary>The softmax probabilities [N, K] of a batch of inputs.</summary>
    public Tensor Probabilities(Tensor inputs)
    {
        using var _ = GradMode.Disable();
        return F.Softmax(Model.Forward(inputs), 1);
    }

    /// <summary>The largest input side a checkpoint may declare; the zoo's models are built for 28 to 224 pixels.</summary>
    public const int MaxInputSize = 4096;

    /// <summary>The most input channels a checkpoint may declare.</summary>
    public const int MaxInputChannels = 64;

    /// <summary>
    /// How many times its weights' bytes building a model may allocate: each weight is allocated zeroed, drawn by
    /// the layer's default initialisation and drawn again by models that re-initialise (VGG: 2.9 times in all).
    /// The draws are temporaries, so the memory held at the end is about the weights once.
    /// </summary>
    private const int ConstructionAllocationsPerWeight = 4;

    /// <summary>Tensor storage a model may allocate beyond that: small scratch tensors of the constructors.</summary>
    private const long ConstructionSlackBytes = 4 << 20;

    /// <summary>
    /// Reads a checkpoint written by <see cref="Trainer"/> and rebuilds its model. The metadata is untrusted: every
    /// field is range-checked, and the model it describes is built under a <see cref="StorageBudget"/> of about the
    /// bytes of weights the file holds, so a tiny file cannot make it allocate gigabytes. Every failure is an
    /// <see cref="InvalidDataException"/> naming the file (and the metadata key where one is at fault).
    /// </summary>
    public static TrainedModel Load(string path)
    {
        var ckpt = Checkpoint.Load(path);
        Trainer.RequireFiniteWeights(ckpt.Model, path);
        string name = ckpt.Metadata.GetValueOrDefault("model") ?? throw new InvalidDataException($"{path}: the checkpoint does not say which model it holds (metadata 'model')");
        if (!ModelZoo.Contains(name) && name.StartsWith(TrainOptions.PretrainedModelName(""), StringComparison.OrdinalIgnoreCase))
            throw new InvalidDataException($"{path}: the checkpoint holds {UntrustedJson.Quote(name)}, a pretrained network that comes with Fovea.Onnx: call Fovea.Onnx.PretrainedModels.RegisterForTraining() before loading it");
        if (!ModelZoo.Contains(name))
            throw new InvalidDataException($"{path}: metadata 'model' is {UntrustedJson.Quote(name)}, not a model of the zoo ({string.Join(", ", ModelZoo.Names)})");
        string dataset = ckpt.Metadata.GetValueOrDefault("dataset") ?? TrainOptions.DefaultDataset;
        if (!TrainOptions.Datasets.Contains(dataset))
            throw new InvalidDataException($"{path}: metadata 'dataset' is {UntrustedJson.Quote(dataset)}, not one of {string.Join(", ", TrainOptions.Datasets)}");
        int[] labels;
        string[] names;
        if (dataset == TrainOptions.FolderDataset)
        {
            names = ParseClassNames(ckpt.Metadata.GetValueOrDefault("class_names"), path);
            labels = Enumerable.Range(0, names.Length).ToArray();
        }
        else
        {
            var all = RecipeData.ClassNamesOf(dataset);
            labels = ParseLabels(ckpt.Metadata.GetValueOrDefault("classes") ?? "0,1,2,3,4,5,6,7,8,9", path, all.Length);
            names = labels.Select(l => all[l]).ToArray();
        }
        var preprocessing = ckpt.Metadata.TryGetValue("preprocessing", out var pre) ? Preprocessing.Parse(pre, $"{path}: metadata 'preprocessing'") : null;
        int channels = ckpt.GetInt("in_channels", 1, 1, MaxInputChannels), size = ckpt.GetInt("input_size", 28, 1, MaxInputSize);
        int epoch = ckpt.GetInt("epoch", 0, 0);
        int[]? hidden = ckpt.Metadata.TryGetValue("hidden", out var h) ? ParseHidden(h, path) : null;
        string described = $"model {name}{(hidden is null ? "" : $" (hidden {string.Join(",", hidden)})")}, in_channels {channels}, input_size {size}, {labels.Length} classes";

        // Weights may be stored in a narrower or wider dtype than the model's float32; count whichever is larger.
        long weightBytes = ckpt.Model.Sum(kv => (long)kv.Value.Numel * Math.Max(kv.Value.DType.SizeOf(), DType.Float32.SizeOf()));
        long budget = ConstructionAllocationsPerWeight * weightBytes + ConstructionSlackBytes;
        Module<Tensor, Tensor> model;
        try
        {
            using (StorageBudget.Limit(budget)) model = Trainer.BuildModel(name, hidden, channels, labels.Length, size);
        }
        catch (StorageBudgetExceededException)
        {
            throw new InvalidDataException($"{path}: the metadata ({described}) describes a model that needs more than {budget} bytes of tensor storage, but the file holds only {weightBytes} bytes of weights");
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // The factories were written for sizes from the command line: whatever they throw here, the file is at fault.
            throw new InvalidDataException($"{path}: the metadata ({described}) does not describe a model that can be built ({UntrustedJson.Quote(e.Message, quotes: false, keep: 400)})", e);
        }
        try
        {
            model.LoadStateDict(ckpt.Model);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new InvalidDataException($"{path}: the weights do not fit a {name} model ({UntrustedJson.Quote(e.Message, quotes: false, keep: 400)})", e);
        }
        if (preprocessing is not null && (preprocessing.Channels != channels || preprocessing.CropSize != size))
            throw new InvalidDataException($"{path}: metadata 'preprocessing' makes {preprocessing.Channels}x{preprocessing.CropSize}x{preprocessing.CropSize} inputs, the model takes {channels}x{size}x{size}");
        model.Eval();
        return new TrainedModel(model, name, labels, names, channels, size, epoch)
        {
            Dataset = dataset,
            Preprocessing = preprocessing,
            Path = path,
        };
    }

    /// <summary>The metadata 'hidden': the MLP's hidden widths, positive numbers separated by commas.</summary>
    private static int[] ParseHidden(string text, string path)
    {
        var widths = new List<int>();
        foreach (var part in text.Split(','))
        {
            if (!int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out int width) || width < 1 || width > 1 << 20 || widths.Count >= 64)
                throw new InvalidDataException($"{path}: metadata 'hidden' is {UntrustedJson.Quote(text)}: expected up to 64 layer widths from 1 to {1 << 20} separated by commas");
            widths.Add(width);
        }
        return [.. widths];
    }

    /// <summary>The most classes an image-folder checkpoint may name.</summary>
    public const int MaxClasses = 100_000;

    /// <summary>The metadata 'class_names': a JSON array of distinct, non-empty strings.</summary>
    private static string[] ParseClassNames(string? json, string path)
    {
        const string Key = "metadata 'class_names'";
        if (json is null) throw new InvalidDataException($"{path}: an image-folder checkpoint needs its class names ({Key})");
        using var doc = UntrustedJson.Parse(json, path, Key);
        var names = new List<string>();
        foreach (var item in UntrustedJson.Items(doc.RootElement, path, Key))
        {
            if (names.Count == MaxClasses) throw new InvalidDataException($"{path}: {Key} names more than {MaxClasses} classes");
            string name = item.ValueKind == System.Text.Json.JsonValueKind.String ? item.GetString()! : throw new InvalidDataException($"{path}: {Key}[{names.Count}] is not a string");
            if (name.Length is 0 or > 255 || names.Contains(name))
                throw new InvalidDataException($"{path}: {Key}[{names.Count}] is {UntrustedJson.Quote(name)}: class names are distinct, 1 to 255 characters");
            names.Add(name);
        }
        if (names.Count < 2) throw new InvalidDataException($"{path}: {Key} names {names.Count} classes, a classifier has at least 2");
        return [.. names];
    }

    /// <summary>The metadata 'classes': distinct dataset labels below <paramref name="classCount"/> separated by commas.</summary>
    private static int[] ParseLabels(string text, string path, int classCount)
    {
        var labels = new List<int>();
        foreach (var part in text.Split(','))
        {
            if (!int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out int label) || label >= classCount)
                throw new InvalidDataException($"{path}: metadata 'classes' is {UntrustedJson.Quote(text)}: {UntrustedJson.Quote(part)} is not a label from 0 to {classCount - 1}");
            if (labels.Contains(label))
                throw new InvalidDataException($"{path}: metadata 'classes' is {UntrustedJson.Quote(text)}: it names label {label} twice");
            labels.Add(label);
        }
        return [.. labels];
    }

    /// <summary>
    /// Wraps a network that did not come from a Fovea checkpoint (an imported ONNX model) so that it evaluates and
    /// predicts like one: its input is [N, <paramref name="channels"/>, <paramref name="size"/>, <paramref name="size"/>]
    /// and output k scores class <paramref name="labels"/>[k] named <paramref name="names"/>[k]; images are prepared with
    /// <paramref name="preprocessing"/> (the training run's, which `fovea export` stores in the file) or, without one,
    /// <see cref="Preprocessing.Create"/>'s defaults for that input. It is put in eval mode.
    /// </summary>
    public static TrainedModel FromModule(Module<Tensor, Tensor> model, string name, int[] labels, string[] names, int channels, int size,
        Preprocessing? preprocessing = null)
    {
        if (labels.Length != names.Length || labels.Length == 0)
            throw new ArgumentException($"{name}: {labels.Length} class labels and {names.Length} names");
        if (channels is < 1 or > MaxInputChannels || size is < 1 or > MaxInputSize)
            throw new ArgumentException($"{name}: input of {channels} channels and side {size} is out of range");
        if (preprocessing is not null && (preprocessing.CropSize != size || preprocessing.Channels != channels))
            throw new ArgumentException($"{name}: the preprocessing gives [{preprocessing.Channels}, {preprocessing.CropSize}, {preprocessing.CropSize}], the model takes [{channels}, {size}, {size}]");
        model.Eval();
        return new TrainedModel(model, name, labels, names, channels, size, 0) { Preprocessing = preprocessing };
    }

    /// <summary>Test-set evaluation on the checkpoint's classes: loss, accuracy, per-class accuracy and confusion matrix.</summary>
    public EvaluationResult Evaluate(MnistData data, int batchSize = 500) => Evaluate(TestBatches(data.TestImages, data.TestLabels, batchSize));

    /// <summary>The samples of a dataset's test tensors whose label is one of this model's, labelled by its outputs, in batches.</summary>
    public IEnumerable<(Tensor Input, Tensor Target)> TestBatches(Tensor images, Tensor labels, int batchSize = 500)
    {
        var (x, y) = Trainer.Subset(images, labels, ClassLabels, what: "test");
        return Fovea.Data.DataLoader.FromTensors(x, y, batchSize);
    }

    /// <summary>
    /// Converts an image to the model's input [1, C, S, S]: gray, resized (area average when shrinking, bilinear when
    /// growing), and inverted when its border is bright, since Fashion-MNIST shows light objects on black.
    /// </summary>
    public Tensor PrepareImage(ImagePlanes image, out bool inverted)
    {
        var gray = image.Channels == 1 ? image : Grayscale.ToGray(image);
        var x = Tensor.FromArray((float[])gray.Data.Clone(), 1, 1, gray.Height, gray.Width);
        using (GradMode.Disable())
        {
            x = gray.Height >= InputSize && gray.Width >= InputSize
                ? F.AdaptiveAvgPool2d(x, InputSize)
                : F.Interpolate(x, new Size2d(InputSize, InputSize), mode: InterpolationMode.Bilinear);
        }
        var v = x.Contiguous().ToArray<float>();
        double border = 0;
        int count = 0;
        for (int i = 0; i < InputSize; i++)
        {
            border += v[i] + v[(InputSize - 1) * InputSize + i] + v[i * InputSize] + v[i * InputSize + InputSize - 1];
            count += 4;
        }
        inverted = border / count > 0.5;
        if (inverted) for (int i = 0; i < v.Length; i++) v[i] = 1 - v[i];
        var t = Tensor.FromArray(v, 1, 1, InputSize, InputSize);
        return InputChannels == 1 ? t : t.Expand(1, InputChannels, InputSize, InputSize).Contiguous();
    }

    /// <summary>
    /// The <paramref name="k"/> most probable classes for <paramref name="image"/>, with softmax probabilities. A model
    /// with a recorded <see cref="Preprocessing"/> gets the image exactly as training prepared its images; a
    /// Fashion-MNIST or MNIST model gets <see cref="PrepareImage"/>'s gray, possibly inverted, version.
    /// </summary>
    public IReadOnlyList<(int Label, string Name, double Probability)> Predict(ImagePlanes image, int k, out bool inverted)
    {
        inverted = false;
        var x = Preprocessing is { } pre ? pre.Apply(image).Unsqueeze(0) : PrepareImage(image, out inverted);
        Tensor logits;
        using (GradMode.Disable()) logits = Model.Forward(x);
        return Evaluation.TopK(logits, k).Select(p => (ClassLabels[p.Class], ClassNames[p.Class], p.Probability)).ToList();
    }
}
