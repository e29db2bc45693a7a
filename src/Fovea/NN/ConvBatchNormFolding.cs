namespace Fovea.NN;

/// <summary>
/// Inference-time folding of a batch normalisation into the convolution before it. In evaluation the batch norm is
/// a per-channel affine map of the convolution's output, so the two are one convolution:
/// γ·(conv(x, W) + b − μ)/√(σ² + ε) + β = conv(x, W′) + b′, with a = γ/√(σ² + ε), W′[o] = a[o]·W[o] and
/// b′ = a·(b − μ) + β (Jacob et al. 2018, §3.2). That saves the two passes over the activations (and the two
/// tensors) of the separate batch norm.
/// <para>
/// The folded pair is computed once (in float64, rounded once to the weight's dtype) and cached; it is recomputed
/// when any of the tensors it came from is replaced or changed in place (an optimizer step, a loaded state dict, a
/// training batch updating the running statistics: each bumps its storage's version). Folding applies only where
/// nothing can tell it happened: evaluation mode, gradients off (so no gradient has to reach W, γ or β), running
/// statistics tracked, zero padding, and no forward hooks on either module (a hook on the convolution must see the
/// unnormalised output). Everywhere else <see cref="Forward"/> runs the two modules as they are, so training is
/// unchanged.
/// </para>
/// </summary>
public sealed class ConvBatchNormFolding
{
    private readonly object _gate = new();
    private (Tensor? Tensor, int Version)[] _key = [];
    private double _eps = double.NaN;
    private Tensor? _weight, _bias;

    /// <summary>The folded (weight, bias) of a convolution followed by an evaluation-mode batch norm (see the class remarks).</summary>
    /// <param name="convWeight">The convolution weight [O, C/groups, kH, kW].</param>
    /// <param name="convBias">The convolution bias [O], or null.</param>
    /// <param name="runningMean">μ [O].</param>
    /// <param name="runningVar">σ² [O].</param>
    /// <param name="gamma">γ [O], or null for 1.</param>
    /// <param name="beta">β [O], or null for 0.</param>
    /// <param name="eps">ε added to the variance.</param>
    public static (Tensor Weight, Tensor Bias) Fold(Tensor convWeight, Tensor? convBias, Tensor runningMean, Tensor runningVar, Tensor? gamma, Tensor? beta, double eps)
    {
        ArgumentNullException.ThrowIfNull(convWeight);
        ArgumentNullException.ThrowIfNull(runningMean);
        ArgumentNullException.ThrowIfNull(runningVar);
        int o = convWeight.Rank > 0 ? convWeight.Size(0) : 0;
        foreach (var (t, what) in new[] { (convBias, "conv bias"), (runningMean, "running_mean"), (runningVar, "running_var"), (gamma, "weight"), (beta, "bias") })
            if (t is not null && (t.Rank != 1 || t.Size(0) != o))
                throw new ShapeException("fold_batch_norm", $"{what} must be [{o}] for the convolution weight {ShapeChecks.Format(convWeight.Shape)}, got {ShapeChecks.Format(t.Shape)}");
        using var _ = GradMode.Disable();
        var a = runningVar.To(DType.Float64).Add(eps).Rsqrt();
        if (gamma is not null) a = a.Mul(gamma.To(DType.Float64));
        var shift = (convBias is null ? runningMean.To(DType.Float64).Neg() : convBias.To(DType.Float64).Sub(runningMean.To(DType.Float64))).Mul(a);
        if (beta is not null) shift = shift.Add(beta.To(DType.Float64));
        var broadcast = new int[convWeight.Rank];
        Array.Fill(broadcast, 1);
        broadcast[0] = o;
        var weight = convWeight.To(DType.Float64).Mul(a.Reshape(broadcast)).To(convWeight.DType).Contiguous();
        return (weight, shift.To(convWeight.DType));
    }

    /// <summary>
    /// <see cref="Fold"/>, cached: the same tensors at the same versions with the same ε give the pair computed before.
    /// </summary>
    public (Tensor Weight, Tensor Bias) Folded(Tensor convWeight, Tensor? convBias, Tensor runningMean, Tensor runningVar, Tensor? gamma, Tensor? beta, double eps)
    {
        Tensor?[] sources = [convWeight, convBias, runningMean, runningVar, gamma, beta];
        lock (_gate)
        {
            if (_weight is not null && _bias is not null && eps.Equals(_eps) && _key.Length == sources.Length
                && sources.Select((t, k) => t is null ? _key[k].Tensor is null : ReferenceEquals(t, _key[k].Tensor) && t.Storage.Version == _key[k].Version).All(same => same))
                return (_weight, _bias);
            (_weight, _bias) = Fold(convWeight, convBias, runningMean, runningVar, gamma, beta, eps);
            _key = [.. sources.Select(t => (t, t is null ? 0 : t.Storage.Version))];
            _eps = eps;
            return (_weight, _bias);
        }
    }

