using System.Globalization;

namespace Fovea.NN;

/// <summary>
/// Fully connected layer y = x·Wᵀ + b with W [out, in]. PyTorch's default initialisation: W from Kaiming-uniform
/// with a = √5 (i.e. U(−1/√in, 1/√in)) and b from U(−1/√in, 1/√in).
/// </summary>
public sealed class Linear : Module<Tensor, Tensor>
{
    /// <inheritdoc/>
    public override bool HoldsNoActivations => true;

    private readonly bool _hasBias;

    /// <summary>Input features.</summary>
    public int InFeatures { get; }

    /// <summary>Output features.</summary>
    public int OutFeatures { get; }

    /// <summary>Creates the layer with PyTorch's default initialisation drawn from <paramref name="generator"/>.</summary>
    public Linear(int inFeatures, int outFeatures, bool bias = true, Generator? generator = null, DType dtype = DType.Float32)
    {
        if (inFeatures < 1 || outFeatures < 1)
            throw new ArgumentOutOfRangeException(nameof(inFeatures), $"Linear: feature counts must be positive, got {inFeatures} -> {outFeatures}");
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
        _hasBias = bias;
        var w = RegisterParameter("weight", Tensor.Zeros([outFeatures, inFeatures], dtype));
        Init.KaimingUniform(w, a: Math.Sqrt(5), generator: generator);
        if (bias)
        {
            double bound = 1 / Math.Sqrt(inFeatures);
            Init.Uniform(RegisterParameter("bias", Tensor.Zeros([outFeatures], dtype)), -bound, bound, generator);
        }
    }

    /// <summary>The weight [out, in].</summary>
    public Tensor Weight => GetParameter("weight");

    /// <summary>The bias [out], or null.</summary>
    public Tensor? Bias => _hasBias ? GetParameter("bias") : null;

    /// <inheritdoc/>
    public override string Describe() => $"Linear({InFeatures} -> {OutFeatures})";

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input)
    {
        ShapeChecks.Features(Describe(), input.Shape, InFeatures);
        return Functional.Linear(input, Weight, Bias);
    }
}

/// <summary>Returns its input unchanged (a placeholder, e.g. for a removed head).</summary>
public sealed class Identity : Module<Tensor, Tensor>
{
    /// <inheritdoc/>
    public override bool HoldsNoActivations => true;

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => input;
}

/// <summary>Merges dims <see cref="StartDim"/>..<see cref="EndDim"/> (by default all but the batch dim).</summary>
public sealed class Flatten(int startDim = 1, int endDim = -1) : Module<Tensor, Tensor>
{
    /// <inheritdoc/>
    public override bool HoldsNoActivations => true;

    /// <summary>First dim merged.</summary>
    public int StartDim { get; } = startDim;

    /// <summary>Last dim merged.</summary>
    public int EndDim { get; } = endDim;

    /// <inheritdoc/>
    public override string Describe() => $"Flatten({StartDim}, {EndDim})";

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => Functional.Flatten(input, StartDim, EndDim);
}

/// <summary>
/// Inverted dropout with probability <see cref="P"/>: active in training mode, the identity in evaluation mode.
/// The masks come from its own seeded <see cref="Generator"/>, so runs are reproducible; the generator's seed and
/// position are the state entry <c>rng_state</c> of the state dict (<see cref="GeneratorState"/>), so a checkpoint
/// resumes with the masks an uninterrupted run would have drawn.
/// </summary>
public sealed class Dropout : Module<Tensor, Tensor>
{
    /// <inheritdoc/>
    public override bool HoldsNoActivations => true;

    private readonly Generator _generator;

    /// <summary>The probability of zeroing an element.</summary>
    public double P { get; }

    /// <summary>Creates the layer; masks are drawn from <paramref name="generator"/> (a new one seeded 0 when null).</summary>
    public Dropout(double p = 0.5, Generator? generator = null)
    {
        if (!(p >= 0 && p <= 1)) throw new ArgumentOutOfRangeException(nameof(p), p, "Dropout: p must be in [0, 1]");
        P = p;
        _generator = generator ?? new Generator();
        RegisterState("rng_state", () => GeneratorState.ToTensor(_generator), t => GeneratorState.Load(_generator, t));
    }

    /// <inheritdoc/>
    public override string Describe() => $"Dropout(p={P.ToString(CultureInfo.InvariantCulture)})";

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => Functional.Dropout(input, P, Training, _generator);

    /// <summary>The generator the masks are drawn from (its state goes into training checkpoints).</summary>
    public Generator Generator => _generator;
}

/// <summary>
/// Maxout unit: yⱼ = maxₖ (wⱼₖᵀx + bⱼₖ) over <see cref="Pieces"/> affine pieces (the seeds' max(w₁ᵀx + b₁, w₂ᵀx + b₂)).
/// Its weight [out·pieces, in] and bias are initialised like a <see cref="Linear"/> of that size.
/// </summary>
public sealed class Maxout : Module<Tensor, Tensor>
{
    /// <inheritdoc/>
    public override bool HoldsNoActivations => true;

    /// <summary>Input features.</summary>
    public int InFeatures { get; }

    /// <summary>Output features.</summary>
    public int OutFeatures { get; }

    /// <summary>Affine pieces per output.</summary>
    public int Pieces { get; }

    /// <summary>Creates the layer with Linear's default initialisation.</summary>
    public Maxout(int inFeatures, int outFeatures, int pieces, Generator? generator = null, DType dtype = DType.Float32)
    {
        if (inFeatures < 1 || outFeatures < 1 || pieces < 1)
            throw new ArgumentOutOfRangeException(nameof(pieces), $"Maxout: sizes must be positive, got {inFeatures} -> {outFeatures} with {pieces} pieces");
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
        Pieces = pieces;
        var w = RegisterParameter("weight", Tensor.Zeros([outFeatures * pieces, inFeatures], dtype));
        Init.KaimingUniform(w, a: Math.Sqrt(5), generator: generator);
        double bound = 1 / Math.Sqrt(inFeatures);
        Init.Uniform(RegisterParameter("bias", Tensor.Zeros([outFeatures * pieces], dtype)), -bound, bound, generator);
    }

    /// <summary>The weight [out·pieces, in].</summary>
    public Tensor Weight => GetParameter("weight");

    /// <summary>The bias [out·pieces].</summary>
    public Tensor Bias => GetParameter("bias");

    /// <inheritdoc/>
    public override string Describe() => $"Maxout({InFeatures} -> {OutFeatures}, pieces={Pieces})";

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input)
    {
        ShapeChecks.Features(Describe(), input.Shape, InFeatures);
        return Functional.Maxout(input, Weight, Bias, Pieces);
    }
}
