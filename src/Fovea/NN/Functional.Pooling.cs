using Fovea.Backends;
using Fovea.Ops;

namespace Fovea.NN;

public static partial class Functional
{
    /// <summary>
    /// 2-d max pooling of x [N, C, H, W] (or [C, H, W]); <paramref name="stride"/> defaults to the kernel size;
    /// padding counts as −∞ and may be at most half the kernel. With <paramref name="ceilMode"/> the output size
    /// rounds up, but the last window must start inside the input or its left padding. Where nothing is recorded
    /// (gradients off or the input not requiring one, no forward-mode tangent) the argmax indices are not computed.
    /// </summary>
    public static Tensor MaxPool2d(Tensor input, Size2d kernelSize, Size2d? stride = null, Size2d? padding = null, Size2d? dilation = null, bool ceilMode = false) =>
        MaxPool2dValues("max_pool2d", input, kernelSize, stride ?? kernelSize, padding ?? 0, dilation ?? 1, ceilMode);

    /// <summary>
    /// The values of <see cref="MaxPool2dWithIndices(string, Tensor, Size2d, Size2d, Size2d, Size2d, bool, bool)"/>; without
    /// the indices when nothing will route a gradient back (<see cref="Fused.Untracked"/>).
    /// </summary>
    internal static Tensor MaxPool2dValues(string op, Tensor input, Size2d kernel, Size2d stride, Size2d padding, Size2d dilation, bool ceilMode)
    {
        if (!Fused.Untracked(input)) return MaxPool2dWithIndices(op, input, kernel, stride, padding, dilation, ceilMode, indicesReturned: false).Values;
        if (input.Rank == 3) return MaxPool2dValues(op, input.Unsqueeze(0), kernel, stride, padding, dilation, ceilMode).Squeeze(0);
        var geo = PoolGeometry(op, input, kernel, stride, padding, dilation, ceilMode, countIncludePad: true);
        return new MaxPool2dFunction(geo, withIndices: false).Apply(input);
    }

    /// <summary>
    /// <see cref="MaxPool2d"/> that also returns the Int32 indices (flat positions h·W + w in each input plane)
    /// of the chosen elements, as PyTorch's <c>return_indices=True</c>.
    /// </summary>
    public static (Tensor Values, Tensor Indices) MaxPool2dWithIndices(Tensor input, Size2d kernelSize, Size2d? stride = null, Size2d? padding = null,
        Size2d? dilation = null, bool ceilMode = false) =>
        MaxPool2dWithIndices("max_pool2d", input, kernelSize, stride ?? kernelSize, padding ?? 0, dilation ?? 1, ceilMode);

    // indicesReturned: whether the caller hands the indices on (false where only the values leave, so that the backward
    // pass may recycle them).
    internal static (Tensor Values, Tensor Indices) MaxPool2dWithIndices(string op, Tensor input, Size2d kernel, Size2d stride, Size2d padding, Size2d dilation, bool ceilMode,
        bool indicesReturned = true)
    {
        if (input.Rank == 3)
        {
            var (v, i) = MaxPool2dWithIndices(op, input.Unsqueeze(0), kernel, stride, padding, dilation, ceilMode, indicesReturned);
            return (v.Squeeze(0), i.Squeeze(0));
        }
        var geo = PoolGeometry(op, input, kernel, stride, padding, dilation, ceilMode, countIncludePad: true);
        var f = new MaxPool2dFunction(geo, recycleIndices: !indicesReturned);
        var values = f.Apply(input);
        return (values, f.Indices!);
    }

    /// <summary>
    /// 2-d average pooling; the divisor is the window clipped to the padded input (<paramref name="countIncludePad"/>)
    /// or to the input itself. Output size as for <see cref="MaxPool2d"/> (no dilation).
    /// </summary>
    public static Tensor AvgPool2d(Tensor input, Size2d kernelSize, Size2d? stride = null, Size2d? padding = null, bool ceilMode = false, bool countIncludePad = true) =>
        AvgPool2d("avg_pool2d", input, kernelSize, stride ?? kernelSize, padding ?? 0, ceilMode, countIncludePad);

    internal static Tensor AvgPool2d(string op, Tensor input, Size2d kernel, Size2d stride, Size2d padding, bool ceilMode, bool countIncludePad)
    {
        if (input.Rank == 3) return AvgPool2d(op, input.Unsqueeze(0), kernel, stride, padding, ceilMode, countIncludePad).Squeeze(0);
        var geo = PoolGeometry(op, input, kernel, stride, padding, 1, ceilMode, countIncludePad);
        return new AvgPool2dFunction(geo).Apply(input);
    }

    private static Pool2dGeometry PoolGeometry(string op, Tensor input, Size2d kernel, Size2d stride, Size2d padding, Size2d dilation, bool ceilMode, bool countIncludePad)
    {
        var geo = new Pool2dGeometry(kernel.H, kernel.W, stride.H, stride.W, padding.H, padding.W, dilation.H, dilation.W, ceilMode, countIncludePad);
        ShapeChecks.Pool2d(op, input._shape, geo);
        if (!input.DType.IsFloating())
            throw new DTypeException(op, $"expected a floating dtype, got {input.DType.Name()}; convert with .To(DType.Float32)");
        return geo;
    }

    /// <summary>
    /// Adaptive average pooling to <paramref name="outputSize"/>: output (i, j) averages input rows
    /// [⌊i·H/oh⌋, ⌈(i + 1)·H/oh⌉) and the matching columns. Computed as P_h · x · P_wᵀ with the 1-d averaging
    /// matrices (the 2-d window average is separable), so it is differentiable to any order with no code of its own.
    /// Global pooling (output 1x1, a ResNet's head) is the mean over H and W, one reduction: the two products cost
    /// 0.08 ms on a ResNet-18's 512 x 7² at batch 1, the mean 0.01.
    /// </summary>
    public static Tensor AdaptiveAvgPool2d(Tensor input, Size2d outputSize)
    {
        if (input.Rank is not (3 or 4))
            throw new ShapeException("adaptive_avg_pool2d", $"expected input [N, C, H, W] or [C, H, W], got {ShapeChecks.Format(input._shape)}");
        if (outputSize.H < 1 || outputSize.W < 1)
            throw new ShapeException("adaptive_avg_pool2d", $"output size must be positive, got {outputSize}");
        int h = input._shape[^2], w = input._shape[^1];
        if (h == 0 || w == 0)
            throw new ShapeException("adaptive_avg_pool2d", $"input spatial dims must be non-empty, got {ShapeChecks.Format(input._shape)}");
        if (outputSize.H == 1 && outputSize.W == 1) return input.Mean([input.Rank - 2, input.Rank - 1], keepDim: true);
        var ph = AdaptiveMatrix(h, outputSize.H, input.DType);
        var pw = AdaptiveMatrix(w, outputSize.W, input.DType);
        return ph.MatMul(input).MatMul(pw.T);
    }

    /// <summary>[outSize, inSize]: row i holds 1/count on the bin [⌊i·in/out⌋, ⌈(i + 1)·in/out⌉).</summary>
    private static Tensor AdaptiveMatrix(int inSize, int outSize, DType dtype)
    {
        var m = new double[outSize * inSize];
        for (int i = 0; i < outSize; i++)
        {
            int start = (int)((long)i * inSize / outSize);
            int end = (int)(((long)(i + 1) * inSize + outSize - 1) / outSize);
            for (int k = start; k < end; k++) m[i * inSize + k] = 1.0 / (end - start);
        }
        return Tensor.FromArray(m, outSize, inSize).To(dtype);
    }
}
