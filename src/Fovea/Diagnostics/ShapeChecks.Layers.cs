namespace Fovea;

public static partial class ShapeChecks
{
    /// <summary>
    /// A layer's input whose last dim holds its features, e.g.
    /// <c>Linear(4 -> 3): expected input [..., 4], got [2, 5] (last dim 5 != 4)</c>.
    /// </summary>
    public static void Features(string layer, ReadOnlySpan<int> input, int features)
    {
        if (input.Length == 0)
            throw new ShapeException(layer, $"expected input [..., {features}], got a 0-d tensor {Format(input)}");
        if (input[^1] != features)
            throw new ShapeException(layer, $"expected input [..., {features}], got {Format(input)} (last dim {input[^1]} != {features})");
    }

    /// <summary>
    /// A layer's input with channels in dim 1 and one of the allowed ranks, e.g.
    /// <c>BatchNorm2d(16): expected input [N, 16, H, W], got [8, 3, 28, 28] (dim 1: 3 != 16)</c>.
    /// <paramref name="layouts"/> gives the accepted layouts with C standing for the channel count, one per rank in <paramref name="ranks"/>.
    /// </summary>
    public static void Channels(string layer, ReadOnlySpan<int> input, int channels, ReadOnlySpan<int> ranks, string[] layouts)
    {
        string expected = string.Join(" or ", layouts.Select(l => l.Replace("C", channels.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal)));
        if (!ranks.Contains(input.Length))
            throw new ShapeException(layer, $"expected input {expected}, got {Format(input)} (rank {input.Length})");
        if (input[1] != channels)
            throw new ShapeException(layer, $"expected input {expected}, got {Format(input)} (dim 1: {input[1]} != {channels})");
    }

    /// <summary>
    /// The trailing dims of a normalised input, e.g.
    /// <c>LayerNorm([3, 4]): expected input [..., 3, 4], got [2, 3, 5] (dim 2: 5 != 4)</c>.
    /// </summary>
    public static void Trailing(string layer, ReadOnlySpan<int> input, ReadOnlySpan<int> trailing)
    {
        string expected = trailing.Length == 0 ? "[...]" : "[..., " + Format(trailing)[1..];
        if (input.Length < trailing.Length)
            throw new ShapeException(layer, $"expected input {expected}, got {Format(input)} (rank {input.Length} < {trailing.Length})");
        int lead = input.Length - trailing.Length;
        for (int i = 0; i < trailing.Length; i++)
            if (input[lead + i] != trailing[i])
                throw new ShapeException(layer, $"expected input {expected}, got {Format(input)} (dim {lead + i}: {input[lead + i]} != {trailing[i]})");
    }

    /// <summary>A loss whose input and target must have the same shape (no silent broadcasting of a [N] target against [N, 1]).</summary>
    public static void LossSame(string loss, ReadOnlySpan<int> input, ReadOnlySpan<int> target)
    {
        if (!input.SequenceEqual(target))
        {
            string dim = input.Length != target.Length ? $"rank {input.Length} != {target.Length}" : FirstDifference(input, target);
            throw new ShapeException(loss, $"input and target must have the same shape, got input {Format(input)} and target {Format(target)} ({dim})");
        }
    }

    /// <summary>
    /// Class-index targets: input [N, C, d1, ...] with target [N, d1, ...], or input [C] with a 0-d target.
    /// Returns the number of classes C.
    /// </summary>
    public static int ClassTargets(string loss, ReadOnlySpan<int> input, ReadOnlySpan<int> target)
    {
        if (input.Length == 0)
            throw new ShapeException(loss, $"expected input [N, C] or [C], got a 0-d tensor");
        if (input.Length == 1)
        {
            if (target.Length != 0)
                throw new ShapeException(loss, $"for input [C] = {Format(input)} expected a 0-d target, got target {Format(target)}");
            return input[0];
        }
        bool ok = target.Length == input.Length - 1 && target[0] == input[0];
        for (int i = 2; ok && i < input.Length; i++) ok = target[i - 1] == input[i];
        if (!ok)
        {
            string expected = input.Length == 2 ? "[N]" : "[N, d1, ...]";
            string layout = input.Length == 2 ? "[N, C]" : "[N, C, d1, ...]";
            throw new ShapeException(loss, $"expected target {expected} for input {layout}, got input {Format(input)} and target {Format(target)}");
        }
        return input[1];
    }

    /// <summary>A per-class tensor (class weights, positive weights) of length <paramref name="classes"/>.</summary>
    public static void ClassVector(string loss, string what, ReadOnlySpan<int> vector, int classes)
    {
        if (vector.Length != 1 || vector[0] != classes)
            throw new ShapeException(loss, $"{what} must be a 1-d tensor of {classes} class values, got {Format(vector)}");
    }
}
