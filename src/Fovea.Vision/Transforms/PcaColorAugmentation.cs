using System.Globalization;
using Fovea.Data;

namespace Fovea.Vision.Transforms;

/// <summary>
/// The principal components of the pixel colours of a set of images: the mean colour, and the eigenvalues λᵢ and unit
/// eigenvectors pᵢ of the C×C covariance of the pixel values (3×3 for RGB), largest eigenvalue first. Each
/// eigenvector's largest component is positive, so the decomposition is unique for distinct eigenvalues.
/// </summary>
public sealed class ColorPrincipalComponents
{
    /// <summary>Most channels accepted (the decomposition is C×C).</summary>
    public const int MaxChannels = 64;

    private readonly double[] _mean, _eigenvalues;
    private readonly double[,] _eigenvectors;

    private ColorPrincipalComponents(double[] mean, double[] eigenvalues, double[,] eigenvectors) =>
        (_mean, _eigenvalues, _eigenvectors) = (mean, eigenvalues, eigenvectors);

    /// <summary>Channels C.</summary>
    public int Channels => _mean.Length;

    /// <summary>The mean pixel value per channel.</summary>
    public IReadOnlyList<double> Mean => _mean;

    /// <summary>The eigenvalues λ₁ ≥ λ₂ ≥ … of the covariance (variances along the principal axes).</summary>
    public IReadOnlyList<double> Eigenvalues => _eigenvalues;

    /// <summary>Component <paramref name="channel"/> of the unit eigenvector p_<paramref name="index"/>.</summary>
    public double Eigenvector(int index, int channel) => _eigenvectors[channel, index];

