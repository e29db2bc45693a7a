using Fovea.Vision.Imaging;

namespace Fovea.Vision.Transforms;

/// <summary>
/// Makes an image one gray or three RGB channels, whatever the file held, so every image matches the model's input:
/// gray to RGB repeats the plane, RGB to gray takes the BT.601 luma (<see cref="Grayscale"/>), and an alpha channel is
/// dropped (gray+alpha and RGBA).
/// </summary>
public sealed class ConvertChannels : ImageTransform
{
    /// <summary>The channels produced: 1 or 3.</summary>
    public int Channels { get; }

    /// <summary>Converts to <paramref name="channels"/> channels (1 gray or 3 RGB).</summary>
    public ConvertChannels(int channels)
    {
        if (channels is not (1 or 3)) throw new ArgumentOutOfRangeException(nameof(channels), channels, "ConvertChannels: the model's input has 1 (gray) or 3 (RGB) channels");
        Channels = channels;
    }

    /// <inheritdoc/>
    public override ImagePlanes Apply(ImagePlanes image, Generator rng)
    {
        ArgumentNullException.ThrowIfNull(image);
        int source = image.Channels >= 3 ? 3 : 1; // colour channels, without alpha
        if (image.Channels == Channels) return image;
        if (Channels == 1)
            return source == 3 ? Grayscale.ToGray(image) : new ImagePlanes(image.Plane(0).ToArray(), 1, image.Height, image.Width);
        var rgb = ImagePlanes.Zeros(3, image.Height, image.Width);
        for (int ch = 0; ch < 3; ch++) image.Plane(source == 3 ? ch : 0).CopyTo(rgb.Plane(ch));
        return rgb;
    }
}
