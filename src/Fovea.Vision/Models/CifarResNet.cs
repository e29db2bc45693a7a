using Fovea.NN;

namespace Fovea.Vision.Models;

/// <summary>
/// The CIFAR ResNet of He et al. 2015 (section 4.2), for 28x28 and 32x32 inputs: <c>conv1</c> 3x3 with 16
/// channels, <c>bn1</c>, <c>relu</c>; three stages <c>layer1</c>–<c>layer3</c> of n basic blocks each with 16, 32
/// and 64 channels (stride 1, 2, 2); global average pool; <c>fc</c>. Depth = 6n + 2: ResNet-20 (n = 3) has
/// 269,722 parameters at 3 channels and 10 classes, and about 41 million multiply-adds per 32x32 image
/// (31 million at 28x28).
/// <para>
/// Shortcuts are the paper's option A, as in its CIFAR experiments: where a stage halves the size and doubles
/// the width, the identity is subsampled (every second pixel) and zero-padded with new channels
/// (<see cref="PadShortcut"/>), so every shortcut is parameter-free. Initialisation: convolutions He et al.'s
/// kaiming_normal (fan_in, relu), batch norm weight 1 and bias 0, <c>fc</c> PyTorch's default.
/// </para>
/// </summary>
public sealed class CifarResNet : Sequential
{
    /// <summary>The number of weight layers (6n + 2).</summary>
    public int Depth { get; }

    /// <summary>ResNet-<paramref name="depth"/> for <paramref name="inputSize"/>² images with <paramref name="inChannels"/> channels.</summary>
    public CifarResNet(int depth = 20, int inChannels = 3, int classes = 10, int inputSize = 32, Generator? generator = null)
    {
        if (depth < 8 || (depth - 2) % 6 != 0)
            throw new ArgumentException($"CifarResNet: depth must be 6n + 2 with n >= 1 (20, 32, 44, 56, 110), got {depth}");
        ZooLayers.CheckArguments($"ResNet{depth}", inChannels, classes, inputSize);
        var g = generator ?? new Generator(0);
        Depth = depth;
        int n = (depth - 2) / 6;
        Add("conv1", new Conv2d(inChannels, 16, 3, padding: 1, bias: false, generator: g));
        Add("bn1", new BatchNorm2d(16));
        Add("relu", new ReLU());
        int inPlanes = 16;
        int[] planes = [16, 32, 64];
        for (int s = 0; s < 3; s++)
        {
            var stage = Add($"layer{s + 1}", new Sequential());
            for (int b = 0; b < n; b++)
            {
                stage.Append(new CifarBasicBlock(inPlanes, planes[s], b == 0 && s > 0 ? 2 : 1, g));
                inPlanes = planes[s];
            }
        }
        Add("avgpool", new AdaptiveAvgPool2d(1));
        Add("flatten", new Flatten());
        Add("fc", new Linear(64, classes, generator: g));
        foreach (var (_, m) in NamedModules())
            if (m is Conv2d conv) Init.KaimingNormal(conv.Weight, mode: FanMode.FanIn, nonlinearity: Nonlinearity.Relu, generator: g);
    }

    /// <inheritdoc/>
    public override string Describe() => $"ResNet{Depth} (CIFAR)";
}

/// <summary>
/// <see cref="BasicBlock"/> with the option-A shortcut: the identity, or <see cref="PadShortcut"/> when the stride
/// or width changes.
/// </summary>
public sealed class CifarBasicBlock : Module<Tensor, Tensor>
{
    private readonly Conv2d _conv1, _conv2;
    private readonly BatchNorm2d _bn1, _bn2;
    private readonly PadShortcut? _shortcut;

    /// <summary>A block from <paramref name="inPlanes"/> to <paramref name="planes"/> channels.</summary>
    public CifarBasicBlock(int inPlanes, int planes, int stride = 1, Generator? generator = null)
    {
        var g = generator ?? new Generator(0);
        _conv1 = RegisterModule("conv1", new Conv2d(inPlanes, planes, 3, stride: stride, padding: 1, bias: false, generator: g));
        _bn1 = RegisterModule("bn1", new BatchNorm2d(planes));
        _conv2 = RegisterModule("conv2", new Conv2d(planes, planes, 3, padding: 1, bias: false, generator: g));
        _bn2 = RegisterModule("bn2", new BatchNorm2d(planes));
        if (stride != 1 || inPlanes != planes) _shortcut = RegisterModule("shortcut", new PadShortcut(inPlanes, planes, stride));
    }

    /// <inheritdoc/>
    public override string Describe() => $"BasicBlock({_conv1.InChannels} -> {_conv2.OutChannels}, s={_conv1.StrideSize})";

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input)
    {
        var y = _bn1.Forward(_conv1.Forward(input)).Relu();
        y = _bn2.Forward(_conv2.Forward(y));
        return (y + (_shortcut is null ? input : _shortcut.Forward(input))).Relu();
    }
}

/// <summary>
/// The parameter-free shortcut of He et al.'s option A: keeps every <c>stride</c>-th pixel and zero-pads the
/// channels from <c>in</c> to <c>out</c>, the new channels split evenly before and after the old ones (as the
/// common PyTorch CIFAR implementations do).
/// </summary>
public sealed class PadShortcut : Module<Tensor, Tensor>
{
    private readonly int _in, _out, _stride;

    /// <summary>A shortcut from <paramref name="inChannels"/> to <paramref name="outChannels"/> (at least as many).</summary>
    public PadShortcut(int inChannels, int outChannels, int stride)
    {
        if (outChannels < inChannels || stride < 1)
            throw new ArgumentException($"PadShortcut: needs out channels >= in channels and a positive stride, got {inChannels} -> {outChannels}, stride {stride}");
        _in = inChannels;
        _out = outChannels;
        _stride = stride;
    }

    /// <inheritdoc/>
    public override string Describe() => $"PadShortcut({_in} -> {_out}, s={_stride})";

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input)
    {
        ShapeChecks.Channels(Describe(), input.Shape, _in, [4], ["[N, C, H, W]"]);
        var x = _stride == 1 ? input : input.Slice(2, step: _stride).Slice(3, step: _stride);
        int before = (_out - _in) / 2, after = _out - _in - before;
        if (before == 0 && after == 0) return x;
        int[] shape = x.Shape;
        var parts = new List<Tensor>(3);
        if (before > 0) parts.Add(Tensor.Zeros([shape[0], before, shape[2], shape[3]], x.DType));
        parts.Add(x);
        if (after > 0) parts.Add(Tensor.Zeros([shape[0], after, shape[2], shape[3]], x.DType));
        return Tensor.Cat(parts, 1);
    }
}
