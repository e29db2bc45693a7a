using System.Numerics;
using System.Numerics.Tensors;
using Fovea.Kernels;

namespace Fovea.Backends.Cpu;

internal sealed partial class CpuBackend
{
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
            case DType.Float32: AddReluKernel.Run(MemOut<float>(dst), Mem<float>(a), b is null ? default : Mem<float>(b)); break;
            case DType.Float64: AddReluKernel.Run(MemOut<double>(dst), Mem<double>(a), b is null ? default : Mem<double>(b)); break;
            default: throw FloatingOnly("add_relu", dst.DType);
        }
    }
}
