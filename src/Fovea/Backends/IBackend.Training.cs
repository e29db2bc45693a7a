namespace Fovea.Backends;

/// <summary>
/// The coefficients of one SGD step (<c>torch.optim.SGD</c>); <paramref name="FirstStep"/> means the momentum
/// buffer is set to the direction rather than decayed.
/// </summary>
public readonly record struct SgdStep(double Lr, double Momentum, double Dampening, bool Nesterov, double WeightDecay, bool Maximize, bool FirstStep);

/// <summary>
/// The coefficients of one Adam or AdamW step (<c>torch.optim.Adam</c> / <c>AdamW</c>) at step count
/// <paramref name="Step"/> (1 on the first update); <paramref name="Decoupled"/> selects AdamW's decay of the parameter.
/// </summary>
public readonly record struct AdamStep(double Lr, double Beta1, double Beta2, double Eps, double WeightDecay, bool Decoupled, bool Amsgrad, bool Maximize, long Step);

/// <summary>The coefficients of one RMSprop step (<c>torch.optim.RMSprop</c>).</summary>
public readonly record struct RMSpropStep(double Lr, double Alpha, double Eps, double WeightDecay, double Momentum, bool Centered, bool Maximize);

/// <summary>
/// A run of a counter-based random stream: value i of a fill is a function of
/// <see cref="Generator.Hash"/>(<paramref name="Seed"/>, <paramref name="Start"/> + i) alone, so every backend,
/// whatever its threading and traversal, draws the same numbers. This type defines those numbers; the fill
/// primitives only decide where each one goes.
/// </summary>
public readonly record struct RandomStream(ulong Seed, long Start)
{
    private const double TwoToMinus53 = 1.0 / (1UL << 53);

    private ulong Bits(long i) => Generator.Hash(Seed, (ulong)(Start + i)) >> 11;

    /// <summary>uᵢ = ⌊Hash(seed, start + i) / 2¹¹⌋ · 2⁻⁵³: uniform on [0, 1) with 53 random bits.</summary>
    public double Unit(long i) => Bits(i) * TwoToMinus53;

    /// <summary>
    /// Normal values number 2j and 2j + 1 (Box–Muller): u₁ = (⌊Hash(seed, start + 2j)/2¹¹⌋ + 1)·2⁻⁵³ ∈ (0, 1] so the
    /// log is finite, u₂ = Unit(2j + 1), r = √(−2 ln u₁); mean + std·r·cos(2πu₂) and mean + std·r·sin(2πu₂).
    /// </summary>
    public (double First, double Second) NormalPair(long j, double mean, double std)
    {
        double u1 = (Bits(2 * j) + 1) * TwoToMinus53;
        double u2 = Unit(2 * j + 1);
        double r = Math.Sqrt(-2.0 * Math.Log(u1));
        return (mean + std * r * Math.Cos(2 * Math.PI * u2), mean + std * r * Math.Sin(2 * Math.PI * u2));
    }

    /// <summary>An integer uniform on [low, high): low + min(k − 1, ⌊uᵢ·k⌋) with k = high − low &gt; 0.</summary>
    public int Integer(long i, int low, int high)
    {
        long k = (long)high - low;
        return (int)(low + (long)Math.Min(k - 1, Math.Floor(Unit(i) * k)));
    }

    /// <summary>
    /// <paramref name="v"/> rounded to float32; a value that rounds up to <paramref name="high"/> becomes the float just
    /// below it, so a uniform fill's interval stays half-open.
    /// </summary>
    public static float ToFloat(double v, double high)
    {
        float f = (float)v;
        return f >= high ? MathF.BitDecrement((float)high) : f;
    }
}

/// <summary>The operand rules of the training primitives, checked alike by every backend.</summary>
internal static class TrainingChecks
{
    /// <summary>x [N, C, ...] as (N, C, S) with S the spatial size; element (i, ch, k) sits at (i·C + ch)·S + k row-major.</summary>
    public static (int N, int C, int S) ChannelDims(int[] shape)
    {
        int s = 1;
        for (int d = 2; d < shape.Length; d++) s *= shape[d];
        return (shape[0], shape[1], s);
    }

    /// <summary>
    /// Parameter, gradient and (present) state buffers: floating, one dtype, one shape, contiguous. Allocates
    /// nothing unless it throws, so a steady-state optimizer step stays allocation-free.
    /// </summary>
    public static void Update(string op, Tensor param, Tensor grad, Tensor? s0 = null, Tensor? s1 = null, Tensor? s2 = null)
    {
        if (!param.DType.IsFloating())
            throw new DTypeException(op, $"parameters must be float32 or float64, got {param.DType.Name()}");
        if (!param.IsContiguous) throw NotContiguous(op, "the parameter", param);
        Operand(op, -1, param, grad);
        if (s0 is not null) Operand(op, 0, param, s0);
        if (s1 is not null) Operand(op, 1, param, s1);
        if (s2 is not null) Operand(op, 2, param, s2);
    }

