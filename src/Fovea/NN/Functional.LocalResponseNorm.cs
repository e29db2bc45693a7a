namespace Fovea.NN;

public static partial class Functional
{
    /// <summary>
    /// Local response normalisation across channels (Krizhevsky et al. 2012, §3.3; PyTorch's
    /// <c>F.local_response_norm</c>): y_c = x_c / (k + α/n · Σ x_{c'}²)^β, the sum over the <paramref name="size"/>
    /// (n) channels c' = c − ⌊n/2⌋ … c + ⌊(n−1)/2⌋, zero beyond the first and last channel. Note α is divided by n,
    /// as in PyTorch (the 2012 paper's α = 1e-4 multiplies the sum itself). Input [N, C, ...] with at least 3 dims.
    /// </summary>
    public static Tensor LocalResponseNorm(Tensor x, int size, double alpha = 1e-4, double beta = 0.75, double k = 1.0)
    {
        CheckLocalResponseNorm(size, alpha, beta, k);
        if (x.Rank < 3)
            throw new ShapeException("local_response_norm", $"expected an input [N, C, ...] with at least 3 dims, got {ShapeChecks.Format(x.Shape)}");
        if (!x.DType.IsFloating())
            throw new DTypeException("local_response_norm", $"input must be floating point, got {x.DType.Name()}");
        return new Ops.LocalResponseNormFunction(size, alpha, beta, k).Apply(x);
    }

    /// <summary>Throws unless the window is at least one channel and α, β, k are finite.</summary>
    internal static void CheckLocalResponseNorm(int size, double alpha, double beta, double k)
    {
        if (size < 1) throw new ArgumentOutOfRangeException(nameof(size), size, "local_response_norm: size (channels in the window) must be at least 1");
        if (!double.IsFinite(alpha) || !double.IsFinite(beta) || !double.IsFinite(k))
            throw new ArgumentException($"local_response_norm: alpha ({alpha}), beta ({beta}) and k ({k}) must be finite");
    }
}
