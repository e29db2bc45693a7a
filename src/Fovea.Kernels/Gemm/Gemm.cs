using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Fovea.Kernels;

/// <summary>The register-tile variant a GEMM call runs; chosen once per process from the hardware.</summary>
internal enum GemmKernelKind
{
    /// <summary>Plain scalar 4x4 tile (no SIMD acceleration available).</summary>
    Scalar,
    /// <summary>Vector256 + FMA tile (AVX2).</summary>
    Vector256,
    /// <summary>Vector512 + FMA (AVX-512): the 6x64 tile, or the 6x32 tile when C has at most 32 columns.</summary>
    Vector512,
    /// <summary>Vector512 + FMA with the 6x32 tile whatever the shape (convolutions' tile; tests force it here).</summary>
    Vector512Narrow,
}

/// <summary>
/// General matrix multiply on row-major spans: <c>C = alpha * op(A) * op(B) + beta * C</c>, where op(X) is X or
/// its transpose. op(A) is m x k, op(B) is k x n and C is m x n; <c>lda</c>, <c>ldb</c>, <c>ldc</c> are the row
/// strides of the matrices <em>as stored</em>. Float32 runs a packed, cache-blocked FMA kernel on all
/// <see cref="Parallelism.MaxDegreeOfParallelism"/> threads; results do not depend on the thread count.
/// </summary>
public static unsafe class Gemm
{
    /// <summary>The kernel chosen for this process: the widest vector width the hardware accelerates.</summary>
    internal static readonly GemmKernelKind Selected = Select();

    /// <summary>Name of the float32 register tile this process uses (for logs and benchmarks), e.g. <c>Vector256 6x16</c>.</summary>
    public static string KernelName => Selected switch
    {
        GemmKernelKind.Vector512 => "Vector512 6x64",
        GemmKernelKind.Vector256 => "Vector256 6x16",
        _ => "scalar 4x4",
    };

    private static GemmKernelKind Select()
    {
        // Fma.IsSupported guards the Vector256 tile: without FMA, FusedMultiplyAdd would fall back to software.
        if (Vector512.IsHardwareAccelerated && Avx512F.IsSupported) return GemmKernelKind.Vector512;
        if (Vector256.IsHardwareAccelerated && Fma.IsSupported) return GemmKernelKind.Vector256;
        return GemmKernelKind.Scalar;
    }

    /// <summary>
    /// Single-precision GEMM: <c>C = alpha * op(A) * op(B) + beta * C</c> with op(X) = Xᵀ when the flag is set.
    /// When <paramref name="beta"/> is 0, C is write-only (old contents, even NaN, are ignored); when
    /// <paramref name="alpha"/> is 0 or <paramref name="k"/> is 0, A and B are not read and C becomes beta * C.
    /// </summary>
    /// <param name="transA">Use Aᵀ: A is then stored k x m.</param>
    /// <param name="transB">Use Bᵀ: B is then stored n x k.</param>
    /// <param name="m">Rows of op(A) and C.</param>
    /// <param name="n">Columns of op(B) and C.</param>
    /// <param name="k">Columns of op(A), rows of op(B).</param>
    /// <param name="alpha">Scale of the product.</param>
    /// <param name="a">A, row-major with row stride <paramref name="lda"/>.</param>
    /// <param name="lda">Row stride of A as stored (at least k, or m when transposed).</param>
    /// <param name="b">B, row-major with row stride <paramref name="ldb"/>.</param>
    /// <param name="ldb">Row stride of B as stored (at least n, or k when transposed).</param>
    /// <param name="beta">Scale of the old C.</param>
    /// <param name="c">C, row-major with row stride <paramref name="ldc"/>; overwritten.</param>
    /// <param name="ldc">Row stride of C (at least n).</param>
    /// <exception cref="ArgumentException">A dimension is negative, a stride is smaller than its row, or a span is too short.</exception>
    public static void Sgemm(bool transA, bool transB, int m, int n, int k, float alpha, ReadOnlySpan<float> a, int lda,
        ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc) =>
        SgemmWith(Selected, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);

    /// <summary>
    /// Double-precision GEMM with the same contract as <see cref="Sgemm"/>:
    /// <c>C = alpha * op(A) * op(B) + beta * C</c>.
    /// </summary>
    /// <param name="transA">Use Aᵀ: A is then stored k x m.</param>
    /// <param name="transB">Use Bᵀ: B is then stored n x k.</param>
    /// <param name="m">Rows of op(A) and C.</param>
    /// <param name="n">Columns of op(B) and C.</param>
    /// <param name="k">Columns of op(A), rows of op(B).</param>
    /// <param name="alpha">Scale of the product.</param>
    /// <param name="a">A, row-major with row stride <paramref name="lda"/>.</param>
    /// <param name="lda">Row stride of A as stored (at least k, or m when transposed).</param>
    /// <param name="b">B, row-major with row stride <paramref name="ldb"/>.</param>
    /// <param name="ldb">Row stride of B as stored (at least n, or k when transposed).</param>
    /// <param name="beta">Scale of the old C.</param>
    /// <param name="c">C, row-major with row stride <paramref name="ldc"/>; overwritten.</param>
    /// <param name="ldc">Row stride of C (at least n).</param>
    /// <exception cref="ArgumentException">A dimension is negative, a stride is smaller than its row, or a span is too short.</exception>
    public static void Dgemm(bool transA, bool transB, int m, int n, int k, double alpha, ReadOnlySpan<double> a, int lda,
        ReadOnlySpan<double> b, int ldb, double beta, Span<double> c, int ldc) =>
        DgemmWith(Selected, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);