    /// <summary>
    /// Layer-norm operands: x floating with a whole number of rows of <paramref name="normalized"/> (at least 1) values,
    /// the present weight, bias and gradient of x's dtype, the first two of <paramref name="normalized"/> values and the
    /// gradient of x's shape. Returns the number of rows.
    /// </summary>
    public static int LayerNorm(Tensor x, int normalized, Tensor? weight, Tensor? bias, Tensor? gradOutput = null)
    {
        const string op = "layer_norm";
        if (!x.DType.IsFloating()) throw new DTypeException(op, $"input must be float32 or float64, got {x.DType.Name()}");
        if (normalized < 1 || x.Numel % normalized != 0)
            throw new ShapeException(op, $"input {ShapeChecks.Format(x._shape)} does not hold whole rows of {normalized} values");
        foreach (var (t, name) in new[] { (weight, "weight"), (bias, "bias") })
        {
            if (t is null) continue;
            if (t.DType != x.DType) throw new DTypeException(op, $"{name} is {t.DType.Name()} but the input is {x.DType.Name()}");
            if (t.Numel != normalized) throw new ShapeException(op, $"{name} has {t.Numel} values for rows of {normalized}");
        }
        if (gradOutput is not null)
        {
            if (gradOutput.DType != x.DType) throw new DTypeException(op, $"the output gradient is {gradOutput.DType.Name()} but the input is {x.DType.Name()}");
            if (!gradOutput._shape.AsSpan().SequenceEqual(x._shape))
                throw new ShapeException(op, $"the output gradient has shape {ShapeChecks.Format(gradOutput._shape)} but the input has {ShapeChecks.Format(x._shape)}");
        }
        return x.Numel / normalized;
    }

    /// <summary>
    /// Local-response-norm operands: x floating with at least 2 dims, a window of at least one channel, and the present
    /// denominator and gradient of x's shape and dtype. Returns x as (N, C, S), S the size of the dims after the channels.
    /// </summary>
    public static (int N, int C, int S) LocalResponseNorm(Tensor x, int size, Tensor? denominator = null, Tensor? gradOutput = null)
    {
        const string op = "local_response_norm";
        if (!x.DType.IsFloating()) throw new DTypeException(op, $"input must be float32 or float64, got {x.DType.Name()}");
        if (x.Rank < 2) throw new ShapeException(op, $"expected an input [N, C, ...], got {ShapeChecks.Format(x._shape)}");
        if (size < 1) throw new ArgumentOutOfRangeException(nameof(size), size, $"{op}: size (channels in the window) must be at least 1");
        foreach (var (t, name) in new[] { (denominator, "denominator"), (gradOutput, "output gradient") })
        {
            if (t is null) continue;
            if (t.DType != x.DType) throw new DTypeException(op, $"the {name} is {t.DType.Name()} but the input is {x.DType.Name()}");
            if (!t._shape.AsSpan().SequenceEqual(x._shape))
                throw new ShapeException(op, $"the {name} has shape {ShapeChecks.Format(t._shape)} but the input has {ShapeChecks.Format(x._shape)}");
        }
        return ChannelDims(x._shape);
    }

    /// <summary>A state buffer the step's options use must be given.</summary>
    public static void State(string op, string name, bool used, Tensor? buffer)
    {
        if (used && buffer is null)
            throw new ArgumentException($"{op}: the step's options use the {name}, but none was given");
    }

    /// <summary>Checks the gradient (<paramref name="slot"/> −1) or state buffer <paramref name="slot"/> against the parameter.</summary>
    private static void Operand(string op, int slot, Tensor param, Tensor t)
    {
        if (t.DType != param.DType)
            throw new DTypeException(op, $"{OperandName(slot)} is {t.DType.Name()} but the parameter is {param.DType.Name()}");
        if (!t._shape.AsSpan().SequenceEqual(param._shape))
            throw new ShapeException(op, $"{OperandName(slot)} has shape {ShapeChecks.Format(t._shape)} but the parameter has {ShapeChecks.Format(param._shape)}");
        if (!t.IsContiguous) throw NotContiguous(op, OperandName(slot), t);
    }

    private static string OperandName(int slot) => slot < 0 ? "the gradient" : $"state buffer {slot}";

    private static InvalidOperationException NotContiguous(string op, string what, Tensor t) =>
        new($"{op}: {what} (shape {ShapeChecks.Format(t._shape)}, strides {ShapeChecks.Format(t._strides)}) must be contiguous; updates run in place on its storage");

