namespace Fovea.Backends;

/// <summary>
/// Special functions that <see cref="Math"/> lacks, to double precision. Both backends call these, so
/// the tests hold them against PyTorch's values (fixtures) rather than against each other.
/// </summary>
internal static class SpecialFunctions
{
    private const double TwoOverSqrtPi = 1.1283791670955126;
    private const double OneOverSqrtPi = 0.5641895835477563;

    /// <summary>
    /// The error function erf(x) = (2/√π) ∫₀ˣ e^(−t²) dt. A positive-term series below |x| = 2.5, a
    /// continued fraction for erfc above it, and ±1 beyond |x| = 6 (where erfc(x) &lt; 2.2e-17).
    /// </summary>
    public static double Erf(double x)
    {
        if (double.IsNaN(x)) return x;
        double ax = Math.Abs(x);
        if (ax < 2.5) return Series(x);
        if (ax >= 6) return Math.CopySign(1.0, x);
        return Math.CopySign(1.0 - ErfcContinuedFraction(ax), x);
    }

    /// <summary>
    /// erf x = (2/√π)·e^(−x²)·Σₙ 2ⁿx^(2n+1) / (1·3·…·(2n+1)) (Abramowitz and Stegun 7.1.6). Every term has
    /// the sign of x, so nothing cancels and the sum keeps full precision (unlike the alternating Taylor series).
    /// </summary>
    private static double Series(double x)
    {
        double x2 = x * x;
        double term = x, sum = x;
        for (int n = 1; n < 200; n++)
        {
            term *= 2 * x2 / (2 * n + 1);
            sum += term;
            if (Math.Abs(term) <= 1e-17 * Math.Abs(sum)) break;
        }
        return TwoOverSqrtPi * Math.Exp(-x2) * sum;
    }

    /// <summary>
    /// erfc x = (e^(−x²)/√π) / (x + (1/2)/(x + 1/(x + (3/2)/(x + …)))) for x &gt; 0 (A&amp;S 7.1.14), evaluated
    /// with the modified Lentz algorithm; it converges quickly for x ≥ 2.5.
    /// </summary>
    private static double ErfcContinuedFraction(double x)
    {
        const double tiny = 1e-300;
        double f = x, c = x, d = 0;
        for (int n = 1; n < 1000; n++)
        {
            double a = 0.5 * n;
            d = x + a * d;
            d = Math.Abs(d) < tiny ? 1 / tiny : 1 / d;
            c = x + a / c;
            if (Math.Abs(c) < tiny) c = tiny;
            double delta = c * d;
            f *= delta;
            if (Math.Abs(delta - 1) < 1e-16) break;
        }
        return OneOverSqrtPi * Math.Exp(-x * x) / f;
    }
}
