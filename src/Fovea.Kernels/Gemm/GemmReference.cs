namespace Fovea.Kernels;

/// <summary>
/// Plain-loop GEMM with float64 accumulation: the oracle the fast <see cref="Gemm"/> is tested against.
/// Same arguments and rules as <see cref="Gemm.Sgemm"/>; slow on purpose (no blocking, no SIMD, one thread).
/// </summary>
public static class GemmReference
{
    /// <summary>Reference <c>C = alpha * op(A) * op(B) + beta * C</c> in float32 storage, accumulating in double.</summary>
    public static void Sgemm(bool transA, bool transB, int m, int n, int k, float alpha, ReadOnlySpan<float> a, int lda,
        ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc)
    {
        GemmChecks.Validate("GemmReference.Sgemm", transA, transB, m, n, k, a.Length, lda, b.Length, ldb, c.Length, ldc);
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < n; j++)
            {
                double sum = 0;
                for (int p = 0; p < k; p++)
                {
                    double x = transA ? a[p * lda + i] : a[i * lda + p];
                    double y = transB ? b[j * ldb + p] : b[p * ldb + j];
                    sum += x * y;
                }
                double old = beta == 0f ? 0.0 : (double)beta * c[i * ldc + j];
                c[i * ldc + j] = (float)(alpha * sum + old);
            }
        }
    }

    /// <summary>Reference <c>C = alpha * op(A) * op(B) + beta * C</c> in float64.</summary>
    public static void Dgemm(bool transA, bool transB, int m, int n, int k, double alpha, ReadOnlySpan<double> a, int lda,
        ReadOnlySpan<double> b, int ldb, double beta, Span<double> c, int ldc)
    {
        GemmChecks.Validate("GemmReference.Dgemm", transA, transB, m, n, k, a.Length, lda, b.Length, ldb, c.Length, ldc);
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < n; j++)
            {
                double sum = 0;
                for (int p = 0; p < k; p++)
                    sum += (transA ? a[p * lda + i] : a[i * lda + p]) * (transB ? b[j * ldb + p] : b[p * ldb + j]);
                double old = beta == 0.0 ? 0.0 : beta * c[i * ldc + j];
                c[i * ldc + j] = alpha * sum + old;
            }
        }
    }
}
