using Fovea.Backends;

namespace Fovea.Ops;

/// <summary>
/// Batched matrix product [B, M, K] @ [B, K, N]. For Y = A·B: dL/dA = dL/dY · Bᵀ and dL/dB = Aᵀ · dL/dY
/// (the seeds' matrix Jacobian rule, never forming the Jacobian itself).
/// </summary>
internal sealed class BatchedMatMulFunction : Function
{
    public override string Name => "MatMul";

    protected override Tensor Forward(Tensor[] x)
    {
        SaveForBackward(x[0], x[1]);
        return Backend.Current.BatchedMatMul(x[0], x[1]);
    }

    protected override Tensor?[] Backward(Tensor g)
    {
        var (a, b) = (Saved[0], Saved[1]);
        Tensor? ga = NeedsInputGrad(0) ? g.MatMul(b.Transpose(1, 2)) : null;
        Tensor? gb = NeedsInputGrad(1) ? a.Transpose(1, 2).MatMul(g) : null;
        return [ga, gb];
    }

    protected override Tensor? Jvp(Tensor[] x, Tensor y, Tensor?[] t)
    {
        Tensor? d = t[0] is { } ta ? ta.MatMul(x[1]) : null;
        if (t[1] is { } tb) d = d is null ? x[0].MatMul(tb) : d.Add(x[0].MatMul(tb));
        return d;
    }
}
