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

    /// <summary>The 1x1 convolution + batch norm shortcut, or null when the block keeps its shape.</summary>
    internal static Sequential? Downsample(int inPlanes, int outPlanes, int stride, Generator g) =>
        stride == 1 && inPlanes == outPlanes
            ? null
            : new Sequential(new Conv2d(inPlanes, outPlanes, 1, stride: stride, bias: false, generator: g), new BatchNorm2d(outPlanes));
}

/// <summary>
/// The residual block of ResNet-18/34: relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)) with two 3x3
/// convolutions (the first carries the stride); the shortcut is the identity, or <c>downsample</c> (1x1
/// convolution + batch norm) when the stride or width changes.
/// </summary>
public sealed class BasicBlock : Module<Tensor, Tensor>
{
    private readonly Conv2d _conv1, _conv2;
    private readonly BatchNorm2d _bn1, _bn2;
    private readonly Sequential? _downsample;

    /// <summary>A block from <paramref name="inPlanes"/> to <paramref name="planes"/> channels.</summary>
    public BasicBlock(int inPlanes, int planes, int stride = 1, Generator? generator = null)
    {
        var g = generator ?? new Generator(0);
        _conv1 = RegisterModule("conv1", new Conv2d(inPlanes, planes, 3, stride: stride, padding: 1, bias: false, generator: g));
        _bn1 = RegisterModule("bn1", new BatchNorm2d(planes));
        RegisterModule("relu", new ReLU());
        _conv2 = RegisterModule("conv2", new Conv2d(planes, planes, 3, padding: 1, bias: false, generator: g));
        _bn2 = RegisterModule("bn2", new BatchNorm2d(planes));
        _downsample = ResNet.Downsample(inPlanes, planes, stride, g);
        if (_downsample is not null) RegisterModule("downsample", _downsample);
    }

    /// <inheritdoc/>
    public override string Describe() => $"BasicBlock({_conv1.InChannels} -> {_conv2.OutChannels}, s={_conv1.StrideSize})";

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input)
    {
        var y = _bn1.Forward(_conv1.Forward(input)).Relu();
        y = _bn2.Forward(_conv2.Forward(y));
        var shortcut = _downsample is null ? input : _downsample.Forward(input);
        return (y + shortcut).Relu();
    }
}

/// <summary>
/// The residual block of ResNet-50 and deeper: 1x1 reduce to <c>planes</c>, 3x3 (carrying the stride, torchvision
/// v1.5), 1x1 expand to 4·<c>planes</c>, each with batch norm, ReLU after the first two and after the sum with
/// the shortcut (identity, or <c>downsample</c> when the stride or width changes).
/// </summary>
public sealed class Bottleneck : Module<Tensor, Tensor>
{
    /// <summary>Output channels per <c>planes</c>.</summary>
    public const int Expansion = 4;

    private readonly Conv2d _conv1, _conv2, _conv3;
    private readonly BatchNorm2d _bn1, _bn2, _bn3;
    private readonly Sequential? _downsample;

    /// <summary>A block from <paramref name="inPlanes"/> to 4·<paramref name="planes"/> channels.</summary>
    public Bottleneck(int inPlanes, int planes, int stride = 1, Generator? generator = null)
    {
        var g = generator ?? new Generator(0);
        _conv1 = RegisterModule("conv1", new Conv2d(inPlanes, planes, 1, bias: false, generator: g));
        _bn1 = RegisterModule("bn1", new BatchNorm2d(planes));
        _conv2 = RegisterModule("conv2", new Conv2d(planes, planes, 3, stride: stride, padding: 1, bias: false, generator: g));
        _bn2 = RegisterModule("bn2", new BatchNorm2d(planes));
        _conv3 = RegisterModule("conv3", new Conv2d(planes, planes * Expansion, 1, bias: false, generator: g));
        _bn3 = RegisterModule("bn3", new BatchNorm2d(planes * Expansion));
        RegisterModule("relu", new ReLU());
        _downsample = ResNet.Downsample(inPlanes, planes * Expansion, stride, g);
        if (_downsample is not null) RegisterModule("downsample", _downsample);
    }

    /// <inheritdoc/>
    public override string Describe() => $"Bottleneck({_conv1.InChannels} -> {_conv3.OutChannels}, s={_conv2.StrideSize})";

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input)
    {
        var y = _bn1.Forward(_conv1.Forward(input)).Relu();
        y = _bn2.Forward(_conv2.Forward(y)).Relu();
        y = _bn3.Forward(_conv3.Forward(y));
        var shortcut = _downsample is null ? input : _downsample.Forward(input);
        return (y + shortcut).Relu();
    }
}
