using Fovea.NN;

namespace Fovea.Vision.Models;

/// <summary>
/// ResNet (He et al. 2015) in torchvision's layout (v1.5: a bottleneck's stride sits on its 3x3 convolution):
/// stem <c>conv1</c> 7x7/2 (no bias), <c>bn1</c>, <c>relu</c>, <c>maxpool</c> 3x3/2; four stages <c>layer1</c>–<c>layer4</c>
/// of 64, 128, 256 and 512 planes (stride 1, 2, 2, 2); adaptive average pool to 1x1; <c>fc</c>. Depths 18 and 34
/// use <see cref="BasicBlock"/>, 50, 101 and 152 <see cref="Bottleneck"/> (expansion 4). A block whose stride or
/// width changes gets a 1x1 convolution + batch norm shortcut (<c>downsample</c>). ResNet-18 has 11,689,512
/// parameters at 3 channels and 1000 classes, ResNet-34 21,797,672, ResNet-50 25,557,032. Initialisation as
/// torchvision: convolutions kaiming_normal(fan_out, relu), batch norm weight 1 and bias 0, <c>fc</c> PyTorch's
/// default. Inputs under 64 pixels get the small-input stem of <see cref="ZooLayers"/>: <c>conv1</c> at stride 1
/// and <c>maxpool</c> an <see cref="Identity"/> (the usual CIFAR adaptation, but keeping the 7x7 kernel), so a
/// 28x28 image runs the stages at 28, 14, 7 and 4 pixels.
/// </summary>
public sealed class ResNet : Sequential
{
    private static readonly Dictionary<int, (bool Bottleneck, int[] Blocks)> Configs = new()
    {
        [18] = (false, [2, 2, 2, 2]),
        [34] = (false, [3, 4, 6, 3]),
        [50] = (true, [3, 4, 6, 3]),
        [101] = (true, [3, 4, 23, 3]),
        [152] = (true, [3, 8, 36, 3]),
    };

    /// <summary>The depths there are configurations for.</summary>
    public static IReadOnlyList<int> Depths { get; } = [18, 34, 50, 101, 152];

    /// <summary>The number of weight layers.</summary>
    public int Depth { get; }

    /// <summary>The classifier (<c>fc</c>).</summary>
    public Linear Fc { get; }

    /// <summary>ResNet-<paramref name="depth"/> for <paramref name="inputSize"/>² images with <paramref name="inChannels"/> channels.</summary>
    public ResNet(int depth = 18, int inChannels = 3, int classes = 1000, int inputSize = 224, Generator? generator = null)
    {
        if (!Configs.TryGetValue(depth, out var config))
            throw new ArgumentException($"ResNet: no configuration for depth {depth} (choose 18, 34, 50, 101 or 152)");
        ZooLayers.CheckArguments($"ResNet{depth}", inChannels, classes, inputSize);
        var g = generator ?? new Generator(0);
        Depth = depth;
        bool small = inputSize < ZooLayers.SmallInputLimit;
        int size = small ? inputSize : ZooLayers.StemOutput(inputSize, 7, 2, 3);
        Add("conv1", new Conv2d(inChannels, 64, 7, stride: small ? 1 : 2, padding: 3, bias: false, generator: g));
        Add("bn1", new BatchNorm2d(64));
        Add("relu", new ReLU());
        Add("maxpool", ZooLayers.MaxPool(ref size, 3, 2, 1, skip: small));
        int expansion = config.Bottleneck ? Bottleneck.Expansion : 1;
        int inPlanes = 64;
        int[] planes = [64, 128, 256, 512];
        for (int s = 0; s < 4; s++)
        {
            var stage = Add($"layer{s + 1}", new Sequential());
            for (int b = 0; b < config.Blocks[s]; b++)
            {
                int stride = b == 0 && s > 0 ? 2 : 1;
                stage.Append(config.Bottleneck
                    ? new Bottleneck(inPlanes, planes[s], stride, g)
                    : new BasicBlock(inPlanes, planes[s], stride, g));
                inPlanes = planes[s] * expansion;
            }
        }
        Add("avgpool", new AdaptiveAvgPool2d(1));
        Add("flatten", new Flatten());
        Fc = Add("fc", new Linear(512 * expansion, classes, generator: g));
        ZooLayers.InitConvsKaimingFanOut(this, g);
    }

    /// <inheritdoc/>
    public override string Describe() => $"ResNet{Depth}";
}
