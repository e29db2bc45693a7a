using Fovea.Kernels;

namespace Fovea.Backends.Cpu;

internal sealed partial class CpuBackend
{
    /// <summary>Below this many multiply-adds per matrix, batches run in parallel instead of inside GEMM.</summary>
    private const long SmallGemmWork = 1 << 18;

    public Tensor BatchedMatMul(Tensor a, Tensor b)
    {
        EnsureAllowed();
        int batch = a._shape[0], m = a._shape[1], k = a._shape[2], n = b._shape[2];
        // With k == 0 the product is all zeros, and the operands' (empty) storage must not be sliced.
        var y = Tensor.Allocate(a.DType, [batch, m, n], clear: k == 0);
        if (y.Numel == 0 || k == 0) return y;
        // GEMM reads either layout of each operand directly; any other striding is copied once.
        if (!GemmLayout(a, out bool transA, out int lda)) { a = a.ContiguousRaw(); GemmLayout(a, out transA, out lda); }
        if (!GemmLayout(b, out bool transB, out int ldb)) { b = b.ContiguousRaw(); GemmLayout(b, out transB, out ldb); }
        int aBatch = a._strides[0], bBatch = b._strides[0];
        if (a.DType == DType.Float32)
        {
            float[] ad = a.Storage.As<float>(), bd = b.Storage.As<float>(), yd = y.Storage.As<float>();
            int ao = a.Offset, bo = b.Offset;
            void One(int i) => Gemm.Sgemm(transA, transB, m, n, k, 1f, ad.AsSpan(ao + i * aBatch), lda, bd.AsSpan(bo + i * bBatch), ldb, 0f, yd.AsSpan(i * m * n, m * n), n);
            RunBatches(batch, (long)m * n * k, One);
        }
        else if (a.DType == DType.Float64)
        {
            double[] ad = a.Storage.As<double>(), bd = b.Storage.As<double>(), yd = y.Storage.As<double>();
            int ao = a.Offset, bo = b.Offset;
            void One(int i) => Gemm.Dgemm(transA, transB, m, n, k, 1.0, ad.AsSpan(ao + i * aBatch), lda, bd.AsSpan(bo + i * bBatch), ldb, 0.0, yd.AsSpan(i * m * n, m * n), n);
            RunBatches(batch, (long)m * n * k, One);
        }
        else
            throw new DTypeException("matmul", $"expected a floating dtype, got {a.DType.Name()}; convert with .To(DType.Float32)");
        return y;
    }

    private static void RunBatches(int batch, long workPerMatrix, Action<int> one)
    {
        if (batch > 1 && workPerMatrix < SmallGemmWork)
            ParallelFor.For(batch, (int)Math.Max(1, SmallGemmWork / Math.Max(workPerMatrix, 1)), (s, e) => { for (int i = s; i < e; i++) one(i); });
        else
            for (int i = 0; i < batch; i++) one(i);
    }

    /// <summary>
    /// True when the last two dims of a [B, R, C] operand are row-major (trans = false, ld = row stride)
    /// or column-major (trans = true, ld = column stride) so GEMM can read them without a copy.
    /// </summary>
    private static bool GemmLayout(Tensor t, out bool trans, out int ld)
    {
        int rows = t._shape[1], cols = t._shape[2];
        int rs = t._strides[1], cs = t._strides[2];
        if ((cs == 1 || cols == 1) && (rows == 1 || rs >= cols)) { trans = false; ld = rows == 1 ? Math.Max(cols, 1) : rs; return true; }
        if ((rs == 1 || rows == 1) && (cols == 1 || cs >= rows)) { trans = true; ld = cols == 1 ? Math.Max(rows, 1) : cs; return true; }
        trans = false;
        ld = 0;
        return false;
    }
}
