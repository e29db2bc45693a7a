using System.Globalization;
using Fovea.Data;
using Fovea.Training;
using Fovea.Vision.Datasets;
using Fovea.Vision.Imaging;
using Fovea.Vision.Transforms;

namespace Fovea.Vision.Training;

/// <summary>
/// The data of a <see cref="Trainer"/> run, whatever its source: a dataset held as tensors (Fashion-MNIST, MNIST,
/// CIFAR-10; the chosen classes, optionally a held-out validation split) or an image folder decoded on worker threads
/// (classes from the sub-folders; validation from <c>val/</c> or a stratified split; the test split from <c>test/</c>).
/// </summary>
internal sealed class RecipeData
{
    public required IBatchSource Train { get; init; }

    public IEnumerable<(Tensor Input, Tensor Target)>? Validation { get; init; }

    /// <summary>The test batches (null when the source has none apart from validation).</summary>
    public IEnumerable<(Tensor Input, Tensor Target)>? Test { get; init; }

    public required int[] ClassLabels { get; init; }

    public required string[] ClassNames { get; init; }

    public int Channels { get; init; }

    public int Size { get; init; }

    public int TrainCount { get; init; }

    public int ValidationCount { get; init; }

    public int TestCount { get; init; }

    public required string Directory { get; init; }

    /// <summary>How an image becomes the model's input, recorded in the checkpoint (null for Fashion-MNIST and MNIST, whose predict path is the gray one).</summary>
    public Preprocessing? Preprocessing { get; init; }

    /// <summary>The decoded image datasets, whose skipped files are reported.</summary>
    public IReadOnlyList<ImageDataset> ImageSets { get; init; } = [];

    public List<string> Notes { get; } = [];

    /// <summary>
    /// The dataset a run means: an explicit <see cref="TrainOptions.Dataset"/>, or for a <c>--data</c> folder without
    /// the Fashion-MNIST files but with sub-folders, <c>folder</c>.
    /// </summary>
    public static string ResolveDataset(TrainOptions options)
    {
        if (options.Dataset is { } named) return named;
        if (options.DataDir is { } dir && TrainOptions.IsImageFolder(dir)) return TrainOptions.FolderDataset;
        return TrainOptions.DefaultDataset;
    }

    /// <summary>The class names of a tensor dataset.</summary>
    public static string[] ClassNamesOf(string dataset) => dataset switch
    {
        "mnist" => Mnist.Classes,
        "cifar10" => Cifar10.Classes,
        _ => FashionMnist.Classes,
    };

