using System.Security.Cryptography;
using Fovea.NN;
using Fovea.Vision.Imaging;
using Fovea.Vision.Models;
using Fovea.Vision.Training;
using F = Fovea.NN.Functional;

namespace Fovea.Vision.Inspection;

/// <summary>
/// A network to look inside, with what it expects of an image: the inspection tools (filters, activations,
/// saliency, top images) and the image index take one of these. <see cref="ToInput"/> turns an image into the
/// picture the network sees, [1, C, S, S] in [0, 1] (which the tools also draw), and <see cref="Normalize"/> maps that
/// to the network's input (identity for the zoo's Fashion-MNIST checkpoints, mean/std for ImageNet models).
/// </summary>
public sealed class InspectedModel
{
    private readonly Func<ImagePlanes, Tensor> _toInput;
    private readonly Func<Tensor, Tensor> _normalize;

    /// <summary>A model with its preprocessing; it is put in eval mode.</summary>
    /// <param name="model">The network.</param>
    /// <param name="identity">What the index stores as the model's name, e.g. <c>checkpoint:fmnist_cnn</c>.</param>
    /// <param name="channels">Input channels C.</param>
    /// <param name="inputSize">Input side S.</param>
    /// <param name="toInput">Image → [1, C, S, S] in [0, 1].</param>
    /// <param name="normalize">[N, C, S, S] in [0, 1] → the network's input (differentiable).</param>
    /// <param name="classNames">Name of each output, when the model is a classifier with known classes.</param>
    /// <param name="file">The file the weights came from, when there is one.</param>
    /// <param name="bgr">True when the network's input channels are blue, green, red (as <paramref name="normalize"/> makes them).</param>
    public InspectedModel(Module<Tensor, Tensor> model, string identity, int channels, int inputSize, Func<ImagePlanes, Tensor> toInput,
        Func<Tensor, Tensor>? normalize = null, IReadOnlyList<string>? classNames = null, string? file = null, bool bgr = false)
    {
        Bgr = bgr;
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(identity);
        ArgumentNullException.ThrowIfNull(toInput);
        Model = model;
        model.Eval();
        Identity = identity;
        Channels = channels;
        InputSize = inputSize;
        _toInput = toInput;
        _normalize = normalize ?? (x => x);
        ClassNames = classNames;
        File = file is null ? null : Path.GetFullPath(file);
    }

    /// <summary>Whether the network's input channels are B, G, R (a first layer's colour filters are then drawn reversed, as R, G, B).</summary>
    public bool Bgr { get; }

    /// <summary>The network, in eval mode.</summary>
    public Module<Tensor, Tensor> Model { get; }

    /// <summary>The model's identity (stored in an index).</summary>
    public string Identity { get; }

    /// <summary>Input channels.</summary>
    public int Channels { get; }

    /// <summary>Input side.</summary>
    public int InputSize { get; }

    /// <summary>Class names of the outputs, or null.</summary>
    public IReadOnlyList<string>? ClassNames { get; }

    /// <summary>Absolute path of the weights file, or null.</summary>
    public string? File { get; }

    /// <summary>The picture the network sees: [1, C, S, S] in [0, 1].</summary>
    public Tensor ToInput(ImagePlanes image)
    {
        ArgumentNullException.ThrowIfNull(image);
        return _toInput(image);
    }

    /// <summary>[N, C, S, S] pictures in [0, 1] → the network's input.</summary>
    public Tensor Normalize(Tensor pictures) => _normalize(pictures);

    /// <summary>The model of a training checkpoint (<see cref="TrainedModel"/>), preprocessed as <c>fovea predict</c> does.</summary>
    public static InspectedModel FromCheckpoint(string path)
    {
        var trained = TrainedModel.Load(path);
        return new InspectedModel(trained.Model, "checkpoint:" + trained.ModelName, trained.InputChannels, trained.InputSize,
            image => trained.PrepareImage(image, out _), classNames: trained.ClassNames, file: path);
    }

    /// <summary>
    /// A model of the zoo with its initial weights from <paramref name="seed"/> (untrained: for trying the tools and
    /// for tests), fed RGB or gray pictures resized to <paramref name="inputSize"/>.
    /// </summary>
    public static InspectedModel FromZoo(string name, int channels, int inputSize, int classes = 10, long seed = 0)
    {
        var model = ModelZoo.Create(name, channels, classes, inputSize, new Generator((ulong)seed));
        return new InspectedModel(model, $"zoo:{name.ToLowerInvariant()}:seed{seed}:{channels}x{inputSize}", channels, inputSize, image => Resize(image, channels, inputSize));
    }

    /// <summary>
    /// <paramref name="image"/> as [1, C, S, S]: gray (C = 1) or RGB (C = 3, a gray image repeated), alpha dropped,
    /// resized to S × S (area average when shrinking, bilinear when growing).
    /// </summary>
    public static Tensor Resize(ImagePlanes image, int channels, int size)
    {
        ArgumentNullException.ThrowIfNull(image);
        var planes = channels == 1
            ? (image.Channels == 1 ? image : Grayscale.ToGray(image))
            : image;
        var x = planes.ToTensor().Unsqueeze(0);
        if (channels != 1)
        {
            x = planes.Channels switch
            {
                1 or 2 => x.Narrow(1, 0, 1).Expand(1, channels, planes.Height, planes.Width),
                _ => x.Narrow(1, 0, Math.Min(channels, planes.Channels)),
            };
            if (x.Size(1) != channels) throw new ArgumentException($"the model needs {channels} channels; the image has {planes.Channels}");
        }
        using (GradMode.Disable())
        {
            x = planes.Height >= size && planes.Width >= size
                ? F.AdaptiveAvgPool2d(x.Contiguous(), size)
                : F.Interpolate(x.Contiguous(), new Size2d(size, size), mode: InterpolationMode.Bilinear);
        }
        return x.Contiguous();
    }

    /// <summary>
    /// The pictures of image <paramref name="files"/> in batches [B, C, S, S] of <paramref name="batchSize"/>, each
    /// batch's files decoded in parallel (the next batch is decoded when it is asked for).
    /// </summary>
    public IEnumerable<Tensor> Pictures(IReadOnlyList<string> files, int batchSize)
    {
        ArgumentNullException.ThrowIfNull(files);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        var options = new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, Threading.MaxDegreeOfParallelism) };
        for (int start = 0; start < files.Count; start += batchSize)
        {
            int n = Math.Min(batchSize, files.Count - start), first = start;
            var pictures = new Tensor[n];
            Parallel.For(0, n, options, i => pictures[i] = ToInput(ImageIO.Load(files[first + i])));
            yield return Tensor.Cat(pictures, 0);
        }
    }

    /// <summary>SHA-256 of <see cref="File"/> in lower-case hex (null without a file).</summary>
    public string? FileSha256()
    {
        if (File is null) return null;
        using var s = System.IO.File.OpenRead(File);
        return Convert.ToHexStringLower(SHA256.HashData(s));
    }

    /// <summary>The output of <paramref name="layer"/> for a batch of pictures [N, C, S, S] in [0, 1], under no-grad.</summary>
    public Tensor Features(Tensor pictures, string layer)
    {
        using var extractor = new FeatureExtractor(Model, layer);
        using (GradMode.Disable()) return extractor.Extract(Normalize(pictures))[layer];
    }
}
