using StbImageSharp;
using StbImageWriteSharp;

namespace Fovea.Vision.Imaging;

/// <summary>
/// Image files to and from <see cref="ImagePlanes"/>: PNG, JPEG, BMP and TGA in (StbImageSharp, 8 bits per sample,
/// scaled to [0, 1] by 1/255), PNG out (StbImageWriteSharp). Failures name the file and the reason.
/// </summary>
public static class ImageIO
{
    /// <summary>
    /// Loads <paramref name="path"/> as planar floats in [0, 1].
    /// </summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not a PNG/JPEG/BMP/TGA image or is truncated; the message names file and reason.</exception>
    public static ImagePlanes Load(string path, ImageChannels channels = ImageChannels.Source)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: file not found.", path);
        byte[] bytes = File.ReadAllBytes(path);
        string? problem = ImageFileCheck.Problem(bytes);
        if (problem != null) throw new InvalidDataException($"{path}: {problem}.");
        ImageResult decoded;
        try
        {
            decoded = ImageResult.FromMemory(bytes, channels switch
            {
                ImageChannels.Gray => StbImageSharp.ColorComponents.Grey,
                ImageChannels.Rgb => StbImageSharp.ColorComponents.RedGreenBlue,
                ImageChannels.Rgba => StbImageSharp.ColorComponents.RedGreenBlueAlpha,
                _ => StbImageSharp.ColorComponents.Default,
            });
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException or IndexOutOfRangeException or NotSupportedException)
        {
            throw new InvalidDataException($"{path}: not a readable PNG, JPEG, BMP or TGA image ({e.Message}).", e);
        }
        if (decoded == null || decoded.Data == null || decoded.Width < 1 || decoded.Height < 1)
            throw new InvalidDataException($"{path}: not a readable PNG, JPEG, BMP or TGA image.");

        int c = (int)decoded.Comp, h = decoded.Height, w = decoded.Width, n = h * w;
        if (decoded.Data.Length < (long)c * n)
            throw new InvalidDataException($"{path}: decoder returned {decoded.Data.Length} bytes for {w}x{h}x{c}.");
        var planes = ImagePlanes.Zeros(c, h, w);
        float[] dst = planes.Data;
        byte[] src = decoded.Data;
        // Interleaved HWC bytes to planar CHW floats; a table of the correctly rounded k / 255 makes a PNG round trip exact.
        Span<float> level = stackalloc float[256];
        for (int k = 0; k < 256; k++) level[k] = k / 255f;
        for (int ch = 0; ch < c; ch++)
        {
            int o = ch * n;
            for (int i = 0; i < n; i++) dst[o + i] = level[src[i * c + ch]];
        }
        return planes;
    }

    /// <summary>
    /// Saves <paramref name="image"/> (1 to 4 channels) as an 8-bit PNG: values are clamped to [0, 1] and rounded to
    /// the nearest of 256 levels. The file is written beside the target first and then renamed over it, so a failed
    /// save never leaves a half-written file under <paramref name="path"/>.
    /// </summary>
    public static void SavePng(string path, ImagePlanes image)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(image);
        var comps = image.Channels switch
        {
            1 => StbImageWriteSharp.ColorComponents.Grey,
            2 => StbImageWriteSharp.ColorComponents.GreyAlpha,
            3 => StbImageWriteSharp.ColorComponents.RedGreenBlue,
            4 => StbImageWriteSharp.ColorComponents.RedGreenBlueAlpha,
            _ => throw new ArgumentException($"{path}: PNG holds 1 to 4 channels, the image has {image.Channels}.", nameof(image)),
        };
        int c = image.Channels, n = image.PlaneLength;
        var bytes = new byte[c * n];
        float[] src = image.Data;
        for (int ch = 0; ch < c; ch++)
        {
            int o = ch * n;
            for (int i = 0; i < n; i++)
            {
                float v = src[o + i];
                // NaN maps to 0 (the comparison is false); the +0.5 rounds to nearest.
                bytes[i * c + ch] = v > 0 ? (byte)Math.Min(255f, v * 255f + 0.5f) : (byte)0;
            }
        }
        try
        {
            Fovea.IO.AtomicFile.Write(path, stream => new ImageWriter().WritePng(bytes, image.Width, image.Height, comps, stream));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"{path}: could not write PNG ({e.Message}).", e);
        }
    }
}
