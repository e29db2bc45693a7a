using Fovea.Backends;
using static Fovea.Ops.Broadcasting;

namespace Fovea.Ops;

/// <summary>Which of two elements an elementwise extremum keeps.</summary>
internal enum Extremum
{
    /// <summary>The larger.</summary>
    Maximum,

    /// <summary>The smaller.</summary>
    Minimum,
}

/// <summary>
/// Elementwise max or min of a and b. The gradient routes to the chosen operand ("max routes");
/// on ties it is split evenly, as PyTorch does.
/// </summary>
internal sealed class ExtremumFunction(Extremum extremum) : Function
{
    public override string Name => extremum.ToString();

    protected override Tensor Forward(Tensor[] x)
    {
        SaveForBackward(x[0], x[1]);
        var op = extremum == Extremum.Maximum ? BinaryOp.Maximum : BinaryOp.Minimum;
        return Backend.Current.Binary(op, x[0], x[1], ShapeChecks.Broadcast(Name.ToLowerInvariant(), x[0]._shape, x[1]._shape));
    }

    /// <summary>Weight of operand a: 1 where a wins, ½ on ties, 0 where b wins.</summary>
    private Tensor WeightA(Tensor a, Tensor b)
    {
        var wins = (extremum == Extremum.Maximum ? a.Gt(b) : a.Lt(b)).To(a.DType);
        var ties = a.Eq(b).To(a.DType).Mul(0.5);
        return wins.Add(ties);
    }

    protected override Tensor?[] Backward(Tensor g)
    {
        var (a, b) = (Saved[0], Saved[1]);
        var wa = WeightA(a, b);
        return [SumToShape(g.Mul(wa), InputShapes[0]), SumToShape(g.Mul(wa.Neg().Add(1)), InputShapes[1])];
    }

    protected override Tensor? Jvp(Tensor[] x, Tensor y, Tensor?[] t)
    {
        var wa = WeightA(x[0], x[1]);
        return OrZeros(t[0], x[0]).Mul(wa).Add(OrZeros(t[1], x[1]).Mul(wa.Neg().Add(1))).Expand(y._shape);
    }
}

/// <summary>cond ? a : b. The gradient goes to a where cond holds and to b elsewhere.</summary>
internal sealed class WhereFunction(Tensor condition) : Function
{
    protected override Tensor Forward(Tensor[] x)
    {
        var shape = ShapeChecks.Broadcast("where", ShapeChecks.Broadcast("where", condition._shape, x[0]._shape), x[1]._shape);
        return Backend.Current.Where(condition, x[0], x[1], shape);
    }

    protected override Tensor?[] Backward(Tensor g)
    {
        var zero = Tensor.Zeros([], g.DType);
        return [SumToShape(Tensor.Where(condition, g, zero), InputShapes[0]), SumToShape(Tensor.Where(condition, zero, g), InputShapes[1])];
    }

    protected override Tensor? Jvp(Tensor[] x, Tensor y, Tensor?[] t) =>
        Tensor.Where(condition, OrZeros(t[0], x[0]), OrZeros(t[1], x[1])).Expand(y._shape);
}
