namespace Fovea.Vision;

/// <summary>Measures and test signals for image restoration and coding: PSNR and seeded additive Gaussian noise.</summary>
public static class ImageQuality
{
    /// <summary>
    /// Peak signal-to-noise ratio in dB, <c>10·log10(peak² / MSE)</c>, with the mean squared error over every element
    /// (all channels), accumulated in float64. <paramref name="peak"/> is the largest possible value (1 for images in
    /// [0, 1]). Identical images give +∞.
    /// </summary>
    public static double Psnr(Tensor reference, Tensor test, double peak = 1)
    {
        ArgumentNullException.ThrowIfNull(reference);
        ArgumentNullException.ThrowIfNull(test);
        if (!reference.Shape.AsSpan().SequenceEqual(test.Shape))
            throw new ShapeException("psnr", $"the images must have the same shape, got {ShapeChecks.Format(reference.Shape)} and {ShapeChecks.Format(test.Shape)}");
        if (reference.Numel == 0) throw new ShapeException("psnr", "the images are empty");
        if (!(peak > 0) || double.IsInfinity(peak)) throw new ArgumentOutOfRangeException(nameof(peak), peak, "psnr: the peak must be positive and finite.");
        var diff = reference.To(DType.Float64) - test.To(DType.Float64);
        double mse = (diff * diff).Mean().ToScalar();
        return 10 * Math.Log10(peak * peak / mse);
    }

    /// <summary>
    /// <paramref name="image"/> plus independent normal noise of standard deviation <paramref name="sigma"/> per element,
    /// drawn from a generator seeded with <paramref name="seed"/> (the same noise on every run and backend); not clipped,
    /// so the noise stays exactly Gaussian.
    /// </summary>
    public static Tensor AddGaussianNoise(Tensor image, double sigma, ulong seed)
    {
        ArgumentNullException.ThrowIfNull(image);
        if (!image.DType.IsFloating()) throw new DTypeException("add_gaussian_noise", $"expects float32 or float64, got {image.DType.Name()}");
        if (!(sigma >= 0) || double.IsInfinity(sigma))
            throw new ArgumentOutOfRangeException(nameof(sigma), sigma, "add_gaussian_noise: sigma must be finite and not negative.");
        return image + Tensor.Normal(image.Shape, 0, sigma, new Generator(seed), image.DType);
    }
}
