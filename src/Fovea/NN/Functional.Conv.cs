using Fovea.Backends;
using Fovea.Ops;

namespace Fovea.NN;

/// <summary>The functional forms of the layers (PyTorch's <c>torch.nn.functional</c>).</summary>
public static partial class Functional
{
    /// <summary>
    /// 2-d convolution (cross-correlation) y[n, o] = b[o] + Σ_c w[o, c] ⋆ x[n, g·C/groups + c] of x [N, C, H, W]
    /// (or unbatched [C, H, W]) with weight [O, C/groups, kH, kW]; output size ⌊(H + 2p − d·(kH − 1) − 1)/s⌋ + 1.
    /// A non-zero <paramref name="paddingMode"/> pads with <see cref="Pad(Tensor, ValueTuple{int, int, int, int}, PaddingMode, double)"/> first and convolves without padding, as PyTorch does.
    /// </summary>
    public static Tensor Conv2d(Tensor input, Tensor weight, Tensor? bias = null, Size2d? stride = null, Size2d? padding = null,
        Size2d? dilation = null, int groups = 1, PaddingMode paddingMode = PaddingMode.Zeros) =>
        Conv2d("conv2d", input, weight, bias, stride ?? 1, padding ?? 0, dilation ?? 1, groups, paddingMode);

    /// <summary><see cref="Conv2d(Tensor, Tensor, Tensor?, Size2d?, Size2d?, Size2d?, int, PaddingMode)"/> with errors naming <paramref name="op"/>.</summary>
    internal static Tensor Conv2d(string op, Tensor input, Tensor weight, Tensor? bias, Size2d stride, Size2d padding, Size2d dilation, int groups, PaddingMode paddingMode)
    {
        if (input.Rank == 3) return Conv2d(op, input.Unsqueeze(0), weight, bias, stride, padding, dilation, groups, paddingMode).Squeeze(0);
        ShapeChecks.Conv2d(op, input._shape, weight._shape, groups);
        CheckBias(op, bias, weight._shape[0]);
        SameDType(op, input, weight, bias);
        if (paddingMode != PaddingMode.Zeros && (padding.H > 0 || padding.W > 0))
        {
            input = Pad(input, (padding.W, padding.W, padding.H, padding.H), paddingMode);
            padding = 0;
        }
        var geo = new Conv2dGeometry(stride.H, stride.W, padding.H, padding.W, dilation.H, dilation.W, groups);
        ShapeChecks.Conv2dWindow(op, input._shape, weight._shape, geo);
        return Conv.Forward(input, weight, bias, geo);
    }

    /// <summary>
    /// Transposed 2-d convolution (the adjoint of <see cref="Conv2d(Tensor, Tensor, Tensor?, Size2d?, Size2d?, Size2d?, int, PaddingMode)"/>,
    /// sometimes called deconvolution) of x [N, C, H, W] with weight [C, O/groups, kH, kW]; output
    /// [N, O, (H − 1)·s − 2p + d·(kH − 1) + outputPadding + 1, ...]. <paramref name="outputPadding"/> (smaller than
    /// the stride or the dilation) picks among the input sizes a strided convolution maps to the same output size.
    /// </summary>
    public static Tensor ConvTranspose2d(Tensor input, Tensor weight, Tensor? bias = null, Size2d? stride = null, Size2d? padding = null,
        Size2d? outputPadding = null, Size2d? dilation = null, int groups = 1) =>
        ConvTranspose2d("conv_transpose2d", input, weight, bias, stride ?? 1, padding ?? 0, outputPadding ?? 0, dilation ?? 1, groups);

    internal static Tensor ConvTranspose2d(string op, Tensor input, Tensor weight, Tensor? bias, Size2d stride, Size2d padding, Size2d outputPadding, Size2d dilation, int groups)
    {
        if (input.Rank == 3) return ConvTranspose2d(op, input.Unsqueeze(0), weight, bias, stride, padding, outputPadding, dilation, groups).Squeeze(0);
        if (weight.Rank != 4)
            throw new ShapeException(op, $"expected a weight [in_channels, out_channels/groups, kH, kW], got {ShapeChecks.Format(weight._shape)}");
        if (groups < 1 || weight._shape[0] % groups != 0)
            throw new ShapeException(op, $"groups ({groups}) must divide in_channels ({weight._shape[0]}), weight {ShapeChecks.Format(weight._shape)}");
        if (input.Rank != 4 || input._shape[1] != weight._shape[0])
            throw new ShapeException(op, $"expected input [N, {weight._shape[0]}, H, W], got {ShapeChecks.Format(input._shape)}{(input.Rank == 4 ? $" (dim 1: {input._shape[1]} != {weight._shape[0]})" : "")} for weight {ShapeChecks.Format(weight._shape)}");
        if (stride.H < 1 || stride.W < 1 || dilation.H < 1 || dilation.W < 1 || padding.H < 0 || padding.W < 0)
            throw new ShapeException(op, $"stride ({stride}) and dilation ({dilation}) must be positive and padding ({padding}) non-negative");
        if (outputPadding.H < 0 || outputPadding.W < 0 || outputPadding.H >= Math.Max(stride.H, dilation.H) || outputPadding.W >= Math.Max(stride.W, dilation.W))
            throw new ShapeException(op, $"output padding ({outputPadding}) must be non-negative and smaller than either stride ({stride}) or dilation ({dilation})");
        int outChannels = weight._shape[1] * groups;
        CheckBias(op, bias, outChannels);
        SameDType(op, input, weight, bias);
        int oh = (input._shape[2] - 1) * stride.H - 2 * padding.H + dilation.H * (weight._shape[2] - 1) + outputPadding.H + 1;
        int ow = (input._shape[3] - 1) * stride.W - 2 * padding.W + dilation.W * (weight._shape[3] - 1) + outputPadding.W + 1;
        if (oh <= 0 || ow <= 0)
            throw new ShapeException(op, $"the padding ({padding}) removes the whole output: input {ShapeChecks.Format(input._shape)} with weight {ShapeChecks.Format(weight._shape)} gives {oh} x {ow}");
        var geo = new Conv2dGeometry(stride.H, stride.W, padding.H, padding.W, dilation.H, dilation.W, groups);
        // The transposed convolution is exactly the input gradient of the convolution that maps [N, O, oh, ow] to the input's shape.
        return ConvTranspose.Forward(input, weight, bias, [input._shape[0], outChannels, oh, ow], geo);
    }

