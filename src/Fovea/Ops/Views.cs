using Fovea.Backends;
using static Fovea.Ops.Broadcasting;

namespace Fovea.Ops;

/// <summary>Reshape (a view when the strides allow, else a copy). The gradient is reshaped back.</summary>
internal sealed class ReshapeFunction(int[] shape) : Function
{
    protected override Tensor Forward(Tensor[] x) => x[0].ReshapeRaw(shape);
    protected override Tensor?[] Backward(Tensor g) => [g.Reshape(InputShapes[0])];
    protected override Tensor? Jvp(Tensor[] x, Tensor y, Tensor?[] t) => t[0]?.Reshape(shape);
}

/// <summary>Permute dims (a view). The gradient is permuted by the inverse permutation.</summary>
internal sealed class PermuteFunction(int[] dims) : Function
{
    protected override Tensor Forward(Tensor[] x) => x[0].PermuteRaw(dims);

    protected override Tensor?[] Backward(Tensor g)
    {
        var inverse = new int[dims.Length];
        for (int i = 0; i < dims.Length; i++) inverse[dims[i]] = i;
        return [g.Permute(inverse)];
    }

    protected override Tensor? Jvp(Tensor[] x, Tensor y, Tensor?[] t) => t[0]?.Permute(dims);
}

/// <summary>Expand (stride-0 view). Every copy of an element sends its gradient back, so they are summed.</summary>
internal sealed class ExpandFunction(int[] shape) : Function
{
    protected override Tensor Forward(Tensor[] x) => x[0].ExpandRaw(shape);
    protected override Tensor?[] Backward(Tensor g) => [SumToShape(g, InputShapes[0])];
    protected override Tensor? Jvp(Tensor[] x, Tensor y, Tensor?[] t) => t[0]?.Expand(shape);
}

/// <summary>
/// <c>start:start+step·length:step</c> along one dim (a view). Its gradient places the incoming gradient
/// into zeros of the input's shape (<see cref="SliceBackwardFunction"/>), whose own gradient is this slice again.
/// </summary>
internal sealed class SliceFunction(int dim, int start, int step, int length) : Function
{
    public override string Name => "Slice";
    protected override Tensor Forward(Tensor[] x) => x[0].SliceRaw(dim, start, step, length);
    protected override Tensor?[] Backward(Tensor g) => [new SliceBackwardFunction(InputShapes[0], dim, start, step).Apply(g)];
    protected override Tensor? Jvp(Tensor[] x, Tensor y, Tensor?[] t) => t[0] is { } tt ? new SliceFunction(dim, start, step, length).Apply(tt) : null;
}

/// <summary>Zeros of <paramref name="shape"/> with the input written into one strided slice: the adjoint of a slice.</summary>
internal sealed class SliceBackwardFunction(int[] shape, int dim, int start, int step) : Function
{
    protected override Tensor Forward(Tensor[] x)
    {
        var y = Tensor.Zeros(shape, x[0].DType);
        if (x[0].Numel > 0) Backend.Current.Assign(y.SliceRaw(dim, start, step, x[0]._shape[dim]), x[0]);
        return y;
    }

    protected override Tensor?[] Backward(Tensor g) => [new SliceFunction(dim, start, step, InputShapes[0][dim]).Apply(g)];
    protected override Tensor? Jvp(Tensor[] x, Tensor y, Tensor?[] t) => t[0] is { } tt ? new SliceBackwardFunction(shape, dim, start, step).Apply(tt) : null;
}

/// <summary>
/// Constant padding: <paramref name="before"/>[d] and <paramref name="after"/>[d] elements of <paramref name="value"/>
/// on each side of every dim (ONNX Pad, PyTorch's F.pad in constant mode). One new tensor, filled with the value, with
/// the input copied into its interior, where padding dim by dim concatenated a new tensor per padded dim. Its gradient
/// is the interior of the output gradient (a view); its tangent is the input's tangent padded with zeros.
/// </summary>
internal sealed class ConstantPadFunction(int[] before, int[] after, double value) : Function
{
    public override string Name => "ConstantPad";

    protected override Tensor Forward(Tensor[] x)
    {
        var inner = x[0]._shape;
        var shape = new int[inner.Length];
        for (int d = 0; d < shape.Length; d++) shape[d] = checked(inner[d] + before[d] + after[d]);
        var y = value == 0 ? Tensor.Zeros(shape, x[0].DType) : Tensor.Full(shape, value, x[0].DType);
        if (x[0].Numel > 0) Backend.Current.Assign(Interior(y, inner), x[0]);
        return y;
    }

    /// <summary>The view of <paramref name="padded"/> that holds the input (of shape <paramref name="inner"/>).</summary>
    private Tensor Interior(Tensor padded, int[] inner)
    {
        for (int d = 0; d < inner.Length; d++)
            if (before[d] != 0 || after[d] != 0) padded = padded.SliceRaw(d, before[d], 1, inner[d]);
        return padded;
    }

    protected override Tensor?[] Backward(Tensor g)
    {
        var inner = InputShapes[0];
        for (int d = 0; d < inner.Length; d++)
            if (before[d] != 0 || after[d] != 0) g = new SliceFunction(d, before[d], 1, inner[d]).Apply(g);
        return [g];
    }

    protected override Tensor? Jvp(Tensor[] x, Tensor y, Tensor?[] t) => t[0] is { } tt ? new ConstantPadFunction(before, after, 0).Apply(tt) : null;
}

/// <summary>A contiguous copy. d/dx = identity.</summary>
internal sealed class CloneFunction : Function
{
    protected override Tensor Forward(Tensor[] x)
    {
        var y = Tensor.Allocate(x[0].DType, x[0].Shape, clear: false);
        Backend.Current.Assign(y, x[0]);
        return y;
    }

    protected override Tensor?[] Backward(Tensor g) => [g];
    protected override Tensor? Jvp(Tensor[] x, Tensor y, Tensor?[] t) => t[0]?.Clone();
}

/// <summary>Dtype conversion. Between floating types the gradient is converted back; to int/bool nothing flows.</summary>
internal sealed class CastFunction(DType dtype) : Function
{
    private DType _from;

    protected override Tensor Forward(Tensor[] x)
    {
        _from = x[0].DType;
        return Backend.Current.Cast(x[0], dtype);
    }

    protected override Tensor?[] Backward(Tensor g) => [g.To(_from)];
    protected override Tensor? Jvp(Tensor[] x, Tensor y, Tensor?[] t) => dtype.IsFloating() ? t[0]?.To(dtype) : null;
}
