using Fovea.Backends;

namespace Fovea.Tests.Backends.Conformance;

/// <summary>
/// How far a backend's floating output may sit from the oracle's. With u the unit roundoff of the output dtype
/// (2^-24 for float32, 2^-53 for float64), e the oracle's value, n = <see cref="Terms"/> the reduction length (the
/// number of products or values accumulated into one output element; 0 for elementwise primitives) and
/// M = Σ|term| (the oracle run again on the absolute values of the floating inputs, only when n &gt; 0), an element
/// passes when
/// <code>  |actual − e| ≤ u · (Ulps · |e| + Floor + 2 · (n + 1) · M)  </code>
/// 2·(n + 1)·u·M is twice γ(n+1), the classical bound on the rounding error of summing n rounded products in any
/// order, so the rule holds whatever blocking, SIMD width, FMA use or thread split a backend picks; yet a dropped,
/// doubled or misplaced term (about M / n) still breaks it while n²·u ≪ 1, which the case tables keep (n ≲ 1000).
/// Ulps covers the final rounding (and double rounding when the oracle rounds its float64 result to float32);
/// Floor is an absolute allowance at unit scale, for library functions whose error is absolute near a zero; a case
/// whose error bound is not a sum of |terms| (batch-norm statistics, a DFT, a chain of optimizer arithmetic) states its
/// bound there, in units of u, from its own inputs. <see cref="Arithmetic"/> names the dtype whose roundoff applies
/// when an output is wider than the arithmetic behind it (float64 statistics of float32 data).
/// Int32 and Bool outputs are always exact; floating outputs of copies, selections and comparisons use
/// <see cref="Exact"/>. NaN matches NaN and −0 matches +0.
/// </summary>
public readonly record struct Tolerance(double Ulps, double Floor, int Terms)
{
    /// <summary>Bit-for-bit values: copies, casts, selections, max/min, comparisons.</summary>
    public static Tolerance Exact => new(0, 0, 0);

    /// <summary>One arithmetic operation, correctly rounded (2 ulps allow the oracle's float64 → float32 double rounding).</summary>
    public static Tolerance Rounded => new(2, 0, 0);

    /// <summary>A library transcendental function (exp, log, tanh, sin, pow, ...): a few ulps, plus an absolute floor at unit scale.</summary>
    public static Tolerance Function => new(16, 16, 0);

    /// <summary>An accumulation of up to <paramref name="terms"/> terms per output element (sum, product, matmul, conv, pooling adjoints).</summary>
    public static Tolerance Accumulation(int terms) => new(2, 0, Math.Max(terms, 1));

    /// <summary>The dtype of the arithmetic, when narrower than the output's; null means the output's own dtype.</summary>
    public DType? Arithmetic { get; init; }

    /// <summary>The allowed |actual − expected| for one element of a <paramref name="dtype"/> output.</summary>
    public double Allowance(DType dtype, double expected, double magnitude)
    {
        double u = (Arithmetic ?? dtype) switch { DType.Float32 => Math.ScaleB(1, -24), DType.Float64 => Math.ScaleB(1, -53), _ => 0 };
        return u * (Ulps * Math.Abs(expected) + Floor + (Terms > 0 ? 2.0 * (Terms + 1) * magnitude : 0));
    }
}

/// <summary>
/// One call of one primitive: its parameters (for messages), its inputs (random, often strided views) and the call
/// itself, which must not modify the inputs and returns the outputs to compare. The call runs once on the oracle
/// and once on the backend under test, each inside its own <see cref="Backend.Use"/> scope. When
/// <see cref="Rejects"/> is set the input is invalid in a way only the backend can see (an index out of range):
/// both backends must throw that exception type (or a subtype) instead of returning.
/// </summary>
public sealed record ConformanceCase(string Parameters, Tensor[] Inputs, Func<IBackend, Tensor[], Tensor[]> Call, Tolerance Tolerance)
{
    /// <summary>The exception type both backends must throw, or null for a valid call.</summary>
    public Type? Rejects { get; init; }

    /// <summary>
    /// The call whose oracle result on the absolute values of the inputs is Σ|term| (M of <see cref="Tolerance"/>), when
    /// <see cref="Call"/> itself subtracts terms (a negated addend); null means <see cref="Call"/>.
    /// </summary>
    public Func<IBackend, Tensor[], Tensor[]>? MagnitudeCall { get; init; }
}