    /// <summary>
    /// Loads the data <paramref name="options"/> (resolved and validated) name; <paramref name="given"/> replaces loading
    /// Fashion-MNIST or MNIST. <paramref name="shard"/> (dataset size, seed → sampler), in a data-parallel run, gives this
    /// process its shard of every epoch's order.
    /// </summary>
    public static RecipeData Load(TrainOptions options, MnistData? given, Func<int, ulong, ISampler>? shard = null)
    {
        if (options.Dataset == TrainOptions.FolderDataset) return Folder(options, shard);
        string[] names;
        Tensor trainImages, trainLabels, testImages, testLabels;
        string directory;
        Preprocessing? preprocessing = null;
        if (options.Dataset == "cifar10")
        {
            var c = Cifar10.Load(options.DataDir, options.Download);
            (trainImages, trainLabels, testImages, testLabels, names, directory) = (c.TrainImages, c.TrainLabels, c.TestImages, c.TestLabels, [.. c.Classes], c.Directory);
            preprocessing = Preprocessing.Create(trainImages.Size(2), trainImages.Size(1));
        }
        else
        {
            var m = given ?? (options.Dataset == "mnist" ? Mnist.Load(options.DataDir, options.Download) : FashionMnist.Load(options.DataDir, options.Download));
            (trainImages, trainLabels, testImages, testLabels, names, directory) = (m.TrainImages, m.TrainLabels, m.TestImages, m.TestLabels, ClassNamesOf(options.Dataset!), m.Directory);
        }
        int[] labels = options.Classes ?? Enumerable.Range(0, names.Length).ToArray();
        var (trainX, trainY) = Trainer.Subset(trainImages, trainLabels, labels, options.TrainLimit, "training");
        var (testX, testY) = Trainer.Subset(testImages, testLabels, labels, options.TestLimit, "test");
        var (valX, valY) = (testX, testY);
        var notes = new List<string>();
        if (options.ValSplit is double fraction)
        {
            var (keep, held) = Trainer.StratifiedSplit(trainY, fraction, options.Seed);
            (valX, valY) = (trainX.IndexSelect(0, held), trainY.IndexSelect(0, held));
            (trainX, trainY) = (trainX.IndexSelect(0, keep), trainY.IndexSelect(0, keep));
            notes.Add($"held out {valY.Size(0):N0} training images for validation ({fraction.ToString("0.###", CultureInfo.InvariantCulture)} of each class); the test set is evaluated at the end");
        }
        int size = trainX.Size(2);
        ITransform? augment = options.Augment ? new Compose(new RandomCrop(size, padding: 2), new RandomHorizontalFlip()) : null;
        if (options.PcaColor)
        {
            RequireColour(trainX.Size(1), options.Dataset!);
            var pca = PcaColorAugmentation.Fit(new TensorDataset(trainX, trainY));
            augment = augment is null ? pca : new Compose(augment, pca);
            notes.Add(PcaNote(pca.Components, trainX.Size(0)));
        }
        IDataset<(Tensor Input, Tensor Target)> trainSet = augment is null ? new TensorDataset(trainX, trainY) : new AugmentedDataset(trainX, trainY, augment, options.Seed);
        var train = new DataLoader<(Tensor Input, Tensor Target), (Tensor Input, Tensor Target)>(trainSet, options.BatchSize, shuffle: true, seed: options.Seed)
        {
            Sampler = shard?.Invoke(trainSet.Count, options.Seed),
        };
        int evalBatch = Math.Max(options.BatchSize, 500);
        var data = new RecipeData
        {
            Train = BatchSource.From(train),
            Validation = DataLoader.FromTensors(valX, valY, evalBatch),
            Test = options.ValSplit is null ? null : DataLoader.FromTensors(testX, testY, evalBatch),
            ClassLabels = labels,
            ClassNames = labels.Select(l => names[l]).ToArray(),
            Channels = trainX.Size(1),
            Size = size,
            TrainCount = trainX.Size(0),
            ValidationCount = valY.Size(0),
            TestCount = testY.Size(0),
            Directory = directory,
            Preprocessing = preprocessing,
        };
        data.Notes.AddRange(notes);
        return data;
    }

    /// <summary>An image folder: decoded and transformed on the loader's workers, gray or RGB as its first image, at the model's size.</summary>
    private static RecipeData Folder(TrainOptions options, Func<int, ulong, ISampler>? shard)
    {
        string root = options.DataDir!;
        var folder = ImageFolder.Open(root, options.ValSplit ?? TrainOptions.DefaultFolderValSplit, options.Seed);
        int channels = options.Channels ?? ChannelsOf(folder.Train[0].Path);
        int size = options.ImageSize ?? TrainOptions.ModelInputSize(options.ResolvedModel);
        var preprocessing = Preprocessing.Create(size, channels);
        IImageTransform trainTransform = options.Augment ? preprocessing.TrainTransform(randomResizedCrop: true, flip: true) : preprocessing.Transform();
        var evalSet = (IReadOnlyList<ImageFile> files) => new ImageDataset(files, folder.Classes, preprocessing.Transform(), options.Cache, options.Strict);
        string? pcaNote = null;
        if (options.PcaColor)
        {
            RequireColour(channels, $"the image folder {root}");
            // Fitted on the images as the model sees them (after the preprocessing), so the shift is in that space.
            var (components, images) = FitColour(evalSet(folder.Train));
            trainTransform = new ImagePipeline(trainTransform, new PcaColorStep(new PcaColorAugmentation(components)));
            pcaNote = PcaNote(components, images);
        }
        var trainSet = new ImageDataset(folder.Train, folder.Classes, trainTransform, options.Cache, options.Strict);
        var valSet = folder.Validation.Count > 0 ? evalSet(folder.Validation) : null;
        var testSet = folder.Test.Count > 0 ? evalSet(folder.Test) : null;
        int workers = options.Workers ?? Math.Max(1, Environment.ProcessorCount - 1);
        int evalBatch = Math.Max(options.BatchSize, 256);
        var data = new RecipeData
        {
            Train = BatchSource.From(trainSet.Loader(options.BatchSize, shuffle: true, seed: options.Seed, workers: workers, sampler: shard?.Invoke(trainSet.Count, options.Seed))),
            Validation = valSet?.Loader(evalBatch, workers: workers),
            Test = testSet?.Loader(evalBatch, workers: workers),
            ClassLabels = Enumerable.Range(0, folder.Classes.Count).ToArray(),
            ClassNames = [.. folder.Classes],
            Channels = channels,
            Size = size,
            TrainCount = folder.Train.Count,
            ValidationCount = folder.Validation.Count,
            TestCount = folder.Test.Count,
            Directory = root,
            Preprocessing = preprocessing,
            ImageSets = new[] { trainSet, valSet, testSet }.OfType<ImageDataset>().ToList(),
        };
        string test = folder.Test.Count > 0 ? $" / {folder.Test.Count:N0} test" : "";
        string split = folder.HasSplitFolders ? "train/ and val/ folders"
            : $"validation: {(options.ValSplit ?? TrainOptions.DefaultFolderValSplit).ToString("0.###", CultureInfo.InvariantCulture)} of each class";
        string threads = $"{workers} decoding thread{(workers == 1 ? "" : "s")}{(options.Cache ? ", decoded images cached" : "")}";
        data.Notes.Add($"image folder {root}: {folder.Classes.Count} classes, {folder.Train.Count:N0} train / {folder.Validation.Count:N0} val{test} images ({split}), {(channels == 1 ? "gray" : "RGB")} {size}x{size}, {threads}");
        data.Notes.AddRange(folder.Notes);
        if (pcaNote is not null) data.Notes.Add(pcaNote);
        return data;
    }

    /// <summary>The largest number of pixels the colour PCA of an image folder reads (about 200 MB of RGB float32).</summary>
    internal const long MaxPcaPixels = 1L << 24;

    /// <summary>
    /// The colour principal components of an image folder's training images (decoded and preprocessed), in their order
    /// up to <see cref="MaxPcaPixels"/> pixels; undecodable images are passed over (training skips or refuses them).
    /// Returns the components and the number of images read.
    /// </summary>
    private static (ColorPrincipalComponents Components, int Images) FitColour(ImageDataset train)
    {
        var images = new List<Tensor>();
        long pixels = 0;
        var rng = new Generator();
        for (int i = 0; i < train.Count && pixels < MaxPcaPixels; i++)
        {
            if (!train.TryGet(i, rng, out var item)) continue;
            images.Add(item.Input);
            pixels += item.Input.Size(1) * (long)item.Input.Size(2);
        }
        if (images.Count == 0) throw new InvalidDataException("--augment pca: none of the training images could be decoded");
        return (ColorPrincipalComponents.FromImages(Tensor.Stack(images)), images.Count);
    }

    /// <summary>Fancy PCA shifts colours: a gray dataset has nothing to shift, so it is refused rather than silently ignored.</summary>
    private static void RequireColour(int channels, string what)
    {
        if (channels != 3)
            throw new TrainOptionException($"--augment pca shifts each image's colour along the RGB principal components of the training set, but {what} has {channels}-channel (gray) images, which have no colour to shift; it needs RGB images");
    }

    private static string PcaNote(ColorPrincipalComponents c, int images) => string.Create(CultureInfo.InvariantCulture,
        $"colour PCA of {images:N0} training images: eigenvalues {string.Join(", ", c.Eigenvalues.Select(v => v.ToString("0.####", CultureInfo.InvariantCulture)))}; each training image's colours shift by sum p_i a_i l_i, a_i ~ N(0, 0.1^2)");

    /// <summary><see cref="PcaColorAugmentation"/> on one decoded image (a batch of one), for an image folder's pipeline.</summary>
    private sealed class PcaColorStep(PcaColorAugmentation pca) : IImageTransform
    {
        public ImagePlanes Apply(ImagePlanes image, Generator rng)
        {
            var shifted = pca.Apply(Tensor.FromArray(image.Data, 1, image.Channels, image.Height, image.Width), rng).Contiguous();
            return new ImagePlanes(shifted.ToArray<float>(), image.Channels, image.Height, image.Width);
        }
    }

    /// <summary>1 when the first training image is gray, 3 otherwise: the model then sees the data as it is.</summary>
    private static int ChannelsOf(string path)
    {
        try
        {
            return ImageIO.Load(path).Channels == 1 ? 1 : 3;
        }
        catch (InvalidDataException)
        {
            return 3; // an unreadable first file is skipped (or refused, with --strict) like any other; assume colour
        }
    }
}
