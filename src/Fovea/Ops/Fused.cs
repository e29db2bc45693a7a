using Fovea.Backends;

namespace Fovea.Ops;

/// <summary>
/// Inference paths that skip what only differentiation needs: one pass for relu(a + b) and ReLU written into the
/// tensor it reads, where nothing is recorded. With a graph or a tangent to propagate they are the ops as written
/// (<c>(a + b).Relu()</c>), so gradients, gradient checks and forward-mode AD never see them.
/// </summary>
internal static class Fused
{
    /// <summary>
    /// True when an op on these inputs records nothing and propagates no tangent: gradients off, or no input
    /// requiring one; no forward-mode tangent; anomaly mode off (its checks live in <see cref="Function.Apply"/>).
    /// </summary>
    public static bool Untracked(Tensor a, Tensor? b = null) =>
        (!GradMode.IsEnabled || (!a.RequiresGrad && b?.RequiresGrad != true)) && a.Tangent is null && b?.Tangent is null && !Anomaly.Enabled;

    /// <summary>
    /// relu(a + b) with broadcasting. Untracked and floating: one pass (<see cref="IBackend.AddRelu"/>), written into
    /// <paramref name="a"/> itself when <paramref name="inPlace"/> and a already has the result's shape, is contiguous
    /// and shares no storage with b (its storage version is bumped, so a graph that saved it refuses to use it).
    /// Otherwise <c>(a + b).Relu()</c>.
    /// </summary>
    public static Tensor AddRelu(Tensor a, Tensor b, bool inPlace)
    {
        if (a.DType != b.DType || !a.DType.IsFloating() || !Untracked(a, b))
        {
            // The sum is made here and read only by the ReLU, whose backward needs just its output: the sum's buffer
            // is dead once the ReLU has run.
            var sum = a.Add(b);
            var y = sum.Relu();
            if (sum.Tangent is null && !Anomaly.Enabled) StoragePool.Recycle(sum);
            return y;
        }
        var shape = ShapeChecks.Broadcast("add_relu", a._shape, b._shape);
        bool into = inPlace && a.IsContiguous && a._shape.AsSpan().SequenceEqual(shape) && !ReferenceEquals(a.Storage, b.Storage);
        var dst = into ? a : Tensor.Allocate(a.DType, shape, clear: false);
        Backend.Current.AddRelu(dst, a, b);
        if (into) a.Storage.BumpVersion();
        return dst;
    }

    /// <summary>Whether <see cref="ConvRelu"/> may run as one call; tests turn it off to run the ops apart on the same inputs.</summary>
    internal static bool ConvEpilogues = true;

    /// <summary>
    /// relu(conv(x, w) + b + residual), or relu(conv(x, w) + b) without a residual. Untracked (no input recording or
    /// carrying a tangent), floating, and the residual of the output's shape and dtype: one pass, the convolution's
    /// kernels adding the residual and rectifying each output as they write it (<see cref="IBackend.Conv2dRelu"/>).
    /// Otherwise the ops as written: the convolution, then <see cref="AddRelu"/> (broadcasting the residual) or
    /// <see cref="Relu"/> on its new output. The values are the same either way.
    /// </summary>
    public static Tensor ConvRelu(Tensor x, Tensor w, Tensor? b, Conv2dGeometry geo, Tensor? residual)
    {
        bool untracked = Untracked(x, w) && (b is null || Untracked(b)) && (residual is null || Untracked(residual));
        if (ConvEpilogues && untracked && x.DType.IsFloating() && (residual is null || (residual.DType == x.DType && IsOutputShape(residual, x, w, geo))))
            return Backend.Current.Conv2dRelu(x, w, b, geo, residual);
        var y = Conv.Forward(x, w, b, geo);
        return residual is null ? Relu(y, inPlace: true) : AddRelu(y, residual, inPlace: true);
    }

    /// <summary>
    /// max_pool(relu(conv(x, w) + b)). Untracked and floating: one backend call (<see cref="IBackend.Conv2dReluMaxPool2d"/>),
    /// which need never write the convolution's output. Otherwise <see cref="ConvRelu"/> and the pooling as written,
    /// with their usual gradients. The values are the same either way.
    /// </summary>
    public static Tensor ConvReluMaxPool(Tensor x, Tensor w, Tensor? b, Conv2dGeometry geo, Pool2dGeometry pool)
    {
        bool untracked = Untracked(x, w) && (b is null || Untracked(b));
        if (ConvEpilogues && untracked && x.DType.IsFloating())
            return Backend.Current.Conv2dReluMaxPool2d(x, w, b, geo, pool);
        var y = ConvRelu(x, w, b, geo, null);
        return Untracked(y) ? new MaxPool2dFunction(pool, withIndices: false).Apply(y) : new MaxPool2dFunction(pool, recycleIndices: true).Apply(y);
    }

    /// <summary>Whether <paramref name="t"/> has the shape of the convolution's output (checked without allocating one).</summary>
    private static bool IsOutputShape(Tensor t, Tensor x, Tensor w, Conv2dGeometry geo)
    {
        var (oh, ow) = geo.OutputSize(x._shape[2], x._shape[3], w._shape[2], w._shape[3]);
        return t.Rank == 4 && t._shape[0] == x._shape[0] && t._shape[1] == w._shape[0] && t._shape[2] == oh && t._shape[3] == ow;
    }

    /// <summary>
    /// relu(x). Untracked, floating, contiguous and <paramref name="inPlace"/>: written into x (storage version bumped)
    /// and x returned; otherwise <c>x.Relu()</c>.
    /// </summary>
    public static Tensor Relu(Tensor x, bool inPlace)
    {
        if (!inPlace || !x.DType.IsFloating() || !x.IsContiguous || !Untracked(x)) return x.Relu();
        Backend.Current.AddRelu(x, x, null);
        x.Storage.BumpVersion();
        return x;
    }
}
