namespace Fovea.NN;

/// <summary>
/// Base of every layer and model. A module registers its parameters (trainable tensors), buffers
/// (state that is saved but not trained, like batch-norm running statistics) and child modules in its
/// constructor, in order and by name; there is no reflection. Names nest with dots, as in PyTorch
/// (<c>features.0.weight</c>).
/// </summary>
public abstract class Module
{
    private readonly List<KeyValuePair<string, Tensor>> _parameters = [];
    private readonly List<KeyValuePair<string, Tensor>> _buffers = [];
    private readonly List<KeyValuePair<string, Module>> _children = [];
    private readonly List<KeyValuePair<string, ModuleState>> _states = [];

    /// <summary>True in training mode (dropout active, batch norm uses batch statistics); see <see cref="Train"/>.</summary>
    public bool Training { get; private set; } = true;

    /// <summary>A short description for summaries, e.g. <c>Conv2d(3 -> 16, k=3)</c>.</summary>
    public virtual string Describe() => GetType().Name;

    /// <summary>Registers a trainable tensor under <paramref name="name"/> and marks it as requiring grad.</summary>
    protected Tensor RegisterParameter(string name, Tensor value)
    {
        CheckName(name);
        if (!value.IsLeaf) value = value.Detach();
        value.RequiresGrad = true;
        _parameters.Add(new(name, value));
        return value;
    }

    /// <summary>Registers a saved, untrained tensor under <paramref name="name"/>.</summary>
    protected Tensor RegisterBuffer(string name, Tensor value)
    {
        CheckName(name);
        _buffers.Add(new(name, value));
        return value;
    }

    /// <summary>Registers a child module under <paramref name="name"/>.</summary>
    protected T RegisterModule<T>(string name, T module) where T : Module
    {
        CheckName(name);
        _children.Add(new(name, module));
        return module;
    }

    /// <summary>
    /// Registers state that is neither trained nor a tensor the layer computes with, but that must survive a
    /// checkpoint for a resumed run to continue exactly (a generator position, a counter): <paramref name="save"/>
    /// returns it as a tensor for <see cref="StateDict"/>, <paramref name="load"/> takes it back in
    /// <see cref="LoadStateDict"/> (and throws <see cref="ArgumentException"/> for a tensor that does not fit).
    /// Unlike parameters and buffers, such an entry may be absent from a state dict being loaded (weights saved
    /// elsewhere, or before the layer had it): the state then stays as it is.
    /// </summary>
    protected void RegisterState(string name, Func<Tensor> save, Action<Tensor> load)
    {
        CheckName(name);
        _states.Add(new(name, new ModuleState(save, load)));
    }

    /// <summary>Replaces the tensor of a registered buffer (buffers such as running means are re-assigned, not updated in place).</summary>
    protected void SetBuffer(string name, Tensor value)
    {
        int i = _buffers.FindIndex(kv => kv.Key == name);
        if (i < 0) throw new ArgumentException($"{GetType().Name} has no buffer '{name}'");
        _buffers[i] = new(name, value);
    }

    /// <summary>The current tensor of a registered buffer.</summary>
    protected Tensor GetBuffer(string name) =>
        _buffers.Find(kv => kv.Key == name).Value ?? throw new ArgumentException($"{GetType().Name} has no buffer '{name}'");

    private void CheckName(string name)
    {
        if (string.IsNullOrEmpty(name) || name.Contains('.'))
            throw new ArgumentException($"{GetType().Name}: invalid name '{name}' (non-empty, no dots)");
        if (_parameters.Exists(kv => kv.Key == name) || _buffers.Exists(kv => kv.Key == name) || _children.Exists(kv => kv.Key == name)
            || _states.Exists(kv => kv.Key == name))
            throw new ArgumentException($"{GetType().Name}: the name '{name}' is already registered");
    }

    /// <summary>
    /// A promise about <c>Forward</c>, with gradients on or off: it keeps no reference to the tensor it was given or to
    /// the one it returns once it returns (what autograd's graph nodes save aside), and what it returns is either a
    /// tensor it made for this call or its input (or a view of it), never one it keeps (a buffer, a cached result).
    /// <see cref="Sequential"/> relies on it: where every layer below it promises this and none has a forward hook,
    /// the buffer of each intermediate output goes back to the <see cref="StoragePool"/> as soon as the next layer
    /// has read it (in training, once the backward pass is done with it), so the layers after it write into memory
    /// the process already has (a fresh buffer costs a page fault per 4 KiB, and on a virtual machine that fault can
    /// cost more than the layer's arithmetic). Fovea's layers say true; a module of your own is assumed to keep what
    /// it is given unless it overrides this.
    /// </summary>
    public virtual bool HoldsNoActivations => false;

