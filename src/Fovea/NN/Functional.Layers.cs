namespace Fovea.NN;

public static partial class Functional
{
    /// <summary>y = x·Wᵀ + b for x [..., in], W [out, in], b [out] (PyTorch's <c>F.linear</c>).</summary>
    public static Tensor Linear(Tensor x, Tensor weight, Tensor? bias = null)
    {
        if (weight.Rank != 2)
            throw new ShapeException("linear", $"weight must be [out, in], got {ShapeChecks.Format(weight.Shape)}");
        ShapeChecks.Features($"linear (weight {ShapeChecks.Format(weight.Shape)})", x.Shape, weight.Size(1));
        if (!x.DType.IsFloating() || weight.DType != x.DType || (bias is not null && bias.DType != x.DType))
            throw new DTypeException("linear", $"input, weight and bias must share one floating dtype, got {x.DType.Name()}, {weight.DType.Name()}{(bias is null ? "" : ", " + bias.DType.Name())}");
        if (bias is null) return new Ops.LinearFunction().Apply(x, weight);
        if (bias.Rank != 1 || bias.Size(0) != weight.Size(0))
            throw new ShapeException("linear", $"bias must be [{weight.Size(0)}] for weight {ShapeChecks.Format(weight.Shape)}, got {ShapeChecks.Format(bias.Shape)}");
        return new Ops.LinearFunction().Apply(x, weight, bias);
    }

    /// <summary>Merges dims <paramref name="startDim"/>..<paramref name="endDim"/> into one (a view when possible).</summary>
    public static Tensor Flatten(Tensor x, int startDim = 1, int endDim = -1) => x.Flatten(startDim, endDim);

    /// <summary>
    /// Inverted dropout: in training, each element is zeroed with probability <paramref name="p"/> and the
    /// survivors are scaled by 1/(1 − p), so the expected value is unchanged and evaluation needs no rescaling.
    /// Outside training (or with p = 0) it returns <paramref name="x"/>. The mask comes from <paramref name="generator"/>.
    /// </summary>
    public static Tensor Dropout(Tensor x, double p = 0.5, bool training = true, Generator? generator = null)
    {
        if (!(p >= 0 && p <= 1))
            throw new ArgumentOutOfRangeException(nameof(p), p, "dropout: p must be in [0, 1]");
        if (!training || p == 0) return x;
        if (p == 1) return x.Mul(0.0);
        var keep = Tensor.Bernoulli(x.Shape, 1 - p, generator, x.DType).Div(1 - p);
        return x.Mul(keep);
    }

    /// <summary>
    /// Maxout (Goodfellow et al. 2013): yⱼ = maxₖ (wⱼₖᵀx + bⱼₖ) over <paramref name="pieces"/> affine pieces, the
    /// seeds' max(w₁ᵀx + b₁, w₂ᵀx + b₂). <paramref name="weight"/> is [out·pieces, in] with the pieces of output j
    /// in rows j·pieces … j·pieces + pieces − 1; the gradient goes to the winning piece ("max routes").
    /// </summary>
    public static Tensor Maxout(Tensor x, Tensor weight, Tensor? bias, int pieces)
    {
        if (pieces < 1) throw new ArgumentOutOfRangeException(nameof(pieces), pieces, "maxout: pieces must be at least 1");
        if (weight.Rank != 2 || weight.Size(0) % pieces != 0)
            throw new ShapeException("maxout", $"weight must be [out * {pieces}, in], got {ShapeChecks.Format(weight.Shape)}");
        var z = Linear(x, weight, bias);
        var shape = z.Shape;
        int[] split = [.. shape[..^1], shape[^1] / pieces, pieces];
        return z.Reshape(split).Max(-1).Values;
    }

