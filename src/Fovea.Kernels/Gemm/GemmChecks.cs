namespace Fovea.Kernels;

/// <summary>Argument rules shared by <see cref="Gemm"/> and <see cref="GemmReference"/>, so both reject the same calls.</summary>
internal static class GemmChecks
{
    /// <summary>Throws <see cref="ArgumentException"/> (naming the operand, its layout and the numbers) for any invalid argument.</summary>
    public static void Validate(string op, bool transA, bool transB, int m, int n, int k,
        int aLength, int lda, int bLength, int ldb, int cLength, int ldc)
    {
        if (m < 0) throw new ArgumentOutOfRangeException(nameof(m), m, $"{op}: m must be >= 0, got {m}.");
        if (n < 0) throw new ArgumentOutOfRangeException(nameof(n), n, $"{op}: n must be >= 0, got {n}.");
        if (k < 0) throw new ArgumentOutOfRangeException(nameof(k), k, $"{op}: k must be >= 0, got {k}.");

        // As stored: A is m x k (k x m when transposed), B is k x n (n x k when transposed), C is m x n.
        Operand(op, "A", "a", "lda", transA ? k : m, transA ? m : k, transA, aLength, lda);
        Operand(op, "B", "b", "ldb", transB ? n : k, transB ? k : n, transB, bLength, ldb);
        Operand(op, "C", "c", "ldc", m, n, false, cLength, ldc);
    }

    private static string Layout(int rows, int cols, bool trans) =>
        trans ? $" (stored transposed as {rows} x {cols})" : $" ({rows} x {cols})";

    private static void Operand(string op, string name, string param, string ldName, int rows, int cols, bool trans, int length, int ld)
    {
        // Messages are built only on failure: this runs on every GEMM call and must not allocate.
        if (ld < cols)
            throw new ArgumentException($"{op}: {ldName} must be >= the stored row width of {name}{Layout(rows, cols, trans)}, got {ldName} = {ld} < {cols}.", ldName);
        if (rows == 0 || cols == 0) return;
        long needed = (long)(rows - 1) * ld + cols;
        if (length < needed)
            throw new ArgumentException($"{op}: {name}{Layout(rows, cols, trans)} with {ldName} = {ld} needs at least {needed} elements, got {length}.", param);
    }
}
