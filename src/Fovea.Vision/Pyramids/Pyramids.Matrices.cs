using Fovea.Backends;

namespace Fovea.Vision;

public static partial class Pyramids
{
    // The 5-tap binomial low-pass of the lecture notes, [1 4 6 4 1], indexed by offset −2 .. 2.
    private static readonly int[] BinomialTaps = [1, 4, 6, 4, 1];

    /// <summary>
    /// The 1-d blur-and-downsample matrix <c>G</c> of the lecture notes (a Laplacian-pyramid level is <c>L = (I − F G) x</c>):
    /// <c>[(n + 1) / 2, n]</c> float64, <c>G[i, j] = w(j − 2i) / 16</c> with <c>w = [1 4 6 4 1]</c> at offsets −2 .. 2, so
    /// output <c>i</c> is the blurred input at sample <c>2i</c>. Samples beyond the ends count as zero, as the notes print
    /// their matrices; <see cref="PyrDown"/> reflects there instead (BORDER_REFLECT_101), so the two agree on every row
    /// whose taps stay inside (<c>2 ≤ 2i ≤ n − 3</c>) and differ on the first and the last row.
    /// With <paramref name="normalized"/> false the entries are the integer taps <c>w(j − 2i)</c> without the 1/16.
    /// </summary>
    /// <param name="n">Length of the fine signal (the number of columns), at least 1.</param>
    /// <param name="normalized">Divide by 16, so interior rows sum to 1 (default); false gives the bare integer taps.</param>
    public static Tensor DownsampleMatrix(int n, bool normalized = true)
        => ResampleMatrix(n, transpose: false, normalized ? 1.0 / 16 : 1.0);

    /// <summary>
    /// The 1-d upsampling matrix <c>F</c> of the lecture notes ("insert zeros between pixels, then apply the low-pass filter
    /// [1 4 6 4 1]"): <c>[n, (n + 1) / 2]</c> float64, <c>F[j, i] = w(j − 2i) / 8</c>, i.e. <c>F = 2·Gᵀ</c> with
    /// <see cref="DownsampleMatrix"/>. The notes print the 8×4 case as <c>F3</c> with the integer taps (rows
    /// <c>6 1 0 0 / 4 4 0 0 / 1 6 1 0 / …</c>); <c>UpsampleMatrix(8, normalized: false)</c> is that matrix, and the default
    /// divides by 8 so interior rows sum to 1 (a constant stays constant, as <see cref="PyrUp"/>, whose 2-d kernel is the
    /// binomial times 4). Samples beyond the ends count as zero (the notes' last row is <c>0 0 0 4</c>), where
    /// <see cref="PyrUp"/> reflects; they agree on every row whose taps reach only existing coarse samples
    /// (<c>1 ≤ j ≤ 2m − 3</c>, <c>m = (n + 1) / 2</c>) and differ on row 0 and the last one (odd n) or two (even n) rows.
    /// </summary>
    /// <param name="n">Length of the fine (upsampled) signal (the number of rows), at least 1.</param>
    /// <param name="normalized">Divide by 8, so interior rows sum to 1 (default); false gives the notes' integer taps.</param>
    public static Tensor UpsampleMatrix(int n, bool normalized = true)
        => ResampleMatrix(n, transpose: true, normalized ? 1.0 / 8 : 1.0);

    // Entry (i, j) of the down matrix is w(j − 2i)·scale; the up matrix is its transpose with its own scale.
    private static Tensor ResampleMatrix(int n, bool transpose, double scale)
    {
        if (n < 1 || n > 1 << 14)
            throw new ArgumentOutOfRangeException(nameof(n), n, $"{(transpose ? "upsample_matrix" : "downsample_matrix")}: the signal length must be in [1, 16384], got {n}.");
        int m = PyramidGeometry.DownSize(n);
        var a = new double[n * m];
        for (int i = 0; i < m; i++)
            for (int j = Math.Max(0, 2 * i - 2); j <= Math.Min(n - 1, 2 * i + 2); j++)
            {
                double v = BinomialTaps[j - 2 * i + 2] * scale;
                if (transpose) a[j * m + i] = v;
                else a[i * n + j] = v;
            }
        return transpose ? Tensor.FromArray(a, n, m) : Tensor.FromArray(a, m, n);
    }

    /// <summary>
    /// The same maps as <see cref="DownsampleMatrix"/> and <see cref="UpsampleMatrix"/> (zero beyond the ends) applied to a
    /// vector without forming the matrix: with <c>m = (n + 1) / 2</c>, <paramref name="toFine"/> maps a length-<c>m</c> vector
    /// to length <c>n</c> (<c>out[j] = Σ_i w(j − 2i)·scale·x[i]</c>: <c>F x</c> for scale 1/8, <c>Gᵀ x</c> for 1/16), otherwise a
    /// length-<c>n</c> vector to length <c>m</c> (<c>out[i] = Σ_j w(j − 2i)·scale·x[j]</c>: <c>G x</c> for 1/16, <c>Fᵀ x</c> for 1/8).
    /// </summary>
    internal static double[] Resample1d(double[] x, int n, bool toFine, double scale)
    {
        int m = PyramidGeometry.DownSize(n);
        var y = new double[toFine ? n : m];
        for (int i = 0; i < m; i++)
            for (int j = Math.Max(0, 2 * i - 2); j <= Math.Min(n - 1, 2 * i + 2); j++)
            {
                double w = BinomialTaps[j - 2 * i + 2] * scale;
                if (toFine) y[j] += w * x[i];
                else y[i] += w * x[j];
            }
        return y;
    }
}
