namespace Fovea.Optim;

/// <summary>
/// Base of every optimizer: parameter groups with their own hyper-parameters, <see cref="ZeroGrad"/>,
/// <see cref="Step()"/> and state dicts for resuming. <see cref="Step()"/> runs without recording a graph,
/// skips parameters that are frozen (<c>RequiresGrad == false</c>) or have no gradient, and updates the
/// rest in place (bumping their storage version, so a graph that saved an old value notices).
/// </summary>
public abstract class Optimizer
{
    private readonly List<ParamGroup> _groups = [];

    /// <summary>Whether <see cref="Update"/> is Fovea's own, which keeps no reference to the gradient it is given.</summary>
    private readonly bool _ownUpdate;

    /// <summary>Creates an optimizer named <paramref name="name"/> (used in messages and saved states).</summary>
    protected Optimizer(string name)
    {
        Name = name;
        _ownUpdate = GetType().Assembly == typeof(Optimizer).Assembly;
    }

    /// <summary>The optimizer's name, e.g. <c>Adam</c>.</summary>
    public string Name { get; }

    /// <summary>The parameter groups, in the order they were added.</summary>
    public IReadOnlyList<ParamGroup> ParamGroups => _groups;

    /// <summary>Number of completed <see cref="Step()"/> calls.</summary>
    public long StepCount { get; private set; }

    /// <summary>Adds a group after checking its parameters: non-empty, floating leaves, contiguous, not already optimized.</summary>
    protected void AddGroup(ParamGroup group)
    {
        var ps = group.ParamArray;
        if (ps.Length == 0)
            throw new ArgumentException($"{Name}: got an empty parameter list");
        for (int i = 0; i < ps.Length; i++)
        {
            var p = ps[i] ?? throw new ArgumentNullException(nameof(group), $"{Name}: parameter {i} of the new group is null");
            if (!p.IsLeaf)
                throw new ArgumentException($"{Name}: can't optimize a non-leaf tensor (parameter {i} of the new group, shape {ShapeChecks.Format(p._shape)}); optimize the leaf it was computed from");
            if (!p.DType.IsFloating())
                throw new DTypeException(Name, $"parameters must be float32 or float64, parameter {i} of the new group is {p.DType.Name()}");
            if (!p.IsContiguous)
                throw new ArgumentException($"{Name}: parameter {i} of the new group (shape {ShapeChecks.Format(p._shape)}) is not contiguous; optimizers update parameter storage in place");
            for (int j = 0; j < i; j++)
                if (ReferenceEquals(ps[j], p))
                    throw new ArgumentException($"{Name}: parameter {i} of the new group appears twice in it");
            foreach (var other in _groups)
                if (Array.IndexOf(other.ParamArray, p) >= 0)
                    throw new ArgumentException($"{Name}: some parameters appear in more than one parameter group (parameter {i} of the new group)");
        }
        group.Validate();
        _groups.Add(group);
    }

    /// <summary>
    /// Clears the gradient of every parameter, as PyTorch's <c>zero_grad(set_to_none)</c>: by default it sets each to null
    /// (the next backward starts afresh); with <paramref name="setToNone"/> false it zeroes each gradient in place and
    /// keeps it, and the next backward adds into it (see <see cref="Tensor.ZeroGrad"/>).
    /// </summary>
    public void ZeroGrad(bool setToNone = true)
    {
        foreach (var group in _groups)
            foreach (var p in group.ParamArray) p.ZeroGrad(setToNone);
    }

    /// <summary>Updates every parameter that requires grad and has a gradient, in place, with grad mode off.</summary>
    public void Step()
    {
        using var _ = GradMode.Disable();
        for (int gi = 0; gi < _groups.Count; gi++)
        {
            var group = _groups[gi];
            var ps = group.ParamArray;
            for (int i = 0; i < ps.Length; i++)
            {
                var p = ps[i];
                // Fovea's optimizers keep nothing of the gradient they are given; a subclass elsewhere might.
                if (!p.RequiresGrad || (_ownUpdate ? p.GradUnexposed : p.Grad) is not { } grad) continue;
                CheckGradient(p, grad, gi, i);
                Update(group, i, p, grad.IsContiguous ? grad : grad.Contiguous());
            }
        }
        StepCount++;
    }

    /// <summary>Evaluates <paramref name="closure"/> (which should zero grads, compute the loss and call backward) with grad mode on, then steps; returns the loss.</summary>
    public Tensor Step(Func<Tensor> closure)
    {
        ArgumentNullException.ThrowIfNull(closure);
        Tensor loss;
        using (GradMode.Enable()) loss = closure();
        Step();
        return loss;
    }