    /// <summary>A uniform or normal fill needs a floating destination.</summary>
    public static void FloatingFill(string op, Tensor dst)
    {
        if (!dst.DType.IsFloating())
            throw new DTypeException(op, $"expected a floating dtype, got {dst.DType.Name()}");
    }

    /// <summary>An integer fill needs an Int32 destination and a non-empty range.</summary>
    public static void IntegerFill(Tensor dst, int low, int high)
    {
        if (dst.DType != DType.Int32)
            throw new DTypeException("randint", $"expected an int32 destination, got {dst.DType.Name()}");
        if (high <= low) throw new ArgumentException($"randint: high ({high}) must exceed low ({low})");
    }
}

/// <summary>
/// The training primitives: batch normalisation, the fused optimizer updates and the random fills.
/// The statistics and updates run in place on the tensors they are given, so a backend decides how the
/// elements are traversed; the caller checks shapes and dtypes and bumps storage versions.
/// </summary>
public partial interface IBackend
{
    /// <summary>
    /// Batch normalisation with batch statistics over every dim but dim 1 of x [N, C, ...] (M = N·(spatial size)
    /// values per channel): μ = Σx/M, σ² = Σ(x − μ)²/M (two passes, biased), then
    /// y = (x − μ)/√(σ² + eps)·γ + β (Ioffe and Szegedy 2015, Algorithm 1). Returns y (x's dtype and shape) and
    /// μ, σ² as float64 [C]. The statistics and the normalisation are one primitive so a backend can keep a
    /// channel in cache between them. <paramref name="weight"/> γ and <paramref name="bias"/> β are [C].
    /// </summary>
    (Tensor Output, Tensor Mean, Tensor Var) BatchNormForward(Tensor x, Tensor weight, Tensor bias, double eps);

    /// <summary>
    /// The gradients of <see cref="BatchNormForward"/> given its output gradient g, with x̂ = (x − μ)/σ̂,
    /// σ̂ = √(σ² + eps) and M values per channel: dβ = Σg, dγ = Σg·x̂, dx = (γ/σ̂)·(g − Σg/M − x̂·Σ(g·x̂)/M)
    /// (Ioffe and Szegedy 2015, §3). <paramref name="mean"/> and <paramref name="var"/> are the float64 [C] statistics
    /// the forward pass returned. The weight and bias gradients are [C] in x's dtype.
    /// </summary>
    (Tensor GradInput, Tensor GradWeight, Tensor GradBias) BatchNormBackward(Tensor gradOutput, Tensor x, Tensor weight, Tensor mean, Tensor var, double eps);

    /// <summary>
    /// Layer normalisation (Ba et al. 2016) over each row of x's last <paramref name="normalized"/> values (x viewed as
    /// [rows, D], D = <paramref name="normalized"/>): y = (x − μ)·σ̂⁻¹·γ + β with μ and σ² the row's mean and biased
    /// variance and σ̂ = √(σ² + eps). <paramref name="weight"/> γ and <paramref name="bias"/> β hold D values each (in
    /// x's dtype), or are null (γ = 1, β = 0). Returns y (x's shape) and, per row, μ and 1/σ̂ as float64 [rows]: one
    /// primitive, so a backend can keep a row in cache between its statistics and its normalisation.
    /// </summary>
    (Tensor Output, Tensor Mean, Tensor InvStd) LayerNormForward(Tensor x, int normalized, Tensor? weight, Tensor? bias, double eps);

    /// <summary>
    /// The gradients of <see cref="LayerNormForward"/> given its output gradient g, with x̂ = (x − μ)/σ̂ and ĝ = g·γ per
    /// row of D values: dx = (1/σ̂)·(ĝ − Σĝ/D − x̂·Σ(ĝ·x̂)/D) (the batch-norm formula with a row for the channel's
    /// values), dγ = Σ g·x̂ and dβ = Σ g over the rows ([D] each, in x's dtype). <paramref name="mean"/> and
    /// <paramref name="invStd"/> are the float64 [rows] statistics the forward pass returned; <paramref name="weight"/>
    /// is null for γ = 1.
    /// </summary>
    (Tensor GradInput, Tensor GradWeight, Tensor GradBias) LayerNormBackward(Tensor gradOutput, Tensor x, int normalized, Tensor? weight, Tensor mean, Tensor invStd);

    /// <summary>
    /// Local response normalisation across the channels (dim 1) of a floating x [N, C, ...] (Krizhevsky et al. 2012,
    /// §3.3, as PyTorch's <c>local_response_norm</c>): y_c = x_c·D_c^−β with D_c = k + (α/n)·Σ x_{c'}² over c' = c −
    /// ⌊n/2⌋ … c + ⌊(n−1)/2⌋ (n = <paramref name="size"/>), channels outside 0 … C−1 counting as zero. Returns y and
    /// D, both of x's shape and dtype.
    /// </summary>
    (Tensor Output, Tensor Denominator) LocalResponseNormForward(Tensor x, int size, double alpha, double beta, double k);

