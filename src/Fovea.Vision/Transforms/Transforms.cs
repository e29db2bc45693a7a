using System.Numerics;
using Fovea.Vision.Imaging;

namespace Fovea.Vision.Transforms;

/// <summary>
/// A transform of a batch of images [N, C, H, W] (float32 or float64). Random transforms draw every sample's
/// parameters from the generator they are given, so a seeded loader augments the same way on every run.
/// </summary>
public interface ITransform
{
    /// <summary>Transforms <paramref name="batch"/>, drawing any randomness from <paramref name="rng"/>.</summary>
    Tensor Apply(Tensor batch, Generator rng);
}

/// <summary>Applies transforms in order.</summary>
public sealed class Compose(params ITransform[] transforms) : ITransform
{
    /// <summary>The transforms, in order.</summary>
    public IReadOnlyList<ITransform> Transforms { get; } = transforms;

    /// <inheritdoc/>
    public Tensor Apply(Tensor batch, Generator rng)
    {
        foreach (var t in Transforms) batch = t.Apply(batch, rng);
        return batch;
    }
}

/// <summary>(x − mean[c]) / std[c] per channel, as torchvision's Normalize; on batches and on single images.</summary>
public sealed class Normalize : ITransform, IImageTransform
{
    /// <summary>The ImageNet training set's per-channel mean (R, G, B), as torchvision's pretrained models expect.</summary>
    public static IReadOnlyList<double> ImageNetMean { get; } = [0.485, 0.456, 0.406];

    /// <summary>The ImageNet training set's per-channel standard deviation (R, G, B).</summary>
    public static IReadOnlyList<double> ImageNetStd { get; } = [0.229, 0.224, 0.225];

    /// <summary>Normalization with the ImageNet statistics (three channels).</summary>
    public static Normalize ImageNet() => new([.. ImageNetMean], [.. ImageNetStd]);

    private readonly double[] _mean, _std;

    /// <summary>Per-channel mean and standard deviation (one value each broadcasts to every channel).</summary>
    public Normalize(double[] mean, double[] std)
    {
        if (mean.Length == 0 || mean.Length != std.Length) throw new ArgumentException("Normalize: mean and std need the same, non-zero length");
        if (mean.Any(m => !double.IsFinite(m))) throw new ArgumentException("Normalize: every mean must be finite");
        if (std.Any(s => !(s > 0) || !double.IsFinite(s))) throw new ArgumentException("Normalize: every std must be positive and finite");
        _mean = (double[])mean.Clone();
        _std = (double[])std.Clone();
        _identity = _mean.All(m => m == 0) && _std.All(s => s == 1);
    }

    /// <summary>Whether every mean is 0 and every std 1, so that the transform changes nothing.</summary>
    private readonly bool _identity;

    /// <summary>The per-channel means (one value: every channel).</summary>
    public IReadOnlyList<double> Mean => _mean;

    /// <summary>The per-channel standard deviations (one value: every channel).</summary>
    public IReadOnlyList<double> Std => _std;

    /// <inheritdoc/>
    public ImagePlanes Apply(ImagePlanes image, Generator rng)
    {
        ArgumentNullException.ThrowIfNull(image);
        int c = image.Channels;
        if (_mean.Length != 1 && _mean.Length != c)
            throw new ShapeException("Normalize", $"{_mean.Length} channel statistics for an image with {c} channels");
        // Mean 0 and std 1 (inputs kept in [0, 1]) change nothing: skip the pass.
        if (_identity) return image;
        var result = ImagePlanes.Zeros(c, image.Height, image.Width);
        for (int ch = 0; ch < c; ch++)
        {
            double m = _mean[_mean.Length == 1 ? 0 : ch], s = _std[_std.Length == 1 ? 0 : ch];
            ReadOnlySpan<float> src = image.Plane(ch);
            Span<float> dst = result.Plane(ch);
            for (int i = 0; i < src.Length; i++) dst[i] = (float)((src[i] - m) / s);
        }
        return result;
    }

    /// <inheritdoc/>
    public Tensor Apply(Tensor batch, Generator rng)
    {
        ImageBatch.Check("Normalize", batch);
        int c = batch.Size(1);
        if (_mean.Length != 1 && _mean.Length != c)
            throw new ShapeException("Normalize", $"{_mean.Length} channel statistics for a batch {ShapeChecks.Format(batch.Shape)} with {c} channels");
        var mean = Tensor.FromArray(_mean.Length == 1 ? Enumerable.Repeat(_mean[0], c).ToArray() : _mean, 1, c, 1, 1).To(batch.DType);
        var std = Tensor.FromArray(_std.Length == 1 ? Enumerable.Repeat(_std[0], c).ToArray() : _std, 1, c, 1, 1).To(batch.DType);
        return (batch - mean) / std;
    }
}

