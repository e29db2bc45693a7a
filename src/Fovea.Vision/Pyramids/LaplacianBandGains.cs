namespace Fovea.Vision;

/// <summary>
/// How white noise and coefficient errors pass through a 2-d Laplacian pyramid, computed exactly from the 1-d matrices
/// of the lecture notes (<see cref="Pyramids.DownsampleMatrix"/> <c>G</c>, <see cref="Pyramids.UpsampleMatrix"/> <c>F</c>)
/// away from the image borders. The 2-d operators are Kronecker products of the 1-d ones (<c>PyrDown = G ⊗ G</c>), which
/// turns each 2-d figure into products of 1-d sums.
/// </summary>
public static class LaplacianBandGains
{
    // Levels beyond this reuse its value: a band that deep is a few pixels wide on any image Fovea reads.
    private const int MaxExactLevel = 14;

    /// <summary>
    /// The standard deviation of Laplacian band <paramref name="level"/> (0 = finest) when the image is white noise of
    /// standard deviation 1, averaged over the four pixel phases of the band. With <c>C = G_{level−1}⋯G_0</c> (the 1-d
    /// Gaussian level) and <c>K = C</c>, <c>J = F G C</c> at that level, band row <c>a</c> is <c>k_a − j_a</c> in 1-d; in 2-d the
    /// band is <c>(K ⊗ K − J ⊗ J) x</c>, whose row <c>(a, b)</c> has squared norm
    /// <c>|k_a|²|k_b|² − 2 (k_a·j_a)(k_b·j_b) + |j_a|²|j_b|²</c>; averaged over <c>a, b</c> that is
    /// <c>K̄² − 2 X̄² + J̄²</c> with <c>K̄, X̄, J̄</c> the 1-d means over two neighbouring rows. Noise of deviation σ gives σ times this.
    /// </summary>
    public static double NoiseGain(int level)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(level);
        level = Math.Min(level, MaxExactLevel);
        int coarse = 16, n = coarse << level; // the band has 16 samples; rows 8 and 9 see no border
        double kk = 0, kj = 0, jj = 0;
        for (int a = 8; a <= 9; a++)
        {
            var unit = new double[coarse];
            unit[a] = 1;
            // Row a of F G (at the band's level) is Gᵀ Fᵀ e_a read as a row; then both rows go down the chain to full size.
            var k = unit;
            var j = Pyramids.Resample1d(Pyramids.Resample1d(unit, coarse, toFine: false, 1.0 / 8), coarse, toFine: true, 1.0 / 16);
            for (int len = coarse; len < n; len *= 2)
            {
                k = Pyramids.Resample1d(k, 2 * len, toFine: true, 1.0 / 16);
                j = Pyramids.Resample1d(j, 2 * len, toFine: true, 1.0 / 16);
            }
            for (int i = 0; i < n; i++)
            {
                kk += k[i] * k[i] / 2;
                kj += k[i] * j[i] / 2;
                jj += j[i] * j[i] / 2;
            }
        }
        return Math.Sqrt(kk * kk - 2 * kj * kj + jj * jj);
    }

    /// <summary>
    /// The energy one unit coefficient at <paramref name="level"/> puts into the collapsed full-size image (0 gives 1):
    /// the collapse applies <c>F_0 F_1 ⋯ F_{level−1}</c> along each axis, every interior column of that product is the same
    /// filter shifted, so the 2-d energy is the square of its 1-d squared norm. An error of variance <c>v</c> in each of the
    /// band's <c>N_level</c> coefficients (independent) adds <c>v · N_level · SynthesisGain(level)</c> to the image's summed
    /// squared error.
    /// </summary>
    public static double SynthesisGain(int level)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(level);
        level = Math.Min(level, MaxExactLevel);
        int coarse = 16;
        var column = new double[coarse];
        column[8] = 1;
        for (int len = coarse; len < coarse << level; len *= 2) column = Pyramids.Resample1d(column, 2 * len, toFine: true, 1.0 / 8);
        double e = column.Sum(v => v * v);
        return e * e;
    }
}