    /// <summary>Forgets the cached pair (it is also recomputed by itself whenever a source tensor changes).</summary>
    public void Invalidate()
    {
        lock (_gate)
        {
            _weight = _bias = null;
            _key = [];
        }
    }

    /// <summary>
    /// True when <paramref name="conv"/> followed by <paramref name="norm"/> may run folded now: both in evaluation mode,
    /// gradients off, running statistics tracked, zero padding, matching channels and dtypes, and no forward hooks.
    /// </summary>
    public static bool CanFold(Conv2d conv, BatchNorm2d norm)
    {
        ArgumentNullException.ThrowIfNull(conv);
        ArgumentNullException.ThrowIfNull(norm);
        return !conv.Training && !norm.Training && !GradMode.IsEnabled && norm.TrackRunningStats
            && conv.PaddingMode == PaddingMode.Zeros && conv.OutChannels == norm.NumFeatures
            && norm.RunningMean!.DType == conv.Weight.DType && !conv.HasForwardHooks && !norm.HasForwardHooks;
    }

    /// <summary>
    /// norm(conv(<paramref name="input"/>)): one convolution with the folded weight and bias when <see cref="CanFold"/>
    /// allows, else the two modules called in turn (hooks and all).
    /// </summary>
    public Tensor Forward(Conv2d conv, BatchNorm2d norm, Tensor input)
    {
        if (!CanFold(conv, norm)) return norm.Call(conv.Call(input));
        var (weight, bias) = Folded(conv.Weight, conv.Bias, norm.RunningMean!, norm.RunningVar!, norm.Weight, norm.Bias, norm.Eps);
        return Functional.Conv2d(input, weight, bias, conv.StrideSize, conv.PaddingSize, conv.DilationSize, conv.Groups);
    }

    /// <summary>
    /// relu(norm(conv(<paramref name="input"/>)) + <paramref name="residual"/>), or relu(norm(conv(input))) without a
    /// residual: where <see cref="CanFold"/> allows, one convolution with the folded weight and bias that adds the
    /// residual and rectifies its output (<see cref="Functional.Conv2dRelu"/>), a residual block's last layer and its
    /// join in one; else the two modules called in turn (hooks and all), then <see cref="Functional.AddRelu"/> or the ReLU.
    /// </summary>
    public Tensor ForwardRelu(Conv2d conv, BatchNorm2d norm, Tensor input, Tensor? residual = null)
    {
        if (!CanFold(conv, norm))
        {
            var y = norm.Call(conv.Call(input));
            return residual is null ? y.Relu() : Functional.AddRelu(y, residual);
        }
        var (weight, bias) = Folded(conv.Weight, conv.Bias, norm.RunningMean!, norm.RunningVar!, norm.Weight, norm.Bias, norm.Eps);
        return Functional.Conv2dRelu(input, weight, bias, conv.StrideSize, conv.PaddingSize, conv.DilationSize, conv.Groups, residual);
    }

    /// <summary>
    /// pool(relu(norm(conv(<paramref name="input"/>)))): a network's stem and its pooling. Where <see cref="CanFold"/>
    /// allows and the pool has no forward hook, one call with the folded weight and bias
    /// (<see cref="Functional.Conv2dReluMaxPool2d"/>, which on the stem's shapes never writes the convolution's output);
    /// else <see cref="ForwardRelu"/> and the pool called in turn.
    /// </summary>
    public Tensor ForwardReluMaxPool(Conv2d conv, BatchNorm2d norm, MaxPool2d pool, Tensor input)
    {
        ArgumentNullException.ThrowIfNull(pool);
        if (!CanFold(conv, norm) || pool.HasForwardHooks) return pool.Call(ForwardRelu(conv, norm, input));
        var (weight, bias) = Folded(conv.Weight, conv.Bias, norm.RunningMean!, norm.RunningVar!, norm.Weight, norm.Bias, norm.Eps);
        return Functional.Conv2dReluMaxPool2d(input, weight, bias, conv.StrideSize, conv.PaddingSize, conv.DilationSize, conv.Groups,
            pool.KernelSize, pool.StrideSize, pool.PaddingSize, pool.DilationSize, pool.CeilMode);
    }
}
