using Fovea.Backends;

namespace Fovea.Ops;

/// <summary>Base for y = f(x) whose derivative is written as f'(x) from x and y: backward g·f', forward t·f'.</summary>
internal abstract class ElementwiseFunction(UnaryOp op) : Function
{
    public override string Name => op.ToString();

    protected override Tensor Forward(Tensor[] x)
    {
        var y = Backend.Current.Unary(op, x[0]);
        SaveForBackward(x[0], y);
        return y;
    }

    /// <summary>f'(x), written with differentiable tensor ops so second derivatives work.</summary>
    protected abstract Tensor Derivative(Tensor x, Tensor y);

    protected override Tensor?[] Backward(Tensor g) => [g.Mul(Derivative(Saved[0], Saved[1]))];
    protected override Tensor? Jvp(Tensor[] x, Tensor y, Tensor?[] t) => t[0]?.Mul(Derivative(x[0], y));
}

/// <summary>d/dx e^x = e^x = y.</summary>
internal sealed class ExpFunction() : ElementwiseFunction(UnaryOp.Exp)
{
    protected override Tensor Derivative(Tensor x, Tensor y) => y;
}

/// <summary>d/dx ln x = 1/x.</summary>
internal sealed class LogFunction() : ElementwiseFunction(UnaryOp.Log)
{
    protected override Tensor Derivative(Tensor x, Tensor y) => x.Reciprocal();
}

/// <summary>d/dx √x = 1/(2√x) = 0.5/y.</summary>
internal sealed class SqrtFunction() : ElementwiseFunction(UnaryOp.Sqrt)
{
    protected override Tensor Derivative(Tensor x, Tensor y) => y.Reciprocal().Mul(0.5);
}

/// <summary>d/dx x^(−1/2) = −½·x^(−3/2) = −½·y³.</summary>
internal sealed class RsqrtFunction() : ElementwiseFunction(UnaryOp.Rsqrt)
{
    protected override Tensor Derivative(Tensor x, Tensor y) => y.Mul(y).Mul(y).Mul(-0.5);
}

/// <summary>d/dx sin x = cos x.</summary>
internal sealed class SinFunction() : ElementwiseFunction(UnaryOp.Sin)
{
    protected override Tensor Derivative(Tensor x, Tensor y) => x.Cos();
}

/// <summary>d/dx cos x = −sin x.</summary>
internal sealed class CosFunction() : ElementwiseFunction(UnaryOp.Cos)
{
    protected override Tensor Derivative(Tensor x, Tensor y) => x.Sin().Neg();
}

/// <summary>d/dx tanh x = 1 − y².</summary>
internal sealed class TanhFunction() : ElementwiseFunction(UnaryOp.Tanh)
{
    protected override Tensor Derivative(Tensor x, Tensor y) => y.Mul(y).Neg().Add(1);
}

/// <summary>d/dx σ(x) = y·(1 − y).</summary>
internal sealed class SigmoidFunction() : ElementwiseFunction(UnaryOp.Sigmoid)
{
    protected override Tensor Derivative(Tensor x, Tensor y) => y.Mul(y.Neg().Add(1));
}

/// <summary>d/dx |x| = sign(x) (0 at 0, as PyTorch).</summary>
internal sealed class AbsFunction() : ElementwiseFunction(UnaryOp.Abs)
{
    protected override Tensor Derivative(Tensor x, Tensor y) => x.Sign();
}

/// <summary>
/// d/dx max(x, 0) = 1 where x &gt; 0, else 0 ("max routes"). y = max(x, 0) is positive exactly where x is, so the
/// backward needs only the output: the input (in a network, the batch norm's or the residual sum's output, which
/// nothing else keeps) is not saved, and is freed as soon as the next layer has read it.
/// </summary>
internal sealed class ReluFunction() : ElementwiseFunction(UnaryOp.Relu)
{
    protected override Tensor Forward(Tensor[] x)
    {
        var y = Backend.Current.Unary(UnaryOp.Relu, x[0]);
        SaveForBackward(y);
        return y;
    }

    /// <summary>[y &gt; 0], which is [x &gt; 0].</summary>
    protected override Tensor Derivative(Tensor x, Tensor y) => y.Gt(0).To(y.DType);

    /// <summary>
    /// g·[y &gt; 0] in one fused pass when no graph is being built; with create_graph it stays a product of tensor
    /// ops so that it can be differentiated again.
    /// </summary>
    protected override Tensor?[] Backward(Tensor g)
    {
        var y = Saved[0];
        if (GradMode.IsEnabled || g.DType != y.DType) return [g.Mul(Derivative(y, y))];
        return [Backend.Current.Binary(BinaryOp.MaskPositive, g, y, ShapeChecks.Broadcast("relu backward", g._shape, y._shape))];
    }
}

/// <summary>sign(x): piecewise constant, derivative 0.</summary>
internal sealed class SignFunction() : ElementwiseFunction(UnaryOp.Sign)
{
    protected override Tensor Derivative(Tensor x, Tensor y) => Tensor.ZerosLike(x);
}
