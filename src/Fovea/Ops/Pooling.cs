using Fovea.Backends;

namespace Fovea.Ops;

/// <summary>
/// Max pooling. The gradient is routed to the input that won each window ("max routes"): the backward scatters
/// g to the recorded indices (<see cref="MaxPool2dBackwardFunction"/>), and that scatter's own adjoint gathers
/// at the same indices, so double backward works. Built <paramref name="withIndices"/> false only where nothing
/// will be recorded or differentiated (<see cref="Fused.Untracked"/>): the backend then skips the argmax. With
/// <paramref name="recycleIndices"/> (only where the caller hands the values on and not the indices), the backward pass
/// that releases the node gives the indices' buffer to the pool.
/// </summary>
internal sealed class MaxPool2dFunction(Pool2dGeometry geo, bool withIndices = true, bool recycleIndices = false) : Function
{
    public override string Name => "MaxPool2d";

    /// <summary>Flat positions (h·W + w within each plane) of the chosen inputs, set by the forward pass (null without indices).</summary>
    public Tensor? Indices { get; private set; }

    /// <summary>
    /// With recycleIndices the indices are saved like an activation that its maker has let go of
    /// (<see cref="StoragePool.Recycle"/>): nothing outside this node and the backward's scatter sees them, so when a
    /// backward pass that keeps no graph releases the node, their buffer goes to the pool and the next forward's indices
    /// reuse it. A VGG-sized pool (32x64x56²) otherwise left 25.7 MB of indices to the collector at every training
    /// step, faulted in afresh each time. Indices returned to a caller (<c>MaxPool2dWithIndices</c>) are saved as kept.
    /// </summary>
    protected override Tensor Forward(Tensor[] x)
    {
        if (!withIndices) return Backend.Current.MaxPool2dValues(x[0], geo);
        var (values, indices) = Backend.Current.MaxPool2d(x[0], geo);
        Indices = indices;
        if (IsRecording)
        {
            SaveForBackward(indices);
            if (recycleIndices) StoragePool.Recycle(indices);
        }
        return values;
    }

    // Through Saved, which refuses a second backward once the node has released (and perhaps recycled) the indices.
    protected override Tensor?[] Backward(Tensor g) => [new MaxPool2dBackwardFunction(Saved[0], InputShapes[0]).Apply(g)];

    protected override Tensor? Jvp(Tensor[] x, Tensor y, Tensor?[] t) => t[0] is { } tx ? Pool.GatherAt(tx, Indices!, y._shape) : null;
}

/// <summary>dx = g scattered to the argmax indices. Linear in g; its adjoint gathers u at the indices.</summary>
internal sealed class MaxPool2dBackwardFunction(Tensor indices, int[] inputShape) : Function
{
    public override string Name => "MaxPool2dBackward";

    protected override Tensor Forward(Tensor[] x) => Backend.Current.MaxPool2dBackward(x[0], indices, inputShape);

    protected override Tensor?[] Backward(Tensor u) => [Pool.GatherAt(u, indices, InputShapes[0])];

    protected override Tensor? Jvp(Tensor[] x, Tensor y, Tensor?[] t) => t[0] is { } tg ? new MaxPool2dBackwardFunction(indices, inputShape).Apply(tg) : null;
}

/// <summary>Average pooling: linear, so d/dx is its adjoint (<see cref="AvgPool2dBackwardFunction"/>), whose adjoint is this again.</summary>
internal sealed class AvgPool2dFunction(Pool2dGeometry geo) : Function
{
    public override string Name => "AvgPool2d";

    protected override Tensor Forward(Tensor[] x) => Backend.Current.AvgPool2d(x[0], geo);

    protected override Tensor?[] Backward(Tensor g) => [new AvgPool2dBackwardFunction(geo, InputShapes[0]).Apply(g)];

    protected override Tensor? Jvp(Tensor[] x, Tensor y, Tensor?[] t) => t[0] is { } tx ? new AvgPool2dFunction(geo).Apply(tx) : null;
}

/// <summary>The adjoint of average pooling: each gradient spread as g / divisor over its window.</summary>
internal sealed class AvgPool2dBackwardFunction(Pool2dGeometry geo, int[] inputShape) : Function
{
    public override string Name => "AvgPool2dBackward";

    protected override Tensor Forward(Tensor[] x) => Backend.Current.AvgPool2dBackward(x[0], inputShape, geo);

    protected override Tensor?[] Backward(Tensor u) => [new AvgPool2dFunction(geo).Apply(u)];

    protected override Tensor? Jvp(Tensor[] x, Tensor y, Tensor?[] t) => t[0] is { } tg ? new AvgPool2dBackwardFunction(geo, inputShape).Apply(tg) : null;
}

/// <summary>Helpers shared by the pooling functions.</summary>
internal static class Pool
{
    /// <summary>out[n, c, k] = x[n, c, indices[n, c, k]] over flattened planes, reshaped to <paramref name="shape"/> (differentiable).</summary>
    public static Tensor GatherAt(Tensor x, Tensor indices, int[] shape) =>
        x.Flatten(2).Gather(2, indices.Flatten(2)).Reshape(shape);
}