    /// <summary>Whether a forward hook or pre-hook is registered on this module (any forward signature).</summary>
    internal virtual bool HasAnyForwardHook => false;

    /// <summary>
    /// True when this module and every module below it <see cref="HoldsNoActivations"/> and has no forward hook, so no
    /// tensor it is given or returns is kept anywhere once its forward returns (but by autograd): a container of your
    /// own may then hand an intermediate output it made to <see cref="StoragePool.Recycle"/> once the next layer has
    /// read it, as <see cref="Sequential"/> and the zoo's residual blocks do.
    /// </summary>
    public bool ReleasesActivations()
    {
        if (!HoldsNoActivations || HasAnyForwardHook) return false;
        foreach (var (_, child) in _children)
            if (!child.ReleasesActivations()) return false;
        return true;
    }

    /// <summary>Direct children with their names.</summary>
    public IEnumerable<(string Name, Module Module)> NamedChildren() => _children.Select(kv => (kv.Key, kv.Value));

    /// <summary>This module and all descendants with dotted names ("" for this one).</summary>
    public IEnumerable<(string Name, Module Module)> NamedModules(string prefix = "")
    {
        yield return (prefix, this);
        foreach (var (name, child) in _children)
            foreach (var m in child.NamedModules(Join(prefix, name))) yield return m;
    }

    /// <summary>Every parameter of this module and its descendants with dotted names, in registration order.</summary>
    public IEnumerable<(string Name, Tensor Parameter)> NamedParameters(string prefix = "")
    {
        foreach (var (name, p) in _parameters) yield return (Join(prefix, name), p);
        foreach (var (name, child) in _children)
            foreach (var np in child.NamedParameters(Join(prefix, name))) yield return np;
    }

    /// <summary>Every parameter, in registration order.</summary>
    public IEnumerable<Tensor> Parameters() => NamedParameters().Select(np => np.Parameter);

    /// <summary>Every buffer with dotted names.</summary>
    public IEnumerable<(string Name, Tensor Buffer)> NamedBuffers(string prefix = "")
    {
        foreach (var (name, b) in _buffers) yield return (Join(prefix, name), b);
        foreach (var (name, child) in _children)
            foreach (var nb in child.NamedBuffers(Join(prefix, name))) yield return nb;
    }

    /// <summary>
    /// Every state entry of <see cref="RegisterState"/> (this module's and its descendants') with dotted names: the
    /// part of <see cref="StateDict"/> that is neither parameter nor buffer.
    /// </summary>
    public IEnumerable<(string Name, Tensor State)> NamedStates(string prefix = "")
    {
        foreach (var (name, s) in _states) yield return (Join(prefix, name), s.Save());
        foreach (var (name, child) in _children)
            foreach (var ns in child.NamedStates(Join(prefix, name))) yield return ns;
    }

    private IEnumerable<(string Name, ModuleState State)> NamedStateEntries(string prefix = "")
    {
        foreach (var (name, s) in _states) yield return (Join(prefix, name), s);
        foreach (var (name, child) in _children)
            foreach (var ns in child.NamedStateEntries(Join(prefix, name))) yield return ns;
    }

    private static string Join(string prefix, string name) => prefix.Length == 0 ? name : prefix + "." + name;

    /// <summary>Sets training mode on this module and every descendant.</summary>
    public Module Train(bool mode = true)
    {
        foreach (var (_, m) in NamedModules()) m.Training = mode;
        return this;
    }

    /// <summary>Evaluation mode (<c>Train(false)</c>).</summary>
    public Module Eval() => Train(false);

    /// <summary>Clears the gradients of every parameter: to null by default, or zeroed in place (see <see cref="Tensor.ZeroGrad"/>).</summary>
    public void ZeroGrad(bool setToNone = true)
    {
        foreach (var p in Parameters()) p.ZeroGrad(setToNone);
    }

    /// <summary>Stops gradients for every parameter (transfer learning: freeze a feature extractor).</summary>
    public Module Freeze()
    {
        foreach (var p in Parameters()) p.RequiresGrad = false;
        return this;
    }

    /// <summary>Lets gradients flow to every parameter again.</summary>
    public Module Unfreeze()
    {
        foreach (var p in Parameters()) p.RequiresGrad = true;
        return this;
    }

