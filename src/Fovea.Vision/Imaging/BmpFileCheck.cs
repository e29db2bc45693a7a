using System.Buffers.Binary;

namespace Fovea.Vision.Imaging;

/// <summary>
/// BMP structure: the header fields the decoder relies on, with exactly the variants it decodes (uncompressed or
/// bit-field pixels, 1/4/8/16/24/32 bits). Every other compression field is refused: its pixel data size is not
/// implied by the header, and the decoder treats values it does not know as uncompressed.
/// The pixel rows must all be in the file, which also bounds the declared size by the file's size.
/// </summary>
internal static class BmpFileCheck
{
    private const int FileHeaderBytes = 14;

    public static ImageHeader Inspect(byte[] data, long maxPixels)
    {
        ReadOnlySpan<byte> d = data;
        if (d.Length < FileHeaderBytes + 16) throw ImageFileCheck.Fail($"truncated at byte {d.Length} (BMP header is 30+ bytes)");
        uint offset = BinaryPrimitives.ReadUInt32LittleEndian(d[10..]);
        uint infoSize = BinaryPrimitives.ReadUInt32LittleEndian(d[14..]);
        if (infoSize is not (12 or 40 or 56 or 108 or 124))
            throw ImageFileCheck.Fail($"unsupported BMP header size {infoSize} at byte 14 (12, 40, 56, 108 or 124 are read)");
        if (d.Length < FileHeaderBytes + infoSize) throw ImageFileCheck.Fail($"truncated at byte {d.Length} (BMP header is {FileHeaderBytes + infoSize} bytes)");
        long width, height;
        int bitsPerPixel;
        uint compression = 0;
        if (infoSize == 12)
        {
            // OS/2 1.x core header: 16-bit unsigned sides, always uncompressed.
            width = BinaryPrimitives.ReadUInt16LittleEndian(d[18..]);
            height = BinaryPrimitives.ReadUInt16LittleEndian(d[20..]);
            bitsPerPixel = BinaryPrimitives.ReadUInt16LittleEndian(d[24..]);
        }
        else
        {
            width = BinaryPrimitives.ReadInt32LittleEndian(d[18..]);
            // A negative height marks top-down rows.
            height = Math.Abs((long)BinaryPrimitives.ReadInt32LittleEndian(d[22..]));
            bitsPerPixel = BinaryPrimitives.ReadUInt16LittleEndian(d[28..]);
            compression = BinaryPrimitives.ReadUInt32LittleEndian(d[30..]);
        }
        if (width < 1 || height < 1) throw ImageFileCheck.Fail($"BMP header declares an invalid size {width}x{height}");
        if (bitsPerPixel is not (1 or 4 or 8 or 16 or 24 or 32))
            throw ImageFileCheck.Fail($"unsupported BMP bit depth {bitsPerPixel} (1, 4, 8, 16, 24 or 32 are read)");
        // 0 = BI_RGB (uncompressed), 3 = BI_BITFIELDS (uncompressed with channel masks, 16 or 32 bits only).
        if (compression != 0 && !(compression == 3 && bitsPerPixel is 16 or 32))
            throw ImageFileCheck.Fail($"unsupported BMP compression {compression} for {bitsPerPixel} bits per pixel at byte 30 " +
                                      "(uncompressed and bit-field images are read)");
        ImageFileCheck.CheckPixelCap("BMP", width, height, maxPixels);
        long stride = (width * bitsPerPixel + 31) / 32 * 4;
        long need = offset + stride * height;
        if (need > d.Length) throw ImageFileCheck.Fail($"truncated at byte {d.Length} (BMP pixel data needs {need} bytes)");
        return new ImageHeader(ImageFileFormat.Bmp, (int)width, (int)height);
    }
}
