using System.Buffers;
using Microsoft.Win32.SafeHandles;
using StbImageSharp;
using StbImageWriteSharp;

namespace Fovea.Vision.Imaging;

/// <summary>
/// Image files to and from <see cref="ImagePlanes"/>: read with StbImageSharp (8 bits per sample, scaled to [0, 1] by
/// 1/255), written as PNG with StbImageWriteSharp.
/// <para>Formats read, recognised by content, not by file name:</para>
/// <list type="bullet">
/// <item>PNG: every colour type and bit depth (16-bit samples are reduced to 8), interlaced or not; not Apple's CgBI variant.</item>
/// <item>JPEG: baseline, extended sequential and progressive Huffman-coded, 8-bit, 1, 3 or 4 components;
/// not lossless, hierarchical or arithmetic-coded.</item>
/// <item>BMP: uncompressed or bit-field pixels at 1, 4, 8, 16, 24 or 32 bits; not RLE, JPEG or PNG compressed.</item>
/// <item>TGA: colour-mapped, true-colour and grey, uncompressed or run-length encoded.</item>
/// </list>
/// Every other format (GIF, PSD, HDR, PIC, PNM, ...) is refused as unsupported. Before decoding, the file's declared
/// size is checked against a pixel cap (<see cref="MaxPixels"/>) and its structure is walked to prove that all the
/// pixel data is present, so a damaged or cut file is refused instead of decoding to grey, and a small file cannot
/// make the decoder allocate for a huge image. Failures name the file and what is wrong.
/// <para>Plain sequential JPEGs (gray, or colour at 4:4:4, 4:2:2 or 4:2:0, restart markers or not) are decoded in one
/// pass by <see cref="BaselineJpegDecoder"/>, which gives StbImageSharp's bytes exactly and leaves every file it is not
/// sure of to the checks and decoder above; a small training image then costs a fraction of the general path.</para>
/// </summary>
public static class ImageIO
{
    /// <summary>
    /// The built-in pixel cap: 2^26 = 67,108,864 pixels (8192 x 8192). It admits every common camera sensor (the
    /// largest consumer sensors are about 61 megapixels) while bounding what one load may allocate: the float planes
    /// of a 4-channel image at the cap take 1 GiB, and the decoder's byte buffers about as much again.
    /// </summary>
    public const long DefaultMaxPixels = 1L << 26;

    /// <summary>
    /// The largest cap that can be set: a 4-channel image's planes must fit one .NET array (<see cref="Array.MaxLength"/>
    /// elements), so 536,870,897 pixels.
    /// </summary>
    public const long MaxPixelsLimit = 0x7FFFFFC7 / 4;

    private static long s_maxPixels = DefaultMaxPixels;

    /// <summary>
    /// The pixel cap that <see cref="Load(string, ImageChannels)"/> applies, process-wide; starts at
    /// <see cref="DefaultMaxPixels"/>. A file whose header declares more pixels (width x height) is refused before
    /// anything of that size is allocated.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is below 1 or above <see cref="MaxPixelsLimit"/>.</exception>
    public static long MaxPixels
    {
        get => Volatile.Read(ref s_maxPixels);
        set
        {
            CheckMaxPixels(value);
            Volatile.Write(ref s_maxPixels, value);
        }
    }

    /// <summary>
    /// Loads <paramref name="path"/> as planar floats in [0, 1], refusing images above <see cref="MaxPixels"/>.
    /// </summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not a readable PNG/JPEG/BMP/TGA image (unsupported format,
    /// damaged, cut short, or above the pixel cap); the message names the file and the reason.</exception>
    public static ImagePlanes Load(string path, ImageChannels channels = ImageChannels.Source) => Load(path, channels, MaxPixels);

    /// <summary>
    /// Loads <paramref name="path"/> as planar floats in [0, 1], refusing images of more than
    /// <paramref name="maxPixels"/> pixels.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxPixels"/> is below 1 or above <see cref="MaxPixelsLimit"/>.</exception>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not a readable PNG/JPEG/BMP/TGA image (unsupported format,
    /// damaged, cut short, or above the pixel cap); the message names the file and the reason.</exception>
    public static ImagePlanes Load(string path, ImageChannels channels, long maxPixels) => Load(path, channels, maxPixels, toGray: false);

