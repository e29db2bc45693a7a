using System.Collections.Concurrent;
using Fovea.Data;
using Fovea.Vision.Imaging;
using Fovea.Vision.Transforms;

namespace Fovea.Vision.Datasets;

/// <summary>An image that could not be decoded and was left out.</summary>
/// <param name="Path">The file.</param>
/// <param name="Reason">What is wrong with it (the decoder's checks, one line).</param>
public readonly record struct SkippedImage(string Path, string Reason);

/// <summary>
/// Image files decoded as the loader asks for them (streaming: nothing is decoded up front), on the loader's worker
/// threads, each decoded image passed through a transform that draws from the sample's own generator; samples are
/// (input float32 [C, H, W], label int32 0-d). Decoded images can be kept in memory (<c>cache</c>) so later epochs
/// only transform them. An image that cannot be decoded is reported once through <see cref="ImageSkipped"/> and left
/// out of its batch (the count is <see cref="SkippedCount"/>); with <c>strict</c> it is an error instead.
/// <para>
/// The loader (<see cref="Loader"/>) has each worker decode a whole batch straight into the batch's storage
/// (<see cref="TryGetBatch"/>): no tensor per sample, one label array per batch. When the transform starts by making
/// the image one gray channel (<see cref="ConvertChannels"/>(1), as a gray model's <see cref="Preprocessing"/> does),
/// plain colour JPEGs are decoded straight to gray, the same floats as decoding to RGB and converting, and the cache
/// keeps them gray.
/// </para>
/// </summary>
public sealed class ImageDataset : ISeededDataset<(Tensor Input, Tensor Target)>, ISeededBatchedDataset<(Tensor Input, Tensor Target)>
{
    private readonly IReadOnlyList<ImageFile> _files;
    private readonly ImagePlanes?[]? _cache;
    private readonly ConcurrentDictionary<int, SkippedImage> _skipped = new();

    /// <summary>
    /// The dataset of <paramref name="files"/> (class names <paramref name="classes"/>), each decoded image sent
    /// through <paramref name="transform"/>, which must give every image the same size (e.g.
    /// <see cref="Preprocessing.Transform"/> or <see cref="Preprocessing.TrainTransform"/>).
    /// </summary>
    public ImageDataset(IReadOnlyList<ImageFile> files, IReadOnlyList<string> classes, IImageTransform transform, bool cache = false, bool strict = false)
    {
        ArgumentNullException.ThrowIfNull(files);
        ArgumentNullException.ThrowIfNull(classes);
        ArgumentNullException.ThrowIfNull(transform);
        foreach (var f in files)
            if ((uint)f.Label >= (uint)classes.Count)
                throw new ArgumentException($"{f.Path}: label {f.Label} is not below the {classes.Count} classes", nameof(files));
        _files = files;
        Classes = classes;
        Transform = transform;
        Strict = strict;
        _cache = cache ? new ImagePlanes?[files.Count] : null;
        _decodeGray = FirstStep(transform) is ConvertChannels { Channels: 1 };
    }

    /// <summary>Whether the transform's first step makes every image one gray channel (then colour files may be decoded straight to gray).</summary>
    private readonly bool _decodeGray;

    private static IImageTransform FirstStep(IImageTransform transform) =>
        transform is ImagePipeline { Steps.Count: > 0 } pipeline ? FirstStep(pipeline.Steps[0]) : transform;

    /// <summary>Class names, index = label.</summary>
    public IReadOnlyList<string> Classes { get; }

    /// <summary>The files, index = sample.</summary>
    public IReadOnlyList<ImageFile> Files => _files;

    /// <summary>What each decoded image goes through.</summary>
    public IImageTransform Transform { get; }

    /// <summary>Whether an image that cannot be decoded is an error (true) or skipped (false).</summary>
    public bool Strict { get; }

    /// <summary>Whether decoded images are kept in memory.</summary>
    public bool Caches => _cache is not null;

    /// <summary>
    /// Raised once for each image that cannot be decoded and is skipped, on the worker thread that found it (the
    /// handler must be thread-safe).
    /// </summary>
    public event Action<SkippedImage>? ImageSkipped;

    /// <summary>How many images have been skipped so far.</summary>
    public int SkippedCount => _skipped.Count;

    /// <summary>The skipped images so far, in file order.</summary>
    public IReadOnlyList<SkippedImage> SkippedImages => _skipped.OrderBy(p => p.Key).Select(p => p.Value).ToList();

    /// <inheritdoc/>
    public int Count => _files.Count;

    /// <summary>Sample <paramref name="index"/> with a generator seeded 0; an undecodable file is an <see cref="InvalidDataException"/>.</summary>
    public (Tensor Input, Tensor Target) this[int index] =>
        TryGet(index, new Generator(), out var item) ? item : throw new InvalidDataException(_skipped[index].Reason);

