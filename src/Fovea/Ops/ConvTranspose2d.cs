using Fovea.Backends;

namespace Fovea.Ops;

/// <summary>
/// Transposed convolution: exactly the input gradient of the convolution that maps the transposed convolution's
/// output shape to its input's shape, so its derivatives come from the same family
/// (<see cref="Conv2dBackwardInputFunction"/>): d/dx = x-grad ⋆ w (a forward convolution), d/dw = BackwardWeight.
/// </summary>
internal static class ConvTranspose
{
    /// <summary>y = conv_transpose(x, w) (+ b per channel).</summary>
    public static Tensor Forward(Tensor x, Tensor w, Tensor? b, int[] outputShape, Conv2dGeometry geo)
    {
        var y = Conv.BackwardInput(x, w, outputShape, geo);
        return b is null ? y : new ChannelBiasFunction().Apply(y, b);
    }
}

/// <summary>
/// y[n, c, h, w] = x[n, c, h, w] + b[c]. d/dx = 1; d/db = Σ over n, h, w of g — summed over the contiguous spatial
/// dims first, which is several times faster than the general broadcast reduction over [0, 2, 3].
/// </summary>
internal sealed class ChannelBiasFunction : Function
{
    public override string Name => "ChannelBias";

    protected override Tensor Forward(Tensor[] x) =>
        Backend.Current.Binary(BinaryOp.Add, x[0], x[1].ReshapeRaw([1, x[1]._shape[0], 1, 1]), x[0].Shape);

    protected override Tensor?[] Backward(Tensor g) => [g, NeedsInputGrad(1) ? g.Sum([2, 3]).Sum([0]) : null];

    protected override Tensor? Jvp(Tensor[] x, Tensor y, Tensor?[] t)
    {
        Tensor? d = t[0];
        if (t[1] is { } tb)
        {
            var spread = tb.Reshape(1, -1, 1, 1).Expand(y._shape);
            d = d is null ? spread : d.Add(spread);
        }
        return d;
    }
}
