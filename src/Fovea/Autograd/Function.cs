namespace Fovea;

/// <summary>
/// A differentiable operation and, once applied, the graph node that remembers how its output was made.
/// <see cref="Forward"/> computes from the inputs and saves what the backward needs
/// (<see cref="SaveForBackward"/>); <see cref="Backward"/> maps the gradient of the output to one gradient
/// per input; <see cref="Jvp"/> gives forward-mode derivatives. Users subclass it for custom ops exactly
/// like PyTorch's <c>torch.autograd.Function</c>:
/// <code>
/// sealed class Multiply : Function
/// {
///     protected override Tensor Forward(Tensor[] inputs) { SaveForBackward(inputs[0], inputs[1]); return inputs[0] * inputs[1]; }
///     protected override Tensor?[] Backward(Tensor gradOutput) { var (x, y) = (Saved[0], Saved[1]); return [gradOutput * y, gradOutput * x]; }
/// }
/// var z = new Multiply().Apply(x, y);
/// </code>
/// Backward rules are written with tensor ops, so running them with grad mode on (createGraph) records
/// a graph of the backward itself: that is how second derivatives work.
/// </summary>
public abstract class Function
{
    [ThreadStatic] private static int _forwardAdSuspended;
    private Tensor[]? _saved;
    private bool _recording;
    private int[]? _savedVersions;
    private bool _released;

    /// <summary>
    /// One edge per input, set when the node is recorded: the node that produced the input (a Function), the input
    /// itself when it is a leaf that requires grad (a Tensor), or null. The graph never holds an
    /// intermediate result: what the backward needs it saves (<see cref="SaveForBackward"/>, freed after the pass), so
    /// a result that nothing saved dies as soon as the forward code lets go of it, as in PyTorch, and a graph kept
    /// after its backward (a loss in a list) keeps only its nodes.
    /// </summary>
    private object?[] _edges = [];

    /// <summary>Shapes of the inputs, kept after saved tensors are freed (for gradient shape checks).</summary>
    internal int[][] InputShapes { get; private set; } = [];

    /// <summary>The shape of the tensor this node produced.</summary>
    internal int[] OutputShape { get; private set; } = [];

    /// <summary>
    /// The tensor this node produced, held only once it carries gradient hooks or retains its gradient (the engine
    /// must reach it from the node), until a backward pass that does not retain the graph is done with the node.
    /// </summary>
    internal Tensor? PinnedOutput { get; private set; }

    /// <summary>Inputs that need no gradient and have at most <see cref="KeptConstantElements"/> elements, for <see cref="GraphDot"/>'s pictures; null when there are none.</summary>
    private Tensor?[]? _constants;

    /// <summary>Constants of at most this many elements stay on the node, for <see cref="GraphDot"/>'s pictures.</summary>
    private const int KeptConstantElements = GraphDot.MaxDrawnElements;

    /// <summary>How many inputs the node was applied to.</summary>
    public int InputCount => _edges.Length;

    /// <summary>
    /// The node that produced each input, null for a leaf (PyTorch's <c>grad_fn.next_functions</c>); the graph's edges
    /// without the intermediate tensors themselves.
    /// </summary>
    public IReadOnlyList<Function?> NextFunctions
    {
        get
        {
            var next = new Function?[_edges.Length];
            for (int i = 0; i < next.Length; i++) next[i] = _edges[i] as Function;
            return next;
        }
    }

    /// <summary>
    /// Whether input <paramref name="index"/> wants a gradient (PyTorch's <c>ctx.needs_input_grad</c>): it was produced
    /// by a recorded op, or it is a leaf that requires grad now. A backward rule can skip the work for the others.
    /// </summary>
    public bool NeedsInputGrad(int index) => _edges[index] switch
    {
        Function => true,
        Tensor leaf => leaf.RequiresGrad,
        _ => false,
    };

    /// <summary>The node that produced input <paramref name="index"/>, or null for a leaf.</summary>
    internal Function? NextFunction(int index) => _edges[index] as Function;

    /// <summary>Input <paramref name="index"/> when it is a leaf that required grad when the node was recorded.</summary>
    internal Tensor? LeafInput(int index) => _edges[index] as Tensor;

