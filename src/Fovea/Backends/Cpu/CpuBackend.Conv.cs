using System.Numerics;
using Fovea.Kernels;

namespace Fovea.Backends.Cpu;

internal sealed partial class CpuBackend
{
    /// <summary>Planes per parallel work item for pooling: enough that a chunk is worth a thread.</summary>
    private const int PoolMinElements = 1 << 15;

    public Tensor Conv2d(Tensor x, Tensor w, Tensor? bias, Conv2dGeometry geometry) => Conv2d(x, w, bias, geometry, weightIsConstant: false);

    public Tensor Conv2d(Tensor x, Tensor w, Tensor? bias, Conv2dGeometry geometry, bool weightIsConstant)
    {
        EnsureAllowed();
        x = x.ContiguousRaw();
        // Only a weight that is its own contiguous storage range can be kept prepared: a copy made here would be new each call.
        var prepared = weightIsConstant && x.DType == DType.Float32 && w.IsContiguous ? PreparedConvWeightsCache.For(w, geometry) : null;
        w = w.ContiguousRaw();
        bias = bias?.ContiguousRaw();
        var s = geometry.Shape(x._shape, w._shape);
        var y = Tensor.Allocate(x.DType, [s.Batch, s.OutChannels, s.OutH, s.OutW], clear: false);
        switch (x.DType)
        {
            case DType.Float32: Conv2dKernels.Forward(s, Mem<float>(x), Mem<float>(w), bias is null ? default : Mem<float>(bias), MemOut<float>(y), prepared); break;
            case DType.Float64: Conv2dKernels.Forward(s, Mem<double>(x), Mem<double>(w), bias is null ? default : Mem<double>(bias), MemOut<double>(y)); break;
            default: throw FloatingOnly("conv2d", x.DType);
        }
        return y;
    }

    public Tensor Conv2dBackwardInput(Tensor gradOutput, Tensor w, int[] inputShape, Conv2dGeometry geometry)
    {
        EnsureAllowed();
        var g = gradOutput.ContiguousRaw();
        w = w.ContiguousRaw();
        var s = geometry.Shape(inputShape, w._shape, g._shape[2], g._shape[3]);
        var dx = Tensor.Allocate(g.DType, (int[])inputShape.Clone(), clear: false);
        switch (g.DType)
        {
            case DType.Float32: Conv2dKernels.BackwardInput(s, Mem<float>(g), Mem<float>(w), MemOut<float>(dx)); break;
            case DType.Float64: Conv2dKernels.BackwardInput(s, Mem<double>(g), Mem<double>(w), MemOut<double>(dx)); break;
            default: throw FloatingOnly("conv2d backward", g.DType);
        }
        return dx;
    }

    public Tensor Conv2dBackwardWeight(Tensor x, Tensor gradOutput, int[] weightShape, Conv2dGeometry geometry)
    {
        EnsureAllowed();
        x = x.ContiguousRaw();
        var g = gradOutput.ContiguousRaw();
        var s = geometry.Shape(x._shape, weightShape, g._shape[2], g._shape[3]);
        var dw = Tensor.Allocate(x.DType, (int[])weightShape.Clone(), clear: false);
        switch (x.DType)
        {
            case DType.Float32: Conv2dKernels.BackwardWeight(s, Mem<float>(x), Mem<float>(g), MemOut<float>(dw)); break;
            case DType.Float64: Conv2dKernels.BackwardWeight(s, Mem<double>(x), Mem<double>(g), MemOut<double>(dw)); break;
            default: throw FloatingOnly("conv2d backward", x.DType);
        }
        return dw;
    }

    public (Tensor Values, Tensor Indices) MaxPool2d(Tensor x, Pool2dGeometry geometry)
    {
        EnsureAllowed();
        x = x.ContiguousRaw();
        int n = x._shape[0], c = x._shape[1], h = x._shape[2], w = x._shape[3];
        var (oh, ow) = geometry.OutputSize(h, w);
        var y = Tensor.Allocate(x.DType, [n, c, oh, ow], clear: false);
        var idx = Tensor.Allocate(DType.Int32, [n, c, oh, ow], clear: false);
        switch (x.DType)
        {
            case DType.Float32: MaxPool(x.Storage.As<float>(), x.Offset, y.Storage.As<float>(), idx.Storage.As<int>(), n * c, h, w, geometry); break;
            case DType.Float64: MaxPool(x.Storage.As<double>(), x.Offset, y.Storage.As<double>(), idx.Storage.As<int>(), n * c, h, w, geometry); break;
            default: throw FloatingOnly("max_pool2d", x.DType);
        }
        return (y, idx);
    }

    private static void MaxPool<T>(T[] x, int xo, T[] y, int[] idx, int planes, int h, int w, Pool2dGeometry p) where T : unmanaged, INumber<T>
    {
        var (oh, ow) = p.OutputSize(h, w);
        int inPlane = h * w, outPlane = oh * ow;
        ForPlanes(planes, inPlane + outPlane, (s, e) => Pool2dKernels.MaxForward<T>(x.AsSpan(xo + s * inPlane, (e - s) * inPlane), e - s, h, w, p.Window, oh, ow,
            y.AsSpan(s * outPlane, (e - s) * outPlane), idx.AsSpan(s * outPlane, (e - s) * outPlane)));
    }

