namespace Fovea;

/// <summary>
/// Forward-mode automatic differentiation with dual tensors: a primal value carrying a tangent. Each op's
/// Jvp rule pushes the tangent through in the same forward pass, so J·v costs one evaluation and no backward.
/// </summary>
public static class ForwardAD
{
    /// <summary>A dual tensor: the values of <paramref name="primal"/> carrying <paramref name="tangent"/>.</summary>
    public static Tensor MakeDual(Tensor primal, Tensor tangent)
    {
        ShapeChecks.Same("make_dual", primal._shape, tangent._shape);
        if (primal.DType != tangent.DType)
            throw new DTypeException("make_dual", $"tangent dtype {tangent.DType.Name()} differs from primal dtype {primal.DType.Name()}");
        var dual = primal.Alias();
        dual.Tangent = tangent;
        return dual;
    }

    /// <summary>Splits a dual tensor into its primal (without tangent) and its tangent (null if it has none).</summary>
    public static (Tensor Primal, Tensor? Tangent) Unpack(Tensor dual) => (dual.Alias(), dual.Tangent);
}