    /// <summary>Input <paramref name="index"/> when it needed no gradient and is small enough to be kept for pictures.</summary>
    internal Tensor? ConstantInput(int index) => _constants?[index];

    /// <summary>Holds <paramref name="output"/> from this node, for its hooks or retained gradient.</summary>
    internal void PinOutput(Tensor output) => PinnedOutput = output;

    /// <summary>The gradients this node sent to each input in the last backward, kept only when small (for <see cref="GraphDot"/>).</summary>
    internal Tensor?[]? EdgeGradients { get; private set; }

    /// <summary>Where the node was created, when anomaly detection is on.</summary>
    internal string? CreationTrace { get; private set; }

    /// <summary>The op's name in messages and graph pictures (the class name without "Function").</summary>
    public virtual string Name
    {
        get
        {
            var n = GetType().Name;
            return n.EndsWith("Function", StringComparison.Ordinal) && n.Length > 8 ? n[..^8] : n;
        }
    }

    /// <summary>Computes the output from <paramref name="inputs"/>. Runs with grad mode off.</summary>
    protected abstract Tensor Forward(Tensor[] inputs);

    /// <summary>Returns dL/d(input i) for each input given dL/d(output); null where an input gets no gradient.</summary>
    protected abstract Tensor?[] Backward(Tensor gradOutput);

    /// <summary>
    /// Forward-mode rule: the output's tangent given the inputs' tangents (null = zero tangent).
    /// The default says the op has no forward-mode rule.
    /// </summary>
    protected virtual Tensor? Jvp(Tensor[] inputs, Tensor output, Tensor?[] tangents) =>
        throw new InvalidOperationException($"{Name}: this function defines no forward-mode (Jvp) rule");

    /// <summary>Saves tensors for <see cref="Backward"/>, remembering their versions to catch later in-place writes.</summary>
    protected void SaveForBackward(params Tensor[] tensors)
    {
        // Nothing will run backward through a node that is not recorded: keep nothing alive.
        if (!_recording) return;
        if (_saved is not null)
            foreach (var t in _saved) t.Storage.RemoveSaver();
        _saved = tensors;
        _savedVersions = new int[tensors.Length];
        for (int i = 0; i < tensors.Length; i++)
        {
            _savedVersions[i] = tensors[i].Storage.Version;
            tensors[i].Storage.AddSaver();
        }
    }

    /// <summary>The tensors given to <see cref="SaveForBackward"/>; throws if they were modified in place or freed.</summary>
    protected IReadOnlyList<Tensor> Saved
    {
        get
        {
            if (_released)
                throw new InvalidOperationException($"{Name}.Backward: trying to backward through the graph a second time; the saved tensors were freed after the first backward. Pass retainGraph: true to the first Backward call.");
            if (_saved is null) return [];
            for (int i = 0; i < _saved.Length; i++)
                if (_saved[i].Storage.Version != _savedVersions![i])
                    throw new InvalidOperationException($"{Name}.Backward: a tensor saved for {Name}.Backward was modified in place after it was saved (saved tensor {i}, shape {ShapeChecks.Format(_saved[i]._shape)}, version {_saved[i].Storage.Version}, expected {_savedVersions[i]}); clone it before modifying it.");
            return _saved;
        }
    }

    /// <summary>Bytes of the saved tensors other than leaves that require grad (the parameters, which live on elsewhere).</summary>
    internal long SavedResultBytes()
    {
        if (_saved is null) return 0;
        long bytes = 0;
        foreach (var t in _saved)
            if (!(t.IsLeaf && t.RequiresGrad)) bytes += (long)t.Storage.Length * t.DType.SizeOf();
        return bytes;
    }

    /// <summary>
    /// Frees the saved tensors after a backward pass that does not retain the graph. With <paramref name="recycle"/>,
    /// a saved buffer whose owner has disowned it (<see cref="StoragePool.Recycle"/>) and that no other node still
    /// holds goes to the pool: an activation that a container made, read, and let go of during the forward. Returns
    /// the bytes handed to the pool.
    /// </summary>
    internal long Release(bool recycle)
    {
        long recycled = 0;
        if (_saved is not null)
            foreach (var t in _saved)
                if (t.Storage.RemoveSaver() && recycle && StoragePool.Return(t.Storage))
                    recycled += (long)t.Storage.Length * t.DType.SizeOf();
        _saved = null;
        PinnedOutput = null;
        _released = true;
        return recycled;
    }