    private void CheckGradient(Tensor p, Tensor grad, int group, int index)
    {
        if (grad.DType != p.DType)
            throw new DTypeException($"{Name}.Step", $"the gradient of parameter {index} in group {group} is {grad.DType.Name()} but the parameter is {p.DType.Name()}");
        if (!grad._shape.AsSpan().SequenceEqual(p._shape))
            throw new ShapeException($"{Name}.Step", $"the gradient of parameter {index} in group {group} has shape {ShapeChecks.Format(grad._shape)} but the parameter has {ShapeChecks.Format(p._shape)}");
        if (!p.IsContiguous)
            throw new InvalidOperationException($"{Name}.Step: parameter {index} in group {group} (shape {ShapeChecks.Format(p._shape)}) is no longer contiguous");
    }

    /// <summary>
    /// Updates parameter <paramref name="index"/> of <paramref name="group"/> from its contiguous gradient,
    /// keeping per-parameter state in <c>group.States[index]</c>.
    /// </summary>
    protected abstract void Update(ParamGroup group, int index, Tensor param, Tensor grad);

    /// <summary>Copies one parameter's state into named tensors (PyTorch's keys: <c>step</c>, <c>exp_avg</c>, ...).</summary>
    protected abstract void SaveState(object state, Dictionary<string, Tensor> into);

    /// <summary>Rebuilds one parameter's state from saved tensors, already converted to the parameter's dtype and checked for shape.</summary>
    protected abstract object LoadState(ParamGroup group, Tensor param, IReadOnlyDictionary<string, Tensor> saved);

    /// <summary>A copy of the hyper-parameters and per-parameter state, for resuming training later.</summary>
    public OptimizerState StateDict()
    {
        var sd = new OptimizerState { Optimizer = Name };
        int index = 0;
        foreach (var group in _groups)
        {
            var options = new Dictionary<string, double>();
            group.WriteOptions(options);
            var ids = new int[group.ParamArray.Length];
            for (int i = 0; i < ids.Length; i++, index++)
            {
                ids[i] = index;
                if (group.States[i] is not { } state) continue;
                var tensors = new Dictionary<string, Tensor>();
                SaveState(state, tensors);
                sd.State[index] = tensors;
            }
            sd.ParamGroups.Add(new ParamGroupState(options, ids));
        }
        return sd;
    }

    /// <summary>
    /// Restores hyper-parameters and per-parameter state saved by <see cref="StateDict"/>. The groups must have
    /// the same sizes and every saved tensor the shape of its parameter; tensors are copied (and converted to the
    /// parameter's dtype), so the saved state stays untouched.
    /// </summary>
    public void LoadStateDict(OptimizerState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        string op = $"{Name}.LoadStateDict";
        if (state.Optimizer != Name)
            throw new ArgumentException($"{op}: the state was saved by {state.Optimizer}, not {Name}");
        if (state.ParamGroups.Count != _groups.Count)
            throw new ArgumentException($"{op}: the state has {state.ParamGroups.Count} parameter groups but the optimizer has {_groups.Count}");
        var owner = new Dictionary<int, (ParamGroup Group, int Index)>();
        for (int g = 0; g < _groups.Count; g++)
        {
            var saved = state.ParamGroups[g];
            if (saved.Params.Length != _groups[g].ParamArray.Length)
                throw new ArgumentException($"{op}: parameter group {g} has {saved.Params.Length} parameters in the state but {_groups[g].ParamArray.Length} in the optimizer");
            for (int i = 0; i < saved.Params.Length; i++)
                if (!owner.TryAdd(saved.Params[i], (_groups[g], i)))
                    throw new ArgumentException($"{op}: parameter index {saved.Params[i]} appears twice in the state's groups");
        }
        foreach (var key in state.State.Keys)
            if (!owner.ContainsKey(key))
                throw new ArgumentException($"{op}: the state has an entry for parameter {key}, which no group lists");

        // Build everything first, then commit, so a bad state leaves the optimizer unchanged.
        using var _ = GradMode.Disable();
        var rebuilt = new List<(ParamGroup Group, int Index, object State)>();
        foreach (var (key, tensors) in state.State)
        {
            var (group, i) = owner[key];
            var p = group.ParamArray[i];
            var copies = new Dictionary<string, Tensor>();
            foreach (var (name, t) in tensors)
            {
                // Step counts are float64 scalars; every other state tensor is shaped and typed like its parameter.
                if (name == "step")
                {
                    copies[name] = t.To(DType.Float64).Clone();
                    continue;
                }
                if (!t._shape.AsSpan().SequenceEqual(p._shape))
                    throw new ShapeException(op, $"state '{name}' of parameter {key} has shape {ShapeChecks.Format(t._shape)} but the parameter has {ShapeChecks.Format(p._shape)}");
                copies[name] = t.To(p.DType).Clone();
            }
            rebuilt.Add((group, i, LoadState(group, p, copies)));
        }
        var options = new Dictionary<string, double>[_groups.Count];
        for (int g = 0; g < _groups.Count; g++)
        {
            // Validate on a snapshot so a rejected option cannot leave a group half-written.
            var before = new Dictionary<string, double>();
            _groups[g].WriteOptions(before);
            try
            {
                _groups[g].ReadOptions(state.ParamGroups[g].Options);
                _groups[g].Validate();
            }
            catch
            {
                _groups[g].ReadOptions(before);
                for (int k = 0; k < g; k++) _groups[k].ReadOptions(options[k]);
                throw;
            }
            options[g] = before;
        }
        foreach (var group in _groups) Array.Clear(group.States);
        foreach (var (group, i, s) in rebuilt) group.States[i] = s;
    }

