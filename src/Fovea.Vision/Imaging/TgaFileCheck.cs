using System.Buffers.Binary;

namespace Fovea.Vision.Imaging;

/// <summary>
/// TGA structure. TGA has no signature, so <see cref="LooksLikeTga"/> applies the decoder's own recognition rules
/// (colour-mapped types 1/9, true-colour and grey types 2/3/10/11, known depths, non-zero sides). The decoder reads
/// zeros past the end of the file, so the pixel data must be proved present: uncompressed images need
/// width x height x bytes-per-pixel bytes; run-length images are walked packet by packet until every pixel is
/// covered (each packet takes at least two bytes, so the walk ends within the file).
/// </summary>
internal static class TgaFileCheck
{
    private const int HeaderBytes = 18;

    /// <summary>Whether the decoder would take these bytes for a TGA file.</summary>
    public static bool LooksLikeTga(ReadOnlySpan<byte> d)
    {
        if (d.Length < HeaderBytes) return false;
        int colorMapType = d[1], imageType = d[2], mapEntryBits = d[7], pixelBits = d[16];
        if (colorMapType == 1)
        {
            if (imageType is not (1 or 9) || mapEntryBits is not (8 or 15 or 16 or 24 or 32) || pixelBits is not (8 or 16)) return false;
        }
        else if (colorMapType != 0 || imageType is not (2 or 3 or 10 or 11)) return false;
        return pixelBits is 8 or 15 or 16 or 24 or 32 && Width(d) >= 1 && Height(d) >= 1;
    }

    public static ImageHeader Inspect(byte[] data, long maxPixels)
    {
        ReadOnlySpan<byte> d = data;
        int idLength = d[0];
        bool indexed = d[1] == 1, runLength = d[2] >= 8;
        int mapFirst = BinaryPrimitives.ReadUInt16LittleEndian(d[3..]);
        int mapLength = BinaryPrimitives.ReadUInt16LittleEndian(d[5..]);
        int mapEntryBytes = (d[7] + 7) / 8, pixelBytes = (d[16] + 7) / 8;
        int width = Width(d), height = Height(d);
        ImageFileCheck.CheckPixelCap("TGA", width, height, maxPixels);
        long pos = HeaderBytes + idLength;
        if (indexed)
        {
            if (mapLength == 0) throw ImageFileCheck.Fail("TGA colour-mapped image has an empty colour map (byte 5)");
            // The decoder skips mapFirst bytes rather than mapFirst entries before the map, so such files decode wrongly.
            if (mapFirst != 0) throw ImageFileCheck.Fail($"unsupported TGA colour map starting at entry {mapFirst} (byte 3)");
            pos += (long)mapLength * mapEntryBytes;
        }
        long pixels = (long)width * height;
        if (!runLength)
        {
            long need = pos + pixels * pixelBytes;
            if (need > d.Length) throw ImageFileCheck.Fail($"truncated at byte {d.Length} (TGA pixel data needs {need} bytes)");
        }
        else
        {
            long covered = 0;
            while (covered < pixels)
            {
                if (pos >= d.Length)
                    throw ImageFileCheck.Fail($"truncated at byte {d.Length} (TGA run-length data covers {covered} of {pixels} pixels)");
                int packet = d[(int)pos];
                int count = 1 + (packet & 0x7F);
                // A run packet (high bit set) holds one pixel value; a raw packet holds count values.
                pos += 1 + ((packet & 0x80) != 0 ? pixelBytes : (long)count * pixelBytes);
                if (pos > d.Length)
                    throw ImageFileCheck.Fail($"truncated at byte {d.Length} (TGA run-length packet covering pixels {covered}.. needs {pos} bytes)");
                covered += count;
            }
        }
        return new ImageHeader(ImageFileFormat.Tga, width, height);
    }

    private static int Width(ReadOnlySpan<byte> d) => BinaryPrimitives.ReadUInt16LittleEndian(d[12..]);

    private static int Height(ReadOnlySpan<byte> d) => BinaryPrimitives.ReadUInt16LittleEndian(d[14..]);
}
