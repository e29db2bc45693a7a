using Fovea.Backends;

namespace Fovea.Optim;

/// <summary>Options of one <see cref="Adam"/> or <see cref="AdamW"/> parameter group.</summary>
public sealed class AdamParamGroup : ParamGroup, IMomentumGroup
{
    private double _beta1, _beta2, _eps;

    internal AdamParamGroup(string owner, IEnumerable<Tensor> parameters, double lr, (double, double) betas, double eps, double weightDecay, bool amsgrad, bool maximize)
        : base(owner, parameters, lr, weightDecay, maximize)
    {
        Beta1 = betas.Item1;
        Beta2 = betas.Item2;
        Eps = eps;
        Amsgrad = amsgrad;
    }

    /// <summary>β1 ∈ [0, 1): decay of the running mean of gradients.</summary>
    public double Beta1
    {
        get => _beta1;
        set => _beta1 = CheckUnitInterval("beta1", value);
    }

    /// <summary>β2 ∈ [0, 1): decay of the running mean of squared gradients.</summary>
    public double Beta2
    {
        get => _beta2;
        set => _beta2 = CheckUnitInterval("beta2", value);
    }

    /// <summary>ε ≥ 0 added to the denominator for numerical stability.</summary>
    public double Eps
    {
        get => _eps;
        set => _eps = CheckNonNegative("epsilon", value);
    }

    /// <summary>Use the AMSGrad variant (the maximum of past second moments normalises the step).</summary>
    public bool Amsgrad { get; set; }

    double IMomentumGroup.Momentum
    {
        get => Beta1;
        set => Beta1 = value;
    }

    /// <inheritdoc/>
    protected internal override void WriteOptions(IDictionary<string, double> options)
    {
        base.WriteOptions(options);
        options["beta1"] = Beta1;
        options["beta2"] = Beta2;
        options["eps"] = Eps;
        options["amsgrad"] = Amsgrad ? 1 : 0;
    }

    /// <inheritdoc/>
    protected internal override void ReadOptions(IReadOnlyDictionary<string, double> options)
    {
        base.ReadOptions(options);
        Beta1 = Read(options, "beta1");
        Beta2 = Read(options, "beta2");
        Eps = Read(options, "eps");
        Amsgrad = Read(options, "amsgrad") != 0;
    }
}

/// <summary>
/// The shared machinery of <see cref="Adam"/> and <see cref="AdamW"/>, which differ only in how weight decay
/// enters: as an L2 term on the gradient, or as a decoupled decay of the parameter.
/// </summary>
public abstract class AdamBase : Optimizer<AdamParamGroup>
{
    private readonly (double, double) _betas;
    private readonly double _eps, _weightDecay;
    private readonly bool _amsgrad, _maximize, _decoupled;

    private protected AdamBase(string name, bool decoupled, IEnumerable<Tensor> parameters, double lr, (double, double) betas, double eps,
        double weightDecay, bool amsgrad, bool maximize) : base(name)
    {
        (_betas, _eps, _weightDecay, _amsgrad, _maximize, _decoupled) = (betas, eps, weightDecay, amsgrad, maximize, decoupled);
        Add(new AdamParamGroup(name, parameters, lr, betas, eps, weightDecay, amsgrad, maximize));
    }

    /// <summary>Adds a group; options left null take the values given to the constructor.</summary>
    public AdamParamGroup AddParamGroup(IEnumerable<Tensor> parameters, double? lr = null, (double Beta1, double Beta2)? betas = null,
        double? eps = null, double? weightDecay = null, bool? amsgrad = null, bool? maximize = null) =>
        Add(new AdamParamGroup(Name, parameters, lr ?? ParamGroups[0].Lr, betas ?? _betas, eps ?? _eps, weightDecay ?? _weightDecay,
            amsgrad ?? _amsgrad, maximize ?? _maximize));

    private sealed class State(Tensor expAvg, Tensor expAvgSq)
    {
        public long Step;
        public readonly Tensor ExpAvg = expAvg;
        public readonly Tensor ExpAvgSq = expAvgSq;
        public Tensor? MaxExpAvgSq;
    }

    /// <inheritdoc/>
    protected override void UpdateParameter(AdamParamGroup group, int index, Tensor param, Tensor grad)
    {
        var state = (State?)GetState(group, index);
        if (state is null) SetState(group, index, state = new State(ZerosLike(param), ZerosLike(param)));
        if (group.Amsgrad) state.MaxExpAvgSq ??= ZerosLike(param);
        state.Step++;
        var maxExpAvgSq = group.Amsgrad ? state.MaxExpAvgSq : null;
        MarkWritten(param, state.ExpAvg, state.ExpAvgSq, maxExpAvgSq);
        Backend.Current.AdamUpdate(param, grad, state.ExpAvg, state.ExpAvgSq, maxExpAvgSq,
            new AdamStep(group.Lr, group.Beta1, group.Beta2, group.Eps, group.WeightDecay, _decoupled, group.Amsgrad, group.Maximize, state.Step));
    }

    /// <inheritdoc/>
    protected override void SaveState(object state, Dictionary<string, Tensor> into)
    {
        var s = (State)state;
        into["step"] = StepTensor(s.Step);
        into["exp_avg"] = s.ExpAvg.Clone();
        into["exp_avg_sq"] = s.ExpAvgSq.Clone();
        if (s.MaxExpAvgSq is { } max) into["max_exp_avg_sq"] = max.Clone();
    }

    /// <inheritdoc/>
    protected override object RestoreState(AdamParamGroup group, Tensor param, IReadOnlyDictionary<string, Tensor> saved) =>
        new State(Required(saved, "exp_avg"), Required(saved, "exp_avg_sq"))
        {
            Step = RequiredStep(saved),
            MaxExpAvgSq = saved.TryGetValue("max_exp_avg_sq", out var max) ? max : null,
        };
}

/// <summary>
/// Adam (<c>torch.optim.Adam</c>): with g = ∇ + λ·p, m = β1·m + (1 − β1)·g, v = β2·v + (1 − β2)·g²,
/// p = p − (lr / (1 − β1ᵗ))·m / (√v / √(1 − β2ᵗ) + ε); AMSGrad uses the running maximum of v.
/// </summary>
public sealed class Adam : AdamBase
{
    /// <summary>Adam over <paramref name="parameters"/> (one group); <paramref name="betas"/> defaults to (0.9, 0.999).</summary>
    public Adam(IEnumerable<Tensor> parameters, double lr = 1e-3, (double Beta1, double Beta2)? betas = null, double eps = 1e-8,
        double weightDecay = 0, bool amsgrad = false, bool maximize = false)
        : base("Adam", decoupled: false, parameters, lr, betas ?? (0.9, 0.999), eps, weightDecay, amsgrad, maximize) { }
}

/// <summary>
/// AdamW (<c>torch.optim.AdamW</c>, Loshchilov and Hutter's decoupled weight decay): p = p·(1 − lr·λ) first,
/// then the Adam step on the raw gradient. Weight decay defaults to 0.01.
/// </summary>
public sealed class AdamW : AdamBase
{
    /// <summary>AdamW over <paramref name="parameters"/> (one group); <paramref name="betas"/> defaults to (0.9, 0.999).</summary>
    public AdamW(IEnumerable<Tensor> parameters, double lr = 1e-3, (double Beta1, double Beta2)? betas = null, double eps = 1e-8,
        double weightDecay = 1e-2, bool amsgrad = false, bool maximize = false)
        : base("AdamW", decoupled: true, parameters, lr, betas ?? (0.9, 0.999), eps, weightDecay, amsgrad, maximize) { }
}
