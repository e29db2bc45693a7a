using System.Buffers.Binary;
using System.IO.Compression;

namespace Fovea.Vision.Imaging;

/// <summary>
/// PNG structure: the chunk walk up to IEND, the IHDR fields, and the image data inflated once into a small scratch
/// buffer to prove it yields exactly the bytes the header implies. The decoder's own inflater grows its output
/// without bound while the stream keeps producing, so a small image whose data inflates to gigabytes (a deflate
/// bomb) is refused here, as is data that stops short (a cut file with an IEND chunk appended).
/// </summary>
internal static class PngFileCheck
{
    /// <summary>
    /// Deflate's largest expansion: a 258-byte match costs at least 2 bits, so one input byte yields at most
    /// 1032 output bytes (plus a constant for the first literal and block header).
    /// </summary>
    private const long DeflateMaxRatio = 1032;

    public static ImageHeader Inspect(byte[] data, long maxPixels)
    {
        ReadOnlySpan<byte> d = data;
        int pos = 8;
        ImageHeader? header = null;
        long rawBytes = 0, idatBytes = 0;
        var idatChunks = new List<(int Start, int Length)>();
        while (true)
        {
            if (pos + 8 > d.Length) throw ImageFileCheck.Fail($"truncated at byte {d.Length} (PNG chunk header expected at byte {pos}, no IEND chunk)");
            uint length = BinaryPrimitives.ReadUInt32BigEndian(d[pos..]);
            string type = ChunkType(d.Slice(pos + 4, 4));
            long end = pos + 12L + length;
            if (end > d.Length) throw ImageFileCheck.Fail($"truncated at byte {d.Length} (PNG chunk '{type}' at byte {pos} needs {end - d.Length} more bytes)");
            if (type == "CgBI") throw ImageFileCheck.Fail("unsupported PNG variant (Apple CgBI, not standard PNG)");
            if (header == null)
            {
                if (type != "IHDR") throw ImageFileCheck.Fail($"PNG chunk '{type}' at byte {pos} comes before the IHDR header");
                (header, rawBytes) = ReadHeader(d.Slice(pos + 8, (int)length), pos, maxPixels);
            }
            else if (type == "IHDR") throw ImageFileCheck.Fail($"second PNG IHDR chunk at byte {pos}");
            else if (type == "IDAT")
            {
                idatChunks.Add((pos + 8, (int)length));
                idatBytes += length;
            }
            else if (type == "IEND") break;
            pos = (int)end;
        }
        if (idatBytes == 0) throw ImageFileCheck.Fail("PNG has no image data (IDAT chunk)");
        if (idatBytes * DeflateMaxRatio + DeflateMaxRatio < rawBytes)
            throw ImageFileCheck.Fail($"PNG image data of {idatBytes} bytes cannot inflate to the {rawBytes} bytes a " +
                                      $"{header.Value.Width}x{header.Value.Height} image needs");
        CheckInflatedSize(data, idatChunks, rawBytes);
        return header.Value;
    }

