using Fovea.NN;

namespace Fovea.Vision.Models;

/// <summary>
/// A small VGG-style network for Fashion-MNIST (<c>fmnist_cnn</c>): two stages of two 3x3 convolutions (no bias)
/// each followed by batch norm and ReLU, each stage closed by a 2x2 max-pool, then Linear → 128 → ReLU →
/// dropout 0.3 → Linear → classes. At the default width 32 (stages of 32 and 64 channels) and 1x28x28 inputs it
/// has 468,010 parameters and 18.77 million multiply-adds per image (<c>Summary</c>: 18.29 M in the convolutions,
/// 0.40 M in the classifier, 0.08 M in batch norm); width 16 (<c>fmnist_cnn_small</c>) has 4.8 M multiply-adds.
/// The convolutional part is <c>features</c> and the rest <c>classifier</c> (<c>--freeze features</c> works).
/// Initialisation: convolutions kaiming_normal(fan_out, relu) as torchvision's VGG/ResNet, batch norm 1 and 0,
/// linear layers PyTorch's default.
/// </summary>
public sealed class FashionCnn : Sequential
{
    /// <summary>The convolutional feature extractor.</summary>
    public Sequential Features { get; }

    /// <summary>The fully connected classifier.</summary>
    public Sequential Classifier { get; }

    /// <summary>Channels of the first stage (the second has twice as many).</summary>
    public int Width { get; }

    /// <summary>For <paramref name="inputSize"/>² images (at least 4) with <paramref name="inChannels"/> channels.</summary>
    public FashionCnn(int inChannels = 1, int classes = 10, int inputSize = 28, Generator? generator = null, int width = 32)
    {
        ZooLayers.CheckArguments("FashionCnn", inChannels, classes, inputSize);
        if (inputSize < 4 || width < 1)
            throw new ArgumentException($"FashionCnn: needs an input of at least 4x4 and a positive width, got {inputSize} and {width}");
        var g = generator ?? new Generator(0);
        Width = width;
        int w2 = 2 * width, s = inputSize / 2 / 2;
        Features = Add("features", new Sequential(
            new Conv2d(inChannels, width, 3, padding: 1, bias: false, generator: g), new BatchNorm2d(width), new ReLU(),
            new Conv2d(width, width, 3, padding: 1, bias: false, generator: g), new BatchNorm2d(width), new ReLU(),
            new MaxPool2d(2),
            new Conv2d(width, w2, 3, padding: 1, bias: false, generator: g), new BatchNorm2d(w2), new ReLU(),
            new Conv2d(w2, w2, 3, padding: 1, bias: false, generator: g), new BatchNorm2d(w2), new ReLU(),
            new MaxPool2d(2)));
        Classifier = Add("classifier", new Sequential(
            new Flatten(),
            new Linear(w2 * s * s, 128, generator: g), new ReLU(),
            new Dropout(0.3, g),
            new Linear(128, classes, generator: g)));
        ZooLayers.InitConvsKaimingFanOut(Features, g);
    }

    /// <inheritdoc/>
    public override string Describe() => $"FashionCnn(width={Width})";
}
