using System.Globalization;

namespace Fovea.NN;

/// <summary>ReLU(x) = max(x, 0).</summary>
public sealed class ReLU : Module<Tensor, Tensor>
{
    /// <inheritdoc/>
    public override bool HoldsNoActivations => true;

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => Functional.Relu(input);
}

/// <summary>LeakyReLU(x) = x for x &gt; 0, else slope·x.</summary>
public sealed class LeakyReLU(double negativeSlope = 0.01) : Module<Tensor, Tensor>
{
    /// <inheritdoc/>
    public override bool HoldsNoActivations => true;

    /// <summary>The slope for negative inputs.</summary>
    public double NegativeSlope { get; } = negativeSlope;

    /// <inheritdoc/>
    public override string Describe() => $"LeakyReLU({NegativeSlope.ToString(CultureInfo.InvariantCulture)})";

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => Functional.LeakyRelu(input, NegativeSlope);
}

/// <summary>
/// PReLU(x) = x for x &gt; 0, else aᶜ·x with a learnable slope per channel (dim 1), or one shared slope when
/// <c>numParameters</c> is 1; slopes start at <c>init</c> (0.25, as PyTorch).
/// </summary>
public sealed class PReLU : Module<Tensor, Tensor>
{
    /// <inheritdoc/>
    public override bool HoldsNoActivations => true;

    /// <summary>Creates the layer with <paramref name="numParameters"/> slopes set to <paramref name="init"/>.</summary>
    public PReLU(int numParameters = 1, double init = 0.25, DType dtype = DType.Float32)
    {
        if (numParameters < 1) throw new ArgumentOutOfRangeException(nameof(numParameters), numParameters, "PReLU: needs at least one slope");
        RegisterParameter("weight", Tensor.Full([numParameters], init, dtype));
    }

    /// <summary>The slopes [numParameters].</summary>
    public Tensor Weight => GetParameter("weight");

    /// <inheritdoc/>
    public override string Describe() => $"PReLU({Weight.Numel})";

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input)
    {
        int n = Weight.Numel;
        if (n > 1)
        {
            int channelDim = input.Rank >= 2 ? 1 : 0;
            if (input.Rank == 0 || input.Size(channelDim) != n)
                throw new ShapeException(Describe(), $"expected input [N, {n}, ...], got {ShapeChecks.Format(input.Shape)}");
        }
        return Functional.Prelu(input, Weight);
    }
}

/// <summary>ELU(x) = x for x &gt; 0, else α(eˣ − 1).</summary>
public sealed class ELU(double alpha = 1.0) : Module<Tensor, Tensor>
{
    /// <inheritdoc/>
    public override bool HoldsNoActivations => true;

    /// <summary>The negative saturation value −α.</summary>
    public double Alpha { get; } = alpha;

    /// <inheritdoc/>
    public override string Describe() => $"ELU({Alpha.ToString(CultureInfo.InvariantCulture)})";

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => Functional.Elu(input, Alpha);
}

/// <summary>σ(x) = 1 / (1 + e^−x).</summary>
public sealed class Sigmoid : Module<Tensor, Tensor>
{
    /// <inheritdoc/>
    public override bool HoldsNoActivations => true;

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => Functional.Sigmoid(input);
}

/// <summary>tanh(x).</summary>
public sealed class Tanh : Module<Tensor, Tensor>
{
    /// <inheritdoc/>
    public override bool HoldsNoActivations => true;

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => Functional.Tanh(input);
}

/// <summary>GELU(x) = x·Φ(x), exact (erf) or with the tanh approximation.</summary>
public sealed class GELU(GeluApproximation approximate = GeluApproximation.None) : Module<Tensor, Tensor>
{
    /// <inheritdoc/>
    public override bool HoldsNoActivations => true;

    /// <summary>Which form is evaluated.</summary>
    public GeluApproximation Approximate { get; } = approximate;

    /// <inheritdoc/>
    public override string Describe() => Approximate == GeluApproximation.None ? "GELU" : "GELU(tanh)";

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => Functional.Gelu(input, Approximate);
}

/// <summary>Softplus(x) = (1/β)·log(1 + e^(βx)), linear where βx exceeds the threshold.</summary>
public sealed class Softplus(double beta = 1, double threshold = 20) : Module<Tensor, Tensor>
{
    /// <inheritdoc/>
    public override bool HoldsNoActivations => true;

    /// <summary>β.</summary>
    public double Beta { get; } = beta;

    /// <summary>Above this βx the output is x.</summary>
    public double Threshold { get; } = threshold;

    /// <inheritdoc/>
    public override string Describe() => string.Create(CultureInfo.InvariantCulture, $"Softplus(beta={Beta}, threshold={Threshold})");

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => Functional.Softplus(input, Beta, Threshold);
}

/// <summary>Softmax along <see cref="Dim"/>.</summary>
public sealed class Softmax(int dim) : Module<Tensor, Tensor>
{
    /// <inheritdoc/>
    public override bool HoldsNoActivations => true;

    /// <summary>The dim that sums to 1.</summary>
    public int Dim { get; } = dim;

    /// <inheritdoc/>
    public override string Describe() => $"Softmax(dim={Dim})";

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => Functional.Softmax(input, Dim);
}

/// <summary>LogSoftmax along <see cref="Dim"/> (numerically stable).</summary>
public sealed class LogSoftmax(int dim) : Module<Tensor, Tensor>
{
    /// <inheritdoc/>
    public override bool HoldsNoActivations => true;

    /// <summary>The dim normalised.</summary>
    public int Dim { get; } = dim;

    /// <inheritdoc/>
    public override string Describe() => $"LogSoftmax(dim={Dim})";

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => Functional.LogSoftmax(input, Dim);
}
