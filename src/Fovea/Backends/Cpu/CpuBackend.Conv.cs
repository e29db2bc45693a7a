using System.Numerics;
using Fovea.Kernels;

namespace Fovea.Backends.Cpu;

internal sealed partial class CpuBackend
{
    public Tensor Conv2d(Tensor x, Tensor w, Tensor? bias, Conv2dGeometry geometry) => Conv2d(x, w, bias, geometry, weightIsConstant: false);

    public Tensor Conv2d(Tensor x, Tensor w, Tensor? bias, Conv2dGeometry geometry, bool weightIsConstant) =>
        Conv2d(x, w, bias, geometry, weightIsConstant, residual: null, relu: false);

    /// <summary>
    /// The convolution with the residual added and the ReLU applied by its kernels on each output run they have just
    /// written, or in one pass after it, whichever the kernels measured faster for this layer (Conv2dKernels.EpilogueInKernel).
    /// </summary>
    public Tensor Conv2dRelu(Tensor x, Tensor w, Tensor? bias, Conv2dGeometry geometry, Tensor? residual) =>
        Conv2d(x, w, bias, geometry, weightIsConstant: true, residual, relu: true);

    /// <summary>
    /// The stem and its pooling in one kernel where one takes them (float32, the stem kernels' shapes: the convolution's
    /// output is never written); elsewhere the convolution, the pooling, and the ReLU on the pooled values where they lie
    /// (a quarter of the values behind a 2x2 or 3x3 stride-2 pool), the convolution's output handed back to the pool at
    /// once. Pooling first gives the same bits: the ReLU is monotone, and every window holds an element of its input
    /// (the pool's padding is at most half its kernel, and a ceil-mode window starts inside), so max(relu(·)) over it is
    /// relu(max(·)), ties of ±0 and NaN included (see Sequential.Forward).
    /// </summary>
    public Tensor Conv2dReluMaxPool2d(Tensor x, Tensor w, Tensor? bias, Conv2dGeometry geometry, Pool2dGeometry pool)
    {
        EnsureAllowed();
        if (x.DType == DType.Float32 && w.DType == DType.Float32)
        {
            var s = geometry.Shape(x._shape, w._shape);
            var (ph, pw) = pool.OutputSize(s.OutH, s.OutW);
            if (Conv2dKernels.ForwardReluMaxPoolApplies(s, pool.Window, ph, pw))
            {
                x = x.ContiguousRaw();
                w = w.ContiguousRaw();
                bias = bias?.ContiguousRaw();
                var y = Tensor.Allocate(DType.Float32, [s.Batch, s.OutChannels, ph, pw], clear: false);
                Conv2dKernels.ForwardReluMaxPool(s, Mem<float>(x), Mem<float>(w), bias is null ? default : Mem<float>(bias), MemOut<float>(y), pool.Window, ph, pw);
                return y;
            }
        }
        var conv = Conv2d(x, w, bias, geometry, weightIsConstant: true);
        var pooled = MaxPool2dValues(conv, pool);
        StoragePool.Recycle(conv);
        AddRelu(pooled, pooled, null);
        return pooled;
    }

    private Tensor Conv2d(Tensor x, Tensor w, Tensor? bias, Conv2dGeometry geometry, bool weightIsConstant, Tensor? residual, bool relu)
    {
        EnsureAllowed();
        x = x.ContiguousRaw();
        // Only a weight that is its own contiguous storage range can be kept prepared: a copy made here would be new each call.
        var prepared = weightIsConstant && x.DType == DType.Float32 && w.IsContiguous ? PreparedConvWeightsCache.For(w, geometry) : null;
        w = w.ContiguousRaw();
        bias = bias?.ContiguousRaw();
        var s = geometry.Shape(x._shape, w._shape);
        var y = Tensor.Allocate(x.DType, [s.Batch, s.OutChannels, s.OutH, s.OutW], clear: false);
        residual = residual?.ContiguousRaw();
        switch (x.DType)
        {
            case DType.Float32: Conv2dKernels.Forward(s, Mem<float>(x), Mem<float>(w), bias is null ? default : Mem<float>(bias), MemOut<float>(y), prepared, residual is null ? default : Mem<float>(residual), relu); break;
            case DType.Float64: Conv2dKernels.Forward(s, Mem<double>(x), Mem<double>(w), bias is null ? default : Mem<double>(bias), MemOut<double>(y), null, residual is null ? default : Mem<double>(residual), relu); break;
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

    private static ReadOnlyMemory<T> Mem<T>(Tensor t) => new(t.Storage.As<T>(), t.Offset, t.Numel);

    private static Memory<T> MemOut<T>(Tensor t) => new(t.Storage.As<T>(), t.Offset, t.Numel);

    private static DTypeException FloatingOnly(string op, DType dtype) =>
        new(op, $"expected a floating dtype, got {dtype.Name()}; convert with .To(DType.Float32)");
}
