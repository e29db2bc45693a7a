using System.Buffers.Binary;
using System.IO.Compression;
using Fovea.Vision.Imaging;
using StbImageWriteSharp;

namespace Fovea.Vision.Tests.Imaging;

/// <summary>
/// Builders for valid seed images (written with StbImageWriteSharp or by hand) and for the pieces the hostile-file
/// generators change: JPEG segments, PNG chunks, BMP and TGA headers. Plus the one way every test loads a file:
/// on a worker with a deadline, measuring what the load allocates.
/// </summary>
internal static class ImageFiles
{
    /// <summary>A smooth RGB gradient with a little noise, so JPEG scans carry real AC data.</summary>
    public static byte[] Pixels(int width, int height, int channels, int seed = 1)
    {
        var rng = new Random(seed);
        var p = new byte[width * height * channels];
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
                for (int c = 0; c < channels; c++)
                    p[(y * width + x) * channels + c] = (byte)Math.Clamp((x * 255 / width + y * (c + 1) * 3 + rng.Next(24)) % 256, 0, 255);
        return p;
    }

    public static byte[] Stb(string format, int width, int height, int channels, int jpegQuality = 90)
    {
        var comps = channels switch { 1 => ColorComponents.Grey, 3 => ColorComponents.RedGreenBlue, _ => ColorComponents.RedGreenBlueAlpha };
        var pixels = Pixels(width, height, channels);
        using var s = new MemoryStream();
        var w = new ImageWriter();
        switch (format)
        {
            case "png": w.WritePng(pixels, width, height, comps, s); break;
            case "bmp": w.WriteBmp(pixels, width, height, comps, s); break;
            case "tga": w.WriteTga(pixels, width, height, comps, s); break; // run-length encoded
            case "jpg": w.WriteJpg(pixels, width, height, comps, s, jpegQuality); break;
            default: throw new ArgumentException(format);
        }
        return s.ToArray();
    }

    /// <summary>An uncompressed true-colour TGA (type 2, 24 bits, bottom-up rows).</summary>
    public static byte[] RawTga(int width, int height)
    {
        var b = new byte[18 + width * height * 3];
        TgaHeader(b, imageType: 2, width, height);
        Pixels(width, height, 3).CopyTo(b, 18);
        return b;
    }

