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
    /// Output length of a sliding window along one dim, ⌊(n + 2p − d·(k − 1) − 1) / s⌋ + 1 (rounded up with
    /// <paramref name="ceilMode"/>, where the last window must still start inside the input or its left padding);
    /// throws when the dilated kernel is larger than the padded input.
    /// </summary>
    public static int WindowOutput(string op, ReadOnlySpan<int> input, int dim, int kernel, int stride, int padding, int dilation, bool ceilMode = false)
    {
        if (kernel < 1 || stride < 1 || dilation < 1 || padding < 0)
            throw new ShapeException(op, $"kernel ({kernel}), stride ({stride}) and dilation ({dilation}) must be positive and padding ({padding}) non-negative");
        int n = input[dim];
        int span = dilation * (kernel - 1) + 1;
        if (n + 2 * padding < span)
            throw new ShapeException(op, $"the kernel ({kernel}{(dilation > 1 ? $", dilation {dilation}: spans {span}" : "")}) is larger than the padded input ({n} + 2·{padding} = {n + 2 * padding}) in dim {dim} of input {Format(input)}");
        int numerator = n + 2 * padding - span;
        int outSize = (ceilMode ? (numerator + stride - 1) / stride : numerator / stride) + 1;
        if (ceilMode && (outSize - 1) * stride >= n + padding) outSize--;
        return outSize;
    }

    /// <summary>Pooling needs a 4-d input and padding at most half the kernel (so every window sees the input).</summary>
    public static void Pool2d(string op, ReadOnlySpan<int> input, int kernelH, int kernelW, int padH, int padW)
    {
        if (input.Length != 4)
            throw new ShapeException(op, $"expected input [N, C, H, W], got {Format(input)} (rank {input.Length})");
        if (padH > kernelH / 2 || padW > kernelW / 2)
            throw new ShapeException(op, $"padding ({padH}, {padW}) must be at most half the kernel size ({kernelH}, {kernelW})");
    }
}
