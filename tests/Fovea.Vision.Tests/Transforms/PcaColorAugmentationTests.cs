using Fovea.Data;
using Fovea.Vision.Transforms;

namespace Fovea.Vision.Tests.Transforms;

/// <summary>Krizhevsky et al.'s "fancy PCA" colour augmentation and the colour PCA it rests on.</summary>
public class PcaColorAugmentationTests
{
    /// <summary>An orthonormal basis (columns): Gram–Schmidt on three fixed, generic vectors (no ties in magnitude).</summary>
    private static readonly double[,] Basis = BuildBasis();

    private static double[,] BuildBasis()
    {
        double[][] v = [[1, 0.3, 0.2], [0.1, 1, 0.4], [0.3, 0.2, 1]];
        var q = new double[3, 3];
        for (int k = 0; k < 3; k++)
        {
            var u = (double[])v[k].Clone();
            for (int j = 0; j < k; j++)
            {
                double dot = 0;
                for (int i = 0; i < 3; i++) dot += u[i] * q[i, j];
                for (int i = 0; i < 3; i++) u[i] -= dot * q[i, j];
            }
            double norm = Math.Sqrt(u.Sum(x => x * x));
            for (int i = 0; i < 3; i++) q[i, k] = u[i] / norm;
        }
        return q;
    }

    private static double[,] Covariance(double[] lambda)
    {
        var cov = new double[3, 3];
        for (int a = 0; a < 3; a++)
            for (int b = 0; b < 3; b++)
                for (int k = 0; k < 3; k++) cov[a, b] += Basis[a, k] * lambda[k] * Basis[b, k];
        return cov;
    }

    [Fact]
    public void Eigenvectors_OfAKnownCovariance()
    {
        var pca = ColorPrincipalComponents.FromCovariance(Covariance([0.5, 4, 2])); // given out of order
        Assert.Equal([4, 2, 0.5], pca.Eigenvalues.Select(v => Math.Round(v, 12)));
        int[] column = [1, 2, 0]; // λ = 4 is basis column 1, λ = 2 column 2, λ = 0.5 column 0
        for (int i = 0; i < 3; i++)
        {
            // Unique up to sign; the convention makes the largest component positive.
            double sign = Enumerable.Range(0, 3).MaxBy(k => Math.Abs(Basis[k, column[i]])) is int big && Basis[big, column[i]] < 0 ? -1 : 1;
            for (int ch = 0; ch < 3; ch++) Assert.Equal(sign * Basis[ch, column[i]], pca.Eigenvector(i, ch), 12);
        }
    }

    [Fact]
    public void FromDataset_IsTheCovarianceOfEveryPixel()
    {
        // 5 images of 3x4 pixels; the covariance written out by hand over all 60 pixels.
        var images = Tensor.Rand([5, 3, 3, 4], new Generator(3), DType.Float64);
        var v = images.ToArray<double>();
        var mean = new double[3];
        var cov = new double[3, 3];
        for (int i = 0; i < 5; i++)
            for (int p = 0; p < 12; p++)
                for (int a = 0; a < 3; a++) mean[a] += v[(i * 3 + a) * 12 + p] / 60;
        for (int i = 0; i < 5; i++)
            for (int p = 0; p < 12; p++)
                for (int a = 0; a < 3; a++)
                    for (int b = 0; b < 3; b++) cov[a, b] += (v[(i * 3 + a) * 12 + p] - mean[a]) * (v[(i * 3 + b) * 12 + p] - mean[b]) / 60;
        var expected = ColorPrincipalComponents.FromCovariance(cov);
        // Read in batches of 2 from a dataset, the last one short.
        var fitted = ColorPrincipalComponents.FromDataset(new TensorDataset(images, Tensor.Zeros(5)), batchSize: 2);
        for (int a = 0; a < 3; a++)
        {
            Assert.Equal(mean[a], fitted.Mean[a], 12);
            Assert.Equal(expected.Eigenvalues[a], fitted.Eigenvalues[a], 12);
            for (int ch = 0; ch < 3; ch++) Assert.Equal(expected.Eigenvector(a, ch), fitted.Eigenvector(a, ch), 9);
        }
        // Σᵢ λᵢ pᵢ pᵢᵀ gives the covariance back.
        for (int a = 0; a < 3; a++)
            for (int b = 0; b < 3; b++)
                Assert.Equal(cov[a, b], Enumerable.Range(0, 3).Sum(k => fitted.Eigenvalues[k] * fitted.Eigenvector(k, a) * fitted.Eigenvector(k, b)), 12);
    }