    /// <summary>The per-parameter state of parameter <paramref name="index"/> in <paramref name="group"/> (null before its first update).</summary>
    protected static object? GetState(ParamGroup group, int index) => group.States[index];

    /// <summary>Stores the per-parameter state of parameter <paramref name="index"/> in <paramref name="group"/>.</summary>
    protected static void SetState(ParamGroup group, int index, object state) => group.States[index] = state;

    /// <summary>The saved tensor <paramref name="name"/>, or a clear error naming the optimizer.</summary>
    protected Tensor Required(IReadOnlyDictionary<string, Tensor> saved, string name) =>
        saved.TryGetValue(name, out var t) ? t
            : throw new ArgumentException($"{Name}.LoadStateDict: a parameter's state lacks '{name}'");

    /// <summary>A saved scalar step count.</summary>
    protected long RequiredStep(IReadOnlyDictionary<string, Tensor> saved) => (long)Required(saved, "step").ToScalar();

    /// <summary>A 0-d float64 tensor holding a step count (PyTorch keeps <c>step</c> as a tensor too).</summary>
    protected static Tensor StepTensor(long step) => Tensor.Scalar(step, DType.Float64);

    /// <summary>A zero-filled state buffer shaped and typed like <paramref name="p"/>, allocated once per parameter.</summary>
    protected static Tensor ZerosLike(Tensor p) => Tensor.ZerosLike(p);

    /// <summary>
    /// Bumps the storage version of each tensor about to be updated in place (nulls are skipped), so a graph that
    /// saved an old value notices. Fixed arity, so a step allocates nothing.
    /// </summary>
    protected static void MarkWritten(Tensor param, Tensor? s0 = null, Tensor? s1 = null, Tensor? s2 = null)
    {
        param.Storage.BumpVersion();
        s0?.Storage.BumpVersion();
        s1?.Storage.BumpVersion();
        s2?.Storage.BumpVersion();
    }
}

/// <summary>An optimizer whose groups have the typed options <typeparamref name="TGroup"/>.</summary>
public abstract class Optimizer<TGroup> : Optimizer where TGroup : ParamGroup
{
    private readonly List<TGroup> _typed = [];

    /// <summary>Creates an optimizer named <paramref name="name"/>.</summary>
    protected Optimizer(string name) : base(name) { }

    /// <summary>The parameter groups with their typed options.</summary>
    public new IReadOnlyList<TGroup> ParamGroups => _typed;

    /// <summary>Checks and adds <paramref name="group"/>; returns it for further tuning.</summary>
    protected TGroup Add(TGroup group)
    {
        AddGroup(group);
        _typed.Add(group);
        return group;
    }

    /// <inheritdoc/>
    protected sealed override void Update(ParamGroup group, int index, Tensor param, Tensor grad) =>
        UpdateParameter((TGroup)group, index, param, grad);

    /// <summary>Updates one parameter in place (see <see cref="Optimizer.Step()"/>).</summary>
    protected abstract void UpdateParameter(TGroup group, int index, Tensor param, Tensor grad);

    /// <inheritdoc/>
    protected sealed override object LoadState(ParamGroup group, Tensor param, IReadOnlyDictionary<string, Tensor> saved) =>
        RestoreState((TGroup)group, param, saved);

    /// <summary>Rebuilds one parameter's state (see <see cref="Optimizer.LoadStateDict"/>).</summary>
    protected abstract object RestoreState(TGroup group, Tensor param, IReadOnlyDictionary<string, Tensor> saved);
}
