using System.Numerics;
using System.Numerics.Tensors;
using Fovea.Kernels;

namespace Fovea.Backends.Cpu;

internal sealed partial class CpuBackend
{
    /// <summary>Elements per <see cref="AddRelu"/> block: the sum is written and rectified while it is still in L1.</summary>
    private const int AddReluBlock = 2048;

    /// <summary>
    /// Elements a thread's share of <see cref="AddRelu"/> must have. The pass follows the convolution that wrote a (in
    /// place, or with the residual b): it reads data still in the caches, and on two threads part of it in the other
    /// core's, which a second thread fetches and rectifies in parallel. A region costs a few microseconds; 2^15
    /// elements take about 5 µs on one thread. ResNet-18 at batch 1 on two threads (the 64x56x56 joins and ReLUs, 5 a
    /// forward, timed inside the network on a 2-core AMD EPYC, Zen 5): medians 61–63 → 19–44 µs with 2^15 instead of
    /// 2^17, which left them on one thread.
    /// </summary>
    private const int AddReluMinElements = 1 << 15;

    public void AddRelu(Tensor dst, Tensor a, Tensor? b)
    {
        EnsureAllowed();
        int n = dst.Numel;
        if (!dst.IsContiguous || !a.IsContiguous || a.Numel != n || (b is not null && (!b.IsContiguous || b.Numel != n)))
        {
            // Broadcast or strided operands: the unfused pair (the same roundings), then one copy into dst.
            var sum = b is null ? a : Binary(BinaryOp.Add, a, b, dst._shape);
            Assign(dst, Unary(UnaryOp.Relu, sum));
            return;
        }
        switch (dst.DType)
        {
            case DType.Float32: AddReluRun(dst.Storage.As<float>(), dst.Offset, a.Storage.As<float>(), a.Offset, b?.Storage.As<float>(), b?.Offset ?? 0, n); break;
            case DType.Float64: AddReluRun(dst.Storage.As<double>(), dst.Offset, a.Storage.As<double>(), a.Offset, b?.Storage.As<double>(), b?.Offset ?? 0, n); break;
            default: throw FloatingOnly("add_relu", dst.DType);
        }
    }

    /// <summary>
    /// y = max(a + b, 0) in L1-sized blocks: the add, then the rectification on the block just written (two vector
    /// passes over 8 KiB instead of two passes over the tensor). IEEE max keeps NaN and turns −0 into +0, as
    /// <see cref="ReluOp{T}"/> does. y may be a or b exactly (TensorPrimitives allows exact overlap).
    /// </summary>
    private static void AddReluRun<T>(T[] y, int yo, T[] a, int ao, T[]? b, int bo, int n) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ParallelFor.ForBalanced(n, AddReluMinElements, (start, end) =>
        {
            for (int k = start; k < end; k += AddReluBlock)
            {
                int len = Math.Min(AddReluBlock, end - k);
                var block = y.AsSpan(yo + k, len);
                if (b is null)
                {
                    TensorPrimitives.Max(a.AsSpan(ao + k, len), T.Zero, block);
                    continue;
                }
                TensorPrimitives.Add(a.AsSpan(ao + k, len), b.AsSpan(bo + k, len), block);
                TensorPrimitives.Max(block, T.Zero, block);
            }
        }, chunksPerThread: 2);
    }
}
