using Fovea.Backends;

namespace Fovea.Ops;

/// <summary>
/// Layer normalisation (Ba et al. 2016) over the trailing dims <c>normalizedShape</c>: per sample (row of D values),
/// y = (x − μ)·σ̂⁻¹·γ + β with σ̂ = √(σ² + eps), as the backend's fused <see cref="IBackend.LayerNormForward"/> and
/// <see cref="IBackend.LayerNormBackward"/>. Inputs: x, then γ and β (each of the normalized shape) where present.
/// With x̂ = (x − μ)/σ̂ and ĝ = g·γ: dβ = Σ g, dγ = Σ g·x̂ over the rows, dx = (1/σ̂)·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂)) along
/// each row (the batch-norm gradient with the row in place of the channel). Plain backward runs the backend primitive;
/// when the backward is itself differentiated (createGraph), or the gradient comes in another dtype, it runs the same
/// formula in tensor ops on x, so second derivatives work, and so does the forward mode.
/// </summary>
internal sealed class LayerNormFunction(int[] normalizedShape, double eps, bool hasWeight, bool hasBias) : Function
{
    public override string Name => "LayerNorm";

    /// <summary>Values per row: the product of the normalized shape.</summary>
    private int Normalized => normalizedShape.Aggregate(1, (a, b) => a * b);

    private Tensor? Weight(IReadOnlyList<Tensor> inputs) => hasWeight ? inputs[1] : null;

    private Tensor? Bias(IReadOnlyList<Tensor> inputs) => hasBias ? inputs[hasWeight ? 2 : 1] : null;

    protected override Tensor Forward(Tensor[] inputs)
    {
        var (y, mean, invStd) = Backend.Current.LayerNormForward(inputs[0], Normalized, Weight(inputs), Bias(inputs), eps);
        SaveForBackward(hasWeight ? [inputs[0], mean, invStd, inputs[1]] : [inputs[0], mean, invStd]);
        // The statistics are this node's alone: their buffers go back to the pool now when nothing will run backward,
        // or once the backward is done with them.
        StoragePool.Recycle(mean);
        StoragePool.Recycle(invStd);
        return y;
    }

    protected override Tensor?[] Backward(Tensor g)
    {
        var x = Saved[0];
        var w = hasWeight ? Saved[3] : null;
        Tensor dx;
        Tensor? dw = null, db = null;
        if (GradMode.IsEnabled || g.DType != x.DType)
        {
            var (xhat, invStd, dims) = Normalised(x);
            var dxhat = w is null ? g : g.Mul(w);
            dx = invStd.Mul(dxhat.Sub(dxhat.Mean(dims, keepDim: true)).Sub(xhat.Mul(dxhat.Mul(xhat).Mean(dims, keepDim: true))));
            var rows = Enumerable.Range(0, x.Rank - normalizedShape.Length).ToArray();
            if (hasWeight) dw = rows.Length == 0 ? g.Mul(xhat) : g.Mul(xhat).Sum(rows);
            if (hasBias) db = rows.Length == 0 ? g : g.Sum(rows);
        }
        else
        {
            var (gx, gw, gb) = Backend.Current.LayerNormBackward(g, x, Normalized, w, Saved[1], Saved[2]);
            dx = gx;
            if (hasWeight) dw = gw.Reshape(normalizedShape);
            if (hasBias) db = gb.Reshape(normalizedShape);
        }
        return (hasWeight, hasBias) switch
        {
            (true, true) => [dx, dw, db],
            (true, false) => [dx, dw],
            (false, true) => [dx, db],
            _ => [dx],
        };
    }

    /// <summary>x̂ and 1/σ̂ recomputed from x with tensor ops, so they carry x's graph when differentiated again.</summary>
    private (Tensor XHat, Tensor InvStd, int[] Dims) Normalised(Tensor x)
    {
        var dims = Enumerable.Range(x.Rank - normalizedShape.Length, normalizedShape.Length).ToArray();
        var centered = x.Sub(x.Mean(dims, keepDim: true));
        var invStd = centered.Square().Mean(dims, keepDim: true).Add(eps).Rsqrt();
        return (centered.Mul(invStd), invStd, dims);
    }

    protected override Tensor? Jvp(Tensor[] inputs, Tensor output, Tensor?[] tangents)
    {
        var x = inputs[0];
        var w = Weight(inputs);
        var (xhat, invStd, dims) = Normalised(x);
        Tensor? dy = null;
        if (tangents[0] is { } tx)
        {
            // d x̂ = (1/σ̂)·(dx − mean(dx) − x̂·mean(dx·x̂)).
            var dxhat = invStd.Mul(tx.Sub(tx.Mean(dims, keepDim: true)).Sub(xhat.Mul(tx.Mul(xhat).Mean(dims, keepDim: true))));
            dy = w is null ? dxhat : dxhat.Mul(w);
        }
        if (hasWeight && tangents[1] is { } tw) dy = dy is null ? xhat.Mul(tw) : dy.Add(xhat.Mul(tw));
        if (hasBias && tangents[hasWeight ? 2 : 1] is { } tb) dy = (dy ?? Tensor.ZerosLike(output)).Add(tb);
        return dy?.Expand(output._shape);
    }
}
