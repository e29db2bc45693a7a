using Fovea.Backends;

namespace Fovea.Ops;

/// <summary>
/// Softmax yᵢ = e^(xᵢ − m) / Σⱼ e^(xⱼ − m) along one dim, or log-softmax yᵢ = xᵢ − m − log Σⱼ e^(xⱼ − m) (m the
/// slice's maximum, which leaves the values unchanged and keeps the exponentials finite), as the backend's fused
/// <see cref="IBackend.Softmax"/>. Both rules need only the output, which is all the node saves:
/// backward dx = y ⊙ (g − Σ g·y) for softmax (∂yᵢ/∂xⱼ = yᵢ(δᵢⱼ − yⱼ)), dx = g − e^y ⊙ Σ g for log-softmax; forward
/// mode dy = y ⊙ (t − Σ y·t) and dy = t − Σ e^y·t. Plain backward runs <see cref="IBackend.SoftmaxBackward"/>; when the
/// backward is itself differentiated (createGraph) it is the same formula in tensor ops on the saved output, whose
/// own node carries the dependence on x, so second derivatives work.
/// </summary>
internal sealed class SoftmaxFunction(int dim, bool log) : Function
{
    public override string Name => log ? "LogSoftmax" : "Softmax";

    protected override Tensor Forward(Tensor[] inputs)
    {
        var y = Backend.Current.Softmax(inputs[0], dim, log);
        SaveForBackward(y);
        return y;
    }

    protected override Tensor?[] Backward(Tensor g)
    {
        var y = Saved[0];
        if (!GradMode.IsEnabled && g.DType == y.DType) return [Backend.Current.SoftmaxBackward(g, y, dim, log)];
        return log ? [g.Sub(y.Exp().Mul(g.Sum(dim, keepDim: true)))] : [y.Mul(g.Sub(g.Mul(y).Sum(dim, keepDim: true)))];
    }

    protected override Tensor? Jvp(Tensor[] inputs, Tensor output, Tensor?[] tangents)
    {
        if (tangents[0] is not { } t) return null;
        var p = log ? output.Exp() : output;
        var mean = p.Mul(t).Sum(dim, keepDim: true);
        return log ? t.Sub(mean) : output.Mul(t.Sub(mean));
    }
}