    /// <summary>Number of parameter elements (trainable only when <paramref name="trainableOnly"/>).</summary>
    public long ParameterCount(bool trainableOnly = false) =>
        Parameters().Where(p => !trainableOnly || p.RequiresGrad).Sum(p => (long)p.Numel);

    /// <summary>
    /// Parameters, buffers and registered state (<see cref="RegisterState"/>) by dotted name, in that order: what a
    /// checkpoint stores.
    /// </summary>
    public StateDict StateDict()
    {
        var sd = new StateDict();
        foreach (var (n, p) in NamedParameters()) sd.Add(n, p.Detach());
        foreach (var (n, b) in NamedBuffers()) sd.Add(n, b.Detach());
        foreach (var (n, s) in NamedStates()) sd.Add(n, s);
        return sd;
    }

    /// <summary>
    /// Copies values from <paramref name="state"/> into this module's parameters and buffers, and hands registered
    /// state entries (<see cref="RegisterState"/>) to their modules. With <paramref name="strict"/>, every parameter
    /// and buffer key must match and nothing may be left over (registered state may be absent); the error lists the
    /// missing and unexpected keys and any shape mismatches.
    /// </summary>
    public void LoadStateDict(StateDict state, bool strict = true)
    {
        var own = new Dictionary<string, (Tensor Tensor, bool IsBuffer)>();
        foreach (var (n, p) in NamedParameters()) own[n] = (p, false);
        foreach (var (n, b) in NamedBuffers()) own[n] = (b, true);
        var states = NamedStateEntries().ToList();
        var missing = own.Keys.Where(k => !state.ContainsKey(k)).ToList();
        var unexpected = state.Keys.Where(k => !own.ContainsKey(k) && !states.Exists(s => s.Name == k)).ToList();
        var mismatched = own.Where(kv => state.ContainsKey(kv.Key) && !kv.Value.Tensor.Shape.SequenceEqual(state[kv.Key].Shape))
            .Select(kv => $"{kv.Key}: checkpoint {ShapeChecks.Format(state[kv.Key].Shape)}, model {ShapeChecks.Format(kv.Value.Tensor.Shape)}").ToList();
        if (mismatched.Count > 0 || (strict && (missing.Count > 0 || unexpected.Count > 0)))
        {
            var parts = new List<string>();
            if (missing.Count > 0) parts.Add("missing keys: " + string.Join(", ", missing));
            if (unexpected.Count > 0) parts.Add("unexpected keys: " + string.Join(", ", unexpected));
            if (mismatched.Count > 0) parts.Add("shape mismatches: " + string.Join("; ", mismatched));
            throw new ArgumentException($"load_state_dict into {GetType().Name}: " + string.Join("; ", parts));
        }
        // Registered state first: its loader is what checks it, and a refusal then leaves the weights untouched.
        foreach (var (name, entry) in states)
            if (state.TryGetValue(name, out var value))
            {
                try
                {
                    entry.Load(value);
                }
                catch (ArgumentException e)
                {
                    throw new ArgumentException($"load_state_dict into {GetType().Name}: {name}: {e.Message}", e);
                }
            }
        using var _ = GradMode.Disable();
        foreach (var (name, (tensor, _)) in own)
            if (state.TryGetValue(name, out var value))
                tensor.CopyFrom(value.To(tensor.DType));
    }

    /// <summary>Converts every parameter and buffer to <paramref name="dtype"/> (e.g. Float64 for gradient checks).</summary>
    public Module To(DType dtype)
    {
        foreach (var (_, m) in NamedModules()) m.ConvertOwn(dtype);
        return this;
    }

    private void ConvertOwn(DType dtype)
    {
        for (int i = 0; i < _parameters.Count; i++)
        {
            var p = _parameters[i].Value;
            if (p.DType == dtype || !p.DType.IsFloating()) continue;
            var converted = p.Detach().To(dtype).Contiguous().Clone().RequiresGrad_(p.RequiresGrad);
            _parameters[i] = new(_parameters[i].Key, converted);
            OnParameterReplaced(_parameters[i].Key, converted);
        }
        for (int i = 0; i < _buffers.Count; i++)
        {
            var b = _buffers[i].Value;
            if (b.DType != dtype && b.DType.IsFloating()) _buffers[i] = new(_buffers[i].Key, b.To(dtype).Contiguous());
        }
    }

    /// <summary>Called when <see cref="To"/> replaces a parameter, so a layer can update the field that holds it.</summary>
    protected virtual void OnParameterReplaced(string name, Tensor value) { }

