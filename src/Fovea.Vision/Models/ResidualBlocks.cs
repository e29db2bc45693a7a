using Fovea.NN;

namespace Fovea.Vision.Models;

/// <summary>How a residual block's shortcut follows a block that changes the stride or the width.</summary>
public enum ResidualShortcut
{
    /// <summary>
    /// torchvision's (He et al.'s option B): a 1x1 convolution with the block's stride + batch norm, registered as
    /// <c>downsample</c>.
    /// </summary>
    Projection,

    /// <summary>
    /// He et al.'s option A, used in their CIFAR experiments: keep every stride-th pixel and zero-pad the new
    /// channels (<see cref="PadShortcut"/>), registered as <c>shortcut</c>; no parameters.
    /// </summary>
    ZeroPad,
}

/// <summary>
/// What the residual blocks share: relu(body(x) + shortcut(x)), the shortcut being the identity while the block
/// keeps its shape, else the <see cref="ResidualShortcut"/> it was built with.
/// </summary>
public abstract class ResidualBlock : Module<Tensor, Tensor>
{
    /// <inheritdoc/>
    public override bool HoldsNoActivations => true;

    private Module<Tensor, Tensor>? _shortcut;

    /// <summary>Only the blocks of this assembly derive from it.</summary>
    private protected ResidualBlock()
    {
    }

