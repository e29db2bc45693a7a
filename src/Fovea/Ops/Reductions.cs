using Fovea.Backends;

namespace Fovea.Ops;

/// <summary>Shape helpers for reductions.</summary>
internal static class ReduceShapes
{
    /// <summary>The reduced result with its reduced dims put back as size 1, ready to broadcast against the input.</summary>
    public static Tensor KeepDims(Tensor y, int[] inputShape, int[] dims, bool keepDim)
    {
        if (keepDim) return y;
        var shape = (int[])inputShape.Clone();
        foreach (int d in dims) shape[d] = 1;
        return y.Reshape(shape);
    }
}

/// <summary>Σ over dims. d/dx = 1 everywhere: the gradient is broadcast back to the input shape.</summary>
internal sealed class SumFunction(int[] dims, bool keepDim) : Function
{
    protected override Tensor Forward(Tensor[] x) => Backend.Current.Reduce(ReduceOp.Sum, x[0], dims, keepDim);
    protected override Tensor?[] Backward(Tensor g) => [ReduceShapes.KeepDims(g, InputShapes[0], dims, keepDim).Expand(InputShapes[0])];
    protected override Tensor? Jvp(Tensor[] x, Tensor y, Tensor?[] t) => t[0]?.Sum(dims, keepDim);
}

/// <summary>Π over dims. d/dx_i = Π / x_i (inputs are assumed nonzero where the gradient is needed).</summary>
internal sealed class ProdFunction(int[] dims, bool keepDim) : Function
{
    protected override Tensor Forward(Tensor[] x)
    {
        var y = Backend.Current.Reduce(ReduceOp.Prod, x[0], dims, keepDim);
        SaveForBackward(x[0], y);
        return y;
    }

    private Tensor Derivative(Tensor x, Tensor y) => ReduceShapes.KeepDims(y, x._shape, dims, keepDim).Div(x);

    protected override Tensor?[] Backward(Tensor g) =>
        [ReduceShapes.KeepDims(g, InputShapes[0], dims, keepDim).Mul(Derivative(Saved[0], Saved[1]))];

    protected override Tensor? Jvp(Tensor[] x, Tensor y, Tensor?[] t) => t[0]?.Mul(Derivative(x[0], y)).Sum(dims, keepDim);
}

/// <summary>
/// Max or min over a set of dims (amax/amin). The gradient is shared evenly among the elements that
/// equal the extreme, as PyTorch's amax does.
/// </summary>
internal sealed class AmaxFunction(bool max, int[] dims, bool keepDim) : Function
{
    public override string Name => max ? "Amax" : "Amin";

    protected override Tensor Forward(Tensor[] x)
    {
        var y = Backend.Current.Reduce(max ? ReduceOp.Max : ReduceOp.Min, x[0], dims, keepDim);
        SaveForBackward(x[0], y);
        return y;
    }

    private Tensor Weights(Tensor x, Tensor y)
    {
        var mask = x.Eq(ReduceShapes.KeepDims(y, x._shape, dims, keepDim)).To(x.DType);
        return mask.Div(mask.Sum(dims, keepDim: true));
    }

    protected override Tensor?[] Backward(Tensor g) =>
        [ReduceShapes.KeepDims(g, InputShapes[0], dims, keepDim).Mul(Weights(Saved[0], Saved[1]))];

    protected override Tensor? Jvp(Tensor[] x, Tensor y, Tensor?[] t) => t[0]?.Mul(Weights(x[0], y)).Sum(dims, keepDim);
}

/// <summary>Values of max/min along one dim; the gradient goes to the returned index ("max routes").</summary>
internal sealed class MaxDimFunction(bool max, int dim, bool keepDim) : Function
{
    public Tensor? Indices { get; private set; }

    public override string Name => max ? "MaxDim" : "MinDim";

    protected override Tensor Forward(Tensor[] x)
    {
        var (values, indices) = Backend.Current.ArgReduce(max, x[0], dim, keepDim);
        Indices = indices;
        return values;
    }

    private Tensor KeptIndices(int[] inputShape) => keepDim ? Indices! : Indices!.Unsqueeze(dim);

    protected override Tensor?[] Backward(Tensor g)
    {
        var shape = InputShapes[0];
        var gk = keepDim ? g : g.Unsqueeze(dim);
        return [Tensor.Zeros(shape, g.DType).ScatterAdd(dim, KeptIndices(shape), gk)];
    }

    protected override Tensor? Jvp(Tensor[] x, Tensor y, Tensor?[] t)
    {
        if (t[0] is not { } tangent) return null;
        var picked = tangent.Gather(dim, KeptIndices(x[0]._shape));
        return keepDim ? picked : picked.Squeeze(dim);
    }
}
