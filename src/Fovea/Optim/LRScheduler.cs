namespace Fovea.Optim;

/// <summary>
/// Base of learning-rate schedulers (PyTorch's <c>_LRScheduler</c>). A scheduler owns the <c>lr</c> of every
/// group of its optimizer: construction performs the first step (epoch 0), and each <see cref="Step()"/> after
/// <see cref="Optimizer.Step()"/> moves to the next epoch (or batch) and writes the new rates into the groups.
/// Derived classes give PyTorch's recursive ("chainable") rule, computed from the groups' current rates, and
/// where PyTorch has one a closed form used by <see cref="Step(int)"/>.
/// </summary>
public abstract class LRScheduler
{
    private readonly double[] _baseLrs;
    private double[] _lastLr;

    /// <summary>
    /// Attaches to <paramref name="optimizer"/>. With <paramref name="lastEpoch"/> = −1 each group's
    /// <see cref="ParamGroup.InitialLr"/> defaults to its current lr; when resuming (lastEpoch ≥ 0) every group
    /// must already carry one. Derived constructors finish by calling <see cref="InitialStep"/>.
    /// </summary>
    protected LRScheduler(string name, Optimizer optimizer, int lastEpoch)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        Name = name;
        Optimizer = optimizer;
        if (lastEpoch < -1) throw new ArgumentOutOfRangeException(nameof(lastEpoch), lastEpoch, $"{name}: lastEpoch must be >= -1");
        var groups = optimizer.ParamGroups;
        _baseLrs = new double[groups.Count];
        for (int i = 0; i < groups.Count; i++)
        {
            if (lastEpoch == -1) groups[i].InitialLr ??= groups[i].Lr;
            _baseLrs[i] = groups[i].InitialLr
                ?? throw new ArgumentException($"{name}: parameter group {i} has no InitialLr, which resuming with lastEpoch = {lastEpoch} needs");
        }
        _lastLr = new double[groups.Count];
        LastEpoch = lastEpoch;
    }

    /// <summary>The scheduler's name, used in messages.</summary>
    public string Name { get; }

    /// <summary>The optimizer whose learning rates this scheduler sets.</summary>
    public Optimizer Optimizer { get; }

    /// <summary>Index of the current epoch (or batch, for per-batch schedules); 0 right after construction.</summary>
    public int LastEpoch { get; private set; }

    /// <summary>How many times the scheduler has stepped, counting the step in the constructor (PyTorch's <c>_step_count</c>).</summary>
    public int StepCount { get; private set; }

    /// <summary>The groups' initial learning rates, which the schedule is relative to.</summary>
    public IReadOnlyList<double> BaseLrs => _baseLrs;

    /// <summary>The learning rates set by the most recent step, one per group (PyTorch's <c>get_last_lr()</c>).</summary>
    public IReadOnlyList<double> LastLr => _lastLr;

    /// <summary>PyTorch's <c>_initial_step</c>: the constructor's step to epoch 0. Call at the end of a derived constructor.</summary>
    protected void InitialStep()
    {
        StepCount = 0;
        Step();
    }

    /// <summary>Advances one epoch (or batch) and writes the new learning rates into the optimizer's groups.</summary>
    public void Step()
    {
        StepCount++;
        LastEpoch++;
        Apply(ChainedLr());
    }

    /// <summary>Jumps to <paramref name="epoch"/>, using the closed form where the schedule has one (PyTorch's deprecated <c>step(epoch)</c>).</summary>
    public void Step(int epoch)
    {
        if (epoch < 0) throw new ArgumentOutOfRangeException(nameof(epoch), epoch, $"{Name}: epoch must be >= 0");
        StepCount++;
        LastEpoch = epoch;
        Apply(ClosedFormLr() ?? ChainedLr());
    }

    private void Apply(double[] lrs)
    {
        var groups = Optimizer.ParamGroups;
        if (lrs.Length != groups.Count)
            throw new InvalidOperationException($"{Name}: the optimizer has {groups.Count} parameter groups but the scheduler was built for {lrs.Length}; groups added after the scheduler are not scheduled");
        for (int i = 0; i < groups.Count; i++) groups[i].Lr = lrs[i];
        _lastLr = lrs;
    }

    /// <summary>PyTorch's <c>get_lr()</c>: the rates for <see cref="LastEpoch"/>, usually from the groups' current rates.</summary>
    protected abstract double[] ChainedLr();

    /// <summary>The rates for <see cref="LastEpoch"/> computed from <see cref="BaseLrs"/> alone, or null when there is no closed form.</summary>
    protected virtual double[]? ClosedFormLr() => null;

    /// <summary>The current learning rate of each group (what a chainable rule starts from).</summary>
    protected double[] GroupLrs()
    {
        var groups = Optimizer.ParamGroups;
        var lrs = new double[groups.Count];
        for (int i = 0; i < lrs.Length; i++) lrs[i] = groups[i].Lr;
        return lrs;
    }

    /// <summary>
    /// The scheduler's progress and settings (<c>last_epoch</c>, <c>step_count</c>, <c>base_lr.i</c>,
    /// <c>last_lr.i</c> and the schedule's own options), for resuming.
    /// </summary>
    public Dictionary<string, double> StateDict()
    {
        var sd = new Dictionary<string, double> { ["last_epoch"] = LastEpoch, ["step_count"] = StepCount };
        for (int i = 0; i < _baseLrs.Length; i++)
        {
            sd[$"base_lr.{i}"] = _baseLrs[i];
            sd[$"last_lr.{i}"] = _lastLr[i];
        }
        WriteOptions(sd);
        return sd;
    }

    /// <summary>
    /// Restores a state saved by <see cref="StateDict"/> and writes its last learning rates back into the groups,
    /// so the result does not depend on whether the optimizer's state was loaded before or after.
    /// </summary>
    public void LoadStateDict(IReadOnlyDictionary<string, double> state)
    {
        ArgumentNullException.ThrowIfNull(state);
        int last = (int)Read(state, "last_epoch"), count = (int)Read(state, "step_count");
        var baseLrs = new double[_baseLrs.Length];
        var lastLr = new double[_baseLrs.Length];
        for (int i = 0; i < baseLrs.Length; i++)
        {
            baseLrs[i] = Read(state, $"base_lr.{i}");
            lastLr[i] = Read(state, $"last_lr.{i}");
        }
        if (state.ContainsKey($"base_lr.{baseLrs.Length}"))
            throw new ArgumentException($"{Name}.LoadStateDict: the state has more parameter groups than the optimizer's {baseLrs.Length}");
        ReadOptions(state);
        LastEpoch = last;
        StepCount = count;
        baseLrs.CopyTo(_baseLrs, 0);
        Apply(lastLr);
        OnLoaded();
    }

    /// <summary>Writes the schedule's options into a state dict.</summary>
    protected virtual void WriteOptions(IDictionary<string, double> state) { }

    /// <summary>Reads the options written by <see cref="WriteOptions"/>.</summary>
    protected virtual void ReadOptions(IReadOnlyDictionary<string, double> state) { }

    /// <summary>Called after a state was loaded (e.g. to restore a cycled momentum).</summary>
    protected virtual void OnLoaded() { }

    /// <summary>The entry <paramref name="key"/>, or a clear error when the state lacks it.</summary>
    protected double Read(IReadOnlyDictionary<string, double> state, string key) =>
        state.TryGetValue(key, out var v) ? v : throw new ArgumentException($"{Name}.LoadStateDict: the state has no entry '{key}'");
}
