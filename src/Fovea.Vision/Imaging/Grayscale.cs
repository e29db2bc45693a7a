namespace Fovea.Vision.Imaging;

/// <summary>Colour to gray with ITU-R BT.601 luma weights, as OpenCV's <c>cvtColor(…, RGB2GRAY)</c> for float images.</summary>
public static class Grayscale
{
    /// <summary>BT.601 weight of red.</summary>
    public const float Red = 0.299f;
    /// <summary>BT.601 weight of green.</summary>
    public const float Green = 0.587f;
    /// <summary>BT.601 weight of blue.</summary>
    public const float Blue = 0.114f;

    /// <summary>
    /// <c>Y = 0.299 R + 0.587 G + 0.114 B</c> for RGB(A) images (alpha ignored); a gray or gray+alpha image gives a copy of
    /// its gray plane. The result has one channel.
    /// </summary>
    public static ImagePlanes ToGray(ImagePlanes image)
    {
        ArgumentNullException.ThrowIfNull(image);
        var gray = ImagePlanes.Zeros(1, image.Height, image.Width);
        Span<float> y = gray.Plane(0);
        if (image.Channels < 3)
        {
            image.Plane(0).CopyTo(y);
            return gray;
        }
        ReadOnlySpan<float> r = image.Plane(0), g = image.Plane(1), b = image.Plane(2);
        for (int i = 0; i < y.Length; i++) y[i] = r[i] * Red + g[i] * Green + b[i] * Blue;
        return gray;
    }
}