    /// <summary><see cref="Sgemm"/> on a specific kernel variant (tests use this to cover every variant on any machine).</summary>
    internal static void SgemmWith(GemmKernelKind kind, bool transA, bool transB, int m, int n, int k, float alpha,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc) =>
        Run<float, SgemmKernel6x64, SgemmKernel6x32, SgemmKernel6x16, SgemmKernelScalar4x4>("Sgemm", kind, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);

    /// <summary><see cref="Dgemm"/> on a specific kernel variant (tests use this to cover every variant on any machine).</summary>
    internal static void DgemmWith(GemmKernelKind kind, bool transA, bool transB, int m, int n, int k, double alpha,
        ReadOnlySpan<double> a, int lda, ReadOnlySpan<double> b, int ldb, double beta, Span<double> c, int ldc) =>
        Run<double, DgemmKernel6x16, DgemmKernel6x16, DgemmKernel6x8, DgemmKernelScalar4x4>("Dgemm", kind, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);

    /// <summary>
    /// The one GEMM entry for both precisions: checks the arguments, handles the empty and C = beta·C cases, then runs
    /// the dot-product path for skinny NT products or the packed driver with the register tile of <paramref name="kind"/>
    /// (<typeparamref name="TWide"/> for Vector512 when C has more columns than <typeparamref name="T512"/>'s tile,
    /// <typeparamref name="T512"/> for the other Vector512 cases, <typeparamref name="TNarrow"/> for Vector256,
    /// <typeparamref name="TScalar"/> otherwise). The tile depends on the shape alone, never on the thread count, so
    /// results stay bit-identical across thread counts. Every type parameter is a struct, so the JIT compiles one
    /// specialised copy per precision and tile, with the tiles' loops exactly as written.
    /// </summary>
    private static void Run<T, TWide, T512, TNarrow, TScalar>(string name, GemmKernelKind kind, bool transA, bool transB, int m, int n, int k, T alpha,
        ReadOnlySpan<T> a, int lda, ReadOnlySpan<T> b, int ldb, T beta, Span<T> c, int ldc)
        where T : unmanaged, System.Numerics.INumber<T>
        where TWide : struct, IMicroKernel<T>
        where T512 : struct, IMicroKernel<T>
        where TNarrow : struct, IMicroKernel<T>
        where TScalar : struct, IMicroKernel<T>
    {
        GemmChecks.Validate(name, transA, transB, m, n, k, a.Length, lda, b.Length, ldb, c.Length, ldc);
        if (m == 0 || n == 0) return;
        if (k == 0 || alpha == T.Zero)
        {
            ScaleC(m, n, beta, c, ldc);
            return;
        }
        fixed (T* pa = a)
        fixed (T* pb = b)
        fixed (T* pc = c)
        {
            if (kind != GemmKernelKind.Scalar && GemmDotNT.Applies<T>(transA, transB, m, n, k))
            {
                GemmDotNT.Run(m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc);
                return;
            }
            switch (kind)
            {
                // A narrow C would waste most of the wide tile's columns on padding.
                case GemmKernelKind.Vector512 when n > T512.NR:
                    GemmDriver<T, TWide>.Run(transA, transB, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc);
                    break;
                case GemmKernelKind.Vector512:
                case GemmKernelKind.Vector512Narrow:
                    GemmDriver<T, T512>.Run(transA, transB, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc);
                    break;
                case GemmKernelKind.Vector256:
                    GemmDriver<T, TNarrow>.Run(transA, transB, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc);
                    break;
                default:
                    GemmDriver<T, TScalar>.Run(transA, transB, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc);
                    break;
            }
        }
    }

    /// <summary>C = beta * C over the m x n window; beta == 0 writes zeros without reading C.</summary>
    private static void ScaleC<T>(int m, int n, T beta, Span<T> c, int ldc) where T : unmanaged, System.Numerics.INumber<T>
    {
        for (int i = 0; i < m; i++)
        {
            Span<T> row = c.Slice(i * ldc, n);
            if (beta == T.Zero) row.Clear();
            else if (beta != T.One)
                for (int j = 0; j < row.Length; j++) row[j] *= beta;
        }
    }
}