    /// <summary>Registers the shortcut from <paramref name="inPlanes"/> to <paramref name="outPlanes"/> channels, if the block needs one.</summary>
    private protected void AddShortcut(ResidualShortcut kind, int inPlanes, int outPlanes, int stride, Generator g)
    {
        if (stride == 1 && inPlanes == outPlanes) return;
        _shortcut = kind switch
        {
            ResidualShortcut.Projection => RegisterModule("downsample",
                new Sequential(new Conv2d(inPlanes, outPlanes, 1, stride: stride, bias: false, generator: g), new BatchNorm2d(outPlanes))),
            ResidualShortcut.ZeroPad => RegisterModule("shortcut", new PadShortcut(inPlanes, outPlanes, stride)),
            _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "not a residual shortcut"),
        };
    }

    /// <summary>
    /// relu(<paramref name="body"/> + shortcut(<paramref name="input"/>)): in inference one pass
    /// (<see cref="Functional.AddRelu"/>), written into <paramref name="body"/> when it is <paramref name="fresh"/>
    /// (a tensor made by this block that nothing else holds). With <paramref name="release"/> (see
    /// <see cref="Releases"/>) the body and the shortcut's output, dead once summed, go to the pool.
    /// </summary>
    private protected Tensor Join(Tensor body, bool fresh, Tensor input, bool release)
    {
        var shortcut = _shortcut is null ? input : _shortcut.Call(input);
        var y = Functional.AddRelu(body, shortcut, inPlace: fresh);
        if (release)
        {
            if (!ReferenceEquals(y.Storage, body.Storage)) StoragePool.Recycle(body);
            if (_shortcut is not null && !ReferenceEquals(shortcut.Storage, input.Storage)) StoragePool.Recycle(shortcut);
        }
        return y;
    }

    /// <summary>
    /// relu(norm(conv(<paramref name="x"/>)) + shortcut(<paramref name="input"/>)), the block's last layer and its join:
    /// where the pair folds, the shortcut first and then one convolution that adds it and rectifies its output
    /// (<see cref="ConvBatchNormFolding.ForwardRelu"/>); else <see cref="ConvNorm"/> and <see cref="Join"/>.
    /// <paramref name="release"/> as in <see cref="Join"/>.
    /// </summary>
    private protected Tensor ConvNormJoin(Conv2d conv, BatchNorm2d norm, ref ConvBatchNormFolding? fold, Tensor x, Tensor input, bool release)
    {
        if (!ConvBatchNormFolding.CanFold(conv, norm))
        {
            var body = ConvNorm(conv, norm, ref fold, x, release, out bool fresh);
            return Join(body, fresh, input, release);
        }
        var shortcut = _shortcut is null ? input : _shortcut.Call(input);
        fold ??= new ConvBatchNormFolding();
        var y = fold.ForwardRelu(conv, norm, x, shortcut);
        if (release && _shortcut is not null && !ReferenceEquals(shortcut.Storage, input.Storage)) StoragePool.Recycle(shortcut);
        return y;
    }

    /// <summary>
    /// Whether this forward may hand the block's intermediate outputs to the <see cref="StoragePool"/> once read
    /// (<see cref="StoragePool.Recycle"/>; in training the backward pass hands them over when it is done with them):
    /// no hook anywhere in the block can have kept one.
    /// </summary>
    private protected bool Releases() => StoragePool.Enabled && ReleasesActivations();

    /// <summary>
    /// norm(conv(<paramref name="input"/>)), folded into one convolution in evaluation with gradients off
    /// (<see cref="ConvBatchNormFolding"/>); <paramref name="fold"/> is this pair's cache. <paramref name="fresh"/>
    /// says the result is the folded convolution's new tensor (no hook has seen it), which the block may overwrite.
    /// Unfolded, with <paramref name="release"/>, the convolution's output goes to the pool once the norm has read it.
    /// </summary>
    private protected static Tensor ConvNorm(Conv2d conv, BatchNorm2d norm, ref ConvBatchNormFolding? fold, Tensor input, bool release, out bool fresh)
    {
        fresh = ConvBatchNormFolding.CanFold(conv, norm);
        if (fresh)
        {
            fold ??= new ConvBatchNormFolding();
            return fold.Forward(conv, norm, input);
        }
        var c = conv.Call(input);
        var y = norm.Call(c);
        if (release) StoragePool.Recycle(c);
        return y;
    }

    /// <summary>
    /// relu(norm(conv(<paramref name="input"/>))), the ReLU in place on a folded convolution's output;
    /// <paramref name="fresh"/> and <paramref name="release"/> as in <see cref="ConvNorm"/>.
    /// </summary>
    private protected static Tensor ConvNormRelu(Conv2d conv, BatchNorm2d norm, ref ConvBatchNormFolding? fold, Tensor input, bool release, out bool fresh)
    {
        if (ConvBatchNormFolding.CanFold(conv, norm))
        {
            // The folded convolution rectifies its own output: a new tensor, as fresh as ConvNorm's.
            fresh = true;
            fold ??= new ConvBatchNormFolding();
            return fold.ForwardRelu(conv, norm, input);
        }
        var y = ConvNorm(conv, norm, ref fold, input, release, out fresh);
        var r = Functional.Relu(y, inPlace: fresh);
        if (release && !ReferenceEquals(r.Storage, y.Storage)) StoragePool.Recycle(y);
        return r;
    }

    /// <summary>
    /// Hands <paramref name="y"/>, an intermediate of this block that the next layer has read, to the
    /// <see cref="StoragePool"/> when <paramref name="dead"/>: the block releases its intermediates, or a folded
    /// convolution made y in inference, so no hook has seen it and nothing else holds it.
    /// </summary>
    private protected static void Release(Tensor y, bool dead)
    {
        if (dead) StoragePool.Recycle(y);
    }
}

/// <summary>
/// The residual block of ResNet-18/34 and of the CIFAR ResNets: relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))
/// with two 3x3 convolutions (the first carries the stride); the shortcut is the identity, or, when the stride or
/// width changes, <c>downsample</c> (1x1 convolution + batch norm, torchvision) or the parameter-free
/// <c>shortcut</c> (<see cref="ResidualShortcut.ZeroPad"/>, the CIFAR ResNets).
/// </summary>
public sealed class BasicBlock : ResidualBlock
{
    private readonly Conv2d _conv1, _conv2;
    private readonly BatchNorm2d _bn1, _bn2;
    private ConvBatchNormFolding? _fold1, _fold2;