    /// <summary>
    /// <see cref="Load(string, ImageChannels)"/> for a model that takes one gray channel: a colour file that the one-pass
    /// decoder takes comes back as one plane, exactly what <see cref="Grayscale.ToGray"/> makes of its RGB planes (and so
    /// what <c>ConvertChannels(1)</c> would), without making those planes; every other file comes back as
    /// <see cref="Load(string, ImageChannels)"/> gives it, for the caller's channel conversion.
    /// </summary>
    internal static ImagePlanes LoadForGray(string path) => Load(path, ImageChannels.Source, MaxPixels, toGray: true);

    private static ImagePlanes Load(string path, ImageChannels channels, long maxPixels, bool toGray)
    {
        ArgumentNullException.ThrowIfNull(path);
        CheckMaxPixels(maxPixels);
        // One open and one read into a pooled buffer; the plainest JPEGs are decoded from it in one pass, exactly as
        // the general path below would (BaselineJpegDecoder), and everything else takes the general path.
        var (buffer, length) = ReadFile(path);
        byte[] bytes;
        try
        {
            if (BaselineJpegDecoder.TryDecode(buffer, length, channels, maxPixels, Levels, toGray) is { } fast) return fast;
            bytes = buffer.AsSpan(0, length).ToArray();
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
        return DecodeChecked(path, bytes, channels, maxPixels);
    }

    /// <summary>
    /// The general path: the structure walk of <see cref="ImageFileCheck"/>, then StbImageSharp, then planar floats;
    /// every failure an <see cref="InvalidDataException"/> naming <paramref name="path"/>.
    /// </summary>
    internal static ImagePlanes DecodeChecked(string path, byte[] bytes, ImageChannels channels, long maxPixels)
    {
        ImageHeader header;
        try
        {
            header = ImageFileCheck.Inspect(bytes, maxPixels);
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"{path}: {e.Message}.", e);
        }
        catch (Exception e)
        {
            // Not expected from the checks; kept as the inner exception, but still reported as a bad file, not a crash.
            throw new InvalidDataException($"{path}: not a readable image ({e.GetType().Name}: {e.Message}).", e);
        }
        ImageResult decoded;
        try
        {
            decoded = ImageResult.FromStream(new ClampedReadStream(bytes), channels switch
            {
                ImageChannels.Gray => StbImageSharp.ColorComponents.Grey,
                ImageChannels.Rgb => StbImageSharp.ColorComponents.RedGreenBlue,
                ImageChannels.Rgba => StbImageSharp.ColorComponents.RedGreenBlueAlpha,
                _ => StbImageSharp.ColorComponents.Default,
            });
        }
        catch (Exception e)
        {
            // Whatever the decoder throws on data it cannot take (its own failure, or an index, null, overflow or
            // out-of-memory error from a malformed field) is a fault of the file, not of the caller.
            throw new InvalidDataException($"{path}: not a readable {header.Format.ToString().ToUpperInvariant()} image ({e.Message}).", e);
        }
        if (decoded?.Data == null || decoded.Width != header.Width || decoded.Height != header.Height)
            throw new InvalidDataException($"{path}: the decoder did not return the {header.Width}x{header.Height} image the header declares.");

        int c = (int)decoded.Comp, h = decoded.Height, w = decoded.Width, n = h * w;
        if (decoded.Data.Length < (long)c * n)
            throw new InvalidDataException($"{path}: decoder returned {decoded.Data.Length} bytes for {w}x{h}x{c}.");
        var planes = ImagePlanes.Zeros(c, h, w);
        float[] dst = planes.Data;
        byte[] src = decoded.Data;
        // Interleaved HWC bytes to planar CHW floats.
        ReadOnlySpan<float> level = Levels;
        for (int ch = 0; ch < c; ch++)
        {
            int o = ch * n;
            for (int i = 0; i < n; i++) dst[o + i] = level[src[i * c + ch]];
        }
        return planes;
    }

    /// <summary>The 256 sample levels as floats, the correctly rounded k / 255, which makes a PNG round trip exact.</summary>
    internal static readonly float[] Levels = [.. Enumerable.Range(0, 256).Select(k => k / 255f)];

