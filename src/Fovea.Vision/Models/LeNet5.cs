using Fovea.NN;

namespace Fovea.Vision.Models;

/// <summary>
/// LeNet-5 (LeCun et al., 1998) in its common modern form: conv 5x5 (6, padded so 28x28 inputs keep their size)
/// → ReLU → max-pool 2 → conv 5x5 (16) → ReLU → max-pool 2 → 120 → 84 → classes. The convolutional part is
/// <c>features</c> and the fully connected part <c>classifier</c>, so <c>--freeze features</c> fine-tunes only
/// the classifier.
/// </summary>
public sealed class LeNet5 : Sequential
{
    /// <summary>The convolutional feature extractor.</summary>
    public Sequential Features { get; }

    /// <summary>The fully connected classifier.</summary>
    public Sequential Classifier { get; }

    /// <summary>For <paramref name="inputSize"/>² images with <paramref name="inChannels"/> channels.</summary>
    public LeNet5(int inChannels = 1, int classes = 10, int inputSize = 28, Generator? generator = null)
    {
        var g = generator ?? new Generator(0);
        // 28x28 inputs are padded by 2 so the first conv sees the 32x32 field of the original design.
        int pad = inputSize == 28 ? 2 : 0;
        int s1 = (inputSize + 2 * pad - 4) / 2;
        int s2 = (s1 - 4) / 2;
        if (s2 < 1) throw new ArgumentException($"LeNet5: input size {inputSize} is too small (needs at least 16)");
        Features = Add("features", new Sequential(
            new Conv2d(inChannels, 6, 5, padding: pad, generator: g), new ReLU(), new MaxPool2d(2),
            new Conv2d(6, 16, 5, generator: g), new ReLU(), new MaxPool2d(2)));
        Classifier = Add("classifier", new Sequential(
            new Flatten(),
            new Linear(16 * s2 * s2, 120, generator: g), new ReLU(),
            new Linear(120, 84, generator: g), new ReLU(),
            new Linear(84, classes, generator: g)));
    }
}