    /// <summary>
    /// The input gradient of <see cref="LocalResponseNormForward"/> from g, x and the denominator D it returned:
    /// dx_c = g_c·D_c^−β + 2x_c·Σ t_{c'} with t = −β·(α/n)·g·x·D^(−β−1), the sum over the channels c' whose window holds
    /// c (c' = c − ⌊(n−1)/2⌋ … c + ⌊n/2⌋).
    /// </summary>
    Tensor LocalResponseNormBackward(Tensor gradOutput, Tensor x, Tensor denominator, int size, double alpha, double beta);

    /// <summary>
    /// grad += g elementwise, in place: a backward pass adding a gradient into the one a parameter keeps (PyTorch's
    /// AccumulateGrad with <c>zero_grad(set_to_none=False)</c>; see <see cref="Tensor.ZeroGrad"/>). Both are of the same
    /// shape and floating dtype and <paramref name="grad"/> is contiguous; each element is rounded as
    /// <see cref="Binary"/>'s add rounds it. A backend with no one-pass form adds and assigns, which is this default.
    /// </summary>
    void AccumulateGrad(Tensor grad, Tensor g) => Assign(grad, Binary(BinaryOp.Add, grad, g, grad._shape));

    /// <summary>
    /// One SGD step in place (<c>torch.optim.SGD</c>): d = ±g + λ·p; with momentum μ the buffer is b = d on the first
    /// step and b = μ·b + (1 − τ)·d afterwards, and d = d + μ·b (Nesterov) or b; then p = p − lr·d.
    /// <paramref name="momentumBuffer"/> is null when μ = 0. All tensors are contiguous, of the parameter's shape and dtype.
    /// </summary>
    void SgdUpdate(Tensor param, Tensor grad, Tensor? momentumBuffer, SgdStep step);

    /// <summary>
    /// One Adam/AdamW step in place: g' = ±g (+ λ·p for Adam; AdamW scales p by 1 − lr·λ first);
    /// m = β1·m + (1 − β1)·g'; v = β2·v + (1 − β2)·g'²; AMSGrad keeps v̂ = max(v̂, v) and uses it for v;
    /// p = p − (lr / (1 − β1ᵗ))·m / (√v / √(1 − β2ᵗ) + ε) (Kingma and Ba 2015, Algorithm 1, in PyTorch's order).
    /// <paramref name="maxExpAvgSq"/> is null without AMSGrad. All tensors are contiguous, of the parameter's shape and dtype.
    /// </summary>
    void AdamUpdate(Tensor param, Tensor grad, Tensor expAvg, Tensor expAvgSq, Tensor? maxExpAvgSq, AdamStep step);

    /// <summary>
    /// One RMSprop step in place: g' = ±g + λ·p; s = α·s + (1 − α)·g'²; centered: ḡ = α·ḡ + (1 − α)·g' and
    /// a = √(s − ḡ²) + ε, else a = √s + ε; with momentum μ: b = μ·b + g'/a and p = p − lr·b, else p = p − lr·g'/a.
    /// <paramref name="gradAvg"/> is null unless centered, <paramref name="momentumBuffer"/> null when μ = 0.
    /// All tensors are contiguous, of the parameter's shape and dtype.
    /// </summary>
    void RMSpropUpdate(Tensor param, Tensor grad, Tensor squareAvg, Tensor? gradAvg, Tensor? momentumBuffer, RMSpropStep step);

    /// <summary>
    /// Fills the floating <paramref name="dst"/> (element i in row-major order) with low + (high − low)·uᵢ,
    /// uᵢ = <see cref="RandomStream.Unit"/>(i), rounded to float32 by <see cref="RandomStream.ToFloat"/>.
    /// Uses <c>dst.Numel</c> values of the stream.
    /// </summary>
    void FillUniform(Tensor dst, RandomStream stream, double low, double high);

    /// <summary>
    /// Fills the floating <paramref name="dst"/> (row-major) with normal values: elements 2j and 2j + 1 are
    /// <see cref="RandomStream.NormalPair"/>(j) (Box–Muller). Uses 2·⌈n/2⌉ values of the stream.
    /// </summary>
    void FillNormal(Tensor dst, RandomStream stream, double mean, double std);

    /// <summary>
    /// Fills the Int32 <paramref name="dst"/> (row-major) with <see cref="RandomStream.Integer"/>(i, low, high): uniform
    /// integers in [low, high). Uses <c>dst.Numel</c> values of the stream.
    /// </summary>
    void FillRandInt(Tensor dst, RandomStream stream, int low, int high);
}
