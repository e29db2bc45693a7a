namespace Fovea.NN;

/// <summary>
/// Shared state of <see cref="BatchNorm1d"/> and <see cref="BatchNorm2d"/>, laid out as PyTorch's: parameters
/// <c>weight</c> (γ, ones) and <c>bias</c> (β, zeros) when affine; buffers <c>running_mean</c> (zeros),
/// <c>running_var</c> (ones) and <c>num_batches_tracked</c> (a 0-d int32 count) when tracking running statistics.
/// </summary>
public abstract class BatchNorm : Module<Tensor, Tensor>
{
    /// <inheritdoc/>
    public override bool HoldsNoActivations => true;

    /// <summary>Channels C.</summary>
    public int NumFeatures { get; }

    /// <summary>Added to the variance before the square root.</summary>
    public double Eps { get; }

    /// <summary>Weight of the newest batch in the running averages; null for a cumulative (equal-weight) average.</summary>
    public double? Momentum { get; }

    /// <summary>Whether γ and β are learned.</summary>
    public bool Affine { get; }

    /// <summary>Whether running statistics are kept (if not, batch statistics are used in evaluation too).</summary>
    public bool TrackRunningStats { get; }

    /// <summary>Registers the parameters and buffers.</summary>
    protected BatchNorm(int numFeatures, double eps, double? momentum, bool affine, bool trackRunningStats, DType dtype)
    {
        if (numFeatures < 1) throw new ArgumentOutOfRangeException(nameof(numFeatures), numFeatures, $"{GetType().Name}: needs at least one channel");
        NumFeatures = numFeatures;
        Eps = eps;
        Momentum = momentum;
        Affine = affine;
        TrackRunningStats = trackRunningStats;
        if (affine)
        {
            RegisterParameter("weight", Tensor.Ones([numFeatures], dtype));
            RegisterParameter("bias", Tensor.Zeros([numFeatures], dtype));
        }
        if (trackRunningStats)
        {
            RegisterBuffer("running_mean", Tensor.Zeros([numFeatures], dtype));
            RegisterBuffer("running_var", Tensor.Ones([numFeatures], dtype));
            RegisterBuffer("num_batches_tracked", Tensor.Zeros([], DType.Int32));
        }
    }

    /// <summary>γ [C], or null when not affine.</summary>
    public Tensor? Weight => Affine ? GetParameter("weight") : null;

    /// <summary>β [C], or null when not affine.</summary>
    public Tensor? Bias => Affine ? GetParameter("bias") : null;

    /// <summary>The running mean [C], or null when not tracked.</summary>
    public Tensor? RunningMean => TrackRunningStats ? GetBuffer("running_mean") : null;

    /// <summary>The running (unbiased) variance [C], or null when not tracked.</summary>
    public Tensor? RunningVar => TrackRunningStats ? GetBuffer("running_var") : null;

    /// <summary>How many training batches have updated the running statistics.</summary>
    public int NumBatchesTracked => TrackRunningStats ? (int)GetBuffer("num_batches_tracked").ToScalar() : 0;

    /// <summary>Throws when <paramref name="input"/> does not have this layer's layout.</summary>
    protected abstract void CheckInput(Tensor input);

    /// <inheritdoc/>
    public override string Describe() => $"{GetType().Name}({NumFeatures})";

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input)
    {
        CheckInput(input);
        double factor = Momentum ?? 0;
        if (Training && TrackRunningStats)
        {
            var count = GetBuffer("num_batches_tracked");
            using (GradMode.Disable()) count.FillInPlace(count.ToScalar() + 1);
            // With no momentum the running statistics are the plain average of every batch seen: weight 1/t.
            factor = Momentum ?? 1.0 / count.ToScalar();
        }
        bool useBatchStats = Training || !TrackRunningStats;
        return Functional.BatchNorm(input, RunningMean, RunningVar, Weight, Bias, useBatchStats, factor, Eps);
    }
}

/// <summary>Batch normalisation of [N, C] or [N, C, L] inputs, per channel C.</summary>
public sealed class BatchNorm1d(int numFeatures, double eps = 1e-5, double? momentum = 0.1, bool affine = true, bool trackRunningStats = true, DType dtype = DType.Float32)
    : BatchNorm(numFeatures, eps, momentum, affine, trackRunningStats, dtype)
{
    /// <inheritdoc/>
    protected override void CheckInput(Tensor input) =>
        ShapeChecks.Channels(Describe(), input.Shape, NumFeatures, [2, 3], ["[N, C]", "[N, C, L]"]);
}

/// <summary>Batch normalisation of [N, C, H, W] inputs, per channel C.</summary>
public sealed class BatchNorm2d(int numFeatures, double eps = 1e-5, double? momentum = 0.1, bool affine = true, bool trackRunningStats = true, DType dtype = DType.Float32)
    : BatchNorm(numFeatures, eps, momentum, affine, trackRunningStats, dtype)
{
    /// <inheritdoc/>
    protected override void CheckInput(Tensor input) =>
        ShapeChecks.Channels(Describe(), input.Shape, NumFeatures, [4], ["[N, C, H, W]"]);
}

/// <summary>
/// Layer normalisation over the trailing <see cref="NormalizedShape"/> dims of each sample, with learned
/// elementwise γ (ones) and β (zeros) of that shape when <c>elementwiseAffine</c>.
/// </summary>
public sealed class LayerNorm : Module<Tensor, Tensor>
{
    /// <inheritdoc/>
    public override bool HoldsNoActivations => true;

    private readonly int[] _normalizedShape;

    /// <summary>Creates the layer.</summary>
    public LayerNorm(int[] normalizedShape, double eps = 1e-5, bool elementwiseAffine = true, DType dtype = DType.Float32)
    {
        if (normalizedShape.Length == 0 || normalizedShape.Any(s => s < 1))
            throw new ArgumentException($"LayerNorm: normalized shape must be non-empty with positive dims, got {ShapeChecks.Format(normalizedShape)}");
        _normalizedShape = (int[])normalizedShape.Clone();
        Eps = eps;
        ElementwiseAffine = elementwiseAffine;
        if (elementwiseAffine)
        {
            RegisterParameter("weight", Tensor.Ones(_normalizedShape, dtype));
            RegisterParameter("bias", Tensor.Zeros(_normalizedShape, dtype));
        }
    }

    /// <summary>Creates the layer over the last dim of size <paramref name="features"/>.</summary>
    public LayerNorm(int features, double eps = 1e-5, bool elementwiseAffine = true, DType dtype = DType.Float32)
        : this([features], eps, elementwiseAffine, dtype) { }

    /// <summary>The trailing dims normalised.</summary>
    public int[] NormalizedShape => (int[])_normalizedShape.Clone();

    /// <summary>Added to the variance before the square root.</summary>
    public double Eps { get; }

    /// <summary>Whether γ and β are learned.</summary>
    public bool ElementwiseAffine { get; }

    /// <summary>γ, or null.</summary>
    public Tensor? Weight => ElementwiseAffine ? GetParameter("weight") : null;

    /// <summary>β, or null.</summary>
    public Tensor? Bias => ElementwiseAffine ? GetParameter("bias") : null;

    /// <inheritdoc/>
    public override string Describe() => $"LayerNorm({ShapeChecks.Format(_normalizedShape)})";

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input)
    {
        ShapeChecks.Trailing(Describe(), input.Shape, _normalizedShape);
        return Functional.LayerNorm(input, _normalizedShape, Weight, Bias, Eps);
    }
}