    /// <summary>
    /// Batch normalisation over every dim but the channel dim 1 (Ioffe and Szegedy 2015):
    /// y = (x − μ)/√(σ² + eps)·γ + β. In training μ and σ² are the batch mean and biased variance, and the
    /// running statistics (when given) move towards the batch's: r ← (1 − momentum)·r + momentum·s, with the
    /// unbiased variance n/(n − 1)·σ² for the running variance, as PyTorch does. Otherwise the running
    /// statistics normalise. The running tensors are updated in place, outside the graph.
    /// </summary>
    public static Tensor BatchNorm(Tensor x, Tensor? runningMean, Tensor? runningVar, Tensor? weight = null, Tensor? bias = null,
        bool training = false, double momentum = 0.1, double eps = 1e-5)
    {
        if (x.Rank < 2)
            throw new ShapeException("batch_norm", $"expected input [N, C, ...], got {ShapeChecks.Format(x.Shape)}");
        int c = x.Size(1);
        foreach (var (t, what) in new[] { (runningMean, "running_mean"), (runningVar, "running_var"), (weight, "weight"), (bias, "bias") })
            if (t is not null && (t.Rank != 1 || t.Size(0) != c))
                throw new ShapeException("batch_norm", $"{what} must be [{c}] for input {ShapeChecks.Format(x.Shape)}, got {ShapeChecks.Format(t.Shape)}");
        foreach (var t in new[] { weight, bias })
            if (t is not null && t.DType != x.DType)
                throw new DTypeException("batch_norm", $"weight and bias must have the input's dtype {x.DType.Name()}, got {t.DType.Name()}");
        var channelShape = new int[x.Rank];
        Array.Fill(channelShape, 1);
        channelShape[1] = c;
        if (training || runningMean is null || runningVar is null)
        {
            int n = x.Numel / Math.Max(c, 1);
            if (n <= 1 && training)
                throw new ShapeException("batch_norm", $"expected more than 1 value per channel when training, got input {ShapeChecks.Format(x.Shape)}");
            if (!x.DType.IsFloating())
                throw new DTypeException("batch_norm", $"expected a floating input, got {x.DType.Name()}");
            // Absent affine parameters are the identity: γ = 1, β = 0 (constants, outside the graph).
            var f = new Ops.BatchNormTrainFunction(eps);
            var y = f.Apply(x, weight ?? Tensor.Ones([c], x.DType), bias ?? Tensor.Zeros([c], x.DType));
            if (training && runningMean is not null && runningVar is not null)
            {
                using var _ = GradMode.Disable();
                var unbiased = f.BatchVar!.Mul((double)n / (n - 1)).To(runningVar.DType);
                runningMean.CopyFrom(runningMean.Mul(1 - momentum).Add(f.BatchMean!.To(runningMean.DType).Mul(momentum)));
                runningVar.CopyFrom(runningVar.Mul(1 - momentum).Add(unbiased.Mul(momentum)));
            }
            return y;
        }
        // Evaluation folds the statistics and the affine map into one scale and shift per channel: y = x·a + s,
        // a = γ/√(σ² + eps), s = β − μ·a (two passes over x instead of four).
        var scale = runningVar.Add(eps).Rsqrt();
        if (weight is not null) scale = scale.Mul(weight);
        var shift = runningMean.Mul(scale).Neg();
        if (bias is not null) shift = shift.Add(bias);
        return x.Mul(scale.Reshape(channelShape)).Add(shift.Reshape(channelShape));
    }

    /// <summary>
    /// Layer normalisation (Ba et al. 2016) over the trailing dims <paramref name="normalizedShape"/>:
    /// y = (x − μ)/√(σ² + eps)·γ + β with μ, σ² (biased) computed per sample over those dims, as one fused op
    /// (<see cref="Ops.LayerNormFunction"/>).
    /// </summary>
    public static Tensor LayerNorm(Tensor x, int[] normalizedShape, Tensor? weight = null, Tensor? bias = null, double eps = 1e-5)
    {
        if (normalizedShape.Length == 0)
            throw new ShapeException("layer_norm", "normalized shape must name at least one trailing dim, got []");
        ShapeChecks.Trailing("layer_norm", x.Shape, normalizedShape);
        foreach (var (t, what) in new[] { (weight, "weight"), (bias, "bias") })
            if (t is not null && !t.Shape.SequenceEqual(normalizedShape))
                throw new ShapeException("layer_norm", $"{what} must have the normalized shape {ShapeChecks.Format(normalizedShape)}, got {ShapeChecks.Format(t.Shape)}");
        Tensor[] inputs = [x, .. weight is null ? Array.Empty<Tensor>() : [weight], .. bias is null ? Array.Empty<Tensor>() : [bias]];
        return new Ops.LayerNormFunction((int[])normalizedShape.Clone(), eps, weight is not null, bias is not null).Apply(inputs);
    }
}