    public Tensor MaxPool2dBackward(Tensor gradOutput, Tensor indices, int[] inputShape)
    {
        EnsureAllowed();
        var g = gradOutput.ContiguousRaw();
        var ix = indices.ContiguousRaw();
        var dx = Tensor.Allocate(g.DType, (int[])inputShape.Clone(), clear: false);
        int planes = inputShape[0] * inputShape[1], inPlane = inputShape[2] * inputShape[3], outPlane = g._shape[2] * g._shape[3];
        switch (g.DType)
        {
            case DType.Float32: MaxPoolBack(g.Storage.As<float>(), g.Offset, ix.Storage.As<int>(), ix.Offset, dx.Storage.As<float>(), planes, inPlane, outPlane); break;
            case DType.Float64: MaxPoolBack(g.Storage.As<double>(), g.Offset, ix.Storage.As<int>(), ix.Offset, dx.Storage.As<double>(), planes, inPlane, outPlane); break;
            default: throw FloatingOnly("max_pool2d backward", g.DType);
        }
        return dx;
    }

    private static void MaxPoolBack<T>(T[] g, int go, int[] idx, int io, T[] dx, int planes, int inPlane, int outPlane) where T : unmanaged, INumber<T>
    {
        for (int k = 0; k < planes * outPlane; k++)
            if ((uint)idx[io + k] >= (uint)inPlane)
                throw new ArgumentOutOfRangeException(nameof(idx), $"max_pool2d backward: index {idx[io + k]} is outside a plane of {inPlane} elements");
        ForPlanes(planes, inPlane + outPlane, (s, e) => Pool2dKernels.MaxBackward<T>(g.AsSpan(go + s * outPlane, (e - s) * outPlane), idx.AsSpan(io + s * outPlane, (e - s) * outPlane),
            e - s, inPlane, outPlane, dx.AsSpan(s * inPlane, (e - s) * inPlane)));
    }

    public Tensor AvgPool2d(Tensor x, Pool2dGeometry geometry)
    {
        EnsureAllowed();
        x = x.ContiguousRaw();
        int n = x._shape[0], c = x._shape[1], h = x._shape[2], w = x._shape[3];
        var (oh, ow) = geometry.OutputSize(h, w);
        var y = Tensor.Allocate(x.DType, [n, c, oh, ow], clear: false);
        switch (x.DType)
        {
            case DType.Float32: AvgPool(x.Storage.As<float>(), x.Offset, y.Storage.As<float>(), n * c, h, w, geometry); break;
            case DType.Float64: AvgPool(x.Storage.As<double>(), x.Offset, y.Storage.As<double>(), n * c, h, w, geometry); break;
            default: throw FloatingOnly("avg_pool2d", x.DType);
        }
        return y;
    }

    private static void AvgPool<T>(T[] x, int xo, T[] y, int planes, int h, int w, Pool2dGeometry p) where T : unmanaged, INumber<T>
    {
        var (oh, ow) = p.OutputSize(h, w);
        int inPlane = h * w, outPlane = oh * ow;
        ForPlanes(planes, inPlane + outPlane, (s, e) => Pool2dKernels.AvgForward<T>(x.AsSpan(xo + s * inPlane, (e - s) * inPlane), e - s, h, w, p.Window, p.CountIncludePad,
            oh, ow, y.AsSpan(s * outPlane, (e - s) * outPlane)));
    }

    public Tensor AvgPool2dBackward(Tensor gradOutput, int[] inputShape, Pool2dGeometry geometry)
    {
        EnsureAllowed();
        var g = gradOutput.ContiguousRaw();
        var dx = Tensor.Allocate(g.DType, (int[])inputShape.Clone(), clear: false);
        switch (g.DType)
        {
            case DType.Float32: AvgPoolBack(g.Storage.As<float>(), g.Offset, dx.Storage.As<float>(), inputShape, geometry); break;
            case DType.Float64: AvgPoolBack(g.Storage.As<double>(), g.Offset, dx.Storage.As<double>(), inputShape, geometry); break;
            default: throw FloatingOnly("avg_pool2d backward", g.DType);
        }
        return dx;
    }

    private static void AvgPoolBack<T>(T[] g, int go, T[] dx, int[] inputShape, Pool2dGeometry p) where T : unmanaged, INumber<T>
    {
        int planes = inputShape[0] * inputShape[1], h = inputShape[2], w = inputShape[3];
        var (oh, ow) = p.OutputSize(h, w);
        int inPlane = h * w, outPlane = oh * ow;
        ForPlanes(planes, inPlane + outPlane, (s, e) => Pool2dKernels.AvgBackward<T>(g.AsSpan(go + s * outPlane, (e - s) * outPlane), e - s, h, w, p.Window, p.CountIncludePad,
            oh, ow, dx.AsSpan(s * inPlane, (e - s) * inPlane)));
    }

    private static void ForPlanes(int planes, int elementsPerPlane, Action<int, int> body) =>
        ParallelFor.For(planes, Math.Max(1, PoolMinElements / Math.Max(1, elementsPerPlane)), body);

    private static ReadOnlyMemory<T> Mem<T>(Tensor t) => new(t.Storage.As<T>(), t.Offset, t.Numel);

    private static Memory<T> MemOut<T>(Tensor t) => new(t.Storage.As<T>(), t.Offset, t.Numel);

    private static DTypeException FloatingOnly(string op, DType dtype) =>
        new(op, $"expected a floating dtype, got {dtype.Name()}; convert with .To(DType.Float32)");
}
