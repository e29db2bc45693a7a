namespace Fovea.Optim;

/// <summary>How <see cref="OneCycleLR"/> moves between its phase end points.</summary>
public enum AnnealStrategy
{
    /// <summary>Half a cosine: end + (start − end)·(1 + cos(π·pct)) / 2.</summary>
    Cos,
    /// <summary>A straight line: start + (end − start)·pct.</summary>
    Linear,
}

/// <summary>
/// The 1cycle policy (Smith and Topin, "Super-Convergence"; <c>torch.optim.lr_scheduler.OneCycleLR</c>), stepped
/// once per batch: the rate rises from max_lr / divFactor to max_lr over the first pctStart of the steps, then falls
/// to initial_lr / finalDivFactor. With <c>threePhase</c> it first falls back to the initial rate and then anneals
/// to the minimum. When <c>cycleMomentum</c> is on, the momentum (β1 for Adam) moves the opposite way between
/// maxMomentum and baseMomentum. Computed in closed form from the step number, as PyTorch does.
/// </summary>
public sealed class OneCycleLR : LRScheduler
{
    private enum Point { Initial, Max, Min }

    private readonly record struct Phase(double EndStep, Point StartLr, Point EndLr, bool StartAtMaxMomentum, bool EndAtMaxMomentum);

    private readonly double[] _initialLr, _maxLr, _minLr, _maxMomentum, _baseMomentum;
    private Phase[] _phases = [];

    /// <summary>
    /// One cycle over <paramref name="totalSteps"/> steps peaking at <paramref name="maxLr"/> (one value for all groups,
    /// or one per group).
    /// </summary>
    public OneCycleLR(Optimizer optimizer, double[] maxLr, int totalSteps, double pctStart = 0.3, AnnealStrategy annealStrategy = AnnealStrategy.Cos,
        bool cycleMomentum = true, double baseMomentum = 0.85, double maxMomentum = 0.95, double divFactor = 25, double finalDivFactor = 1e4,
        bool threePhase = false, int lastEpoch = -1)
        : base("OneCycleLR", Prepare(optimizer, maxLr, totalSteps, pctStart, divFactor, finalDivFactor, lastEpoch), lastEpoch)
    {
        int n = optimizer.ParamGroups.Count;
        var groups = optimizer.ParamGroups;
        _maxLr = maxLr.Length == 1 ? Enumerable.Repeat(maxLr[0], n).ToArray() : (double[])maxLr.Clone();
        _initialLr = new double[n];
        _minLr = new double[n];
        for (int i = 0; i < n; i++)
        {
            _initialLr[i] = _maxLr[i] / divFactor;
            _minLr[i] = _initialLr[i] / finalDivFactor;
        }
        TotalSteps = totalSteps;
        PctStart = pctStart;
        Strategy = annealStrategy;
        ThreePhase = threePhase;
        CycleMomentum = cycleMomentum;
        _maxMomentum = Enumerable.Repeat(maxMomentum, n).ToArray();
        _baseMomentum = Enumerable.Repeat(baseMomentum, n).ToArray();
        if (cycleMomentum)
            for (int i = 0; i < n; i++)
            {
                if (groups[i] is not IMomentumGroup m)
                    throw new ArgumentException($"OneCycleLR: {optimizer.Name} has no momentum to cycle (group {i}); pass cycleMomentum: false");
                if (lastEpoch == -1) m.Momentum = maxMomentum;
            }
        BuildPhases();
        InitialStep();
    }

    /// <summary>One cycle peaking at <paramref name="maxLr"/> for every group.</summary>
    public OneCycleLR(Optimizer optimizer, double maxLr, int totalSteps, double pctStart = 0.3, AnnealStrategy annealStrategy = AnnealStrategy.Cos,
        bool cycleMomentum = true, double baseMomentum = 0.85, double maxMomentum = 0.95, double divFactor = 25, double finalDivFactor = 1e4,
        bool threePhase = false, int lastEpoch = -1)
        : this(optimizer, [maxLr], totalSteps, pctStart, annealStrategy, cycleMomentum, baseMomentum, maxMomentum, divFactor, finalDivFactor, threePhase, lastEpoch) { }