    /// <summary>The decomposition of a given symmetric covariance (C×C, positive semi-definite up to rounding).</summary>
    public static ColorPrincipalComponents FromCovariance(double[,] covariance, double[]? mean = null)
    {
        int c = covariance.GetLength(0);
        if (c < 1 || c > MaxChannels || covariance.GetLength(1) != c)
            throw new ArgumentException($"colour PCA: the covariance must be square with 1 to {MaxChannels} channels, got {covariance.GetLength(0)}x{covariance.GetLength(1)}");
        for (int i = 0; i < c; i++)
            for (int j = 0; j < c; j++)
                if (!double.IsFinite(covariance[i, j]) || Math.Abs(covariance[i, j] - covariance[j, i]) > 1e-9 * (Math.Abs(covariance[i, j]) + 1))
                    throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"colour PCA: the covariance must be finite and symmetric (entry [{i}, {j}] = {covariance[i, j]}, [{j}, {i}] = {covariance[j, i]})"));
        if (mean is not null && mean.Length != c) throw new ArgumentException($"colour PCA: {mean.Length} mean values for {c} channels");
        var (values, vectors) = SymmetricEigen(covariance);
        return new ColorPrincipalComponents(mean is null ? new double[c] : (double[])mean.Clone(), values, vectors);
    }

    /// <summary>The colour PCA of the pixels of <paramref name="images"/> [N, C, H, W], accumulated in float64.</summary>
    public static ColorPrincipalComponents FromImages(Tensor images)
    {
        ImageBatch.Check("colour PCA", images);
        var stats = new Moments(images.Size(1));
        stats.Add(images);
        return stats.Result();
    }

    /// <summary>
    /// The colour PCA of every pixel of every training image of <paramref name="dataset"/> (inputs [C, H, W]), read in
    /// batches of <paramref name="batchSize"/>: Krizhevsky et al.'s "PCA on the set of RGB pixel values throughout the
    /// training set".
    /// </summary>
    public static ColorPrincipalComponents FromDataset(IDataset<(Tensor Input, Tensor Target)> dataset, int batchSize = 1024)
    {
        if (dataset.Count == 0) throw new ArgumentException("colour PCA: the dataset is empty");
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "colour PCA: the batch size must be positive");
        Moments? stats = null;
        for (int start = 0; start < dataset.Count; start += batchSize)
        {
            int n = Math.Min(batchSize, dataset.Count - start);
            var indices = Enumerable.Range(start, n).ToArray();
            var batch = dataset is IBatchedDataset<(Tensor Input, Tensor Target)> batched
                ? batched.GetBatch(indices).Input
                : Tensor.Stack(indices.Select(i => dataset[i].Input).ToList());
            ImageBatch.Check("colour PCA", batch);
            stats ??= new Moments(batch.Size(1));
            stats.Add(batch);
        }
        return stats!.Result();
    }

    /// <summary>Running sums Σx and Σxxᵀ over pixels, in float64.</summary>
    private sealed class Moments(int channels)
    {
        private readonly double[] _sum = CheckChannels(channels);
        private readonly double[,] _outer = new double[channels, channels];
        private long _count;

        private static double[] CheckChannels(int c) => c is >= 1 and <= MaxChannels ? new double[c]
            : throw new ShapeException("colour PCA", $"images need 1 to {MaxChannels} channels, got {c}");

        public void Add(Tensor batch)
        {
            int c = batch.Size(1);
            if (c != _sum.Length) throw new ShapeException("colour PCA", $"images with {c} channels after images with {_sum.Length}");
            int n = batch.Size(0), plane = batch.Size(2) * batch.Size(3);
            var v = batch.To(DType.Float64).Contiguous().AsSpan<double>();
            var pixel = new double[c];
            for (int i = 0; i < n; i++)
                for (int p = 0; p < plane; p++)
                {
                    for (int ch = 0; ch < c; ch++) pixel[ch] = v[(i * c + ch) * plane + p];
                    for (int a = 0; a < c; a++)
                    {
                        _sum[a] += pixel[a];
                        for (int b = a; b < c; b++) _outer[a, b] += pixel[a] * pixel[b];
                    }
                }
            _count += (long)n * plane;
        }

        /// <summary>Cov = E[xxᵀ] − μμᵀ (population covariance over all pixels).</summary>
        public ColorPrincipalComponents Result()
        {
            if (_count == 0) throw new ArgumentException("colour PCA: the images have no pixels");
            int c = _sum.Length;
            var mean = _sum.Select(s => s / _count).ToArray();
            var cov = new double[c, c];
            for (int a = 0; a < c; a++)
                for (int b = a; b < c; b++)
                    cov[a, b] = cov[b, a] = _outer[a, b] / _count - mean[a] * mean[b];
            return FromCovariance(cov, mean);
        }
    }

    /// <summary>
    /// Eigenvalues (descending) and eigenvectors (columns) of a symmetric matrix by cyclic Jacobi rotations: each
    /// rotation zeroes one off-diagonal pair; sweeps repeat until the off-diagonal mass is negligible.
    /// </summary>
    internal static (double[] Values, double[,] Vectors) SymmetricEigen(double[,] matrix)
    {
        int n = matrix.GetLength(0);
        var a = (double[,])matrix.Clone();
        var v = new double[n, n];
        for (int i = 0; i < n; i++) v[i, i] = 1;
        for (int sweep = 0; sweep < 100; sweep++)
        {
            double off = 0, scale = 0;
            for (int i = 0; i < n; i++)
                for (int j = 0; j < n; j++)
                    if (i == j) scale += a[i, i] * a[i, i]; else off += a[i, j] * a[i, j];
            if (off <= 1e-30 * Math.Max(scale, double.Epsilon)) break;
            for (int p = 0; p < n - 1; p++)
                for (int q = p + 1; q < n; q++)
                {
                    if (a[p, q] == 0) continue;
                    // The rotation angle θ with tan 2θ = 2a_pq / (a_qq − a_pp), taken as the smaller root t = tan θ.
                    double theta = (a[q, q] - a[p, p]) / (2 * a[p, q]);
                    double t = Math.Sign(theta == 0 ? 1 : theta) / (Math.Abs(theta) + Math.Sqrt(theta * theta + 1));
                    double cos = 1 / Math.Sqrt(t * t + 1), sin = t * cos;
                    for (int k = 0; k < n; k++)
                    {
                        double akp = a[k, p], akq = a[k, q];
                        a[k, p] = cos * akp - sin * akq;
                        a[k, q] = sin * akp + cos * akq;
                    }
                    for (int k = 0; k < n; k++)
                    {
                        double apk = a[p, k], aqk = a[q, k];
                        a[p, k] = cos * apk - sin * aqk;
                        a[q, k] = sin * apk + cos * aqk;
                    }
                    for (int k = 0; k < n; k++)
                    {
                        double vkp = v[k, p], vkq = v[k, q];
                        v[k, p] = cos * vkp - sin * vkq;
                        v[k, q] = sin * vkp + cos * vkq;
                    }
                }
        }
        var order = Enumerable.Range(0, n).OrderByDescending(i => a[i, i]).ToArray();
        var values = order.Select(i => a[i, i]).ToArray();
        var vectors = new double[n, n];
        for (int col = 0; col < n; col++)
        {
            int src = order[col];
            int largest = 0;
            for (int k = 1; k < n; k++) if (Math.Abs(v[k, src]) > Math.Abs(v[largest, src])) largest = k;
            double sign = v[largest, src] < 0 ? -1 : 1;
            for (int k = 0; k < n; k++) vectors[k, col] = sign * v[k, src];
        }
        return (values, vectors);
    }
}

