namespace Fovea.Vision.Tests;

/// <summary>The lecture notes' 1-d down- and up-sampling matrices, against the notes and against PyrDown/PyrUp.</summary>
public class PyramidMatrixTests
{
    // Note 003, "Convolution and up-sampling as a matrix multiply (1D case)": y2 = F3 x3, insert zeros between pixels,
    // then apply the low-pass filter [1 4 6 4 1]. Copied from the note as printed.
    private static readonly double[,] F3 =
    {
        { 6, 1, 0, 0 },
        { 4, 4, 0, 0 },
        { 1, 6, 1, 0 },
        { 0, 4, 4, 0 },
        { 0, 1, 6, 1 },
        { 0, 0, 4, 4 },
        { 0, 0, 1, 6 },
        { 0, 0, 0, 4 },
    };

    [Fact]
    public void UpsampleMatrixOfEightIsTheNotesF3()
    {
        var literal = Pyramids.UpsampleMatrix(8, normalized: false);
        Assert.Equal([8, 4], literal.Shape);
        Assert.Equal(DType.Float64, literal.DType);
        double[] integers = literal.ToArray<double>(), normalized = Pyramids.UpsampleMatrix(8).ToArray<double>();
        for (int j = 0; j < 8; j++)
            for (int i = 0; i < 4; i++)
            {
                Assert.Equal(F3[j, i], integers[j * 4 + i]);
                Assert.Equal(F3[j, i] / 8, normalized[j * 4 + i]);
            }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(7)]
    [InlineData(8)]
    [InlineData(13)]
    public void DownsampleIsHalfTheTransposeOfUpsampleAndInteriorRowsSumToOne(int n)
    {
        var g = Pyramids.DownsampleMatrix(n).ToArray<double>();
        var f = Pyramids.UpsampleMatrix(n).ToArray<double>();
        int m = (n + 1) / 2;
        Assert.Equal([m, n], Pyramids.DownsampleMatrix(n).Shape);
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) Assert.Equal(2 * g[i * n + j], f[j * m + i]);
        for (int i = 1; 2 * i + 2 <= n - 1; i++) Assert.Equal(1.0, Enumerable.Range(0, n).Sum(j => g[i * n + j]), 12);
        for (int j = 2; j + 2 < 2 * m - 1; j++) Assert.Equal(1.0, Enumerable.Range(0, m).Sum(i => f[j * m + i]), 12);
    }

    // A 1-d signal as an image whose rows are all that signal: PyrDown and PyrUp act on it along x only (the vertical
    // filter of a constant column is the identity), so its middle row is the 1-d operation.
    private static double[] Row(Tensor image) => image.Select(0, 0).Select(0, image.Size(1) / 2).ToArray<double>();

    private static Tensor Rows(double[] signal, int rows) =>
        Tensor.FromArray(Enumerable.Range(0, rows).SelectMany(_ => signal).ToArray(), 1, rows, signal.Length);

    private static double[] Apply(Tensor matrix, double[] x) => matrix.MatMul(Tensor.FromArray(x, x.Length, 1)).Reshape(-1).ToArray<double>();

    [Theory]
    [InlineData(16)]
    [InlineData(17)]
    public void MatricesEqualPyrDownAndPyrUpAwayFromTheEnds(int n)
    {
        // The notes count samples beyond the ends as zero; PyrDown and PyrUp (OpenCV) reflect there. The rows whose taps
        // stay inside agree to float64 rounding, and the boundary rows differ, as the XML docs state.
        var rng = new Generator(7);
        var x = Tensor.Rand([n], rng, DType.Float64).ToArray<double>();
        int m = (n + 1) / 2;
        var down = Apply(Pyramids.DownsampleMatrix(n), x);
        var pyrDown = Row(Pyramids.PyrDown(Rows(x, 8)));
        for (int i = 0; i < m; i++)
        {
            bool inside = 2 * i - 2 >= 0 && 2 * i + 2 <= n - 1;
            if (inside) Assert.Equal(pyrDown[i], down[i], 12);
            else Assert.True(Math.Abs(pyrDown[i] - down[i]) > 1e-6, $"down row {i} of {n} should differ at the border");
        }
        var c = Tensor.Rand([m], rng, DType.Float64).ToArray<double>();
        var up = Apply(Pyramids.UpsampleMatrix(n), c);
        var pyrUp = Row(Pyramids.PyrUp(Rows(c, 8), (16, n)));
        for (int j = 0; j < n; j++)
        {
            bool inside = j >= 1 && j <= 2 * m - 3;
            if (inside) Assert.Equal(pyrUp[j], up[j], 12);
            else Assert.True(Math.Abs(pyrUp[j] - up[j]) > 1e-6, $"up row {j} of {n} should differ at the border");
        }
    }

    [Fact]
    public void LaplacianLevelIsIdentityMinusFGOnTheInterior()
    {
        // The notes' L1 = (I − F1 G1) x1, against the first band of LaplacianPyramid on a constant-column image.
        int n = 32;
        var x = Tensor.Rand([n], new Generator(9), DType.Float64).ToArray<double>();
        var fg = Pyramids.UpsampleMatrix(n).MatMul(Pyramids.DownsampleMatrix(n));
        var band = Apply(Tensor.Eye(n, dtype: DType.Float64) - fg, x);
        var lap = Row(Pyramids.LaplacianPyramid(Rows(x, 8), 2)[0]);
        for (int j = 4; j < n - 4; j++) Assert.Equal(lap[j], band[j], 12);
    }

    [Fact]
    public void MatrixSizesAreChecked()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Pyramids.DownsampleMatrix(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => Pyramids.UpsampleMatrix(1 << 20));
    }
}
