namespace Fovea.Ops;

/// <summary>Helpers shared by backward rules.</summary>
internal static class Broadcasting
{
    /// <summary>
    /// Sums a gradient of a broadcast result back to the shape of the input that was broadcast: over the
    /// leading dims the input lacked and over the dims where it had size 1. Built from Sum and Reshape, so it
    /// is itself differentiable.
    /// </summary>
    public static Tensor SumToShape(Tensor g, int[] shape)
    {
        if (g._shape.AsSpan().SequenceEqual(shape)) return g;
        int lead = g.Rank - shape.Length;
        var dims = new List<int>();
        for (int d = 0; d < g.Rank; d++)
            if (d < lead || (shape[d - lead] == 1 && g._shape[d] != 1)) dims.Add(d);
        var summed = dims.Count > 0 ? g.Sum(dims.ToArray(), keepDim: true) : g;
        return summed.Reshape(shape);
    }

    /// <summary>Zero where a tangent is absent.</summary>
    public static Tensor OrZeros(Tensor? tangent, Tensor like) => tangent ?? Tensor.ZerosLike(like);
}
