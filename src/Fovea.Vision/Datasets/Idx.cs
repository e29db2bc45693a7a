using System.Buffers.Binary;
using System.IO.Compression;

namespace Fovea.Vision.Datasets;

/// <summary>
/// Reader for the IDX format of MNIST and Fashion-MNIST (raw or gzip): a big-endian magic number
/// (0x0000 08 NN: unsigned bytes, NN dims), NN big-endian dimension sizes, then the data. Every header field
/// and the data length are validated; errors name the file and what is wrong.
/// </summary>
public static class Idx
{
    /// <summary>Reads an IDX file of unsigned bytes; returns the dims and the raw bytes.</summary>
    public static (int[] Shape, byte[] Data) Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: file not found", path);
        byte[] bytes;
        try
        {
            using var file = File.OpenRead(path);
            using var input = IsGzip(file) ? new GZipStream(file, CompressionMode.Decompress) : (Stream)file;
            using var ms = new MemoryStream();
            input.CopyTo(ms);
            bytes = ms.ToArray();
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"{path}: corrupt gzip data ({e.Message})", e);
        }
        return Parse(bytes, path);
    }

    private static bool IsGzip(FileStream file)
    {
        Span<byte> head = stackalloc byte[2];
        int n = file.Read(head);
        file.Position = 0;
        return n == 2 && head[0] == 0x1F && head[1] == 0x8B;
    }

    /// <summary>Parses IDX bytes; <paramref name="name"/> is used in messages.</summary>
    public static (int[] Shape, byte[] Data) Parse(byte[] bytes, string name)
    {
        if (bytes.Length < 4) throw new InvalidDataException($"{name}: truncated at byte {bytes.Length}: the 4-byte IDX magic number is incomplete");
        uint magic = BinaryPrimitives.ReadUInt32BigEndian(bytes);
        if ((magic & 0xFFFF0000) != 0 || ((magic >> 8) & 0xFF) != 0x08)
            throw new InvalidDataException($"{name}: bad magic 0x{magic:X8}: not an IDX file of unsigned bytes (expected 0x000008NN)");
        int rank = (int)(magic & 0xFF);
        if (rank < 1 || rank > 4) throw new InvalidDataException($"{name}: bad magic 0x{magic:X8}: {rank} dimensions is not a valid IDX rank");
        int header = 4 + 4 * rank;
        if (bytes.Length < header) throw new InvalidDataException($"{name}: truncated at byte {bytes.Length}: the header needs {header} bytes");
        var shape = new int[rank];
        long count = 1;
        for (int i = 0; i < rank; i++)
        {
            uint d = BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(4 + 4 * i));
            if (d > int.MaxValue) throw new InvalidDataException($"{name}: dimension {i} has an impossible size {d}");
            shape[i] = (int)d;
            count *= d;
        }
        if (bytes.Length - header < count)
            throw new InvalidDataException($"{name}: truncated at byte {bytes.Length}: shape {ShapeChecks.Format(shape)} needs {header + count} bytes");
        if (bytes.Length - header > count)
            throw new InvalidDataException($"{name}: {bytes.Length - header - count} bytes of trailing data after the {ShapeChecks.Format(shape)} array");
        return (shape, bytes.AsSpan(header, (int)count).ToArray());
    }

    /// <summary>Images as float32 [N, 1, H, W] scaled to [0, 1].</summary>
    public static Tensor ReadImages(string path)
    {
        var (shape, data) = Read(path);
        if (shape.Length != 3) throw new InvalidDataException($"{path}: expected a 3-d image array [N, H, W], got {ShapeChecks.Format(shape)}");
        var values = new float[data.Length];
        for (int i = 0; i < data.Length; i++) values[i] = data[i] / 255f;
        return Tensor.FromArray(values, shape[0], 1, shape[1], shape[2]);
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
