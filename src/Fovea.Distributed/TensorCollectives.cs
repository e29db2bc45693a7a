namespace Fovea.Distributed;

/// <summary>The collectives of <see cref="IProcessGroup"/> on whole float32 or float64 tensors, in place.</summary>
public static class TensorCollectives
{
    /// <summary>Replaces <paramref name="tensor"/> on every rank by the element-wise sum (or mean) over the ranks.</summary>
    public static void AllReduce(this IProcessGroup group, Tensor tensor, ReduceOp op = ReduceOp.Sum)
    {
        switch (Check("all-reduce", tensor))
        {
            case DType.Float32: group.AllReduce(tensor.AsSpan<float>(), op); break;
            default: group.AllReduce(tensor.AsSpan<double>(), op); break;
        }
    }

    /// <summary>Copies <paramref name="root"/>'s <paramref name="tensor"/> into every other rank's.</summary>
    public static void Broadcast(this IProcessGroup group, Tensor tensor, int root = 0)
    {
        switch (Check("broadcast", tensor))
        {
            case DType.Float32: group.Broadcast(tensor.AsSpan<float>(), root); break;
            default: group.Broadcast(tensor.AsSpan<double>(), root); break;
        }
    }

    /// <summary>
    /// Copies rank <paramref name="root"/>'s parameters and buffers of <paramref name="model"/> into every other
    /// rank's, in registration order, so all ranks start from the same weights (and batch-norm statistics).
    /// </summary>
    public static void BroadcastModule(this IProcessGroup group, Fovea.NN.Module model, int root = 0)
    {
        using var _ = GradMode.Disable();
        foreach (var (_, p) in model.NamedParameters()) group.Broadcast(p, root);
        foreach (var (_, b) in model.NamedBuffers())
            if (b.DType is DType.Float32 or DType.Float64) group.Broadcast(b, root);
    }

    private static DType Check(string op, Tensor tensor)
    {
        if (tensor.DType is not (DType.Float32 or DType.Float64))
            throw new DTypeException(op, $"collectives carry float32 or float64 tensors, got {tensor.DType.Name()}");
        if (!tensor.IsContiguous)
            throw new InvalidOperationException($"{op}: the tensor of shape [{string.Join(", ", tensor.Shape)}] is not contiguous; call Contiguous() and use the result");
        return tensor.DType;
    }
}
