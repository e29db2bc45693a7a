using Fovea.Backends;

namespace Fovea.Ops;

/// <summary>d/dx erf x = (2/√π)·e^(−x²).</summary>
internal sealed class ErfFunction() : ElementwiseFunction(UnaryOp.Erf)
{
    protected override Tensor Derivative(Tensor x, Tensor y) => x.Square().Neg().Exp().Mul(2 / Math.Sqrt(Math.PI));
}