    /// <summary>
    /// Pads the last two dims of <paramref name="input"/> by (left, right, top, bottom) with a constant
    /// (<see cref="PaddingMode.Zeros"/> uses <paramref name="value"/>), or by reflecting, replicating or wrapping the edges.
    /// </summary>
    public static Tensor Pad(Tensor input, (int Left, int Right, int Top, int Bottom) pad, PaddingMode mode = PaddingMode.Zeros, double value = 0)
    {
        if (input.Rank < 2)
            throw new ShapeException("pad", $"expected at least 2 dims to pad, got {ShapeChecks.Format(input._shape)}");
        if (mode == PaddingMode.Zeros)
        {
            var before = new int[input.Rank];
            var after = new int[input.Rank];
            (before[^1], after[^1], before[^2], after[^2]) = (pad.Left, pad.Right, pad.Top, pad.Bottom);
            return Pad(input, before, after, value);
        }
        var x = PadDim(input, input.Rank - 1, pad.Left, pad.Right, mode, value);
        return PadDim(x, input.Rank - 2, pad.Top, pad.Bottom, mode, value);
    }

    /// <summary>
    /// Pads every dim d of <paramref name="input"/> by <paramref name="before"/>[d] and <paramref name="after"/>[d]
    /// elements of <paramref name="value"/> (constant padding in any number of dims, as ONNX's Pad and numpy.pad): one
    /// new tensor, the input copied into its interior. Returns the input itself when every padding is 0.
    /// </summary>
    public static Tensor Pad(Tensor input, int[] before, int[] after, double value = 0)
    {
        if (before.Length != input.Rank || after.Length != input.Rank)
            throw new ShapeException("pad", $"expected {input.Rank} paddings before and after each dim of {ShapeChecks.Format(input._shape)}, got {before.Length} and {after.Length}");
        bool any = false;
        for (int d = 0; d < input.Rank; d++)
        {
            if (before[d] < 0 || after[d] < 0)
                throw new ShapeException("pad", $"padding must be non-negative, got ({before[d]}, {after[d]}) for dim {d} of {ShapeChecks.Format(input._shape)}");
            if ((long)input._shape[d] + before[d] + after[d] > int.MaxValue)
                throw new ShapeException("pad", $"padding ({before[d]}, {after[d]}) makes dim {d} of {ShapeChecks.Format(input._shape)} longer than {int.MaxValue}");
            any |= before[d] != 0 || after[d] != 0;
        }
        return any ? new ConstantPadFunction((int[])before.Clone(), (int[])after.Clone(), value).Apply(input) : input;
    }

    private static Tensor PadDim(Tensor x, int dim, int before, int after, PaddingMode mode, double value)
    {
        if (before == 0 && after == 0) return x;
        int n = x._shape[dim];
        if (before < 0 || after < 0)
            throw new ShapeException("pad", $"padding must be non-negative, got ({before}, {after}) for dim {dim} of {ShapeChecks.Format(x._shape)}");
        if (mode == PaddingMode.Reflect && (before >= n || after >= n))
            throw new ShapeException("pad", $"reflect padding ({before}, {after}) must be smaller than the padded dim {dim} ({n}) of {ShapeChecks.Format(x._shape)}");
        if (mode == PaddingMode.Circular && (before > n || after > n))
            throw new ShapeException("pad", $"circular padding ({before}, {after}) must be at most the padded dim {dim} ({n}) of {ShapeChecks.Format(x._shape)}");
        var index = new int[before + n + after];
        for (int i = 0; i < index.Length; i++)
        {
            int s = i - before;
            index[i] = mode switch
            {
                PaddingMode.Reflect => s < 0 ? -s : s >= n ? 2 * (n - 1) - s : s,
                PaddingMode.Replicate => Math.Clamp(s, 0, n - 1),
                _ => ((s % n) + n) % n,
            };
        }
        // Index selection is differentiable: the padded copies send their gradients back to the edge pixels.
        return x.IndexSelect(dim, Tensor.From(index));
    }

    private static void CheckBias(string op, Tensor? bias, int channels)
    {
        if (bias is not null && (bias.Rank != 1 || bias._shape[0] != channels))
            throw new ShapeException(op, $"expected a bias [{channels}], got {ShapeChecks.Format(bias._shape)}");
    }

    private static void SameDType(string op, Tensor input, Tensor weight, Tensor? bias)
    {
        if (weight.DType != input.DType || (bias is not null && bias.DType != input.DType))
            throw new DTypeException(op, $"input is {input.DType.Name()} but weight is {weight.DType.Name()}{(bias is null ? "" : $" and bias {bias.DType.Name()}")}; convert with .To(DType.{input.DType})");
    }
}