    /// <summary>Reads IHDR; returns the header and the inflated byte count it implies (filter bytes included).</summary>
    private static (ImageHeader, long RawBytes) ReadHeader(ReadOnlySpan<byte> ihdr, int at, long maxPixels)
    {
        if (ihdr.Length != 13) throw ImageFileCheck.Fail($"PNG IHDR chunk at byte {at} is {ihdr.Length} bytes, not 13");
        uint width = BinaryPrimitives.ReadUInt32BigEndian(ihdr);
        uint height = BinaryPrimitives.ReadUInt32BigEndian(ihdr[4..]);
        int depth = ihdr[8], colorType = ihdr[9], compression = ihdr[10], filter = ihdr[11], interlace = ihdr[12];
        if (width == 0 || height == 0 || width > int.MaxValue || height > int.MaxValue)
            throw ImageFileCheck.Fail($"PNG IHDR declares an invalid size {width}x{height}");
        // Samples per pixel in the file, and the bit depths the PNG specification allows for each colour type.
        (int samples, int[] depths) = colorType switch
        {
            0 => (1, new[] { 1, 2, 4, 8, 16 }),
            2 => (3, new[] { 8, 16 }),
            3 => (1, new[] { 1, 2, 4, 8 }),
            4 => (2, new[] { 8, 16 }),
            6 => (4, new[] { 8, 16 }),
            _ => throw ImageFileCheck.Fail($"PNG IHDR has an invalid colour type {colorType}"),
        };
        if (Array.IndexOf(depths, depth) < 0) throw ImageFileCheck.Fail($"PNG IHDR has bit depth {depth}, invalid for colour type {colorType}");
        if (compression != 0 || filter != 0 || interlace > 1)
            throw ImageFileCheck.Fail($"PNG IHDR has an unknown compression ({compression}), filter ({filter}) or interlace ({interlace}) method");
        ImageFileCheck.CheckPixelCap("PNG", width, height, maxPixels);
        int bitsPerPixel = samples * depth;
        long raw = interlace == 0
            ? RawBytes(width, height, bitsPerPixel)
            : Adam7Passes.Sum(p => RawBytes((width - p.X0 + p.Dx - 1) / p.Dx, (height - p.Y0 + p.Dy - 1) / p.Dy, bitsPerPixel));
        return (new ImageHeader(ImageFileFormat.Png, (int)width, (int)height), raw);
    }

    /// <summary>The seven Adam7 passes: first column and row, and the steps between them.</summary>
    private static readonly (long X0, long Y0, long Dx, long Dy)[] Adam7Passes =
        [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)];

    /// <summary>Inflated bytes of one (sub)image: each row is a filter byte and the packed samples.</summary>
    private static long RawBytes(long width, long height, int bitsPerPixel) =>
        width == 0 || height == 0 ? 0 : height * (1 + (width * bitsPerPixel + 7) / 8);

    /// <summary>
    /// Inflates the IDAT data into a fixed scratch buffer (no output is kept) and requires exactly
    /// <paramref name="rawBytes"/>; reading stops one buffer past the expected size, so the work is bounded by it.
    /// </summary>
    private static void CheckInflatedSize(byte[] data, List<(int Start, int Length)> chunks, long rawBytes)
    {
        var scratch = new byte[64 * 1024];
        long produced = 0;
        try
        {
            using var inflater = new ZLibStream(new ChunkDataStream(data, chunks), CompressionMode.Decompress);
            int n;
            while (produced <= rawBytes && (n = inflater.Read(scratch)) > 0) produced += n;
        }
        catch (InvalidDataException e)
        {
            throw ImageFileCheck.Fail($"PNG image data is damaged after {produced} of {rawBytes} bytes ({e.Message})");
        }
        if (produced > rawBytes)
            throw ImageFileCheck.Fail($"PNG image data inflates past the {rawBytes} bytes its header implies");
        if (produced < rawBytes)
            throw ImageFileCheck.Fail($"PNG image data ends after {produced} of the {rawBytes} bytes its header implies (the file is cut or damaged)");
    }

    /// <summary>The bodies of the IDAT chunks read as one stream, in place.</summary>
    private sealed class ChunkDataStream(byte[] data, List<(int Start, int Length)> chunks) : Stream
    {
        private int _chunk, _offset;

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            while (_chunk < chunks.Count && _offset == chunks[_chunk].Length)
            {
                _chunk++;
                _offset = 0;
            }
            if (_chunk == chunks.Count) return 0;
            var (start, length) = chunks[_chunk];
            int n = Math.Min(buffer.Length, length - _offset);
            data.AsSpan(start + _offset, n).CopyTo(buffer);
            _offset += n;
            return n;
        }

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    private static string ChunkType(ReadOnlySpan<byte> type)
    {
        Span<char> text = stackalloc char[4];
        // Non-letters are shown as '?' so a damaged type cannot put control characters into a message.
        for (int i = 0; i < 4; i++) text[i] = char.IsAsciiLetter((char)type[i]) ? (char)type[i] : '?';
        return new string(text);
    }
}