    public static void TgaHeader(byte[] b, int imageType, int width, int height, int bits = 24)
    {
        b[2] = (byte)imageType;
        BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(12), (ushort)width);
        BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(14), (ushort)height);
        b[16] = (byte)bits;
    }

    /// <summary>A 54-byte BMP header (40-byte info header) with no pixel data.</summary>
    public static byte[] BmpHeader(int width, int height, int bits = 24, uint compression = 0)
    {
        var b = new byte[54];
        b[0] = (byte)'B';
        b[1] = (byte)'M';
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(10), 54);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(14), 40);
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(18), width);
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(22), height);
        BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(26), 1);
        BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(28), (ushort)bits);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(30), compression);
        return b;
    }

    /// <summary>A PNG from IHDR fields and the (already compressed) image data, chunk CRCs included.</summary>
    public static byte[] Png(uint width, uint height, byte depth, byte colorType, params byte[][] idats)
    {
        using var s = new MemoryStream();
        s.Write([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]);
        var ihdr = new byte[13];
        BinaryPrimitives.WriteUInt32BigEndian(ihdr, width);
        BinaryPrimitives.WriteUInt32BigEndian(ihdr.AsSpan(4), height);
        ihdr[8] = depth;
        ihdr[9] = colorType;
        PngChunk(s, "IHDR", ihdr);
        foreach (var idat in idats) PngChunk(s, "IDAT", idat);
        PngChunk(s, "IEND", []);
        return s.ToArray();
    }

    public static void PngChunk(Stream s, string type, byte[] body)
    {
        var head = new byte[8];
        BinaryPrimitives.WriteUInt32BigEndian(head, (uint)body.Length);
        for (int i = 0; i < 4; i++) head[4 + i] = (byte)type[i];
        s.Write(head);
        s.Write(body);
        var crc = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(crc, Crc32(head.AsSpan(4), body));
        s.Write(crc);
    }

    /// <summary>zlib-compresses <paramref name="rows"/> rows of <paramref name="rowBytes"/> zero bytes each, written in pieces.</summary>
    public static byte[] ZlibZeros(long rows, int rowBytes)
    {
        using var output = new MemoryStream();
        using (var z = new ZLibStream(output, CompressionLevel.Fastest, leaveOpen: true))
        {
            var row = new byte[rowBytes];
            for (long r = 0; r < rows; r++) z.Write(row);
        }
        return output.ToArray();
    }

    private static uint Crc32(ReadOnlySpan<byte> type, ReadOnlySpan<byte> body)
    {
        uint c = 0xFFFFFFFF;
        foreach (var part in new[] { type.ToArray(), body.ToArray() })
            foreach (byte b in part)
            {
                c ^= b;
                for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320 ^ (c >> 1) : c >> 1;
            }
        return ~c;
    }

    /// <summary>
    /// Every marker segment of a JPEG up to its end-of-image marker: position, marker, declared length (0 for markers
    /// without one), and for scans the end of the entropy-coded data.
    /// </summary>
    public static List<(int At, int Marker, int Length, int DataEnd)> JpegSegments(byte[] b)
    {
        var list = new List<(int, int, int, int)>();
        int p = 2;
        while (p + 1 < b.Length && b[p] == 0xFF)
        {
            int m = b[p + 1];
            if (m == 0xD9) { list.Add((p, m, 0, p)); break; }
            int len = b[p + 2] << 8 | b[p + 3];
            int next = p + 2 + len;
            if (m == 0xDA)
            {
                // The scan's data runs to the next marker that is not a stuffed zero or a restart marker.
                while (!(b[next] == 0xFF && b[next + 1] != 0 && b[next + 1] is < 0xD0 or > 0xD7)) next++;
            }
            list.Add((p, m, len, next));
            p = next;
        }
        return list;
    }

    /// <summary>
    /// Loads <paramref name="path"/> on a worker thread; fails the test if the load does not finish within
    /// <paramref name="seconds"/> (so a hang fails instead of blocking the run). Returns the result or the
    /// exception, and the bytes the load allocated on its thread.
    /// </summary>
    public static (ImagePlanes? Image, Exception? Error, long Allocated) Load(string path, long? maxPixels = null, double seconds = 5)
    {
        ImagePlanes? image = null;
        Exception? error = null;
        long allocated = 0;
        WithDeadline(() =>
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            try { image = maxPixels is long m ? ImageIO.Load(path, ImageChannels.Source, m) : ImageIO.Load(path); }
            catch (Exception e) { error = e; }
            allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        }, seconds, $"loading {path}");
        return (image, error, allocated);
    }

    /// <summary>Runs <paramref name="work"/> on its own thread and fails the test if it is still running after <paramref name="seconds"/>.</summary>
    public static void WithDeadline(Action work, double seconds, string what)
    {
        var task = Task.Factory.StartNew(work, TaskCreationOptions.LongRunning);
        Assert.True(task.Wait(TimeSpan.FromSeconds(seconds)), $"{what} did not finish within {seconds} s");
        task.GetAwaiter().GetResult(); // rethrows an assertion failed inside the work
    }

    /// <summary>
    /// Asserts that loading <paramref name="path"/> is refused with an <see cref="InvalidDataException"/> that names the
    /// file (and contains <paramref name="reason"/>), quickly, allocating at most <paramref name="maxAllocated"/> bytes.
    /// </summary>
    public static InvalidDataException AssertRefused(string path, string? reason = null, long? maxPixels = null, long maxAllocated = 1 << 20)
    {
        var (_, error, allocated) = Load(path, maxPixels);
        var e = Assert.IsType<InvalidDataException>(error);
        Assert.Contains(path, e.Message);
        if (reason != null) Assert.Contains(reason, e.Message);
        Assert.True(allocated <= maxAllocated + new FileInfo(path).Length,
            $"{path}: refusing it allocated {allocated} bytes ({e.Message})");
        return e;
    }
}
