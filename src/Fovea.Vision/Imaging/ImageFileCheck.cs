namespace Fovea.Vision.Imaging;

/// <summary>The image file formats <see cref="ImageIO.Load(string, ImageChannels)"/> reads.</summary>
internal enum ImageFileFormat { Png, Jpeg, Bmp, Tga }

/// <summary>What a file's header declares: its format and size in pixels.</summary>
internal readonly record struct ImageHeader(ImageFileFormat Format, int Width, int Height);

/// <summary>
/// Everything decided about an image file before the decoder runs. The decoder (StbImageSharp) allocates what the
/// header declares, fills missing data with grey or zeros, and reads any format it knows; so each accepted format is
/// recognised by its signature, its declared size is checked against the pixel cap, and its structure is walked far
/// enough to prove that the pixel data is all there (which also proves a tiny file cannot ask for a huge image).
/// Every walk advances through the file on each step, so each one ends. Failures are
/// <see cref="InvalidDataException"/> with the reason only; <see cref="ImageIO"/> adds the file name.
/// </summary>
internal static class ImageFileCheck
{
    private static ReadOnlySpan<byte> PngSignature => [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

    /// <summary>The formats that are read, as the refusal of any other names them.</summary>
    public const string AcceptedFormats = "PNG, JPEG, BMP or TGA";

    /// <summary>
    /// Identifies the format, checks the declared size against <paramref name="maxPixels"/> and proves the data is
    /// complete. Throws <see cref="InvalidDataException"/> naming what is wrong and where.
    /// </summary>
    public static ImageHeader Inspect(byte[] data, long maxPixels)
    {
        if (data.Length == 0) throw Fail("the file is empty");
        ReadOnlySpan<byte> d = data;
        if (d.StartsWith(PngSignature)) return PngFileCheck.Inspect(data, maxPixels);
        if (d.Length >= 2 && d[0] == 0xFF && d[1] == 0xD8) return JpegFileCheck.Inspect(data, maxPixels);
        if (d.StartsWith("BM"u8)) return BmpFileCheck.Inspect(data, maxPixels);
        // Formats the decoder would also read; they are refused by name so that the message says what the file is.
        string? other =
            d.StartsWith("GIF8"u8) ? "GIF" :
            d.StartsWith("8BPS"u8) ? "Photoshop PSD" :
            d.StartsWith("#?RADIANCE"u8) || d.StartsWith("#?RGBE"u8) ? "Radiance HDR" :
            d.StartsWith((ReadOnlySpan<byte>)[0x53, 0x80, 0xF6, 0x34]) ? "Softimage PIC" :
            d.StartsWith("P5"u8) || d.StartsWith("P6"u8) ? "PNM" :
            null;
        if (other != null) throw Fail($"unsupported image format ({other}; Fovea reads {AcceptedFormats})");
        // TGA has no signature; its header fields are checked the way the decoder recognises it.
        if (TgaFileCheck.LooksLikeTga(d)) return TgaFileCheck.Inspect(data, maxPixels);
        throw Fail($"unsupported image format (not a readable {AcceptedFormats} image)");
    }

    /// <summary>Refuses a declared size above the pixel cap, before anything of that size is allocated.</summary>
    public static void CheckPixelCap(string format, long width, long height, long maxPixels)
    {
        if (width * height > maxPixels)
            throw Fail($"the {format} header declares {width}x{height} = {width * height} pixels, above the limit of {maxPixels} " +
                       "(raise it with ImageIO.MaxPixels or the --max-pixels option)");
    }

    /// <summary>The exception every check throws: the reason, without the file name.</summary>
    public static InvalidDataException Fail(string reason) => new(reason);
}