    /// <summary>The tensor currently registered as parameter <paramref name="name"/>.</summary>
    protected Tensor GetParameter(string name) =>
        _parameters.Find(kv => kv.Key == name).Value ?? throw new ArgumentException($"{GetType().Name} has no parameter '{name}'");
}

/// <summary>A registered state entry: how to read it as a tensor and how to set it from one.</summary>
internal sealed record ModuleState(Func<Tensor> Save, Action<Tensor> Load);

/// <summary>
/// A module with a typed forward pass (TorchSharp's <c>Module&lt;TIn, TOut&gt;</c>). <see cref="Forward"/> is the
/// computation; <see cref="Call"/> runs it between the module's hooks, as PyTorch's <c>module(x)</c> does, and is
/// what containers and the zoo's blocks use for their children, so a hook on any named sub-module fires.
/// </summary>
public abstract class Module<TIn, TOut> : Module
{
    // Hooks in registration order, each with the id its handle removes. Copy-on-write arrays: a hook that
    // registers or removes hooks while running changes the next call, not the one in progress (PyTorch iterates
    // a snapshot of its dict in the same way).
    private (long Id, Func<Module<TIn, TOut>, TIn, TIn> Hook)[] _preHooks = [];
    private (long Id, Func<Module<TIn, TOut>, TIn, TOut, TOut> Hook)[] _hooks = [];
    private readonly object _hookLock = new();
    private static long s_nextHookId;

    /// <summary>True when any forward hook or pre-hook is registered (inference-time fusions then leave the module alone).</summary>
    internal bool HasForwardHooks => Volatile.Read(ref _hooks).Length > 0 || Volatile.Read(ref _preHooks).Length > 0;

    /// <inheritdoc/>
    internal override bool HasAnyForwardHook => HasForwardHooks;

    /// <summary>Computes the output (without hooks; see <see cref="Call"/>).</summary>
    public abstract TOut Forward(TIn input);

    /// <summary>
    /// Runs the forward pre-hooks, <see cref="Forward"/> and the forward hooks, in registration order (PyTorch's
    /// <c>Module.__call__</c>): each pre-hook may replace the input, each hook sees the input passed to
    /// <see cref="Forward"/> and may replace the output, and the next hook sees the replacement.
    /// </summary>
    public TOut Call(TIn input)
    {
        var preHooks = Volatile.Read(ref _preHooks);
        foreach (var (_, hook) in preHooks) input = hook(this, input);
        var output = Forward(input);
        var hooks = Volatile.Read(ref _hooks);
        foreach (var (_, hook) in hooks) output = hook(this, input, output);
        return output;
    }

    /// <summary>
    /// Registers <paramref name="hook"/>(module, input, output) to run after every <see cref="Call"/>; what it
    /// returns becomes the output (return <c>output</c> to keep it). Remove it with the handle.
    /// </summary>
    public RemovableHandle RegisterForwardHook(Func<Module<TIn, TOut>, TIn, TOut, TOut> hook)
    {
        ArgumentNullException.ThrowIfNull(hook);
        long id = Interlocked.Increment(ref s_nextHookId);
        lock (_hookLock) _hooks = [.. _hooks, (id, hook)];
        return new RemovableHandle(() => { lock (_hookLock) _hooks = Array.FindAll(_hooks, h => h.Id != id); });
    }

    /// <summary>Registers a forward hook that only observes (module, input, output) and keeps the output.</summary>
    public RemovableHandle RegisterForwardHook(Action<Module<TIn, TOut>, TIn, TOut> hook)
    {
        ArgumentNullException.ThrowIfNull(hook);
        return RegisterForwardHook((m, x, y) =>
        {
            hook(m, x, y);
            return y;
        });
    }

    /// <summary>
    /// Registers <paramref name="hook"/>(module, input) to run before every <see cref="Forward"/> inside
    /// <see cref="Call"/>; what it returns becomes the input (PyTorch's forward pre-hook).
    /// </summary>
    public RemovableHandle RegisterForwardPreHook(Func<Module<TIn, TOut>, TIn, TIn> hook)
    {
        ArgumentNullException.ThrowIfNull(hook);
        long id = Interlocked.Increment(ref s_nextHookId);
        lock (_hookLock) _preHooks = [.. _preHooks, (id, hook)];
        return new RemovableHandle(() => { lock (_hookLock) _preHooks = Array.FindAll(_preHooks, h => h.Id != id); });
    }
}