    /// <inheritdoc/>
    public bool TryGet(int index, Generator generator, out (Tensor Input, Tensor Target) item)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)index, (uint)_files.Count, nameof(index));
        item = default;
        var image = Decode(index);
        if (image is null) return false;
        var input = Transform.Apply(image, generator);
        item = (input.ToTensor(), Tensor.FromArray(new[] { _files[index].Label }));
        return true;
    }

    /// <summary>
    /// The batch of samples <paramref name="indices"/> as the loader makes it: each image decoded, transformed with the
    /// generator <see cref="DataLoader.SampleGenerator"/>(<paramref name="seed"/>, <paramref name="epoch"/>, index) and
    /// copied into its row of the inputs [N, C, H, W]; the labels int32 [N]. Skipped images are left out (false when
    /// all are). The same batch as <see cref="Collate"/> of the samples <see cref="TryGet"/> makes.
    /// </summary>
    /// <exception cref="ShapeException">The transform gave two images of the batch different sizes.</exception>
    public bool TryGetBatch(ReadOnlySpan<int> indices, ulong seed, int epoch, out (Tensor Input, Tensor Target) batch)
    {
        batch = default;
        Tensor? inputs = null;
        var labels = new int[indices.Length];
        int n = 0, channels = 0, height = 0, width = 0;
        foreach (int index in indices)
        {
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)index, (uint)_files.Count, nameof(indices));
            var image = Decode(index);
            if (image is null) continue;
            var input = Transform.Apply(image, DataLoader.SampleGenerator(seed, epoch, index));
            if (inputs is null)
            {
                (channels, height, width) = (input.Channels, input.Height, input.Width);
                inputs = Tensor.Zeros(indices.Length, channels, height, width);
            }
            else if ((input.Channels, input.Height, input.Width) != (channels, height, width))
            {
                throw new ShapeException("ImageDataset", $"{_files[index].Path} became [{input.Channels}, {input.Height}, {input.Width}], the batch's first image [{channels}, {height}, {width}]: the transform must give every image one size");
            }
            input.Data.CopyTo(inputs.AsSpan<float>().Slice(n * input.Data.Length));
            labels[n++] = _files[index].Label;
        }
        if (inputs is null) return false;
        batch = (n == indices.Length ? inputs : inputs.Narrow(0, 0, n), Tensor.FromArray(n == labels.Length ? labels : labels[..n], n));
        return true;
    }

    /// <summary>
    /// A batch of this dataset's samples: the inputs stacked [N, C, H, W], the labels int32 [N]: the samples of
    /// <see cref="TryGet"/> collated (the loader makes the same batch directly, with <see cref="TryGetBatch"/>).
    /// </summary>
    public static (Tensor Input, Tensor Target) Collate(IReadOnlyList<(Tensor Input, Tensor Target)> items) => DataLoader.Stack(items);

    /// <summary>
    /// A loader over this dataset: batches of <paramref name="batchSize"/> built (<see cref="TryGetBatch"/>) by
    /// <paramref name="workers"/> threads (default: the processor count less one, at least one), at most max(<paramref name="prefetch"/>,
    /// workers) ahead; shuffled per epoch with <paramref name="seed"/> when <paramref name="shuffle"/>, and each
    /// sample's augmentation drawn from (seed, epoch, index). A <paramref name="sampler"/> replaces the loader's own
    /// order (a data-parallel run's shard).
    /// </summary>
    public DataLoader<(Tensor Input, Tensor Target), (Tensor Input, Tensor Target)> Loader(int batchSize, bool shuffle = false, ulong seed = 0,
        int? workers = null, int prefetch = 4, bool dropLast = false, ISampler? sampler = null) =>
        new(this, batchSize, null, shuffle, seed, dropLast, prefetch, workers ?? Math.Max(1, Environment.ProcessorCount - 1)) { Sampler = sampler };

    /// <summary>The decoded image of sample <paramref name="index"/>, from the cache when kept; null when it is skipped.</summary>
    private ImagePlanes? Decode(int index)
    {
        if (_cache?[index] is { } cached) return cached;
        if (_skipped.ContainsKey(index)) return null;
        string path = _files[index].Path;
        ImagePlanes image;
        try
        {
            image = _decodeGray ? ImageIO.LoadForGray(path) : ImageIO.Load(path);
        }
        catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException)
        {
            if (Strict) throw new InvalidDataException(e.Message, e);
            var skipped = new SkippedImage(path, e.Message);
            if (_skipped.TryAdd(index, skipped)) ImageSkipped?.Invoke(skipped);
            return null;
        }
        if (_cache is not null) Volatile.Write(ref _cache[index], image);
        return image;
    }
}
