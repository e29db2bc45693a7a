using Fovea.Backends;

namespace Fovea.Ops;

/// <summary>
/// Batch normalisation with batch statistics, y = (x − μ)·σ̂⁻¹·γ + β per channel (dim 1) with σ̂ = √(σ² + eps),
/// as the backend's fused <see cref="IBackend.BatchNormForward"/> and <see cref="IBackend.BatchNormBackward"/>.
/// Inputs: x [N, C, ...], γ [C], β [C]. With x̂ = (x − μ)/σ̂ and M = N·(spatial size):
/// dβ = Σ g, dγ = Σ g·x̂, dx = (γ/σ̂)·(g − Σg/M − x̂·Σ(g·x̂)/M) (Ioffe and Szegedy 2015, eq. in §3).
/// Plain backward runs that formula as the backend primitive; when the backward is itself differentiated
/// (createGraph) it runs the same formula written in tensor ops on x, so second derivatives work.
/// </summary>
internal sealed class BatchNormTrainFunction(double eps) : Function
{
    public override string Name => "BatchNorm";

    /// <summary>The batch mean [C] (set by the forward pass).</summary>
    public Tensor? BatchMean { get; private set; }

    /// <summary>The biased batch variance [C] (set by the forward pass).</summary>
    public Tensor? BatchVar { get; private set; }

    /// <summary>μ and σ² in float64, as the backend computed them (the backward pass reuses them).</summary>
    private Tensor? _mean, _var;

    protected override Tensor Forward(Tensor[] inputs)
    {
        var (y, mean, variance) = Backend.Current.BatchNormForward(inputs[0], inputs[1], inputs[2], eps);
        (_mean, _var) = (mean, variance);
        BatchMean = mean.To(inputs[0].DType);
        BatchVar = variance.To(inputs[0].DType);
        SaveForBackward(inputs[0], inputs[1]);
        return y;
    }

    protected override Tensor?[] Backward(Tensor g)
    {
        var (x, w) = (Saved[0], Saved[1]);
        if (GradMode.IsEnabled) return CompositeBackward(x, w, g);
        var (dx, dw, db) = Backend.Current.BatchNormBackward(g, x, w, _mean!, _var!, eps);
        return [dx, dw, db];
    }

    /// <summary>x̂ and 1/σ̂ recomputed from x with tensor ops, so they carry x's graph when differentiated again.</summary>
    private (Tensor XHat, Tensor InvStd, int[] Dims, int[] ChannelShape) Normalised(Tensor x)
    {
        var dims = Enumerable.Range(0, x.Rank).Where(d => d != 1).ToArray();
        var channelShape = new int[x.Rank];
        Array.Fill(channelShape, 1);
        channelShape[1] = x._shape[1];
        var centered = x.Sub(x.Mean(dims, keepDim: true));
        var invStd = centered.Square().Mean(dims, keepDim: true).Add(eps).Rsqrt();
        return (centered.Mul(invStd), invStd, dims, channelShape);
    }

    private Tensor?[] CompositeBackward(Tensor x, Tensor w, Tensor g)
    {
        var (xhat, invStd, dims, channelShape) = Normalised(x);
        var dxhat = g.Mul(w.Reshape(channelShape));
        var dx = invStd.Mul(dxhat.Sub(dxhat.Mean(dims, keepDim: true)).Sub(xhat.Mul(dxhat.Mul(xhat).Mean(dims, keepDim: true))));
        return [dx, g.Mul(xhat).Sum(dims), g.Sum(dims)];
    }

    protected override Tensor? Jvp(Tensor[] inputs, Tensor output, Tensor?[] tangents)
    {
        var (x, w) = (inputs[0], inputs[1]);
        var (xhat, invStd, dims, channelShape) = Normalised(x);
        Tensor? dy = null;
        if (tangents[0] is { } tx)
        {
            // d x̂ = (1/σ̂)·(dx − mean(dx) − x̂·mean(dx·x̂)).
            var dxhat = invStd.Mul(tx.Sub(tx.Mean(dims, keepDim: true)).Sub(xhat.Mul(tx.Mul(xhat).Mean(dims, keepDim: true))));
            dy = dxhat.Mul(w.Reshape(channelShape));
        }
        if (tangents[1] is { } tw) dy = dy is null ? xhat.Mul(tw.Reshape(channelShape)) : dy.Add(xhat.Mul(tw.Reshape(channelShape)));
        if (tangents[2] is { } tb) dy = (dy ?? Tensor.ZerosLike(output)).Add(tb.Reshape(channelShape));
        return dy?.Expand(output._shape);
    }
}
