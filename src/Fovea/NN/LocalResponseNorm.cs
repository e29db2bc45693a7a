using System.Globalization;

namespace Fovea.NN;

/// <summary>
/// Local response normalisation across channels (Krizhevsky et al. 2012, §3.3), PyTorch's
/// <c>nn.LocalResponseNorm(size, alpha, beta, k)</c>: y_c = x_c / (k + α/n · Σ x_{c'}²)^β over the n = size
/// neighbouring channels (see <see cref="Functional.LocalResponseNorm"/>). No parameters. AlexNet uses
/// size 5, α = 1e-4, β = 0.75, k = 2.
/// </summary>
public sealed class LocalResponseNorm : Module<Tensor, Tensor>
{
    /// <inheritdoc/>
    public override bool HoldsNoActivations => true;

    /// <summary>Creates the layer; throws unless <paramref name="size"/> ≥ 1 and the constants are finite.</summary>
    public LocalResponseNorm(int size, double alpha = 1e-4, double beta = 0.75, double k = 1.0)
    {
        Functional.CheckLocalResponseNorm(size, alpha, beta, k);
        (Size, Alpha, Beta, K) = (size, alpha, beta, k);
    }

    /// <summary>Channels in the window (n).</summary>
    public int Size { get; }

    /// <summary>α (divided by n before it scales the sum of squares).</summary>
    public double Alpha { get; }

    /// <summary>The exponent β.</summary>
    public double Beta { get; }

    /// <summary>The additive constant k.</summary>
    public double K { get; }

    /// <inheritdoc/>
    public override string Describe() => string.Create(CultureInfo.InvariantCulture, $"LocalResponseNorm({Size}, alpha={Alpha}, beta={Beta}, k={K})");

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => Functional.LocalResponseNorm(input, Size, Alpha, Beta, K);
}