    internal bool Released => _released;

    /// <summary>True while <see cref="Forward"/> runs for a node that is being recorded (some input requires grad, grad mode on).</summary>
    internal bool IsRecording => _recording;

    /// <summary>
    /// Runs the function: computes the output with grad mode off, then records this node as the output's
    /// <see cref="Tensor.GradFn"/> when grad mode is on and some input requires grad, and propagates
    /// forward-mode tangents when some input carries one.
    /// </summary>
    public Tensor Apply(params Tensor[] inputs)
    {
        bool record = false;
        bool dual = false;
        foreach (var t in inputs)
        {
            record |= t.RequiresGrad;
            dual |= t.Tangent is not null;
        }
        record &= GradMode.IsEnabled;
        _recording = record;
        // Tangents flow only through this op's own Jvp rule, never through the ops that its Forward or
        // Jvp are written with (which would recurse through the same dual inputs).
        dual &= _forwardAdSuspended == 0;
        Tensor output;
        using (GradMode.Disable())
        {
            _forwardAdSuspended++;
            try { output = Forward(inputs); }
            finally { _forwardAdSuspended--; }
        }
        // An op may hand back one of its inputs unchanged (a no-op reshape); the output must be its own node.
        foreach (var t in inputs)
            if (ReferenceEquals(t, output)) { output = output.Alias(); break; }
        if (Anomaly.Enabled) Anomaly.CheckForward(this, output);
        if (record)
        {
            if (!output.DType.IsFloating())
                throw new DTypeException(Name, $"produced a {output.DType.Name()} output from inputs that require grad; only floating outputs can be differentiated");
            var edges = new object?[inputs.Length];
            var shapes = new int[inputs.Length][];
            _constants = null;
            for (int i = 0; i < inputs.Length; i++)
            {
                var input = inputs[i];
                shapes[i] = input._shape;
                if (input.GradFn is { } producer) edges[i] = producer;
                else if (input.RequiresGrad) edges[i] = input;
                else if (input.Numel <= KeptConstantElements) (_constants ??= new Tensor?[inputs.Length])[i] = input;
            }
            _edges = edges;
            InputShapes = shapes;
            OutputShape = output._shape;
            if (Anomaly.Enabled) CreationTrace = Environment.StackTrace;
            output.SetGradFn(this);
        }
        if (dual)
        {
            var tangents = new Tensor?[inputs.Length];
            for (int i = 0; i < inputs.Length; i++) tangents[i] = inputs[i].Tangent;
            Tensor? tangent;
            using (GradMode.Disable())
            {
                _forwardAdSuspended++;
                try { tangent = Jvp(inputs, output, tangents); }
                finally { _forwardAdSuspended--; }
            }
            if (tangent is not null)
            {
                ShapeChecks.Same($"{Name}.Jvp", tangent._shape, output._shape);
                output.Tangent = tangent;
            }
        }
        return output;
    }

    /// <summary>Called by the engine: runs <see cref="Backward"/> and checks the result's count and shapes.</summary>
    internal Tensor?[] RunBackward(Tensor gradOutput)
    {
        var grads = Backward(gradOutput);
        if (grads.Length != InputShapes.Length)
            throw new InvalidOperationException($"{Name}.Backward returned {grads.Length} gradients for {InputShapes.Length} inputs");
        for (int i = 0; i < grads.Length; i++)
        {
            var g = grads[i];
            if (g is null) continue;
            if (!g._shape.AsSpan().SequenceEqual(InputShapes[i]))
                throw new ShapeException($"{Name}.Backward", $"returned a gradient of shape {ShapeChecks.Format(g._shape)} for input {i} of shape {ShapeChecks.Format(InputShapes[i])}");
        }
        bool small = true;
        foreach (var g in grads) small &= g is null || g.Numel <= GraphDot.MaxDrawnElements;
        EdgeGradients = small ? grads : null;
        return grads;
    }
}
