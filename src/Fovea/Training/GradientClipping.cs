namespace Fovea.Training;

/// <summary>
/// Gradient clipping, as PyTorch's <c>torch.nn.utils.clip_grad_norm_</c> and <c>clip_grad_value_</c>: call between
/// <c>loss.Backward()</c> and <c>optimizer.Step()</c>. Parameters without a gradient are skipped.
/// </summary>
public static class GradientClipping
{
    /// <summary>
    /// Scales every gradient by the same factor so that their global p-norm ‖(‖g₁‖ₚ, …, ‖gₙ‖ₚ)‖ₚ is at most
    /// <paramref name="maxNorm"/>: factor = maxNorm / (total + 10⁻⁶) when that is below 1, as PyTorch. The
    /// ∞-norm is the largest absolute element. Returns the total norm before clipping (summed in float64).
    /// </summary>
    public static double ClipGradNorm(IEnumerable<Tensor> parameters, double maxNorm, double normType = 2)
    {
        if (!(maxNorm >= 0) || !double.IsFinite(maxNorm)) throw new ArgumentOutOfRangeException(nameof(maxNorm), maxNorm, "ClipGradNorm: the maximum norm must be finite and non-negative");
        if (!(normType > 0)) throw new ArgumentOutOfRangeException(nameof(normType), normType, "ClipGradNorm: the norm type must be positive (or infinity)");
        var grads = parameters.Select(p => p.GradUnexposed).OfType<Tensor>().ToList();
        if (grads.Count == 0) return 0;
        using var _ = GradMode.Disable();
        double total;
        if (double.IsPositiveInfinity(normType))
            total = grads.Max(g => g.Abs().Max().ToScalar());
        else
        {
            double sum = 0;
            foreach (var g in grads) sum += g.To(DType.Float64).Abs().Pow(normType).Sum().ToScalar();
            total = Math.Pow(sum, 1 / normType);
        }
        double factor = maxNorm / (total + 1e-6);
        if (factor < 1)
            foreach (var g in grads) g.MulInPlace(factor);
        return total;
    }

    /// <summary>Clamps every gradient element into [−<paramref name="clipValue"/>, <paramref name="clipValue"/>].</summary>
    public static void ClipGradValue(IEnumerable<Tensor> parameters, double clipValue)
    {
        if (!(clipValue >= 0) || !double.IsFinite(clipValue)) throw new ArgumentOutOfRangeException(nameof(clipValue), clipValue, "ClipGradValue: the clip value must be finite and non-negative");
        using var _ = GradMode.Disable();
        foreach (var g in parameters.Select(p => p.GradUnexposed).OfType<Tensor>())
            g.CopyFrom(g.Clamp(-clipValue, clipValue));
    }
}
