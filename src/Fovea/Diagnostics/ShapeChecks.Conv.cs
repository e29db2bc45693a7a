using Fovea.Backends;

namespace Fovea;

public static partial class ShapeChecks
{
    /// <summary>
    /// Checks a convolution's input [N, C, H, W] against its weight [O, C/groups, KH, KW]: ranks, the channel
    /// count and groups dividing both channel counts. <paramref name="op"/> names the layer, e.g. <c>Conv2d(3 -> 16)</c>.
    /// </summary>
    public static void Conv2d(string op, ReadOnlySpan<int> input, ReadOnlySpan<int> weight, int groups)
    {
        if (weight.Length != 4)
            throw new ShapeException(op, $"expected a weight [out_channels, in_channels/groups, kH, kW], got {Format(weight)} (rank {weight.Length})");
        if (groups < 1)
            throw new ShapeException(op, $"groups must be positive, got {groups}");
        int inChannels = weight[1] * groups;
        if (input.Length != 4)
            throw new ShapeException(op, $"expected input [N, {inChannels}, H, W], got {Format(input)} (rank {input.Length}, weight {Format(weight)})");
        if (weight[0] % groups != 0)
            throw new ShapeException(op, $"groups ({groups}) must divide out_channels ({weight[0]}), weight {Format(weight)}");
        if (input[1] != inChannels)
        {
            string rule = input[1] % groups != 0 ? $"; groups ({groups}) must divide in_channels ({input[1]})" : "";
            throw new ShapeException(op, $"expected input [N, {inChannels}, H, W], got {Format(input)} (dim 1: {input[1]} != {inChannels}; weight {Format(weight)}, groups {groups}){rule}");
        }
    }

    /// <summary>
    /// Checks a convolution's window against input [N, C, H, W] and weight [O, C/groups, KH, KW]: positive stride and
    /// dilation, non-negative padding, and a dilated kernel no larger than the padded input (the output size itself
    /// is <see cref="Conv2dGeometry.OutputSize"/>).
    /// </summary>
    public static void Conv2dWindow(string op, ReadOnlySpan<int> input, ReadOnlySpan<int> weight, Conv2dGeometry geometry)
    {
        Window(op, input, weight, 2, weight[2], geometry.StrideH, geometry.PadH, geometry.DilationH);
        Window(op, input, weight, 3, weight[3], geometry.StrideW, geometry.PadW, geometry.DilationW);
    }

    /// <summary>
    /// Checks a pooling window against input [N, C, H, W]: the rank, positive kernel, stride and dilation, padding at
    /// most half the kernel (so every window sees the input) and a dilated kernel no larger than the padded input
    /// (the output size itself is <see cref="Pool2dGeometry.OutputSize"/>).
    /// </summary>
    public static void Pool2d(string op, ReadOnlySpan<int> input, Pool2dGeometry geometry)
    {
        if (input.Length != 4)
            throw new ShapeException(op, $"expected input [N, C, H, W], got {Format(input)} (rank {input.Length})");
        if (geometry.PadH > geometry.KernelH / 2 || geometry.PadW > geometry.KernelW / 2)
            throw new ShapeException(op, $"padding ({geometry.PadH}, {geometry.PadW}) must be at most half the kernel size ({geometry.KernelH}, {geometry.KernelW})");
        Window(op, input, default, 2, geometry.KernelH, geometry.StrideH, geometry.PadH, geometry.DilationH);
        Window(op, input, default, 3, geometry.KernelW, geometry.StrideW, geometry.PadW, geometry.DilationW);
    }

    /// <summary>One dim of a sliding window: the errors name the op, the input and, for a convolution, the weight.</summary>
    private static void Window(string op, ReadOnlySpan<int> input, ReadOnlySpan<int> weight, int dim, int kernel, int stride, int padding, int dilation)
    {
        string shapes = weight.IsEmpty ? $"input {Format(input)}" : $"input {Format(input)} (weight {Format(weight)})";
        if (kernel < 1 || stride < 1 || dilation < 1 || padding < 0)
            throw new ShapeException(op, $"kernel ({kernel}), stride ({stride}) and dilation ({dilation}) must be positive and padding ({padding}) non-negative, {shapes}");
        int n = input[dim];
        int span = dilation * (kernel - 1) + 1;
        if (n + 2 * padding < span)
            throw new ShapeException(op, $"the kernel ({kernel}{(dilation > 1 ? $", dilation {dilation}: spans {span}" : "")}) is larger than the padded input ({n} + 2·{padding} = {n + 2 * padding}) in dim {dim} of {shapes}");
    }
}
