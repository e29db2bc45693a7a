using Fovea.NN;

namespace Fovea.Vision.Models;

/// <summary>
/// AlexNet as laid out in Krizhevsky, Sutskever and Hinton 2012 (§3.5, Figure 2), the zoo's <c>alexnet_lrn</c>:
/// five convolutions of 96, 256, 384, 384 and 256 kernels (11x11 stride 4, 5x5, 3x3, 3x3, 3x3), ReLU after each,
/// local response normalisation after the first two ReLUs (§3.3: n = 5, β = 0.75, k = 2), overlapping 3x3
/// stride-2 max-pooling (§3.4) after both normalisations and after the fifth convolution, then 4096 → 4096 →
/// classes with dropout 0.5 before each hidden layer. The paper's two GPUs are kept as two groups: the second,
/// fourth and fifth convolutions see only the kernel maps of their own half (groups = 2), which gives
/// 60,965,224 parameters at 3 channels and 1000 classes (Caffe's reference AlexNet has the same count).
/// <para>
/// The paper's α = 1e-4 multiplies the plain sum of squares; PyTorch's <c>LocalResponseNorm</c> (and
/// <see cref="LocalResponseNorm"/>) divides its alpha by n, so the layer here gets alpha = 5 · 1e-4 and computes
/// the paper's formula exactly. Layer indices: <c>features.0</c> conv1, <c>.2</c> norm1, <c>.3</c> pool1,
/// <c>.4</c> conv2, <c>.6</c> norm2, <c>.7</c> pool2, <c>.8</c>, <c>.10</c>, <c>.12</c> conv3–5, <c>.14</c>
/// pool5; <c>classifier.1</c>, <c>.4</c>, <c>.6</c> the linear layers. PyTorch's default initialisation (the
/// paper's N(0, 0.01) with unit biases needs its learning-rate schedule). Inputs under 64 pixels get the zoo's
/// small-input stem (<see cref="ZooLayers"/>): conv1 at stride 1 with padding 5.
/// </para>
/// </summary>
public sealed class AlexNetLrn : Sequential
{
    /// <summary>The paper's window n (§3.3).</summary>
    public const int LrnSize = 5;

    /// <summary>The paper's α, which multiplies the plain sum of squares (§3.3).</summary>
    public const double PaperAlpha = 1e-4;

    /// <summary>The paper's β (§3.3).</summary>
    public const double LrnBeta = 0.75;

    /// <summary>The paper's k (§3.3).</summary>
    public const double LrnK = 2;

    /// <summary>The convolutional feature extractor.</summary>
    public Sequential Features { get; }

    /// <summary>The fully connected classifier.</summary>
    public Sequential Classifier { get; }

    /// <summary>For <paramref name="inputSize"/>² images with <paramref name="inChannels"/> channels.</summary>
    public AlexNetLrn(int inChannels = 3, int classes = 1000, int inputSize = 224, Generator? generator = null)
    {
        ZooLayers.CheckArguments("AlexNetLrn", inChannels, classes, inputSize);
        var g = generator ?? new Generator(0);
        bool small = inputSize < ZooLayers.SmallInputLimit;
        int size = small ? inputSize : ZooLayers.StemOutput(inputSize, 11, 4, 2);
        Features = Add("features", new Sequential(
            new Conv2d(inChannels, 96, 11, stride: small ? 1 : 4, padding: small ? 5 : 2, generator: g), new ReLU(),
            Norm(), ZooLayers.MaxPool(ref size, 3, 2),
            new Conv2d(96, 256, 5, padding: 2, groups: 2, generator: g), new ReLU(),
            Norm(), ZooLayers.MaxPool(ref size, 3, 2),
            new Conv2d(256, 384, 3, padding: 1, generator: g), new ReLU(),
            new Conv2d(384, 384, 3, padding: 1, groups: 2, generator: g), new ReLU(),
            new Conv2d(384, 256, 3, padding: 1, groups: 2, generator: g), new ReLU(),
            ZooLayers.MaxPool(ref size, 3, 2)));
        Add("avgpool", new AdaptiveAvgPool2d(6));
        Add("flatten", new Flatten());
        Classifier = Add("classifier", ZooLayers.AlexNetClassifier(classes, g));
    }

    /// <summary>The paper's normalisation in PyTorch's convention (alpha divided by n, hence n·α).</summary>
    private static LocalResponseNorm Norm() => new(LrnSize, LrnSize * PaperAlpha, LrnBeta, LrnK);
}
