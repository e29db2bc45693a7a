using Fovea.Backends;

namespace Fovea.Ops;

/// <summary>
/// The convolution family: forward, input gradient and weight gradient, each a differentiable function whose
/// own derivatives are members of the family, so double (and higher) backward works.
/// <para>
/// The seed lecture ("Backwards Pass for Convolution Layer") derives the duality used here. For
/// y(r, c) = Σ_ab x(r + a, c + b)·k(a, b) (a cross-correlation):
/// ∂L/∂k(a', b') = Σ_rc ∂L/∂y(r, c)·x(r + a', c + b') — the cross-correlation of the input with the upstream
/// gradient (<see cref="Conv2dBackwardWeightFunction"/>); and
/// ∂L/∂x(r', c') = Σ_ab ∂L/∂y(r' − a, c' − b)·k(a, b) — the full convolution of the upstream gradient with the
/// kernel, i.e. a cross-correlation with the flipped kernel (<see cref="Conv2dBackwardInputFunction"/>, which is
/// also the transposed convolution). Stride, padding, dilation and groups carry over unchanged.
/// </para>
/// </summary>
internal static class Conv
{
    /// <summary>y = x ⋆ w + b.</summary>
    public static Tensor Forward(Tensor x, Tensor w, Tensor? b, Conv2dGeometry geo) =>
        b is null ? new Conv2dFunction(geo).Apply(x, w) : new Conv2dFunction(geo).Apply(x, w, b);

    /// <summary>dx = full convolution of g with the flipped w, for an input of <paramref name="inputShape"/>.</summary>
    public static Tensor BackwardInput(Tensor g, Tensor w, int[] inputShape, Conv2dGeometry geo) =>
        new Conv2dBackwardInputFunction(geo, inputShape).Apply(g, w);

    /// <summary>dw = cross-correlation of x with g, for a weight of <paramref name="weightShape"/>.</summary>
    public static Tensor BackwardWeight(Tensor x, Tensor g, int[] weightShape, Conv2dGeometry geo) =>
        new Conv2dBackwardWeightFunction(geo, weightShape).Apply(x, g);

    /// <summary>
    /// x ⋆ w cut to the spatial size of <paramref name="like"/>: the adjoint of an input gradient whose input was
    /// larger than the forward formula needs (a transposed convolution's output_padding) only sees those outputs.
    /// </summary>
    public static Tensor ForwardLike(Tensor x, Tensor w, Conv2dGeometry geo, int[] like)
    {
        var y = Forward(x, w, null, geo);
        if (y._shape[2] != like[2]) y = y.Narrow(2, 0, like[2]);
        if (y._shape[3] != like[3]) y = y.Narrow(3, 0, like[3]);
        return y;
    }
}

/// <summary>Convolution y = x ⋆ w (+ b). dx = full conv of g with flipped w; dw = x ⋆ g; db = Σ_{n,h,w} g.</summary>
internal sealed class Conv2dFunction(Conv2dGeometry geo) : Function
{
    public override string Name => "Conv2d";

    protected override Tensor Forward(Tensor[] x)
    {
        SaveForBackward(x[0], x[1]);
        // The weight is constant here unless this node is recorded and will send a gradient to it.
        return Backend.Current.Conv2d(x[0], x[1], x.Length > 2 ? x[2] : null, geo, weightIsConstant: !(IsRecording && x[1].RequiresGrad));
    }

    protected override Tensor?[] Backward(Tensor g)
    {
        var (x, w) = (Saved[0], Saved[1]);
        var grads = new Tensor?[InputShapes.Length];
        if (NeedsInputGrad(0)) grads[0] = Conv.BackwardInput(g, w, InputShapes[0], geo);
        if (NeedsInputGrad(1)) grads[1] = Conv.BackwardWeight(x, g, InputShapes[1], geo);
        // Σ over the contiguous spatial dims first, then the batch: several times faster than one reduction over [0, 2, 3].
        if (grads.Length > 2 && NeedsInputGrad(2)) grads[2] = g.Sum([2, 3]).Sum([0]);
        return grads;
    }

    // Bilinear: d(x ⋆ w) = dx ⋆ w + x ⋆ dw, plus db broadcast over the output.
    protected override Tensor? Jvp(Tensor[] x, Tensor y, Tensor?[] t)
    {
        Tensor? d = t[0] is { } tx ? Conv.Forward(tx, x[1], null, geo) : null;
        if (t[1] is { } tw) d = Sum(d, Conv.Forward(x[0], tw, null, geo));
        if (x.Length > 2 && t[2] is { } tb) d = Sum(d, tb.Reshape(1, -1, 1, 1).Expand(y._shape));
        return d;
    }

    internal static Tensor Sum(Tensor? a, Tensor b) => a is null ? b : a.Add(b);
}

/// <summary>
/// dx = BackwardInput(g, w): linear in g and in w. Its adjoints: for an upstream u shaped like x,
/// ∂/∂g = u ⋆ w (the forward convolution) and ∂/∂w = BackwardWeight(u, g).
/// </summary>
internal sealed class Conv2dBackwardInputFunction(Conv2dGeometry geo, int[] inputShape) : Function
{
    public override string Name => "Conv2dBackwardInput";

    protected override Tensor Forward(Tensor[] x)
    {
        SaveForBackward(x[0], x[1]);
        return Backend.Current.Conv2dBackwardInput(x[0], x[1], inputShape, geo);
    }

    protected override Tensor?[] Backward(Tensor u)
    {
        var (g, w) = (Saved[0], Saved[1]);
        Tensor? dg = NeedsInputGrad(0) ? Conv.ForwardLike(u, w, geo, InputShapes[0]) : null;
        Tensor? dw = NeedsInputGrad(1) ? Conv.BackwardWeight(u, g, InputShapes[1], geo) : null;
        return [dg, dw];
    }

    protected override Tensor? Jvp(Tensor[] x, Tensor y, Tensor?[] t)
    {
        Tensor? d = t[0] is { } tg ? Conv.BackwardInput(tg, x[1], inputShape, geo) : null;
        if (t[1] is { } tw) d = Conv2dFunction.Sum(d, Conv.BackwardInput(x[0], tw, inputShape, geo));
        return d;
    }
}

/// <summary>
/// dw = BackwardWeight(x, g): linear in x and in g. Its adjoints: for an upstream v shaped like w,
/// ∂/∂x = BackwardInput(g, v) and ∂/∂g = x ⋆ v.
/// </summary>
internal sealed class Conv2dBackwardWeightFunction(Conv2dGeometry geo, int[] weightShape) : Function
{
    public override string Name => "Conv2dBackwardWeight";

    protected override Tensor Forward(Tensor[] x)
    {
        SaveForBackward(x[0], x[1]);
        return Backend.Current.Conv2dBackwardWeight(x[0], x[1], weightShape, geo);
    }

    protected override Tensor?[] Backward(Tensor v)
    {
        var (x, g) = (Saved[0], Saved[1]);
        Tensor? dx = NeedsInputGrad(0) ? Conv.BackwardInput(g, v, InputShapes[0], geo) : null;
        Tensor? dg = NeedsInputGrad(1) ? Conv.ForwardLike(x, v, geo, InputShapes[1]) : null;
        return [dx, dg];
    }

    protected override Tensor? Jvp(Tensor[] x, Tensor y, Tensor?[] t)
    {
        Tensor? d = t[0] is { } tx ? Conv.BackwardWeight(tx, x[1], weightShape, geo) : null;
        if (t[1] is { } tg) d = Conv2dFunction.Sum(d, Conv.BackwardWeight(x[0], tg, weightShape, geo));
        return d;
    }
}
