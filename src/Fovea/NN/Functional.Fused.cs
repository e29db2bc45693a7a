using Fovea.Backends;
using Fovea.Ops;

namespace Fovea.NN;

public static partial class Functional
{
    /// <summary>
    /// relu(<paramref name="a"/> + <paramref name="b"/>) with broadcasting: a residual block's join. Where nothing is
    /// recorded (gradients off or no input requiring one, no forward-mode tangent) it is one pass over the data
    /// instead of an add and a ReLU each writing a new tensor, and with <paramref name="inPlace"/> the result is
    /// written into <paramref name="a"/> (when it has the result's shape, is contiguous and shares no storage with
    /// <paramref name="b"/>) and a is returned. Otherwise it is <c>(a + b).Relu()</c> with its usual gradient. The
    /// values are the same either way: each element is relu of the rounded sum.
    /// </summary>
    public static Tensor AddRelu(Tensor a, Tensor b, bool inPlace = false)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        return Fused.AddRelu(a, b, inPlace);
    }

    /// <summary>
    /// relu(<see cref="Conv2d(Tensor, Tensor, Tensor?, Size2d?, Size2d?, Size2d?, int, PaddingMode)"/> + <paramref name="residual"/>),
    /// or relu(conv2d) without a residual: a residual network's layer, or the last layer of a block and its join with
    /// the shortcut. Where nothing is recorded (as <see cref="AddRelu"/>) and the residual has the output's shape, the
    /// convolution's kernels add it and rectify each output as they write it, instead of a second pass reading and
    /// writing the whole output again; otherwise it is the convolution followed by <see cref="AddRelu"/> (which
    /// broadcasts the residual) or the ReLU, with their usual gradients. The values are the same either way.
    /// </summary>
    public static Tensor Conv2dRelu(Tensor input, Tensor weight, Tensor? bias = null, Size2d? stride = null, Size2d? padding = null,
        Size2d? dilation = null, int groups = 1, Tensor? residual = null)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(weight);
        const string op = "conv2d_relu";
        if (input.Rank == 3)
            return Conv2dRelu(input.Unsqueeze(0), weight, bias, stride, padding, dilation, groups, residual is { Rank: 3 } ? residual.Unsqueeze(0) : residual).Squeeze(0);
        return Fused.ConvRelu(input, weight, bias, CheckedConvGeometry(op, input, weight, bias, stride, padding, dilation, groups), residual);
    }

    /// <summary>The geometry of a batched fused convolution, its shapes, bias and dtypes checked under <paramref name="op"/>'s name.</summary>
    private static Conv2dGeometry CheckedConvGeometry(string op, Tensor input, Tensor weight, Tensor? bias, Size2d? stride, Size2d? padding, Size2d? dilation, int groups)
    {
        Size2d s = stride ?? 1, p = padding ?? 0, d = dilation ?? 1;
        ShapeChecks.Conv2d(op, input._shape, weight._shape, groups);
        CheckBias(op, bias, weight._shape[0]);
        SameDType(op, input, weight, bias);
        var geo = new Conv2dGeometry(s.H, s.W, p.H, p.W, d.H, d.W, groups);
        ShapeChecks.Conv2dWindow(op, input._shape, weight._shape, geo);
        return geo;
    }

    /// <summary>
    /// <see cref="MaxPool2d"/>(relu(<see cref="Conv2d(Tensor, Tensor, Tensor?, Size2d?, Size2d?, Size2d?, int, PaddingMode)"/>)):
    /// a network's stem and the pooling after it (ResNet's 7x7 stride-2 convolution, its ReLU and its 3x3 stride-2
    /// pool). Where nothing is recorded (as <see cref="AddRelu"/>) it is one backend call, which on the stem's shapes
    /// pools each few rows of the convolution as they are computed and never writes its output (3.2 MB an image for
    /// ResNet's stem at 224²); otherwise <see cref="Conv2dRelu"/> then <see cref="MaxPool2d"/>, with their usual
    /// gradients. The values are the same either way. The pool's stride defaults to its kernel, as in
    /// <see cref="MaxPool2d"/>.
    /// </summary>
    public static Tensor Conv2dReluMaxPool2d(Tensor input, Tensor weight, Tensor? bias, Size2d? stride, Size2d? padding, Size2d? dilation, int groups,
        Size2d poolKernel, Size2d? poolStride = null, Size2d? poolPadding = null, Size2d? poolDilation = null, bool poolCeilMode = false)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(weight);
        const string op = "conv2d_relu_max_pool2d";
        if (input.Rank == 3)
            return Conv2dReluMaxPool2d(input.Unsqueeze(0), weight, bias, stride, padding, dilation, groups, poolKernel, poolStride, poolPadding, poolDilation, poolCeilMode).Squeeze(0);
        var geo = CheckedConvGeometry(op, input, weight, bias, stride, padding, dilation, groups);
        var (oh, ow) = geo.OutputSize(input._shape[2], input._shape[3], weight._shape[2], weight._shape[3]);
        Size2d ps = poolStride ?? poolKernel, pp = poolPadding ?? 0, pd = poolDilation ?? 1;
        var pool = new Pool2dGeometry(poolKernel.H, poolKernel.W, ps.H, ps.W, pp.H, pp.W, pd.H, pd.W, poolCeilMode, CountIncludePad: true);
        ShapeChecks.Pool2d(op, [input._shape[0], weight._shape[0], oh, ow], pool);
        return Fused.ConvReluMaxPool(input, weight, bias, geo, pool);
    }

    /// <summary>
    /// relu(<paramref name="x"/>), written into x and x returned when <paramref name="inPlace"/> and nothing is
    /// recorded (PyTorch's <c>relu(x, inplace=True)</c> for inference); otherwise a new tensor with its usual gradient.
    /// Use the return value: x is left unchanged when a graph is being built.
    /// </summary>
    public static Tensor Relu(Tensor x, bool inPlace)
    {
        ArgumentNullException.ThrowIfNull(x);
        return Fused.Relu(x, inPlace);
    }
}