/// <summary>
/// "Fancy PCA" colour augmentation (Krizhevsky, Sutskever and Hinton 2012, §4.1): to every pixel of an image add
/// Σᵢ pᵢ·αᵢ·λᵢ, with pᵢ and λᵢ the eigenvectors and eigenvalues of the training set's pixel-colour covariance
/// (<see cref="ColorPrincipalComponents"/>) and αᵢ ~ N(0, σ²) drawn once per image (σ = 0.1 in the paper). It changes
/// the intensity and colour of the illumination, not the object. The αᵢ come from the generator given to
/// <see cref="Apply"/>, so a seeded loader (and a resumed run) augments identically.
/// </summary>
public sealed class PcaColorAugmentation : ITransform
{
    /// <summary>The augmentation for <paramref name="components"/> with α's standard deviation <paramref name="sigma"/>.</summary>
    public PcaColorAugmentation(ColorPrincipalComponents components, double sigma = 0.1)
    {
        ArgumentNullException.ThrowIfNull(components);
        if (!(sigma >= 0) || !double.IsFinite(sigma))
            throw new ArgumentOutOfRangeException(nameof(sigma), sigma, "PcaColorAugmentation: sigma must be finite and non-negative");
        (Components, Sigma) = (components, sigma);
    }

    /// <summary>
    /// The augmentation fitted on the training images of <paramref name="training"/> (one pass over it):
    /// what <c>fovea train --augment pca</c> uses.
    /// </summary>
    public static PcaColorAugmentation Fit(IDataset<(Tensor Input, Tensor Target)> training, double sigma = 0.1) =>
        new(ColorPrincipalComponents.FromDataset(training), sigma);

    /// <summary>The principal components of the training set's pixel colours.</summary>
    public ColorPrincipalComponents Components { get; }

    /// <summary>The standard deviation of each αᵢ.</summary>
    public double Sigma { get; }

    /// <inheritdoc/>
    public Tensor Apply(Tensor batch, Generator rng)
    {
        ImageBatch.Check("PcaColorAugmentation", batch);
        int n = batch.Size(0), c = batch.Size(1);
        if (c != Components.Channels)
            throw new ShapeException("PcaColorAugmentation", $"the components are for {Components.Channels} channels, the batch {ShapeChecks.Format(batch.Shape)} has {c}");
        var alpha = Tensor.Randn([n, c], rng, DType.Float64).Mul(Sigma).ToArray<double>();
        var shift = new double[n * c];
        for (int i = 0; i < n; i++)
            for (int ch = 0; ch < c; ch++)
            {
                double s = 0;
                for (int k = 0; k < c; k++) s += Components.Eigenvector(k, ch) * alpha[i * c + k] * Components.Eigenvalues[k];
                shift[i * c + ch] = s;
            }
        return batch.Add(Tensor.FromArray(shift, n, c, 1, 1).To(batch.DType));
    }
}
