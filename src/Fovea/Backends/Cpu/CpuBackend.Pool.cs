using System.Numerics;
using Fovea.Kernels;

namespace Fovea.Backends.Cpu;

internal sealed partial class CpuBackend
{
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
        ForPlanes(planes, PlaneBytes<T>(inPlane, outPlane, outPlane), (s, e) => Pool2dKernels.MaxForward<T>(x.AsSpan(xo + s * inPlane, (e - s) * inPlane), e - s, h, w, p.Window, oh, ow,
            y.AsSpan(s * outPlane, (e - s) * outPlane), idx.AsSpan(s * outPlane, (e - s) * outPlane)));
    }

    public Tensor MaxPool2dValues(Tensor x, Pool2dGeometry geometry)
    {
        EnsureAllowed();
        x = x.ContiguousRaw();
        int n = x._shape[0], c = x._shape[1], h = x._shape[2], w = x._shape[3];
        var (oh, ow) = geometry.OutputSize(h, w);
        var y = Tensor.Allocate(x.DType, [n, c, oh, ow], clear: false);
        switch (x.DType)
        {
            case DType.Float32: MaxPoolValues(x.Storage.As<float>(), x.Offset, y.Storage.As<float>(), n * c, h, w, geometry); break;
            case DType.Float64: MaxPoolValues(x.Storage.As<double>(), x.Offset, y.Storage.As<double>(), n * c, h, w, geometry); break;
            default: throw FloatingOnly("max_pool2d", x.DType);
        }
        return y;
    }

    private static void MaxPoolValues<T>(T[] x, int xo, T[] y, int planes, int h, int w, Pool2dGeometry p) where T : unmanaged, INumber<T>
    {
        var (oh, ow) = p.OutputSize(h, w);
        int inPlane = h * w, outPlane = oh * ow;
        ForPlanes(planes, PlaneBytes<T>(inPlane, outPlane, 0), (s, e) => Pool2dKernels.MaxForwardValues<T>(x.AsSpan(xo + s * inPlane, (e - s) * inPlane), e - s, h, w, p.Window, oh, ow,
            y.AsSpan(s * outPlane, (e - s) * outPlane)));
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
        // The kernel checks each index against its plane as it scatters (one pass over the indices, not two).
        ForPlanes(planes, PlaneBytes<T>(inPlane, outPlane, outPlane), (s, e) => Pool2dKernels.MaxBackward<T>(g.AsSpan(go + s * outPlane, (e - s) * outPlane), idx.AsSpan(io + s * outPlane, (e - s) * outPlane),
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
        ForPlanes(planes, PlaneBytes<T>(inPlane, outPlane, 0), (s, e) => Pool2dKernels.AvgForward<T>(x.AsSpan(xo + s * inPlane, (e - s) * inPlane), e - s, h, w, p.Window, p.CountIncludePad,
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
        ForPlanes(planes, PlaneBytes<T>(inPlane, outPlane, 0), (s, e) => Pool2dKernels.AvgBackward<T>(g.AsSpan(go + s * outPlane, (e - s) * outPlane), e - s, h, w, p.Window, p.CountIncludePad,
            oh, ow, dx.AsSpan(s * inPlane, (e - s) * inPlane)));
    }

    /// <summary>
    /// Splits planes over threads by the memory-bound rule (<see cref="ParallelFor.GrainForBytes"/>: a chunk moves
    /// at least <see cref="ParallelFor.MinBytesPerThread"/>), the chunks taken as threads come free
    /// (<see cref="ParallelFor.ForBalanced"/>), so a helper thread that starts late on a busy machine does not hold up
    /// the call. LeNet's pooling layers (64 x 6 x 28², 1.8 MB with the indices) stay on one thread, the ResNet stem's
    /// and VGG's use two.
    /// </summary>
    private static void ForPlanes(int planes, long bytesPerPlane, Action<int, int> body) =>
        ParallelFor.ForBalanced(planes, ParallelFor.GrainForBytes(bytesPerPlane), body, chunksPerThread: 2);

    /// <summary>Bytes one plane's pass moves: its input and output values of type <typeparamref name="T"/> and the 32-bit argmax indices.</summary>
    private static long PlaneBytes<T>(int inPlane, int outPlane, int indices) where T : unmanaged =>
        ((long)inPlane + outPlane) * System.Runtime.CompilerServices.Unsafe.SizeOf<T>() + 4L * indices;
}
