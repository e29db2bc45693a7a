using Fovea.NN;
using Fovea.Vision.Datasets;
using Fovea.Vision.Imaging;
using Fovea.Vision.Models;
using Fovea.Vision.Serialization;
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

    /// <summary>Reads a checkpoint written by <see cref="Trainer"/> and rebuilds its model.</summary>
    public static TrainedModel Load(string path)
    {
        var ckpt = Checkpoint.Load(path);
        Trainer.RequireFiniteWeights(ckpt.Model, path);
        string name = ckpt.Metadata.GetValueOrDefault("model") ?? throw new InvalidDataException($"{path}: the checkpoint does not say which model it holds (metadata 'model')");
        int[] labels;
        try
        {
            labels = (ckpt.Metadata.GetValueOrDefault("classes") ?? "0,1,2,3,4,5,6,7,8,9").Split(',').Select(int.Parse).ToArray();
        }
        catch (FormatException)
        {
            throw new InvalidDataException($"{path}: the metadata 'classes' is malformed");
        }
        if (labels.Any(l => l < 0 || l >= FashionMnist.Classes.Length)) throw new InvalidDataException($"{path}: the metadata 'classes' names labels outside 0-9");
        string[] names = labels.Select(l => FashionMnist.Classes[l]).ToArray();
        int channels = ckpt.GetInt("in_channels", 1), size = ckpt.GetInt("input_size", 28);
        var model = ModelZoo.Create(name, channels, labels.Length, size);
        try
        {
            model.LoadStateDict(ckpt.Model);
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException($"{path}: the weights do not fit a {name} model ({e.Message})", e);
        }
        model.Eval();
        return new TrainedModel(model, name, labels, names, channels, size, ckpt.GetInt("epoch"));
    }

    /// <summary>Test-set evaluation on the checkpoint's classes: loss, accuracy, per-class accuracy and confusion matrix.</summary>
    public EvaluationResult Evaluate(MnistData data, int batchSize = 500)
    {
        var (x, y) = Trainer.Subset(data.TestImages, data.TestLabels, ClassLabels, what: "test");
        var loader = Fovea.Data.DataLoader.FromTensors(x, y, batchSize);
        return Evaluation.Evaluate(Model, loader, ClassLabels.Length);
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

    /// <summary>The <paramref name="k"/> most probable classes for <paramref name="image"/>, with softmax probabilities.</summary>
    public IReadOnlyList<(int Label, string Name, double Probability)> Predict(ImagePlanes image, int k, out bool inverted)
    {
        var x = PrepareImage(image, out inverted);
        Tensor logits;
        using (GradMode.Disable()) logits = Model.Forward(x);
        return Evaluation.TopK(logits, k).Select(p => (ClassLabels[p.Class], ClassNames[p.Class], p.Probability)).ToList();
    }
}
