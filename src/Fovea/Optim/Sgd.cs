using Fovea.Backends;

namespace Fovea.Optim;

/// <summary>Options of one <see cref="Sgd"/> parameter group.</summary>
public sealed class SgdParamGroup : ParamGroup, IMomentumGroup
{
    private double _momentum, _dampening;

    internal SgdParamGroup(IEnumerable<Tensor> parameters, double lr, double momentum, double dampening, bool nesterov, double weightDecay, bool maximize)
        : base("Sgd", parameters, lr, weightDecay, maximize)
    {
        Momentum = momentum;
        Dampening = dampening;
        Nesterov = nesterov;
    }

    /// <summary>Momentum factor μ (≥ 0; 0 turns momentum off).</summary>
    public double Momentum
    {
        get => _momentum;
        set => _momentum = CheckNonNegative("momentum", value);
    }

    /// <summary>Dampening τ of the momentum: the buffer adds (1 − τ)·gradient.</summary>
    public double Dampening
    {
        get => _dampening;
        set => _dampening = CheckNonNegative("dampening", value);
    }

    /// <summary>Nesterov momentum (needs momentum &gt; 0 and zero dampening).</summary>
    public bool Nesterov { get; set; }

    /// <inheritdoc/>
    protected internal override void Validate()
    {
        if (Nesterov && (Momentum <= 0 || Dampening != 0))
            throw new ArgumentException($"Sgd: Nesterov momentum requires a momentum > 0 and zero dampening, got momentum {Momentum} and dampening {Dampening}");
    }

    /// <inheritdoc/>
    protected internal override void WriteOptions(IDictionary<string, double> options)
    {
        base.WriteOptions(options);
        options["momentum"] = Momentum;
        options["dampening"] = Dampening;
        options["nesterov"] = Nesterov ? 1 : 0;
    }

    /// <inheritdoc/>
    protected internal override void ReadOptions(IReadOnlyDictionary<string, double> options)
    {
        base.ReadOptions(options);
        Momentum = Read(options, "momentum");
        Dampening = Read(options, "dampening");
        Nesterov = Read(options, "nesterov") != 0;
    }
}

/// <summary>
/// Stochastic gradient descent with optional momentum, dampening, Nesterov momentum, L2 weight decay and
/// maximisation, following <c>torch.optim.SGD</c> exactly:
/// d = g + λ·p; b = d on the first step, then b = μ·b + (1 − τ)·d; d = d + μ·b (Nesterov) or b; p = p − lr·d.
/// </summary>
public sealed class Sgd : Optimizer<SgdParamGroup>
{
    private readonly double _momentum, _dampening, _weightDecay;
    private readonly bool _nesterov, _maximize;

    /// <summary>SGD over <paramref name="parameters"/> (one group); more groups via <see cref="AddParamGroup"/>.</summary>
    public Sgd(IEnumerable<Tensor> parameters, double lr, double momentum = 0, double dampening = 0, bool nesterov = false,
        double weightDecay = 0, bool maximize = false) : base("Sgd")
    {
        (_momentum, _dampening, _nesterov, _weightDecay, _maximize) = (momentum, dampening, nesterov, weightDecay, maximize);
        Add(new SgdParamGroup(parameters, lr, momentum, dampening, nesterov, weightDecay, maximize));
    }

    /// <summary>Adds a group; options left null take the values given to the constructor.</summary>
    public SgdParamGroup AddParamGroup(IEnumerable<Tensor> parameters, double? lr = null, double? momentum = null, double? dampening = null,
        bool? nesterov = null, double? weightDecay = null, bool? maximize = null) =>
        Add(new SgdParamGroup(parameters, lr ?? ParamGroups[0].Lr, momentum ?? _momentum, dampening ?? _dampening,
            nesterov ?? _nesterov, weightDecay ?? _weightDecay, maximize ?? _maximize));

    private sealed class State
    {
        public Tensor? MomentumBuffer;
    }

    /// <inheritdoc/>
    protected override void UpdateParameter(SgdParamGroup group, int index, Tensor param, Tensor grad)
    {
        var state = (State?)GetState(group, index);
        if (state is null) SetState(group, index, state = new State());
        bool useMomentum = group.Momentum != 0;
        bool first = false;
        if (useMomentum && state.MomentumBuffer is null)
        {
            state.MomentumBuffer = ZerosLike(param);
            first = true;
        }
        var buffer = useMomentum ? state.MomentumBuffer : null;
        MarkWritten(param, buffer);
        Backend.Current.SgdUpdate(param, grad, buffer,
            new SgdStep(group.Lr, group.Momentum, group.Dampening, group.Nesterov, group.WeightDecay, group.Maximize, first));
    }

    /// <inheritdoc/>
    protected override void SaveState(object state, Dictionary<string, Tensor> into)
    {
        if (((State)state).MomentumBuffer is { } buffer) into["momentum_buffer"] = buffer.Clone();
    }

    /// <inheritdoc/>
    protected override object RestoreState(SgdParamGroup group, Tensor param, IReadOnlyDictionary<string, Tensor> saved) =>
        new State { MomentumBuffer = saved.TryGetValue("momentum_buffer", out var b) ? b : null };
}
