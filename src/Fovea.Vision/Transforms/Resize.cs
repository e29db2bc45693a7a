using Fovea.Vision.Imaging;

namespace Fovea.Vision.Transforms;

/// <summary>
/// Resizes with antialiased bilinear resampling (torchvision's <c>Resize(..., antialias=True)</c>): with one size, the
/// shorter side becomes that size and the longer keeps the aspect ratio (<c>long' = ⌊size·long / short⌋</c>, as
/// torchvision); with two, the image becomes exactly height x width.
/// </summary>
public sealed class Resize : ImageTransform
{
    /// <summary>The shorter side's new length, or null when <see cref="Height"/> and <see cref="Width"/> are exact.</summary>
    public int? ShorterSide { get; }

    /// <summary>The exact output height (with <see cref="Width"/>), or null.</summary>
    public int? Height { get; }

    /// <summary>The exact output width (with <see cref="Height"/>), or null.</summary>
    public int? Width { get; }

    /// <summary>Resizes so the shorter side is <paramref name="shorterSide"/> pixels.</summary>
    public Resize(int shorterSide)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(shorterSide, 1);
        ShorterSide = shorterSide;
    }

    /// <summary>Resizes to exactly <paramref name="height"/> x <paramref name="width"/>.</summary>
    public Resize(int height, int width)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        (Height, Width) = (height, width);
    }

    /// <summary>The size an image of <paramref name="height"/> x <paramref name="width"/> becomes.</summary>
    public (int Height, int Width) OutputSize(int height, int width)
    {
        if (ShorterSide is not int s) return (Height!.Value, Width!.Value);
        return height <= width ? (s, (int)Math.Max(1, (long)s * width / height)) : ((int)Math.Max(1, (long)s * height / width), s);
    }

    /// <inheritdoc/>
    public override ImagePlanes Apply(ImagePlanes image, Generator rng)
    {
        ArgumentNullException.ThrowIfNull(image);
        var (h, w) = OutputSize(image.Height, image.Width);
        if (h == image.Height && w == image.Width) return image;
        return Resampling.Resize(image, 0, 0, image.Height, image.Width, h, w);
    }
}
