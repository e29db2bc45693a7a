using Fovea.Backends;

namespace Fovea.Ops;

/// <summary>
/// The fully connected layer y = x·Wᵀ + b as one node, for x of shape [..., in], W [out, in], b [out].
/// With the leading dims of x flattened into rows X [rows, in] and G = dL/dy [rows, out], the seeds' matrix
/// Jacobian rule gives dL/dX = G·W, dL/dW = Gᵀ·X and dL/db = Σ_rows G.
/// <para>
/// One node instead of transpose, matmul and add: fewer graph objects per layer, and dL/dW comes out of the GEMM
/// already laid out as W ([out, in], contiguous), where the transpose node would hand the optimizer a strided
/// view that it must copy on every step.
/// </para>
/// </summary>
internal sealed class LinearFunction : Function
{
    public override string Name => "Linear";

    protected override Tensor Forward(Tensor[] x)
    {
        var (input, w) = (x[0], x[1]);
        SaveForBackward(input, w);
        int outF = w._shape[0], inF = w._shape[1], rows = input.Numel / Math.Max(1, inF);
        var outShape = input._shape.ToArray();
        if (outShape.Length == 0) outShape = [outF];
        else outShape[^1] = outF;
        // Wᵀ as a [1, in, out] view: GEMM reads it column-major, no copy.
        var y = Backend.Current.BatchedMatMul(input.ReshapeRaw([1, rows, inF]), w.PermuteRaw([1, 0]).ReshapeRaw([1, inF, outF]));
        y = y.ReshapeRaw(outShape);
        if (x.Length <= 2) return y;
        var withBias = Backend.Current.Binary(BinaryOp.Add, y, x[2], outShape);
        // The product without the bias is dead: the next buffer of its size (the activation after this layer, or a
        // gradient of the backward) reuses it while it is still in cache.
        StoragePool.Recycle(y);
        return withBias;
    }

    protected override Tensor?[] Backward(Tensor g)
    {
        var (input, w) = (Saved[0], Saved[1]);
        int outF = w._shape[0], inF = w._shape[1], rows = input.Numel / Math.Max(1, inF);
        // Written with tensor ops, so that with create_graph the gradients are themselves differentiable.
        var g2 = g.Reshape(rows, outF);
        var grads = new Tensor?[InputCount];
        if (NeedsInputGrad(0)) grads[0] = g2.MatMul(w).Reshape(input.Shape);
        if (NeedsInputGrad(1)) grads[1] = g2.T.MatMul(input.Reshape(rows, inF));
        if (InputCount > 2 && NeedsInputGrad(2)) grads[2] = g2.Sum(0);
        return grads;
    }

    protected override Tensor? Jvp(Tensor[] x, Tensor y, Tensor?[] t)
    {
        Tensor? d = t[0]?.MatMul(x[1].T);
        if (t[1] is { } tw) d = d is null ? x[0].MatMul(tw.T) : d.Add(x[0].MatMul(tw.T));
        if (t.Length > 2 && t[2] is { } tb) d = d is null ? tb.Expand(y.Shape) : d.Add(tb);
        return d;
    }
}