    // Checks the arguments and sets each group's initial_lr before the base constructor reads it, as PyTorch does.
    private static Optimizer Prepare(Optimizer optimizer, double[] maxLr, int totalSteps, double pctStart, double divFactor, double finalDivFactor, int lastEpoch)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        ArgumentNullException.ThrowIfNull(maxLr);
        int n = optimizer.ParamGroups.Count;
        if (maxLr.Length != 1 && maxLr.Length != n)
            throw new ArgumentException($"OneCycleLR: expected 1 or {n} values for maxLr (one per parameter group), got {maxLr.Length}");
        foreach (var lr in maxLr)
            if (!(lr > 0) || double.IsInfinity(lr)) throw new ArgumentOutOfRangeException(nameof(maxLr), lr, $"OneCycleLR: maxLr must be a finite number > 0, got {lr}");
        if (totalSteps <= 0) throw new ArgumentOutOfRangeException(nameof(totalSteps), totalSteps, $"OneCycleLR: expected a positive totalSteps, got {totalSteps}");
        if (!(pctStart >= 0 && pctStart <= 1)) throw new ArgumentOutOfRangeException(nameof(pctStart), pctStart, $"OneCycleLR: pctStart must be in [0, 1], got {pctStart}");
        if (!(divFactor > 0)) throw new ArgumentOutOfRangeException(nameof(divFactor), divFactor, $"OneCycleLR: divFactor must be > 0, got {divFactor}");
        if (!(finalDivFactor > 0)) throw new ArgumentOutOfRangeException(nameof(finalDivFactor), finalDivFactor, $"OneCycleLR: finalDivFactor must be > 0, got {finalDivFactor}");
        if (lastEpoch == -1)
            for (int i = 0; i < n; i++) optimizer.ParamGroups[i].InitialLr = maxLr[maxLr.Length == 1 ? 0 : i] / divFactor;
        return optimizer;
    }

    /// <summary>Number of steps in the cycle; stepping past it is an error.</summary>
    public int TotalSteps { get; private set; }

    /// <summary>Fraction of the cycle spent raising the rate.</summary>
    public double PctStart { get; private set; }

    /// <summary>Cosine or linear annealing.</summary>
    public AnnealStrategy Strategy { get; private set; }

    /// <summary>Whether the schedule has the third phase (back to the initial rate, then down to the minimum).</summary>
    public bool ThreePhase { get; private set; }

    /// <summary>Whether momentum (β1 for Adam) is cycled inversely to the rate.</summary>
    public bool CycleMomentum { get; private set; }

    private void BuildPhases()
    {
        double first = PctStart * TotalSteps - 1;
        _phases = ThreePhase
            ?
            [
                new(first, Point.Initial, Point.Max, true, false),
                new(2 * PctStart * TotalSteps - 2, Point.Max, Point.Initial, false, true),
                new(TotalSteps - 1, Point.Initial, Point.Min, true, true),
            ]
            :
            [
                new(first, Point.Initial, Point.Max, true, false),
                new(TotalSteps - 1, Point.Max, Point.Min, false, true),
            ];
    }

    private double Anneal(double start, double end, double pct) => Strategy == AnnealStrategy.Cos
        ? end + (start - end) / 2.0 * (Math.Cos(Math.PI * pct) + 1)
        : (end - start) * pct + start;

    private double LrAt(Point point, int group) => point switch
    {
        Point.Initial => _initialLr[group],
        Point.Max => _maxLr[group],
        _ => _minLr[group],
    };

    /// <inheritdoc/>
    protected override double[] ChainedLr()
    {
        int step = LastEpoch;
        if (step > TotalSteps)
            throw new InvalidOperationException($"OneCycleLR: tried to step {step + 1} times; the schedule has {TotalSteps} total steps");
        var groups = Optimizer.ParamGroups;
        var lrs = new double[groups.Count];
        for (int g = 0; g < lrs.Length; g++)
        {
            // PyTorch's phase walk: the next phase starts at the previous phase's end step (not one after it).
            double startStep = 0;
            for (int i = 0; i < _phases.Length; i++)
            {
                var phase = _phases[i];
                if (step <= phase.EndStep || i == _phases.Length - 1)
                {
                    double pct = (step - startStep) / (phase.EndStep - startStep);
                    lrs[g] = Anneal(LrAt(phase.StartLr, g), LrAt(phase.EndLr, g), pct);
                    if (CycleMomentum)
                    {
                        double from = phase.StartAtMaxMomentum ? _maxMomentum[g] : _baseMomentum[g];
                        double to = phase.EndAtMaxMomentum ? _maxMomentum[g] : _baseMomentum[g];
                        ((IMomentumGroup)groups[g]).Momentum = Anneal(from, to, pct);
                    }
                    break;
                }
                startStep = phase.EndStep;
            }
        }
        return lrs;
    }

    /// <inheritdoc/>
    protected override double[]? ClosedFormLr() => ChainedLr();

    /// <inheritdoc/>
    protected override void WriteOptions(IDictionary<string, double> state)
    {
        state["total_steps"] = TotalSteps;
        state["pct_start"] = PctStart;
        state["anneal_strategy"] = (int)Strategy;
        state["three_phase"] = ThreePhase ? 1 : 0;
        state["cycle_momentum"] = CycleMomentum ? 1 : 0;
        for (int i = 0; i < _maxLr.Length; i++)
        {
            state[$"initial_lr.{i}"] = _initialLr[i];
            state[$"max_lr.{i}"] = _maxLr[i];
            state[$"min_lr.{i}"] = _minLr[i];
            state[$"max_momentum.{i}"] = _maxMomentum[i];
            state[$"base_momentum.{i}"] = _baseMomentum[i];
        }
    }

    /// <inheritdoc/>
    protected override void ReadOptions(IReadOnlyDictionary<string, double> state)
    {
        TotalSteps = (int)Read(state, "total_steps");
        PctStart = Read(state, "pct_start");
        Strategy = (AnnealStrategy)(int)Read(state, "anneal_strategy");
        ThreePhase = Read(state, "three_phase") != 0;
        CycleMomentum = Read(state, "cycle_momentum") != 0;
        for (int i = 0; i < _maxLr.Length; i++)
        {
            _initialLr[i] = Read(state, $"initial_lr.{i}");
            _maxLr[i] = Read(state, $"max_lr.{i}");
            _minLr[i] = Read(state, $"min_lr.{i}");
            _maxMomentum[i] = Read(state, $"max_momentum.{i}");
            _baseMomentum[i] = Read(state, $"base_momentum.{i}");
        }
        BuildPhases();
    }

    /// <inheritdoc/>
    protected override void OnLoaded()
    {
        // Recomputing the closed form at the restored step puts the cycled momentum back as well.
        if (CycleMomentum) ChainedLr();
    }
}
