namespace Fovea;

/// <summary>
/// Functional autograd: gradients of chosen outputs with respect to chosen inputs (<c>torch.autograd.grad</c>),
/// vector-Jacobian and Jacobian-vector products, Jacobians, Hessians and Hessian-vector products, anomaly mode.
/// </summary>
public static class Autograd
{
    private static long _collectAfterBackwardBytes = 64L << 20;

    /// <summary>
    /// After a backward pass that frees at least this many bytes of saved results (64 MiB by default), Fovea starts a
    /// background full garbage collection; 0 turns it off. Why: a training step's activations live through the whole
    /// step, so by its end they have been promoted to the oldest generation, which .NET only sweeps at a full
    /// collection. Without one, the next step's forward allocates beside the last step's dead activations and the
    /// heap holds two steps' worth (a ResNet-18 at batch 32 and 112²: peak working set 920 MB with it off, 640–670 MB on;
    /// PyTorch frees them at once by reference counting). The collection runs concurrently with the next forward
    /// (the runtime's background GC), so the step does not wait for it.
    /// </summary>
    public static long CollectAfterBackwardBytes
    {
        get => Interlocked.Read(ref _collectAfterBackwardBytes);
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value);
            Interlocked.Exchange(ref _collectAfterBackwardBytes, value);
        }
    }

    /// <summary>
    /// Returns d(Σ gradOutputs·outputs)/d(input) for each input, without touching any <see cref="Tensor.Grad"/>.
    /// Inputs that do not reach the outputs get null when <paramref name="allowUnused"/>, else an error.
    /// </summary>
    public static Tensor?[] Grad(IReadOnlyList<Tensor> outputs, IReadOnlyList<Tensor> inputs, IReadOnlyList<Tensor>? gradOutputs = null,
        bool retainGraph = false, bool createGraph = false, bool allowUnused = false)
    {
        var seeds = new Tensor[outputs.Count];
        for (int i = 0; i < outputs.Count; i++)
        {
            if (gradOutputs is not null && gradOutputs[i] is { } g) seeds[i] = g;
            else if (outputs[i].Numel == 1) seeds[i] = Tensor.OnesLike(outputs[i]);
            else throw new ShapeException("grad", $"grad can be implicitly created only for scalar outputs, got output {i} of shape {ShapeChecks.Format(outputs[i]._shape)}; pass gradOutputs");
        }
        foreach (var x in inputs)
            if (!x.RequiresGrad)
                throw new InvalidOperationException($"grad: an input of shape {ShapeChecks.Format(x._shape)} does not require grad");
        var capture = new Dictionary<Tensor, Tensor?>(ReferenceEqualityComparer.Instance);
        foreach (var x in inputs) capture[x] = null;
        Engine.Run(outputs, seeds, retainGraph || createGraph, createGraph, capture);
        var result = new Tensor?[inputs.Count];
        for (int i = 0; i < inputs.Count; i++)
        {
            result[i] = capture[inputs[i]];
            if (result[i] is null && !allowUnused)
                throw new InvalidOperationException($"grad: input {i} (shape {ShapeChecks.Format(inputs[i]._shape)}) was not used to compute the outputs; pass allowUnused: true to get null for it");
        }
        return result;
    }

    /// <summary>The gradient of a scalar <paramref name="output"/> with respect to one <paramref name="input"/>.</summary>
    public static Tensor Grad(Tensor output, Tensor input, bool createGraph = false) =>
        Grad([output], [input], null, createGraph, createGraph, allowUnused: true)[0] ?? Tensor.ZerosLike(input);

    /// <summary>f(x) and vᵀ·J at x, by one backward pass.</summary>
    public static (Tensor Output, Tensor Vjp) Vjp(Func<Tensor, Tensor> f, Tensor x, Tensor v, bool createGraph = false)
    {
        var xi = Input(x);
        var y = f(xi);
        ShapeChecks.Same("vjp", v._shape, y._shape);
        var g = y.RequiresGrad ? Grad([y], [xi], [v], createGraph, createGraph, allowUnused: true)[0] : null;
        return (createGraph ? y : y.Detach(), g ?? Tensor.ZerosLike(x));
    }

    /// <summary>f(x) and J·v at x, by one forward pass with dual tensors (no backward).</summary>
    public static (Tensor Output, Tensor Jvp) Jvp(Func<Tensor, Tensor> f, Tensor x, Tensor v)
    {
        ShapeChecks.Same("jvp", v._shape, x._shape);
        var y = f(ForwardAD.MakeDual(x, v));
        var (primal, tangent) = ForwardAD.Unpack(y);
        return (primal, tangent ?? Tensor.ZerosLike(primal));
    }

    /// <summary>The Jacobian d f(x) / d x, of shape f(x).shape ++ x.shape, one vjp per output element.</summary>
    public static Tensor Jacobian(Func<Tensor, Tensor> f, Tensor x, bool createGraph = false)
    {
        var xi = Input(x);
        var y = f(xi);
        int m = y.Numel;
        var rows = new Tensor[m];
        for (int i = 0; i < m; i++)
        {
            var e = Tensor.Zeros(y._shape, y.DType);
            e.SetFlat(i, 1);
            var g = y.RequiresGrad ? Grad([y], [xi], [e], retainGraph: true, createGraph: createGraph, allowUnused: true)[0] : null;
            rows[i] = (g ?? Tensor.ZerosLike(x)).Reshape(-1);
        }
        var jac = m == 0 ? Tensor.Zeros([0, x.Numel], x.DType) : Tensor.Stack(rows);
        return jac.Reshape([.. y._shape, .. x._shape]);
    }

    /// <summary>The Hessian of a scalar function: the Jacobian of its gradient, shape x.shape ++ x.shape.</summary>
    public static Tensor Hessian(Func<Tensor, Tensor> f, Tensor x) =>
        Jacobian(xi => Grad(CheckScalar("hessian", f(xi)), xi, createGraph: true), x);

    /// <summary>
    /// Hessian-vector product H·v of a scalar function at x, without forming H: differentiate (∇f · v) once more
    /// (reverse-over-reverse). Returns f(x) and H·v.
    /// </summary>
    public static (Tensor Output, Tensor Hvp) Hvp(Func<Tensor, Tensor> f, Tensor x, Tensor v)
    {
        ShapeChecks.Same("hvp", v._shape, x._shape);
        var xi = Input(x);
        var y = CheckScalar("hvp", f(xi));
        var g = Grad(y, xi, createGraph: true);
        var gv = g.Mul(v).Sum();
        var hv = gv.RequiresGrad ? Grad([gv], [xi], null, allowUnused: true)[0] : null;
        return (y.Detach(), hv ?? Tensor.ZerosLike(x));
    }

    /// <summary>The Graphviz DOT picture of the graph behind <paramref name="output"/> (see <see cref="GraphDot"/>).</summary>
    public static string ToDot(Tensor output) => GraphDot.ToDot(output);

    /// <summary>Within the returned scope, the first NaN or infinity from any op's forward or backward raises an error naming the op.</summary>
    public static IDisposable DetectAnomaly() => Anomaly.Enter();

    private static Tensor Input(Tensor x) => x.Detach().RequiresGrad_();

    private static Tensor CheckScalar(string op, Tensor y)
    {
        if (y.Numel != 1)
            throw new ShapeException(op, $"the function must return a scalar, got shape {ShapeChecks.Format(y._shape)}");
        return y;
    }
}