/// <summary>Pads each image by <c>padding</c> zeros on every side, then cuts a random <c>size</c> x <c>size</c> window.</summary>
public sealed class RandomCrop(int size, int padding = 0) : ITransform
{
    /// <inheritdoc/>
    public Tensor Apply(Tensor batch, Generator rng)
    {
        ImageBatch.Check("RandomCrop", batch);
        int n = batch.Size(0), c = batch.Size(1), h = batch.Size(2), w = batch.Size(3);
        if (size > h + 2 * padding || size > w + 2 * padding)
            throw new ShapeException("RandomCrop", $"crop {size}x{size} is larger than the padded image {h + 2 * padding}x{w + 2 * padding}");
        var src = batch.To(DType.Float32).Contiguous().AsSpan<float>().ToArray();
        var dst = new float[n * c * size * size];
        for (int i = 0; i < n; i++)
        {
            int top = rng.NextInt(h + 2 * padding - size + 1) - padding;
            int left = rng.NextInt(w + 2 * padding - size + 1) - padding;
            for (int ch = 0; ch < c; ch++)
                for (int y = 0; y < size; y++)
                {
                    int sy = top + y;
                    if (sy < 0 || sy >= h) continue;
                    for (int x = 0; x < size; x++)
                    {
                        int sx = left + x;
                        if (sx >= 0 && sx < w) dst[((i * c + ch) * size + y) * size + x] = src[((i * c + ch) * h + sy) * w + sx];
                    }
                }
        }
        return Tensor.FromArray(dst, n, c, size, size).To(batch.DType);
    }
}

/// <summary>Mirrors each image left-right with probability <c>p</c> (one uniform draw per image); on batches and on single images.</summary>
public sealed class RandomHorizontalFlip(double p = 0.5) : ITransform, IImageTransform
{
    /// <inheritdoc/>
    public ImagePlanes Apply(ImagePlanes image, Generator rng)
    {
        ArgumentNullException.ThrowIfNull(image);
        if (rng.NextDouble() >= p) return image;
        // Row by row into an array that is not zeroed first (every element is written): the copy and the vectorized
        // reverse both find the row in the first-level cache.
        int w = image.Width;
        var data = GC.AllocateUninitializedArray<float>(image.Data.Length);
        for (int row = 0; row < image.Channels * image.Height; row++)
        {
            var dst = data.AsSpan(row * w, w);
            image.Data.AsSpan(row * w, w).CopyTo(dst);
            dst.Reverse();
        }
        return new ImagePlanes(data, image.Channels, image.Height, w);
    }

    /// <inheritdoc/>
    public Tensor Apply(Tensor batch, Generator rng)
    {
        ImageBatch.Check("RandomHorizontalFlip", batch);
        int n = batch.Size(0), c = batch.Size(1), h = batch.Size(2), w = batch.Size(3);
        var data = batch.To(DType.Float32).Contiguous().AsSpan<float>().ToArray();
        for (int i = 0; i < n; i++)
        {
            if (rng.NextDouble() >= p) continue;
            for (int row = 0; row < c * h; row++)
                data.AsSpan((i * c * h + row) * w, w).Reverse();
        }
        return Tensor.FromArray(data, n, c, h, w).To(batch.DType);
    }
}

/// <summary>
/// A random rotation and translation about the image centre, sampled bilinearly with zeros outside (torchvision's
/// RandomAffine with <c>degrees</c> and <c>translate</c>). Each image gets an angle drawn uniformly from the degree
/// range (positive angles turn the image clockwise on screen, as torchvision's <c>affine</c>) and a shift of
/// round(u·translate·width) columns and round(v·translate·height) rows, u and v uniform in [−1, 1]. Float64 batches
/// are warped in float64, float32 batches in float32.
/// </summary>
public sealed class RandomAffine : ITransform
{
    private readonly double _minDegrees, _maxDegrees, _translate;

    /// <summary>Angles in [−<paramref name="degrees"/>, <paramref name="degrees"/>], shifts up to <paramref name="translate"/> of the size.</summary>
    public RandomAffine(double degrees, double translate = 0) : this(SymmetricRange(degrees), translate)
    {
    }

    /// <summary>Angles in [<paramref name="degrees"/>.Min, <paramref name="degrees"/>.Max], shifts up to <paramref name="translate"/> of the size.</summary>
    public RandomAffine((double Min, double Max) degrees, double translate = 0)
    {
        if (!double.IsFinite(degrees.Min) || !double.IsFinite(degrees.Max) || degrees.Min > degrees.Max)
            throw new ArgumentOutOfRangeException(nameof(degrees), degrees, "RandomAffine: the degree range must be finite with min <= max");
        if (!(translate is >= 0 and <= 1))
            throw new ArgumentOutOfRangeException(nameof(translate), translate, "RandomAffine: translate must be a fraction of the size in [0, 1]");
        (_minDegrees, _maxDegrees, _translate) = (degrees.Min, degrees.Max, translate);
    }

