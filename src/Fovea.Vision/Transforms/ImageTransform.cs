using Fovea.Vision.Imaging;

namespace Fovea.Vision.Transforms;

/// <summary>
/// A transform of one decoded image (planar floats [C, H, W], nominally in [0, 1]). Random transforms draw their
/// parameters from the generator they are given, so a sample's augmentation depends only on that generator (the
/// loader gives each sample its own, from the seed, the epoch and the sample's index).
/// </summary>
public interface IImageTransform
{
    /// <summary>Transforms <paramref name="image"/> (not changed: the result is a new image or, for a no-op, the same one).</summary>
    ImagePlanes Apply(ImagePlanes image, Generator rng);
}

/// <summary>
/// An image transform that also works on batches [N, C, H, W] (float32 or float64): each image of the batch goes
/// through <see cref="Apply(ImagePlanes, Generator)"/> in order, drawing from the same generator, and the results
/// (which must share one size) are stacked again in the batch's dtype.
/// </summary>
public abstract class ImageTransform : IImageTransform, ITransform
{
    /// <inheritdoc/>
    public abstract ImagePlanes Apply(ImagePlanes image, Generator rng);

    /// <inheritdoc/>
    public Tensor Apply(Tensor batch, Generator rng) => ImageBatch.PerImage(GetType().Name, batch, rng, Apply);
}

/// <summary>Image transforms applied in order (torchvision's Compose for single images).</summary>
public sealed class ImagePipeline(params IImageTransform[] steps) : ImageTransform
{
    /// <summary>The steps, in order.</summary>
    public IReadOnlyList<IImageTransform> Steps { get; } = steps;

    /// <inheritdoc/>
    public override ImagePlanes Apply(ImagePlanes image, Generator rng)
    {
        foreach (var step in Steps) image = step.Apply(image, rng);
        return image;
    }
}
