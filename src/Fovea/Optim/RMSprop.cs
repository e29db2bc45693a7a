using Fovea.Backends;

namespace Fovea.Optim;

/// <summary>Options of one <see cref="RMSprop"/> parameter group.</summary>
public sealed class RMSpropParamGroup : ParamGroup, IMomentumGroup
{
    private double _alpha, _eps, _momentum;

    internal RMSpropParamGroup(IEnumerable<Tensor> parameters, double lr, double alpha, double eps, double weightDecay, double momentum, bool centered, bool maximize)
        : base("RMSprop", parameters, lr, weightDecay, maximize)
    {
        Alpha = alpha;
        Eps = eps;
        Momentum = momentum;
        Centered = centered;
    }

    /// <summary>Smoothing constant α ≥ 0 of the running mean of squared gradients.</summary>
    public double Alpha
    {
        get => _alpha;
        set => _alpha = CheckNonNegative("alpha", value);
    }

    /// <summary>ε ≥ 0 added to the denominator.</summary>
    public double Eps
    {
        get => _eps;
        set => _eps = CheckNonNegative("epsilon", value);
    }

    /// <summary>Momentum factor (≥ 0; 0 turns momentum off).</summary>
    public double Momentum
    {
        get => _momentum;
        set => _momentum = CheckNonNegative("momentum", value);
    }

    /// <summary>Normalise by the estimated variance (mean square minus squared mean) instead of the mean square.</summary>
    public bool Centered { get; set; }

    /// <inheritdoc/>
    protected internal override void WriteOptions(IDictionary<string, double> options)
    {
        base.WriteOptions(options);
        options["alpha"] = Alpha;
        options["eps"] = Eps;
        options["momentum"] = Momentum;
        options["centered"] = Centered ? 1 : 0;
    }

    /// <inheritdoc/>
    protected internal override void ReadOptions(IReadOnlyDictionary<string, double> options)
    {
        base.ReadOptions(options);
        Alpha = Read(options, "alpha");
        Eps = Read(options, "eps");
        Momentum = Read(options, "momentum");
        Centered = Read(options, "centered") != 0;
    }
}

/// <summary>
/// RMSprop (<c>torch.optim.RMSprop</c>): with g = ∇ + λ·p, s = α·s + (1 − α)·g²; centered: ḡ = α·ḡ + (1 − α)·g and
/// avg = √(s − ḡ²) + ε, else avg = √s + ε; with momentum b = μ·b + g/avg and p = p − lr·b, else p = p − lr·g/avg.
/// </summary>
public sealed class RMSprop : Optimizer<RMSpropParamGroup>
{
    private readonly double _alpha, _eps, _weightDecay, _momentum;
    private readonly bool _centered, _maximize;

    /// <summary>RMSprop over <paramref name="parameters"/> (one group).</summary>
    public RMSprop(IEnumerable<Tensor> parameters, double lr = 1e-2, double alpha = 0.99, double eps = 1e-8, double weightDecay = 0,
        double momentum = 0, bool centered = false, bool maximize = false) : base("RMSprop")
    {
        (_alpha, _eps, _weightDecay, _momentum, _centered, _maximize) = (alpha, eps, weightDecay, momentum, centered, maximize);
        Add(new RMSpropParamGroup(parameters, lr, alpha, eps, weightDecay, momentum, centered, maximize));
    }

    /// <summary>Adds a group; options left null take the values given to the constructor.</summary>
    public RMSpropParamGroup AddParamGroup(IEnumerable<Tensor> parameters, double? lr = null, double? alpha = null, double? eps = null,
        double? weightDecay = null, double? momentum = null, bool? centered = null, bool? maximize = null) =>
        Add(new RMSpropParamGroup(parameters, lr ?? ParamGroups[0].Lr, alpha ?? _alpha, eps ?? _eps, weightDecay ?? _weightDecay,
            momentum ?? _momentum, centered ?? _centered, maximize ?? _maximize));

    private sealed class State(Tensor squareAvg)
    {
        public long Step;
        public readonly Tensor SquareAvg = squareAvg;
        public Tensor? MomentumBuffer;
        public Tensor? GradAvg;
    }

    /// <inheritdoc/>
    protected override void UpdateParameter(RMSpropParamGroup group, int index, Tensor param, Tensor grad)
    {
        var state = (State?)GetState(group, index);
        if (state is null) SetState(group, index, state = new State(ZerosLike(param)));
        // PyTorch creates these buffers on the first step when the option is on; creating them when an option
        // is switched on later (e.g. a scheduler raising momentum from 0) starts them at zero as well.
        bool useMomentum = group.Momentum > 0;
        if (useMomentum) state.MomentumBuffer ??= ZerosLike(param);
        if (group.Centered) state.GradAvg ??= ZerosLike(param);
        state.Step++;
        var gradAvg = group.Centered ? state.GradAvg : null;
        var momentumBuffer = useMomentum ? state.MomentumBuffer : null;
        MarkWritten(param, state.SquareAvg, gradAvg, momentumBuffer);
        Backend.Current.RMSpropUpdate(param, grad, state.SquareAvg, gradAvg, momentumBuffer,
            new RMSpropStep(group.Lr, group.Alpha, group.Eps, group.WeightDecay, group.Momentum, group.Centered, group.Maximize));
    }

    /// <inheritdoc/>
    protected override void SaveState(object state, Dictionary<string, Tensor> into)
    {
        var s = (State)state;
        into["step"] = StepTensor(s.Step);
        into["square_avg"] = s.SquareAvg.Clone();
        if (s.MomentumBuffer is { } buffer) into["momentum_buffer"] = buffer.Clone();
        if (s.GradAvg is { } avg) into["grad_avg"] = avg.Clone();
    }

    /// <inheritdoc/>
    protected override object RestoreState(RMSpropParamGroup group, Tensor param, IReadOnlyDictionary<string, Tensor> saved) =>
        new State(Required(saved, "square_avg"))
        {
            Step = RequiredStep(saved),
            MomentumBuffer = saved.TryGetValue("momentum_buffer", out var b) ? b : null,
            GradAvg = saved.TryGetValue("grad_avg", out var a) ? a : null,
        };
}
