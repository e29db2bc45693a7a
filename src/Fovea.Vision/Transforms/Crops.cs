using Fovea.Vision.Imaging;

namespace Fovea.Vision.Transforms;

/// <summary>
/// Cuts the central <c>height</c> x <c>width</c> window (torchvision's CenterCrop): top = round((H − height) / 2),
/// left = round((W − width) / 2), ties to even as Python's round; where the window is larger than the image, the
/// outside is zeros.
/// </summary>
public sealed class CenterCrop : ImageTransform
{
    /// <summary>Output height.</summary>
    public int Height { get; }

    /// <summary>Output width.</summary>
    public int Width { get; }

    /// <summary>A square <paramref name="size"/> x <paramref name="size"/> crop.</summary>
    public CenterCrop(int size) : this(size, size)
    {
    }

    /// <summary>A <paramref name="height"/> x <paramref name="width"/> crop.</summary>
    public CenterCrop(int height, int width)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        (Height, Width) = (height, width);
    }

    /// <inheritdoc/>
    public override ImagePlanes Apply(ImagePlanes image, Generator rng)
    {
        ArgumentNullException.ThrowIfNull(image);
        if (image.Height == Height && image.Width == Width) return image;
        int top = (int)Math.Round((image.Height - Height) / 2.0, MidpointRounding.ToEven);
        int left = (int)Math.Round((image.Width - Width) / 2.0, MidpointRounding.ToEven);
        return Resampling.Crop(image, top, left, Height, Width);
    }
}

/// <summary>
/// A random window resized to <c>size</c> x <c>size</c> (torchvision's RandomResizedCrop, bilinear with
/// antialiasing). Up to ten tries draw an area fraction uniformly from <see cref="Scale"/> and an aspect ratio
/// log-uniformly from <see cref="Ratio"/>; window width = round(√(area·ratio)), height = round(√(area / ratio)); the
/// first window that fits is placed uniformly at random. When none fits, the whole image is taken, cut to the nearest
/// allowed aspect ratio around its centre.
/// </summary>
public sealed class RandomResizedCrop : ImageTransform
{
    /// <summary>Output height and width.</summary>
    public int Size { get; }

    /// <summary>The range of the window's area as a fraction of the image's (torchvision's default 0.08 to 1).</summary>
    public (double Min, double Max) Scale { get; }

    /// <summary>The range of the window's width / height (torchvision's default 3/4 to 4/3).</summary>
    public (double Min, double Max) Ratio { get; }

    /// <summary>Crops of <paramref name="size"/> x <paramref name="size"/> with torchvision's default scale (0.08, 1) and ratio (3/4, 4/3).</summary>
    public RandomResizedCrop(int size) : this(size, (0.08, 1.0), (3.0 / 4.0, 4.0 / 3.0))
    {
    }

    /// <summary>Crops of <paramref name="size"/> x <paramref name="size"/> with the given area and aspect-ratio ranges.</summary>
    public RandomResizedCrop(int size, (double Min, double Max) scale, (double Min, double Max) ratio)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(size, 1);
        if (!(scale.Min > 0 && scale.Min <= scale.Max && scale.Max <= 1))
            throw new ArgumentOutOfRangeException(nameof(scale), scale, "RandomResizedCrop: the area fractions must satisfy 0 < min <= max <= 1");
        if (!(ratio.Min > 0 && ratio.Min <= ratio.Max && double.IsFinite(ratio.Max)))
            throw new ArgumentOutOfRangeException(nameof(ratio), ratio, "RandomResizedCrop: the aspect ratios must satisfy 0 < min <= max, finite");
        (Size, Scale, Ratio) = (size, scale, ratio);
    }

    /// <summary>The window (top, left, height, width) drawn for an image of <paramref name="height"/> x <paramref name="width"/>.</summary>
    public (int Top, int Left, int Height, int Width) Window(int height, int width, Generator rng)
    {
        double area = (double)height * width;
        double logMin = Math.Log(Ratio.Min), logMax = Math.Log(Ratio.Max);
        for (int attempt = 0; attempt < 10; attempt++)
        {
            double target = area * (Scale.Min + rng.NextDouble() * (Scale.Max - Scale.Min));
            double aspect = Math.Exp(logMin + rng.NextDouble() * (logMax - logMin));
            int w = (int)Math.Round(Math.Sqrt(target * aspect), MidpointRounding.ToEven);
            int h = (int)Math.Round(Math.Sqrt(target / aspect), MidpointRounding.ToEven);
            if (w > 0 && w <= width && h > 0 && h <= height)
                return (rng.NextInt(height - h + 1), rng.NextInt(width - w + 1), h, w);
        }
        double inRatio = (double)width / height;
        int cw = width, ch = height;
        if (inRatio < Ratio.Min) ch = Math.Max(1, (int)Math.Round(cw / Ratio.Min, MidpointRounding.ToEven));
        else if (inRatio > Ratio.Max) cw = Math.Max(1, (int)Math.Round(ch * Ratio.Max, MidpointRounding.ToEven));
        return ((height - ch) / 2, (width - cw) / 2, ch, cw);
    }

    /// <inheritdoc/>
    public override ImagePlanes Apply(ImagePlanes image, Generator rng)
    {
        ArgumentNullException.ThrowIfNull(image);
        var (top, left, h, w) = Window(image.Height, image.Width, rng);
        return Resampling.Resize(image, top, left, h, w, Size, Size);
    }
}
