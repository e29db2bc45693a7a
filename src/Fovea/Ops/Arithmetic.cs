using Fovea.Backends;
using static Fovea.Ops.Broadcasting;

namespace Fovea.Ops;

/// <summary>a + b. d/da = 1, d/db = 1 ("add distributes"); broadcast dims are summed back.</summary>
internal sealed class AddFunction : Function
{
    protected override Tensor Forward(Tensor[] x) => Backend.Current.Binary(BinaryOp.Add, x[0], x[1], ShapeChecks.Broadcast("add", x[0]._shape, x[1]._shape));
    protected override Tensor?[] Backward(Tensor g) => [SumToShape(g, InputShapes[0]), SumToShape(g, InputShapes[1])];
    protected override Tensor? Jvp(Tensor[] x, Tensor y, Tensor?[] t) => OrZeros(t[0], x[0]).Add(OrZeros(t[1], x[1])).Expand(y._shape);
}

/// <summary>a − b. d/da = 1, d/db = −1.</summary>
internal sealed class SubFunction : Function
{
    protected override Tensor Forward(Tensor[] x) => Backend.Current.Binary(BinaryOp.Sub, x[0], x[1], ShapeChecks.Broadcast("sub", x[0]._shape, x[1]._shape));
    protected override Tensor?[] Backward(Tensor g) => [SumToShape(g, InputShapes[0]), SumToShape(g.Neg(), InputShapes[1])];
    protected override Tensor? Jvp(Tensor[] x, Tensor y, Tensor?[] t) => OrZeros(t[0], x[0]).Sub(OrZeros(t[1], x[1])).Expand(y._shape);
}

/// <summary>a·b. d/da = b, d/db = a ("mul switches").</summary>
internal sealed class MulFunction : Function
{
    protected override Tensor Forward(Tensor[] x)
    {
        SaveForBackward(x[0], x[1]);
        return Backend.Current.Binary(BinaryOp.Mul, x[0], x[1], ShapeChecks.Broadcast("mul", x[0]._shape, x[1]._shape));
    }

    protected override Tensor?[] Backward(Tensor g)
    {
        var (a, b) = (Saved[0], Saved[1]);
        return [SumToShape(g.Mul(b), InputShapes[0]), SumToShape(g.Mul(a), InputShapes[1])];
    }

    protected override Tensor? Jvp(Tensor[] x, Tensor y, Tensor?[] t) =>
        OrZeros(t[0], x[0]).Mul(x[1]).Add(x[0].Mul(OrZeros(t[1], x[1]))).Expand(y._shape);
}

/// <summary>a / b. d/da = 1/b, d/db = −a/b².</summary>
internal sealed class DivFunction : Function
{
    protected override Tensor Forward(Tensor[] x)
    {
        SaveForBackward(x[0], x[1]);
        return Backend.Current.Binary(BinaryOp.Div, x[0], x[1], ShapeChecks.Broadcast("div", x[0]._shape, x[1]._shape));
    }

    protected override Tensor?[] Backward(Tensor g)
    {
        var (a, b) = (Saved[0], Saved[1]);
        var ga = g.Div(b);
        return [SumToShape(ga, InputShapes[0]), SumToShape(ga.Mul(a).Div(b).Neg(), InputShapes[1])];
    }

    protected override Tensor? Jvp(Tensor[] x, Tensor y, Tensor?[] t) =>
        OrZeros(t[0], x[0]).Sub(y.Mul(OrZeros(t[1], x[1]))).Div(x[1]).Expand(y._shape);
}

/// <summary>−x. d/dx = −1.</summary>
internal sealed class NegFunction : Function
{
    protected override Tensor Forward(Tensor[] x) => Backend.Current.Unary(UnaryOp.Neg, x[0]);
    protected override Tensor?[] Backward(Tensor g) => [g.Neg()];
    protected override Tensor? Jvp(Tensor[] x, Tensor y, Tensor?[] t) => t[0]?.Neg();
}

/// <summary>a^b. d/da = b·a^(b−1), d/db = a^b·ln a (taken as 0 where a = 0, as PyTorch does).</summary>
internal sealed class PowFunction : Function
{
    protected override Tensor Forward(Tensor[] x)
    {
        var y = Backend.Current.Binary(BinaryOp.Pow, x[0], x[1], ShapeChecks.Broadcast("pow", x[0]._shape, x[1]._shape));
        SaveForBackward(x[0], x[1], y);
        return y;
    }

    protected override Tensor?[] Backward(Tensor g)
    {
        var (a, b, y) = (Saved[0], Saved[1], Saved[2]);
        var ga = g.Mul(b).Mul(a.Pow(b.Sub(1)));
        Tensor? gb = null;
        if (NeedsInputGrad(1)) gb = SumToShape(g.Mul(LogBase(a, y)), InputShapes[1]);
        return [SumToShape(ga, InputShapes[0]), gb];
    }

    private static Tensor LogBase(Tensor a, Tensor y)
    {
        var zero = a.Eq(0);
        return Tensor.Where(zero, Tensor.ZerosLike(y), y.Mul(Tensor.Where(zero, Tensor.OnesLike(a), a).Log()));
    }

    protected override Tensor? Jvp(Tensor[] x, Tensor y, Tensor?[] t)
    {
        var (a, b) = (x[0], x[1]);
        var d = OrZeros(t[0], a).Mul(b).Mul(a.Pow(b.Sub(1)));
        if (t[1] is { } tb) d = d.Add(tb.Mul(LogBase(a, y)));
        return d.Expand(y._shape);
    }
}