    private static (double, double) SymmetricRange(double degrees) => degrees >= 0 && double.IsFinite(degrees) ? (-degrees, degrees)
        : throw new ArgumentOutOfRangeException(nameof(degrees), degrees, "RandomAffine: degrees must be finite and non-negative (the (min, max) form gives a one-sided range)");

    /// <inheritdoc/>
    public Tensor Apply(Tensor batch, Generator rng)
    {
        ImageBatch.Check("RandomAffine", batch);
        int n = batch.Size(0), c = batch.Size(1), h = batch.Size(2), w = batch.Size(3);
        var src = batch.Contiguous();
        if (batch.DType == DType.Float64)
            return Tensor.FromArray(Warp(src.AsSpan<double>().ToArray(), n, c, h, w, rng), n, c, h, w);
        return Tensor.FromArray(Warp(src.To(DType.Float32).AsSpan<float>().ToArray(), n, c, h, w, rng), n, c, h, w).To(batch.DType);
    }

    private T[] Warp<T>(T[] src, int n, int c, int h, int w, Generator rng) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var dst = new T[src.Length];
        double cx = (w - 1) / 2.0, cy = (h - 1) / 2.0;
        for (int i = 0; i < n; i++)
        {
            double angle = (_minDegrees + rng.NextDouble() * (_maxDegrees - _minDegrees)) * Math.PI / 180;
            double tx = Math.Round((rng.NextDouble() * 2 - 1) * _translate * w);
            double ty = Math.Round((rng.NextDouble() * 2 - 1) * _translate * h);
            double cos = Math.Cos(angle), sin = Math.Sin(angle);
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++)
                {
                    // Inverse map: output pixel -> source position (undo the shift, then rotate back about the centre).
                    double ux = x - cx - tx, uy = y - cy - ty;
                    double sx = cos * ux + sin * uy + cx, sy = -sin * ux + cos * uy + cy;
                    int x0 = (int)Math.Floor(sx), y0 = (int)Math.Floor(sy);
                    double fx = sx - x0, fy = sy - y0;
                    for (int ch = 0; ch < c; ch++)
                    {
                        int plane = (i * c + ch) * h * w;
                        double v = Sample(src, plane, w, h, x0, y0) * (1 - fx) * (1 - fy) + Sample(src, plane, w, h, x0 + 1, y0) * fx * (1 - fy)
                                 + Sample(src, plane, w, h, x0, y0 + 1) * (1 - fx) * fy + Sample(src, plane, w, h, x0 + 1, y0 + 1) * fx * fy;
                        dst[plane + y * w + x] = T.CreateTruncating(v);
                    }
                }
        }
        return dst;
    }

    /// <summary>The source pixel, or 0 outside the image.</summary>
    private static double Sample<T>(T[] src, int plane, int w, int h, int x, int y) where T : unmanaged, IFloatingPointIeee754<T> =>
        x >= 0 && x < w && y >= 0 && y < h ? double.CreateTruncating(src[plane + y * w + x]) : 0;
}

internal static class ImageBatch
{
    /// <summary>Runs <paramref name="apply"/> on each image of <paramref name="batch"/> in order and stacks the results in the batch's dtype.</summary>
    public static Tensor PerImage(string op, Tensor batch, Generator rng, Func<ImagePlanes, Generator, ImagePlanes> apply)
    {
        Check(op, batch);
        int n = batch.Size(0);
        if (n == 0) throw new ShapeException(op, $"expected at least one image, got {ShapeChecks.Format(batch.Shape)}");
        var images = new Tensor[n];
        for (int i = 0; i < n; i++)
        {
            var result = apply(ImagePlanes.FromTensor(batch.Select(0, i)), rng);
            if (i > 0 && (result.Channels != images[0].Size(0) || result.Height != images[0].Size(1) || result.Width != images[0].Size(2)))
                throw new ShapeException(op, $"image {i} became [{result.Channels}, {result.Height}, {result.Width}], image 0 {ShapeChecks.Format(images[0].Shape)}: a batch needs one size");
            images[i] = result.ToTensor();
        }
        var stacked = Tensor.Stack(images);
        return batch.DType == DType.Float32 ? stacked : stacked.To(batch.DType);
    }

    public static void Check(string op, Tensor batch)
    {
        if (batch.Rank != 4)
            throw new ShapeException(op, $"expected a batch of images [N, C, H, W], got {ShapeChecks.Format(batch.Shape)}");
        if (!batch.DType.IsFloating())
            throw new DTypeException(op, $"expected float images, got {batch.DType.Name()}");
    }
}