    [Fact]
    public void SigmaZero_LeavesTheImageUnchanged()
    {
        var images = Tensor.Rand([3, 3, 5, 5], new Generator(4));
        var t = new PcaColorAugmentation(ColorPrincipalComponents.FromImages(images), sigma: 0);
        Assert.True(t.Apply(images, new Generator(1)).Equal(images));
    }

    [Fact]
    public void EachImageShiftsByOneColour_WithZeroMeanAndThePapersSpread()
    {
        double[] lambda = [4, 2, 0.5];
        var pca = ColorPrincipalComponents.FromCovariance(Covariance(lambda));
        var t = new PcaColorAugmentation(pca, sigma: 0.1);
        const int n = 20_000;
        var images = Tensor.Zeros([n, 3, 2, 2], DType.Float64);
        var shifted = t.Apply(images, new Generator(7));
        var s = shifted.ToArray<double>();
        var shift = new double[n, 3];
        for (int i = 0; i < n; i++)
            for (int ch = 0; ch < 3; ch++)
            {
                shift[i, ch] = s[(i * 3 + ch) * 4];
                for (int p = 1; p < 4; p++) Assert.Equal(shift[i, ch], s[(i * 3 + ch) * 4 + p]); // one colour per image
            }
        // Shift = Σ pᵢ αᵢ λᵢ with αᵢ ~ N(0, 0.1²): mean 0, covariance Σ pᵢ (0.1·λᵢ)² pᵢᵀ.
        for (int a = 0; a < 3; a++)
        {
            double expectedVar = Enumerable.Range(0, 3).Sum(k => Math.Pow(pca.Eigenvector(k, a) * 0.1 * pca.Eigenvalues[k], 2));
            double mean = Enumerable.Range(0, n).Average(i => shift[i, a]);
            double variance = Enumerable.Range(0, n).Average(i => (shift[i, a] - mean) * (shift[i, a] - mean));
            Assert.InRange(mean, -4 * Math.Sqrt(expectedVar / n), 4 * Math.Sqrt(expectedVar / n));
            Assert.InRange(variance / expectedVar, 0.95, 1.05);
        }
    }

    [Fact]
    public void SameGenerator_SameAugmentation_AndBadInputsAreClearErrors()
    {
        var images = Tensor.Rand([4, 3, 3, 3], new Generator(5));
        var t = PcaColorAugmentation.Fit(new TensorDataset(images, Tensor.Zeros(4)));
        Assert.Equal(0.1, t.Sigma);
        Assert.True(t.Apply(images, new Generator(2)).Equal(t.Apply(images, new Generator(2))));
        Assert.False(t.Apply(images, new Generator(2)).Equal(t.Apply(images, new Generator(3))));
        Assert.Throws<ShapeException>(() => t.Apply(Tensor.Rand([2, 1, 3, 3]), new Generator(1)));
        Assert.Throws<ArgumentOutOfRangeException>(() => new PcaColorAugmentation(t.Components, sigma: -1));
        Assert.Throws<ArgumentException>(() => ColorPrincipalComponents.FromCovariance(new[,] { { 1.0, 2 }, { 0, 1 } }));
    }

    [Fact]
    public void Grayscale_IsABrightnessShiftScaledByTheVariance()
    {
        var images = Tensor.Rand([6, 1, 4, 4], new Generator(6), DType.Float64);
        var pca = ColorPrincipalComponents.FromImages(images);
        double variance = images.Var([0, 1, 2, 3], correction: 0).ToScalar();
        Assert.Equal(variance, pca.Eigenvalues[0], 12);
        Assert.Equal(1, pca.Eigenvector(0, 0));
    }
}
