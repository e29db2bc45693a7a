namespace Fovea;

public sealed partial class Tensor
{
    /// <summary>The error function erf(x) = (2/√π) ∫₀ˣ e^(−t²) dt (used by the exact GELU).</summary>
    public Tensor Erf() => new Ops.ErfFunction().Apply(this);
}
