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
/// (<see cref="ResidualShortcut.ZeroPad"/>), so every shortcut is parameter-free. Initialisation: convolutions He et al.'s
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
                stage.Append(new BasicBlock(inPlanes, planes[s], b == 0 && s > 0 ? 2 : 1, g, ResidualShortcut.ZeroPad));
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
