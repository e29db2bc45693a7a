using Fovea.NN;

namespace Fovea.Vision.Models;

/// <summary>
/// AlexNet (Krizhevsky et al. 2012) in torchvision's single-tower layout: <c>features</c> (five convolutions,
/// three max-pools), <c>avgpool</c> (adaptive to 6x6), <c>flatten</c>, <c>classifier</c> (dropout 0.5 before
/// each of the two 4096-wide layers). 61,100,840 parameters at 3 channels and 1000 classes; PyTorch's default
/// layer initialisation, as torchvision. Inputs under 64 pixels get the small-input stem of
/// <see cref="ZooLayers"/>: the 11x11 stem convolution at stride 1 with padding 5 (torchvision: stride 4,
/// padding 2), so a 28x28 image reaches the classifier as 2x2 instead of vanishing after the second pool.
/// </summary>
public sealed class AlexNet : Sequential
{
    /// <summary>The convolutional feature extractor.</summary>
    public Sequential Features { get; }

    /// <summary>The fully connected classifier.</summary>
    public Sequential Classifier { get; }

    /// <summary>For <paramref name="inputSize"/>² images with <paramref name="inChannels"/> channels.</summary>
    public AlexNet(int inChannels = 3, int classes = 1000, int inputSize = 224, Generator? generator = null)
    {
        ZooLayers.CheckArguments("AlexNet", inChannels, classes, inputSize);
        var g = generator ?? new Generator(0);
        bool small = inputSize < ZooLayers.SmallInputLimit;
        int size = small ? inputSize : ZooLayers.StemOutput(inputSize, 11, 4, 2);
        Features = Add("features", new Sequential(
            new Conv2d(inChannels, 64, 11, stride: small ? 1 : 4, padding: small ? 5 : 2, generator: g), new ReLU(),
            ZooLayers.MaxPool(ref size, 3, 2),
            new Conv2d(64, 192, 5, padding: 2, generator: g), new ReLU(),
            ZooLayers.MaxPool(ref size, 3, 2),
            new Conv2d(192, 384, 3, padding: 1, generator: g), new ReLU(),
            new Conv2d(384, 256, 3, padding: 1, generator: g), new ReLU(),
            new Conv2d(256, 256, 3, padding: 1, generator: g), new ReLU(),
            ZooLayers.MaxPool(ref size, 3, 2)));
        Add("avgpool", new AdaptiveAvgPool2d(6));
        Add("flatten", new Flatten());
        Classifier = Add("classifier", ZooLayers.AlexNetClassifier(classes, g));
    }
}
