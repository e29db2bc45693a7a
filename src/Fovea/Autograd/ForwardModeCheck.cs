using System.Globalization;

namespace Fovea;

/// <summary>
/// The outcome of <see cref="ForwardModeCheck.Check"/>: ⟨J·v, u⟩ from forward mode, ⟨v, Jᵀ·u⟩ from reverse mode,
/// and whether they agree.
/// </summary>
public sealed record ForwardModeCheckResult(bool Passed, double Forward, double Reverse, double AbsError)
{
    /// <summary>One line: both inner products and their difference.</summary>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{(Passed ? "jvp ok" : "jvp MISMATCH")}: <J v, u> = {Forward:G15}, <v, J^T u> = {Reverse:G15} (|diff| {AbsError:G3})");
}

/// <summary>
/// Checks an op's forward-mode rule against its reverse-mode rule without finite differences: for random
/// tangents v (one per input that requires grad) and a random output cotangent u, ⟨J·v, u⟩ computed with dual
/// tensors (<see cref="ForwardAD"/>, one forward pass) must equal ⟨v, Jᵀ·u⟩ computed by one backward pass
/// (<see cref="Autograd.Grad(IReadOnlyList{Tensor}, IReadOnlyList{Tensor}, IReadOnlyList{Tensor}?, bool, bool, bool)"/>),
/// where J stacks the Jacobians of every checked input. Both sides are exact up to rounding, so the tolerance is
/// tight: |a − b| ≤ atol + rtol·max(|a|, |b|).
/// </summary>
public static class ForwardModeCheck
{
    /// <summary>Runs the check on <paramref name="f"/> at float64 <paramref name="inputs"/> with u, v drawn from <paramref name="seed"/>.</summary>
    public static ForwardModeCheckResult Check(Func<Tensor[], Tensor> f, Tensor[] inputs, ulong seed = 1, double atol = 1e-10, double rtol = 1e-9)
    {
        foreach (var t in inputs)
            if (t.RequiresGrad && t.DType != DType.Float64)
                throw new DTypeException("forward-mode check", $"inputs must be float64, got {t.DType.Name()}; convert with .To(DType.Float64)");
        var generator = new Generator(seed);
        var checkedInputs = Enumerable.Range(0, inputs.Length).Where(i => inputs[i].RequiresGrad).ToArray();
        var tangents = checkedInputs.Select(i => Tensor.Randn(inputs[i].Shape, generator, DType.Float64)).ToArray();

        // Forward mode: every checked input carries its tangent; the output's tangent is J·v.
        var duals = inputs.Select(x => x.Detach()).ToArray();
        for (int k = 0; k < checkedInputs.Length; k++) duals[checkedInputs[k]] = ForwardAD.MakeDual(duals[checkedInputs[k]], tangents[k]);
        Tensor jv;
        Tensor cotangent;
        using (GradMode.Disable())
        {
            var (primal, tangent) = ForwardAD.Unpack(f(duals));
            jv = tangent ?? Tensor.ZerosLike(primal);
            cotangent = Tensor.Randn(primal.Shape, generator, primal.DType);
        }
        double forward = jv.To(DType.Float64).Mul(cotangent).Sum().ToScalar();

        // Reverse mode: one backward of u gives Jᵀ·u for every checked input.
        var xs = inputs.Select(x => x.Detach().RequiresGrad_(x.RequiresGrad)).ToArray();
        var y = f(xs);
        double reverse = 0;
        if (y.RequiresGrad && checkedInputs.Length > 0)
        {
            var grads = Autograd.Grad([y], checkedInputs.Select(i => xs[i]).ToArray(), [cotangent], allowUnused: true);
            for (int k = 0; k < grads.Length; k++)
                if (grads[k] is { } g) reverse += g.Mul(tangents[k]).Sum().ToScalar();
        }
        double err = Math.Abs(forward - reverse);
        bool passed = err <= atol + rtol * Math.Max(Math.Abs(forward), Math.Abs(reverse));
        return new ForwardModeCheckResult(passed, forward, reverse, err);
    }
}
