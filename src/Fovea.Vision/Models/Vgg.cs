using Fovea.NN;

namespace Fovea.Vision.Models;

/// <summary>
/// VGG (Simonyan and Zisserman 2014) in torchvision's layout: <c>features</c> (3x3 convolutions with padding 1,
/// optionally each followed by batch norm, then ReLU; a 2x2 max-pool closes each of the five stages),
/// <c>avgpool</c> (adaptive to 7x7), <c>flatten</c>, <c>classifier</c> (two 4096-wide layers, each followed by
/// ReLU and dropout 0.5). Depths 11, 13, 16 and 19 are torchvision's configurations A, B, D and E; VGG-16 has
/// 138,357,544 parameters at 3 channels and 1000 classes (138,365,992 with batch norm). Initialisation as
/// torchvision: convolutions kaiming_normal(fan_out, relu) with zero bias, batch norm weight 1 and bias 0,
/// linear layers N(0, 0.01²) with zero bias. A stage's max-pool whose input is already 1 pixel becomes
/// <see cref="Identity"/> (<see cref="ZooLayers"/>), so 28x28 inputs work: 28 → 14 → 7 → 3 → 1 → 1.
/// </summary>
public sealed class Vgg : Sequential
{
    private static readonly Dictionary<int, int[][]> Stages = new()
    {
        [11] = [[64], [128], [256, 256], [512, 512], [512, 512]],
        [13] = [[64, 64], [128, 128], [256, 256], [512, 512], [512, 512]],
        [16] = [[64, 64], [128, 128], [256, 256, 256], [512, 512, 512], [512, 512, 512]],
        [19] = [[64, 64], [128, 128], [256, 256, 256, 256], [512, 512, 512, 512], [512, 512, 512, 512]],
    };

    /// <summary>The depths there are configurations for.</summary>
    public static IReadOnlyList<int> Depths { get; } = [11, 13, 16, 19];

    /// <summary>The convolutional feature extractor.</summary>
    public Sequential Features { get; }

    /// <summary>The fully connected classifier.</summary>
    public Sequential Classifier { get; }

    /// <summary>The number of weight layers (11, 13, 16 or 19).</summary>
    public int Depth { get; }

    /// <summary>Whether each convolution is followed by batch norm.</summary>
    public bool BatchNorm { get; }

    /// <summary>VGG-<paramref name="depth"/> for <paramref name="inputSize"/>² images with <paramref name="inChannels"/> channels.</summary>
    public Vgg(int depth = 16, bool batchNorm = false, int inChannels = 3, int classes = 1000, int inputSize = 224, Generator? generator = null)
    {
        if (!Stages.TryGetValue(depth, out var stages))
            throw new ArgumentException($"Vgg: no configuration for depth {depth} (choose 11, 13, 16 or 19)");
        ZooLayers.CheckArguments($"Vgg{depth}", inChannels, classes, inputSize);
        var g = generator ?? new Generator(0);
        Depth = depth;
        BatchNorm = batchNorm;
        Features = Add("features", new Sequential());
        int channels = inChannels, size = inputSize;
        foreach (var stage in stages)
        {
            foreach (int width in stage)
            {
                Features.Append(new Conv2d(channels, width, 3, padding: 1, generator: g));
                if (batchNorm) Features.Append(new BatchNorm2d(width));
                Features.Append(new ReLU());
                channels = width;
            }
            Features.Append(ZooLayers.MaxPool(ref size, 2, 2));
        }
        Add("avgpool", new AdaptiveAvgPool2d(7));
        Add("flatten", new Flatten());
        Classifier = Add("classifier", new Sequential(
            new Linear(512 * 7 * 7, 4096, generator: g), new ReLU(), new Dropout(0.5, g),
            new Linear(4096, 4096, generator: g), new ReLU(), new Dropout(0.5, g),
            new Linear(4096, classes, generator: g)));

        ZooLayers.InitConvsKaimingFanOut(this, g);
        foreach (var layer in Classifier.Layers)
        {
            if (layer is not Linear linear) continue;
            Init.Normal(linear.Weight, 0, 0.01, g);
            Init.Zeros(linear.Bias!);
        }
    }

    /// <inheritdoc/>
    public override string Describe() => $"Vgg{Depth}{(BatchNorm ? "_bn" : "")}";
}