    /// <summary>A block from <paramref name="inPlanes"/> to <paramref name="planes"/> channels.</summary>
    public BasicBlock(int inPlanes, int planes, int stride = 1, Generator? generator = null, ResidualShortcut shortcut = ResidualShortcut.Projection)
    {
        var g = generator ?? new Generator(0);
        _conv1 = RegisterModule("conv1", new Conv2d(inPlanes, planes, 3, stride: stride, padding: 1, bias: false, generator: g));
        _bn1 = RegisterModule("bn1", new BatchNorm2d(planes));
        RegisterModule("relu", new ReLU());
        _conv2 = RegisterModule("conv2", new Conv2d(planes, planes, 3, padding: 1, bias: false, generator: g));
        _bn2 = RegisterModule("bn2", new BatchNorm2d(planes));
        AddShortcut(shortcut, inPlanes, planes, stride, g);
    }

    /// <inheritdoc/>
    public override string Describe() => $"BasicBlock({_conv1.InChannels} -> {_conv2.OutChannels}, s={_conv1.StrideSize})";

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input)
    {
        bool release = Releases();
        var y = ConvNormRelu(_conv1, _bn1, ref _fold1, input, release, out bool yFresh);
        var output = ConvNormJoin(_conv2, _bn2, ref _fold2, y, input, release);
        Release(y, release || yFresh);
        return output;
    }
}

/// <summary>
/// The residual block of ResNet-50 and deeper: 1x1 reduce to <c>planes</c>, 3x3 (carrying the stride, torchvision
/// v1.5), 1x1 expand to 4·<c>planes</c>, each with batch norm, ReLU after the first two and after the sum with
/// the shortcut (identity, or <c>downsample</c> when the stride or width changes).
/// </summary>
public sealed class Bottleneck : ResidualBlock
{
    /// <summary>Output channels per <c>planes</c>.</summary>
    public const int Expansion = 4;

    private readonly Conv2d _conv1, _conv2, _conv3;
    private readonly BatchNorm2d _bn1, _bn2, _bn3;
    private ConvBatchNormFolding? _fold1, _fold2, _fold3;

    /// <summary>A block from <paramref name="inPlanes"/> to 4·<paramref name="planes"/> channels.</summary>
    public Bottleneck(int inPlanes, int planes, int stride = 1, Generator? generator = null, ResidualShortcut shortcut = ResidualShortcut.Projection)
    {
        var g = generator ?? new Generator(0);
        _conv1 = RegisterModule("conv1", new Conv2d(inPlanes, planes, 1, bias: false, generator: g));
        _bn1 = RegisterModule("bn1", new BatchNorm2d(planes));
        _conv2 = RegisterModule("conv2", new Conv2d(planes, planes, 3, stride: stride, padding: 1, bias: false, generator: g));
        _bn2 = RegisterModule("bn2", new BatchNorm2d(planes));
        _conv3 = RegisterModule("conv3", new Conv2d(planes, planes * Expansion, 1, bias: false, generator: g));
        _bn3 = RegisterModule("bn3", new BatchNorm2d(planes * Expansion));
        RegisterModule("relu", new ReLU());
        AddShortcut(shortcut, inPlanes, planes * Expansion, stride, g);
    }

    /// <inheritdoc/>
    public override string Describe() => $"Bottleneck({_conv1.InChannels} -> {_conv3.OutChannels}, s={_conv2.StrideSize})";

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input)
    {
        bool release = Releases();
        var y1 = ConvNormRelu(_conv1, _bn1, ref _fold1, input, release, out bool fresh1);
        var y2 = ConvNormRelu(_conv2, _bn2, ref _fold2, y1, release, out bool fresh2);
        Release(y1, release || fresh1);
        var output = ConvNormJoin(_conv3, _bn3, ref _fold3, y2, input, release);
        Release(y2, release || fresh2);
        return output;
    }
}

/// <summary>
/// The parameter-free shortcut of He et al.'s option A: keeps every <c>stride</c>-th pixel and zero-pads the
/// channels from <c>in</c> to <c>out</c>, the new channels split evenly before and after the old ones (as the
/// common PyTorch CIFAR implementations do).
/// </summary>
public sealed class PadShortcut : Module<Tensor, Tensor>
{
    /// <inheritdoc/>
    public override bool HoldsNoActivations => true;

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