    /// <summary>
    /// The whole file in a buffer from <see cref="ArrayPool{T}.Shared"/> (the caller returns it) and its length, read
    /// through one handle; a missing file is a <see cref="FileNotFoundException"/>, one above the size a .NET array
    /// holds an <see cref="InvalidDataException"/>, both naming the file. Small files are read with fewer system calls
    /// where <see cref="SmallFileReader"/> can.
    /// </summary>
    private static (byte[] Buffer, int Length) ReadFile(string path)
    {
        if (SmallFileReader.TryRead(path, out var small, out int smallLength)) return (small, smallLength);
        SafeFileHandle handle;
        try
        {
            handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException ||
                                  (e is UnauthorizedAccessException && Directory.Exists(path)))
        {
            throw new FileNotFoundException($"{path}: file not found.", path, e);
        }
        using (handle)
        {
            long size = RandomAccess.GetLength(handle);
            if (size > Array.MaxLength) throw new InvalidDataException($"{path}: the file is {size} bytes, above the {Array.MaxLength} an image file may have.");
            var buffer = ArrayPool<byte>.Shared.Rent((int)Math.Max(size, 1));
            int length = 0;
            try
            {
                // A file that grows while it is read is taken at the size it had when opened.
                while (length < size)
                {
                    int n = RandomAccess.Read(handle, buffer.AsSpan(length, (int)size - length), length);
                    if (n == 0) break;
                    length += n;
                }
            }
            catch
            {
                ArrayPool<byte>.Shared.Return(buffer);
                throw;
            }
            return (buffer, length);
        }
    }

    private static void CheckMaxPixels(long maxPixels)
    {
        if (maxPixels < 1 || maxPixels > MaxPixelsLimit)
            throw new ArgumentOutOfRangeException(nameof(maxPixels), maxPixels, $"The pixel cap must be 1 to {MaxPixelsLimit}.");
    }

    /// <summary>
    /// Saves <paramref name="image"/> (1 to 4 channels) as an 8-bit PNG: values are clamped to [0, 1] and rounded to
    /// the nearest of 256 levels. The file is written beside the target first and then renamed over it, so a failed
    /// save never leaves a half-written file under <paramref name="path"/>.
    /// </summary>
    public static void SavePng(string path, ImagePlanes image) => Save(path, image, "PNG", (w, bytes, comps, s) => w.WritePng(bytes, image.Width, image.Height, comps, s));

    /// <summary>
    /// Saves <paramref name="image"/> (1 to 4 channels; alpha is dropped by the format) as a baseline JPEG of
    /// <paramref name="quality"/> 1 to 100, written atomically like <see cref="SavePng"/>.
    /// </summary>
    public static void SaveJpeg(string path, ImagePlanes image, int quality = 95)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(quality, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(quality, 100);
        Save(path, image, "JPEG", (w, bytes, comps, s) => w.WriteJpg(bytes, image.Width, image.Height, comps, s, quality));
    }

    /// <summary>Saves <paramref name="image"/> (1 to 4 channels) as an uncompressed BMP, written atomically like <see cref="SavePng"/>.</summary>
    public static void SaveBmp(string path, ImagePlanes image) => Save(path, image, "BMP", (w, bytes, comps, s) => w.WriteBmp(bytes, image.Width, image.Height, comps, s));

    /// <summary>Converts to interleaved 8-bit samples and writes them with <paramref name="write"/> through <see cref="Fovea.IO.AtomicFile"/>.</summary>
    private static void Save(string path, ImagePlanes image, string format, Action<ImageWriter, byte[], StbImageWriteSharp.ColorComponents, Stream> write)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(image);
        var comps = image.Channels switch
        {
            1 => StbImageWriteSharp.ColorComponents.Grey,
            2 => StbImageWriteSharp.ColorComponents.GreyAlpha,
            3 => StbImageWriteSharp.ColorComponents.RedGreenBlue,
            4 => StbImageWriteSharp.ColorComponents.RedGreenBlueAlpha,
            _ => throw new ArgumentException($"{path}: {format} holds 1 to 4 channels, the image has {image.Channels}.", nameof(image)),
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
            Fovea.IO.AtomicFile.Write(path, stream => write(new ImageWriter(), bytes, comps, stream));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"{path}: could not write {format} ({e.Message}).", e);
        }
    }
}
