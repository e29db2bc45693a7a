using System.Buffers.Binary;
using System.IO.Compression;

namespace Fovea.Vision.Datasets;

/// <summary>
/// Reader for the IDX format of MNIST and Fashion-MNIST (raw or gzip): a big-endian magic number
/// (0x0000 08 NN: unsigned bytes, NN dims), NN big-endian dimension sizes, then the data. Every header field
/// and the data length are validated before the data is allocated: the declared size must fit one array, a raw
/// file must hold exactly the header and the data, and a gzip file must be large enough to decompress to the
/// declared size (deflate expands at most <see cref="MaxDeflateRatio"/> times). The data is read into an array
/// of exactly the declared size and nothing past it is decompressed, so a gzip bomb costs no more memory than
/// its header declares. Errors are <see cref="InvalidDataException"/>s naming the file, the field or the byte offset.
/// </summary>
public static class Idx
{
    /// <summary>The most a deflate stream can expand: 258-byte matches coded in 2 bits each, about 1032:1.</summary>
    public const int MaxDeflateRatio = 1032;

    /// <summary>Reads an IDX file of unsigned bytes; returns the dims and the raw bytes.</summary>
    public static (int[] Shape, byte[] Data) Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: file not found", path);
        using var file = File.OpenRead(path);
        bool gzip = IsGzip(file);
        using var input = gzip ? new GZipStream(file, CompressionMode.Decompress) : (Stream)file;
        string where = gzip ? "decompressed byte" : "byte";
        Span<byte> magic = stackalloc byte[4];
        long position = ReadFully(input, magic, path, 0);
        if (position < magic.Length)
            throw new InvalidDataException($"{path}: truncated at {where} {position}: the 4-byte IDX magic number is incomplete");
        int headerLength = HeaderLength(magic, path);
        var header = new byte[headerLength];
        magic.CopyTo(header);
        position += ReadFully(input, header.AsSpan(magic.Length), path, position);
        if (position < headerLength)
            throw new InvalidDataException($"{path}: truncated at {where} {position}: the header needs {headerLength} bytes");
        var (shape, count) = Dimensions(header, path);
        long total = headerLength + count;
        if (gzip && (total + MaxDeflateRatio - 1) / MaxDeflateRatio > file.Length)
            throw new InvalidDataException($"{path}: shape {ShapeChecks.Format(shape)} declares {total} bytes, but {file.Length} bytes of gzip data expand to at most {file.Length * MaxDeflateRatio}");
        if (!gzip && file.Length < total)
            throw new InvalidDataException($"{path}: truncated at byte {file.Length}: shape {ShapeChecks.Format(shape)} needs {total} bytes");
        if (!gzip && file.Length > total)
            throw new InvalidDataException($"{path}: {file.Length - total} bytes of trailing data after the {ShapeChecks.Format(shape)} array");
        var data = new byte[count];
        position += ReadFully(input, data, path, position);
        if (position < total)
            throw new InvalidDataException($"{path}: truncated at {where} {position}: shape {ShapeChecks.Format(shape)} needs {total} bytes");
        // One more byte proves trailing data without decompressing the rest of a bomb.
        Span<byte> extra = stackalloc byte[1];
        if (ReadFully(input, extra, path, position) > 0)
            throw new InvalidDataException($"{path}: trailing data after the {ShapeChecks.Format(shape)} array (from {where} {total})");
        return (shape, data);
    }

    private static bool IsGzip(FileStream file)
    {
        Span<byte> head = stackalloc byte[2];
        int n = file.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        file.Position = 0;
        return n == 2 && head[0] == 0x1F && head[1] == 0x8B;
    }

    /// <summary>
    /// Reads until <paramref name="buffer"/> is full or the stream ends and returns the bytes read; a corrupt gzip
    /// stream is reported with the file and the decompressed offset it was read from.
    /// </summary>
    private static int ReadFully(Stream input, Span<byte> buffer, string path, long position)
    {
        try
        {
            return input.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"{path}: corrupt gzip data after decompressed byte {position} ({e.Message})", e);
        }
    }

    /// <summary>Parses IDX bytes; <paramref name="name"/> is used in messages.</summary>
    public static (int[] Shape, byte[] Data) Parse(byte[] bytes, string name)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        if (bytes.Length < 4) throw new InvalidDataException($"{name}: truncated at byte {bytes.Length}: the 4-byte IDX magic number is incomplete");
        int header = HeaderLength(bytes, name);
        if (bytes.Length < header) throw new InvalidDataException($"{name}: truncated at byte {bytes.Length}: the header needs {header} bytes");
        var (shape, count) = Dimensions(bytes.AsSpan(0, header), name);
        if (bytes.Length - header < count)
            throw new InvalidDataException($"{name}: truncated at byte {bytes.Length}: shape {ShapeChecks.Format(shape)} needs {header + count} bytes");
        if (bytes.Length - header > count)
            throw new InvalidDataException($"{name}: {bytes.Length - header - count} bytes of trailing data after the {ShapeChecks.Format(shape)} array");
        return (shape, bytes.AsSpan(header, count).ToArray());
    }

    /// <summary>Checks the magic number (the first 4 bytes) and returns the header's length in bytes.</summary>
    private static int HeaderLength(ReadOnlySpan<byte> magicBytes, string name)
    {
        uint magic = BinaryPrimitives.ReadUInt32BigEndian(magicBytes);
        if ((magic & 0xFFFF0000) != 0 || ((magic >> 8) & 0xFF) != 0x08)
            throw new InvalidDataException($"{name}: bad magic 0x{magic:X8}: not an IDX file of unsigned bytes (expected 0x000008NN)");
        int rank = (int)(magic & 0xFF);
        if (rank < 1 || rank > 4) throw new InvalidDataException($"{name}: bad magic 0x{magic:X8}: {rank} dimensions is not a valid IDX rank");
        return 4 + 4 * rank;
    }

    /// <summary>The dimensions of a complete header and their product, refused when it cannot be one byte array.</summary>
    private static (int[] Shape, int Count) Dimensions(ReadOnlySpan<byte> header, string name)
    {
        var shape = new int[(header.Length - 4) / 4];
        for (int i = 0; i < shape.Length; i++)
        {
            uint d = BinaryPrimitives.ReadUInt32BigEndian(header[(4 + 4 * i)..]);
            if (d > int.MaxValue) throw new InvalidDataException($"{name}: dimension {i} has an impossible size {d}");
            shape[i] = (int)d;
        }
        if (shape.Contains(0)) return (shape, 0);
        long count = 1;
        foreach (int d in shape)
        {
            // Both factors are below 2^31 here, so the product cannot overflow a long before the check.
            count *= d;
            if (count > Array.MaxLength)
                throw new InvalidDataException($"{name}: shape {ShapeChecks.Format(shape)} declares more than {Array.MaxLength} bytes, the most one array holds");
        }
        return (shape, (int)count);
    }

    /// <summary>Images as float32 [N, 1, H, W] scaled to [0, 1].</summary>
    public static Tensor ReadImages(string path)
    {
        var (shape, data) = Read(path);
        if (shape.Length != 3) throw new InvalidDataException($"{path}: expected a 3-d image array [N, H, W], got {ShapeChecks.Format(shape)}");
        var images = Tensor.Zeros(shape[0], 1, shape[1], shape[2]);
        var values = images.AsSpan<float>();
        for (int i = 0; i < data.Length; i++) values[i] = data[i] / 255f;
        return images;
    }

    /// <summary>Labels as int32 [N], each checked to be below <paramref name="classes"/>.</summary>
    public static Tensor ReadLabels(string path, int classes = 10)
    {
        var (shape, data) = Read(path);
        if (shape.Length != 1) throw new InvalidDataException($"{path}: expected a 1-d label array, got {ShapeChecks.Format(shape)}");
        var labels = new int[data.Length];
        for (int i = 0; i < data.Length; i++)
        {
            if (data[i] >= classes) throw new InvalidDataException($"{path}: label {data[i]} at index {i} is not below {classes}");
            labels[i] = data[i];
        }
        return Tensor.FromArray(labels, labels.Length);
    }
}
