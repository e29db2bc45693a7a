using Fovea.Backends;
using Fovea.NN;

namespace Fovea.Vision.Models;

/// <summary>
/// What the zoo's ImageNet-style models share: the small-input rule, the running spatial size and torchvision's
/// initialisers.
/// <para>
/// Small inputs. The torchvision stems downsample by 4 before the first block (a stride-2 or stride-4
/// convolution, then a stride-2 max-pool), which leaves a 28x28 Fashion-MNIST image 7x7 or less before any
/// real work (AlexNet's stem shrinks it to nothing). Below <see cref="SmallInputLimit"/> the stem convolution
/// therefore runs at stride 1 (kernel and padding chosen to keep the size, kernel size unchanged) and a stem
/// max-pool, if any, becomes <see cref="Identity"/>. Elsewhere a max-pool whose input is already smaller than
/// its window becomes <see cref="Identity"/> too (VGG's fifth pool at 28x28). Both keep every layer's index
/// and weight shape, so parameter names, counts and state dicts are those of torchvision at every input size;
/// the adaptive average pool before the classifier absorbs the remaining size difference.
/// </para>
/// </summary>
internal static class ZooLayers
{
    /// <summary>Inputs smaller than this (in pixels per side) get the stride-1, pool-free stem.</summary>
    public const int SmallInputLimit = 64;

    /// <summary>Output side of a square stem convolution (kernel, stride, padding) over a square input of side <paramref name="size"/>.</summary>
    public static int StemOutput(int size, int kernel, int stride, int padding) =>
        new Conv2dGeometry(stride, stride, padding, padding, 1, 1, 1).OutputSize(size, size, kernel, kernel).H;

    /// <summary>
    /// A max-pool that updates the running spatial <paramref name="size"/>, or <see cref="Identity"/> when the input
    /// is smaller than the window (or <paramref name="skip"/> is set), keeping the layer's index either way.
    /// </summary>
    public static Module<Tensor, Tensor> MaxPool(ref int size, int kernel, int stride, int padding = 0, bool ceilMode = false, bool skip = false)
    {
        if (skip || size + 2 * padding < kernel) return new Identity();
        size = new Pool2dGeometry(kernel, kernel, stride, stride, padding, padding, 1, 1, ceilMode).OutputSize(size, size).H;
        return new MaxPool2d(kernel, stride, padding, ceilMode: ceilMode);
    }

    /// <summary>
    /// AlexNet's classifier, shared by the torchvision layout and the 2012 paper's: dropout 0.5 before each of the two
    /// 4096-wide layers, on the 256 x 6 x 6 pooled features.
    /// </summary>
    public static Sequential AlexNetClassifier(int classes, Generator g) => new(
        new Dropout(0.5, g),
        new Linear(256 * 6 * 6, 4096, generator: g), new ReLU(),
        new Dropout(0.5, g),
        new Linear(4096, 4096, generator: g), new ReLU(),
        new Linear(4096, classes, generator: g));

    /// <summary>Throws unless the input size and channel counts are positive.</summary>
    public static void CheckArguments(string model, int inChannels, int classes, int inputSize)
    {
        if (inChannels < 1 || classes < 1 || inputSize < 1)
            throw new ArgumentException($"{model}: input channels ({inChannels}), classes ({classes}) and input size ({inputSize}) must be positive");
    }

    /// <summary>
    /// torchvision's ResNet / VGG initialisation of every convolution in <paramref name="model"/>:
    /// kaiming_normal(mode = fan_out, nonlinearity = relu), i.e. N(0, 2 / (out·kH·kW)), and bias 0. Batch norms
    /// already start at weight 1, bias 0.
    /// </summary>
    public static void InitConvsKaimingFanOut(Module model, Generator generator)
    {
        foreach (var (_, m) in model.NamedModules())
        {
            if (m is not Conv2d conv) continue;
            Init.KaimingNormal(conv.Weight, mode: FanMode.FanOut, nonlinearity: Nonlinearity.Relu, generator: generator);
            if (conv.Bias is { } b) Init.Zeros(b);
        }
    }
}
