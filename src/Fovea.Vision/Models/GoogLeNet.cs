using Fovea.NN;

namespace Fovea.Vision.Models;

/// <summary>
/// GoogLeNet / Inception v1 (Szegedy et al. 2014) in torchvision's layout, without the auxiliary classifiers:
/// stem (<c>conv1</c> 7x7/2, <c>maxpool1</c>, <c>conv2</c> 1x1, <c>conv3</c> 3x3, <c>maxpool2</c>), inception blocks
/// 3a–3b, 4a–4e and 5a–5b with max-pools between the groups, then adaptive average pool to 1x1, dropout 0.2 and
/// the classifier <c>fc</c>. 6,624,904 parameters at 3 channels and 1000 classes. Every convolution is a
/// <see cref="BasicConv2d"/>; as torchvision, convolution and linear weights start from N(0, 0.01²) (torchvision
/// truncates at ±2, i.e. ±200σ, which no draw reaches) and the classifier bias keeps PyTorch's default.
/// Inputs under 64 pixels get the small-input stem of <see cref="ZooLayers"/>: <c>conv1</c> at stride 1 and
/// <c>maxpool1</c> an <see cref="Identity"/>, so a 28x28 image enters the inception blocks at 14x14 and leaves
/// them at 4x4.
/// </summary>
public sealed class GoogLeNet : Sequential
{
    /// <summary>For <paramref name="inputSize"/>² images with <paramref name="inChannels"/> channels.</summary>
    public GoogLeNet(int inChannels = 3, int classes = 1000, int inputSize = 224, Generator? generator = null)
    {
        ZooLayers.CheckArguments("GoogLeNet", inChannels, classes, inputSize);
        var g = generator ?? new Generator(0);
        bool small = inputSize < ZooLayers.SmallInputLimit;
        int size = small ? inputSize : ZooLayers.StemOutput(inputSize, 7, 2, 3);
        Add("conv1", new BasicConv2d(inChannels, 64, 7, small ? 1 : 2, 3, g));
        Add("maxpool1", ZooLayers.MaxPool(ref size, 3, 2, ceilMode: true, skip: small));
        Add("conv2", new BasicConv2d(64, 64, 1, generator: g));
        Add("conv3", new BasicConv2d(64, 192, 3, padding: 1, generator: g));
        Add("maxpool2", ZooLayers.MaxPool(ref size, 3, 2, ceilMode: true));
        Add("inception3a", new Inception(192, 64, 96, 128, 16, 32, 32, g));
        Add("inception3b", new Inception(256, 128, 128, 192, 32, 96, 64, g));
        Add("maxpool3", ZooLayers.MaxPool(ref size, 3, 2, ceilMode: true));
        Add("inception4a", new Inception(480, 192, 96, 208, 16, 48, 64, g));
        Add("inception4b", new Inception(512, 160, 112, 224, 24, 64, 64, g));
        Add("inception4c", new Inception(512, 128, 128, 256, 24, 64, 64, g));
        Add("inception4d", new Inception(512, 112, 144, 288, 32, 64, 64, g));
        Add("inception4e", new Inception(528, 256, 160, 320, 32, 128, 128, g));
        Add("maxpool4", ZooLayers.MaxPool(ref size, 2, 2, ceilMode: true));
        Add("inception5a", new Inception(832, 256, 160, 320, 32, 128, 128, g));
        Add("inception5b", new Inception(832, 384, 192, 384, 48, 128, 128, g));
        Add("avgpool", new AdaptiveAvgPool2d(1));
        Add("flatten", new Flatten());
        Add("dropout", new Dropout(0.2, g));
        var fc = Add("fc", new Linear(1024, classes, generator: g));

        foreach (var (_, m) in NamedModules())
            if (m is Conv2d conv) Init.Normal(conv.Weight, 0, 0.01, g);
        Init.Normal(fc.Weight, 0, 0.01, g);
    }
}

/// <summary>
/// torchvision's <c>BasicConv2d</c>: convolution without bias (<c>conv</c>), batch norm with eps 0.001 (<c>bn</c>),
/// ReLU.
/// </summary>
public sealed class BasicConv2d : Sequential
{
    /// <summary>The convolution.</summary>
    public Conv2d Conv { get; }

    /// <summary>Creates the unit.</summary>
    public BasicConv2d(int inChannels, int outChannels, int kernelSize, int stride = 1, int padding = 0, Generator? generator = null)
    {
        Conv = Add("conv", new Conv2d(inChannels, outChannels, kernelSize, stride, padding, bias: false, generator: generator));
        Add("bn", new BatchNorm2d(outChannels, eps: 0.001));
        Add("relu", new ReLU());
    }

    /// <inheritdoc/>
    public override string Describe() => $"BasicConv2d({Conv.InChannels} -> {Conv.OutChannels}, k={Conv.KernelSize})";
}

/// <summary>
/// An Inception v1 block: four parallel branches on the same input, concatenated along channels —
/// <c>branch1</c> 1x1; <c>branch2</c> 1x1 reduce → 3x3; <c>branch3</c> 1x1 reduce → 3x3 (the paper's 5x5 branch;
/// torchvision uses a 3x3 here, and so do we so that parameter counts and weights match); <c>branch4</c> 3x3
/// max-pool (stride 1) → 1x1 projection. Output channels: ch1x1 + ch3x3 + ch5x5 + poolProj.
/// </summary>
public sealed class Inception : Module<Tensor, Tensor>
{
    /// <inheritdoc/>
    public override bool HoldsNoActivations => true;

    private readonly Module<Tensor, Tensor> _branch1, _branch2, _branch3, _branch4;

    /// <summary>Output channels (the four branches together).</summary>
    public int OutChannels { get; }

    /// <summary>Creates the block with torchvision's argument order.</summary>
    public Inception(int inChannels, int ch1x1, int ch3x3Reduce, int ch3x3, int ch5x5Reduce, int ch5x5, int poolProj, Generator? generator = null)
    {
        _branch1 = RegisterModule("branch1", new BasicConv2d(inChannels, ch1x1, 1, generator: generator));
        _branch2 = RegisterModule("branch2", new Sequential(
            new BasicConv2d(inChannels, ch3x3Reduce, 1, generator: generator),
            new BasicConv2d(ch3x3Reduce, ch3x3, 3, padding: 1, generator: generator)));
        _branch3 = RegisterModule("branch3", new Sequential(
            new BasicConv2d(inChannels, ch5x5Reduce, 1, generator: generator),
            new BasicConv2d(ch5x5Reduce, ch5x5, 3, padding: 1, generator: generator)));
        _branch4 = RegisterModule("branch4", new Sequential(
            new MaxPool2d(3, 1, 1, ceilMode: true),
            new BasicConv2d(inChannels, poolProj, 1, generator: generator)));
        OutChannels = ch1x1 + ch3x3 + ch5x5 + poolProj;
    }

    /// <inheritdoc/>
    public override string Describe() => $"Inception(-> {OutChannels})";

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) =>
        Tensor.Cat([_branch1.Call(input), _branch2.Call(input), _branch3.Call(input), _branch4.Call(input)], 1);
}
