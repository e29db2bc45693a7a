namespace Fovea.Kernels.Tests;

/// <summary>Builds operands for GEMM tests and checks results against <see cref="GemmReference"/>.</summary>
internal static class GemmTestData
{
    /// <summary>Stored shape of op(X) = rows x cols with the given transpose flag: (stored rows, stored cols).</summary>
    public static (int rows, int cols) Stored(bool trans, int rows, int cols) => trans ? (cols, rows) : (rows, cols);

    /// <summary>Random values in [-1, 1) for a stored matrix with row stride ld; padding between rows gets <paramref name="pad"/>.</summary>
    public static T[] Random<T>(Random rng, int rows, int cols, int ld, T pad) where T : struct, System.Numerics.IFloatingPoint<T>
    {
        int length = rows == 0 ? 0 : (rows - 1) * ld + cols;
        var x = new T[length];
        x.AsSpan().Fill(pad);
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++)
                x[r * ld + c] = T.CreateChecked(rng.NextDouble() * 2 - 1);
        return x;
    }

    /// <summary>sum_p |op(A)[i,p]| |op(B)[p,j]| for error bounds, in double.</summary>
    public static double[] AbsProducts<T>(bool ta, bool tb, int m, int n, int k, T[] a, int lda, T[] b, int ldb)
        where T : struct, System.Numerics.IFloatingPoint<T>
    {
        // Gather |op(A)| by rows and |op(B)| by columns once, so the triple loop runs over contiguous doubles.
        var absA = new double[m * k];
        var absB = new double[n * k];
        for (int i = 0; i < m; i++)
            for (int p = 0; p < k; p++)
                absA[i * k + p] = Math.Abs(double.CreateChecked(ta ? a[p * lda + i] : a[i * lda + p]));
        for (int j = 0; j < n; j++)
            for (int p = 0; p < k; p++)
                absB[j * k + p] = Math.Abs(double.CreateChecked(tb ? b[j * ldb + p] : b[p * ldb + j]));
        var s = new double[m * n];
        for (int i = 0; i < m; i++)
        {
            var row = absA.AsSpan(i * k, k);
            for (int j = 0; j < n; j++)
                s[i * n + j] = System.Numerics.Tensors.TensorPrimitives.Dot(row, absB.AsSpan(j * k, k));
        }
        return s;
    }

    /// <summary>
    /// Asserts |got - want| &lt;= (k + 4) * eps * (|alpha| * sum|a||b| + |beta c_old|) element by element (the
    /// classic forward error bound of a length-k dot product), and that padding between C rows is untouched.
    /// </summary>
    public static void AssertClose<T>(T[] got, T[] want, T[] cOld, double[] absProducts, int m, int n, int k, int ldc,
        double alpha, double beta, double eps, string label) where T : struct, System.Numerics.IFloatingPoint<T>
    {
        Assert.Equal(want.Length, got.Length);
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < n; j++)
            {
                double g = double.CreateChecked(got[i * ldc + j]);
                double w = double.CreateChecked(want[i * ldc + j]);
                double old = beta == 0 ? 0 : Math.Abs(beta * double.CreateChecked(cOld[i * ldc + j]));
                double tol = (k + 4) * eps * (Math.Abs(alpha) * absProducts[i * n + j] + old) + 1e-30;
                if (!(Math.Abs(g - w) <= tol))
                    Assert.Fail($"{label}: C[{i},{j}] = {g}, reference {w}, |diff| {Math.Abs(g - w):G3} > tol {tol:G3}");
            }
            // Elements between rows (ldc > n) belong to someone else and must keep their values.
            if (i + 1 < m)
                for (int j = n; j < ldc; j++)
                    Assert.True(got[i * ldc + j].Equals(cOld[i * ldc + j]), $"{label}: padding C[{i},{j}] was overwritten");
        }
    }

    /// <summary>The shapes every layout is tested on: empty, single, odd, prime, around the tile and block sizes, large.</summary>
    public static readonly (int m, int n, int k)[] Shapes =
    [
        (0, 5, 3), (5, 0, 3), (4, 6, 0), (1, 1, 1), (1, 7, 3), (5, 1, 4), (2, 3, 4), (3, 5, 1),
        (6, 16, 8), (5, 15, 7), (7, 17, 9), (12, 32, 16), (13, 31, 97),
        (6, 32, 255), (7, 33, 256), (11, 29, 257), (37, 41, 43),
        (143, 19, 23), (144, 20, 30), (145, 21, 31), (97, 101, 103),
        (31, 3073, 5), (300, 257, 513),
    ];

    /// <summary>Every combination of the two transpose flags.</summary>
    public static readonly (bool ta, bool tb)[] Transposes = [(false, false), (true, false), (false, true), (true, true)];
}
