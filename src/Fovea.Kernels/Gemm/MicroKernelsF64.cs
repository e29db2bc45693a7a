using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Fovea.Kernels;

// Float64 micro-kernels: the float32 tile shapes at half the lanes, so the same driver and packing serve
// both precisions. Float64 is the gradient-checking dtype, not the tuned one, so these are not unrolled.

/// <summary>AVX2 + FMA tile for double: 6 rows x 8 columns = 12 ymm accumulators.</summary>
internal readonly unsafe struct DgemmKernel6x8 : IMicroKernel<double>
{
    public static int MR => 6;
    public static int NR => 8;
    // Same byte footprints as the float32 tile: A sliver 6 x 256 doubles = 12 KiB, B panel 256 x 96 doubles = 192 KiB.
    public static int KC => 256;
    public static int MC => 768;
    public static int NC => 96;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(int kc, double* a, double* b, double* c, nint ldc, double alpha, double beta)
    {
        GemmPrefetch.Tile(c, ldc, 6, 8);
        Vector256<double> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector256<double> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        for (int p = 0; p < kc; p++)
        {
            Vector256<double> b0 = Vector256.Load(b), b1 = Vector256.Load(b + 4), av;
            av = Vector256.Create(a[0]); c00 = Vector256.FusedMultiplyAdd(av, b0, c00); c01 = Vector256.FusedMultiplyAdd(av, b1, c01);
            av = Vector256.Create(a[1]); c10 = Vector256.FusedMultiplyAdd(av, b0, c10); c11 = Vector256.FusedMultiplyAdd(av, b1, c11);
            av = Vector256.Create(a[2]); c20 = Vector256.FusedMultiplyAdd(av, b0, c20); c21 = Vector256.FusedMultiplyAdd(av, b1, c21);
            av = Vector256.Create(a[3]); c30 = Vector256.FusedMultiplyAdd(av, b0, c30); c31 = Vector256.FusedMultiplyAdd(av, b1, c31);
            av = Vector256.Create(a[4]); c40 = Vector256.FusedMultiplyAdd(av, b0, c40); c41 = Vector256.FusedMultiplyAdd(av, b1, c41);
            av = Vector256.Create(a[5]); c50 = Vector256.FusedMultiplyAdd(av, b0, c50); c51 = Vector256.FusedMultiplyAdd(av, b1, c51);
            a += 6;
            b += 8;
        }

        Vector256<double> va = Vector256.Create(alpha);
        bool keep = beta != 0.0;
        Vector256<double> vb = Vector256.Create(beta);
        Update(c, c00, c01, va, vb, keep); c += ldc;
        Update(c, c10, c11, va, vb, keep); c += ldc;
        Update(c, c20, c21, va, vb, keep); c += ldc;
        Update(c, c30, c31, va, vb, keep); c += ldc;
        Update(c, c40, c41, va, vb, keep); c += ldc;
        Update(c, c50, c51, va, vb, keep);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Update(double* c, Vector256<double> x0, Vector256<double> x1, Vector256<double> va, Vector256<double> vb, bool keep)
    {
        if (keep)
        {
            Vector256.FusedMultiplyAdd(x0, va, Vector256.Load(c) * vb).Store(c);
            Vector256.FusedMultiplyAdd(x1, va, Vector256.Load(c + 4) * vb).Store(c + 4);
        }
        else
        {
            // beta == 0: C's old contents (even NaN) are not read.
            (x0 * va).Store(c);
            (x1 * va).Store(c + 4);
        }
    }
}

/// <summary>AVX-512 tile for double: 6 rows x 16 columns = 12 zmm accumulators.</summary>
internal readonly unsafe struct DgemmKernel6x16 : IMicroKernel<double>
{
    public static int MR => 6;
    public static int NR => 16;
    // B panel 192 x 256 doubles = 384 KiB in L2.
    public static int KC => 192;
    public static int MC => 768;
    public static int NC => 256;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(int kc, double* a, double* b, double* c, nint ldc, double alpha, double beta)
    {
        GemmPrefetch.Tile(c, ldc, 6, 16);
        Vector512<double> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector512<double> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        for (int p = 0; p < kc; p++)
        {
            Vector512<double> b0 = Vector512.Load(b), b1 = Vector512.Load(b + 8), av;
            av = Vector512.Create(a[0]); c00 = Vector512.FusedMultiplyAdd(av, b0, c00); c01 = Vector512.FusedMultiplyAdd(av, b1, c01);
            av = Vector512.Create(a[1]); c10 = Vector512.FusedMultiplyAdd(av, b0, c10); c11 = Vector512.FusedMultiplyAdd(av, b1, c11);
            av = Vector512.Create(a[2]); c20 = Vector512.FusedMultiplyAdd(av, b0, c20); c21 = Vector512.FusedMultiplyAdd(av, b1, c21);
            av = Vector512.Create(a[3]); c30 = Vector512.FusedMultiplyAdd(av, b0, c30); c31 = Vector512.FusedMultiplyAdd(av, b1, c31);
            av = Vector512.Create(a[4]); c40 = Vector512.FusedMultiplyAdd(av, b0, c40); c41 = Vector512.FusedMultiplyAdd(av, b1, c41);
            av = Vector512.Create(a[5]); c50 = Vector512.FusedMultiplyAdd(av, b0, c50); c51 = Vector512.FusedMultiplyAdd(av, b1, c51);
            a += 6;
            b += 16;
        }

        Vector512<double> va = Vector512.Create(alpha);
        bool keep = beta != 0.0;
        Vector512<double> vb = Vector512.Create(beta);
        Update(c, c00, c01, va, vb, keep); c += ldc;
        Update(c, c10, c11, va, vb, keep); c += ldc;
        Update(c, c20, c21, va, vb, keep); c += ldc;
        Update(c, c30, c31, va, vb, keep); c += ldc;
        Update(c, c40, c41, va, vb, keep); c += ldc;
        Update(c, c50, c51, va, vb, keep);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Update(double* c, Vector512<double> x0, Vector512<double> x1, Vector512<double> va, Vector512<double> vb, bool keep)
    {
        if (keep)
        {
            Vector512.FusedMultiplyAdd(x0, va, Vector512.Load(c) * vb).Store(c);
            Vector512.FusedMultiplyAdd(x1, va, Vector512.Load(c + 8) * vb).Store(c + 8);
        }
        else
        {
            (x0 * va).Store(c);
            (x1 * va).Store(c + 8);
        }
    }
}

/// <summary>Scalar 4 x 4 tile for double, used when no SIMD is accelerated.</summary>
internal readonly unsafe struct DgemmKernelScalar4x4 : IMicroKernel<double>
{
    public static int MR => 4;
    public static int NR => 4;
    public static int KC => 256;
    public static int MC => 256;
    public static int NC => 128;

    public static void Run(int kc, double* a, double* b, double* c, nint ldc, double alpha, double beta)
    {
        double s00 = 0, s01 = 0, s02 = 0, s03 = 0, s10 = 0, s11 = 0, s12 = 0, s13 = 0;
        double s20 = 0, s21 = 0, s22 = 0, s23 = 0, s30 = 0, s31 = 0, s32 = 0, s33 = 0;
        for (int p = 0; p < kc; p++)
        {
            double b0 = b[0], b1 = b[1], b2 = b[2], b3 = b[3];
            double a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3];
            s00 += a0 * b0; s01 += a0 * b1; s02 += a0 * b2; s03 += a0 * b3;
            s10 += a1 * b0; s11 += a1 * b1; s12 += a1 * b2; s13 += a1 * b3;
            s20 += a2 * b0; s21 += a2 * b1; s22 += a2 * b2; s23 += a2 * b3;
            s30 += a3 * b0; s31 += a3 * b1; s32 += a3 * b2; s33 += a3 * b3;
            a += 4;
            b += 4;
        }
        Row(c, s00, s01, s02, s03, alpha, beta); c += ldc;
        Row(c, s10, s11, s12, s13, alpha, beta); c += ldc;
        Row(c, s20, s21, s22, s23, alpha, beta); c += ldc;
        Row(c, s30, s31, s32, s33, alpha, beta);
    }

    private static void Row(double* c, double x0, double x1, double x2, double x3, double alpha, double beta)
    {
        if (beta == 0.0)
        {
            c[0] = alpha * x0; c[1] = alpha * x1; c[2] = alpha * x2; c[3] = alpha * x3;
        }
        else
        {
            c[0] = alpha * x0 + beta * c[0]; c[1] = alpha * x1 + beta * c[1];
            c[2] = alpha * x2 + beta * c[2]; c[3] = alpha * x3 + beta * c[3];
        }
    }
}
