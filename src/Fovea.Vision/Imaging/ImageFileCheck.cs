using System.Buffers.Binary;

namespace Fovea.Vision.Imaging;

/// <summary>
/// Structural checks that catch files the decoder would accept partially: stb_image fills a truncated JPEG with
/// grey and may decode a cut PNG up to the damage. Each check walks the container far enough to prove the data is
/// all there, and reports the byte offset where it is not.
/// </summary>
internal static class ImageFileCheck
{
    private static ReadOnlySpan<byte> PngSignature => [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

    /// <summary>Returns the reason the file is unusable, or null when it looks complete.</summary>
    public static string? Problem(ReadOnlySpan<byte> data)
    {
        if (data.Length == 0) return "the file is empty";
        if (data.StartsWith(PngSignature)) return Png(data);
        if (data.Length >= 2 && data[0] == 0xFF && data[1] == 0xD8) return Jpeg(data);
        if (data.Length >= 2 && data[0] == (byte)'B' && data[1] == (byte)'M') return Bmp(data);
        return null; // TGA has no signature: left to the decoder
    }

    private static string? Png(ReadOnlySpan<byte> data)
    {
        int pos = 8;
        while (true)
        {
            if (pos + 8 > data.Length) return $"truncated at byte {data.Length} (PNG chunk header expected at byte {pos}, no IEND chunk)";
            uint length = BinaryPrimitives.ReadUInt32BigEndian(data.Slice(pos));
            string type = System.Text.Encoding.ASCII.GetString(data.Slice(pos + 4, 4));
            long end = pos + 12L + length;
            if (end > data.Length) return $"truncated at byte {data.Length} (PNG chunk '{type}' at byte {pos} needs {end - data.Length} more bytes)";
            if (type == "IEND") return null;
            pos = (int)end;
        }
    }

    private static string? Jpeg(ReadOnlySpan<byte> data)
    {
        // Entropy-coded data never contains FF D9 (an FF data byte is stuffed as FF 00), so the end-of-image marker
        // after the first start-of-scan proves the scan data is complete.
        int sos = IndexOf(data, 0xFF, 0xDA, 2);
        if (sos < 0) return $"truncated at byte {data.Length} (JPEG has no start-of-scan marker)";
        if (IndexOf(data, 0xFF, 0xD9, sos + 2) < 0) return $"truncated at byte {data.Length} (JPEG has no end-of-image marker)";
        return null;
    }

    private static string? Bmp(ReadOnlySpan<byte> data)
    {
        if (data.Length < 30) return $"truncated at byte {data.Length} (BMP header is 30+ bytes)";
        uint offset = BinaryPrimitives.ReadUInt32LittleEndian(data.Slice(10));
        uint headerSize = BinaryPrimitives.ReadUInt32LittleEndian(data.Slice(14));
        if (headerSize < 40 || data.Length < 34) return null; // old OS/2 headers: left to the decoder
        int width = BinaryPrimitives.ReadInt32LittleEndian(data.Slice(18));
        int height = Math.Abs(BinaryPrimitives.ReadInt32LittleEndian(data.Slice(22)));
        int bpp = BinaryPrimitives.ReadUInt16LittleEndian(data.Slice(28));
        uint compression = BinaryPrimitives.ReadUInt32LittleEndian(data.Slice(30));
        if (compression != 0 && compression != 3) return null; // RLE: size not implied by the header
        long stride = ((long)width * bpp + 31) / 32 * 4;
        long need = offset + stride * height;
        return need > data.Length ? $"truncated at byte {data.Length} (BMP pixel data needs {need} bytes)" : null;
    }

    private static int IndexOf(ReadOnlySpan<byte> data, byte a, byte b, int start)
    {
        for (int i = Math.Max(0, start); i + 1 < data.Length; i++)
            if (data[i] == a && data[i + 1] == b) return i;
        return -1;
    }
}
