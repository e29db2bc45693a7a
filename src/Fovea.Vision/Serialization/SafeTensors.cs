using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Fovea.NN;
using static Fovea.Vision.Serialization.UntrustedJson;

namespace Fovea.Vision.Serialization;

/// <summary>
/// Reads and writes the safetensors layout: an 8-byte little-endian header length, a JSON header mapping each
/// name to its dtype, shape and byte range (plus an optional <c>__metadata__</c> map of strings), then the raw
/// little-endian tensor bytes. Other tools (PyTorch, NumPy, Rust) read these files directly. Writing goes to a
/// temporary file that is then renamed, so a reader never sees half a file; reading validates the header,
/// every dtype, shape and byte range, and names the file in each error.
/// </summary>
public static class SafeTensors
{
    private const long MaxHeaderBytes = 100_000_000;

    private static string Code(DType d) => d switch
    {
        DType.Float32 => "F32",
        DType.Float64 => "F64",
        DType.Int32 => "I32",
        DType.Bool => "BOOL",
        _ => throw new ArgumentOutOfRangeException(nameof(d)),
    };

    private static DType? FromCode(string code) => code switch
    {
        "F32" => DType.Float32,
        "F64" => DType.Float64,
        "I32" => DType.Int32,
        "BOOL" => DType.Bool,
        _ => null,
    };

    /// <summary>Writes <paramref name="tensors"/> (in order) and <paramref name="metadata"/> to <paramref name="path"/> atomically.</summary>
    public static void Save(string path, IEnumerable<KeyValuePair<string, Tensor>> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var header = new JsonObject();
        if (metadata is { Count: > 0 })
        {
            var meta = new JsonObject();
            foreach (var (k, v) in metadata) meta[k] = v;
            header["__metadata__"] = meta;
        }
        var blobs = new List<byte[]>();
        long offset = 0;
        foreach (var (name, tensor) in tensors)
        {
            if (name == "__metadata__") throw new ArgumentException("safetensors: '__metadata__' is reserved and cannot name a tensor");
            var t = tensor.Detach().Contiguous();
            byte[] bytes = t.DType switch
            {
                DType.Float32 => MemoryMarshal.AsBytes(t.AsSpan<float>()).ToArray(),
                DType.Float64 => MemoryMarshal.AsBytes(t.AsSpan<double>()).ToArray(),
                DType.Int32 => MemoryMarshal.AsBytes(t.AsSpan<int>()).ToArray(),
                _ => MemoryMarshal.AsBytes(t.AsSpan<bool>()).ToArray(),
            };
            if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("safetensors: big-endian hosts are not supported");
            var shape = new JsonArray();
            foreach (int d in t.Shape) shape.Add((JsonNode)d); // the JsonNode overload: the generic Add<T> is not trim-safe
            header[name] = new JsonObject
            {
                ["dtype"] = Code(t.DType),
                ["shape"] = shape,
                ["data_offsets"] = new JsonArray(offset, offset + bytes.Length),
            };
            blobs.Add(bytes);
            offset += bytes.Length;
        }
        byte[] json = Encoding.UTF8.GetBytes(header.ToJsonString());
        // Pad the header with spaces to a multiple of 8 bytes so the data that follows is aligned.
        int padded = (json.Length + 7) / 8 * 8;
        Fovea.IO.AtomicFile.Write(path, fs =>
        {
            Span<byte> len = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(len, (ulong)padded);
            fs.Write(len);
            fs.Write(json);
            for (int i = json.Length; i < padded; i++) fs.WriteByte((byte)' ');
            foreach (var b in blobs) fs.Write(b);
        });
    }

    /// <summary>
    /// Reads a file written by <see cref="Save"/> (or any safetensors file of F32/F64/I32/BOOL tensors). Nothing in
    /// the file is trusted: the header length is checked against the file, every entry's dtype, shape and byte range
    /// are validated (sizes with overflow-safe arithmetic) and the ranges must tile the data exactly, as the format
    /// requires, before any tensor is allocated. Each tensor's bytes are then read straight into its storage, so
    /// memory peaks at about the tensors' size. Every failure is an <see cref="InvalidDataException"/> naming the
    /// file, the entry and the field.
    /// </summary>
    public static (StateDict Tensors, Dictionary<string, string> Metadata) Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: file not found", path);
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("safetensors: big-endian hosts are not supported");
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1);
        long fileLength = file.Length;
        Span<byte> lengthBytes = stackalloc byte[8];
        int got = file.ReadAtLeast(lengthBytes, lengthBytes.Length, throwOnEndOfStream: false);
        if (got < lengthBytes.Length) throw new InvalidDataException($"{path}: truncated at byte {got}: the 8-byte header length is incomplete");
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(lengthBytes);
        if (headerLength > MaxHeaderBytes || (long)headerLength > fileLength - 8)
            throw new InvalidDataException($"{path}: header length {headerLength} exceeds the file ({fileLength} bytes): not a safetensors file, or truncated");
        var headerBytes = new byte[headerLength];
        ReadAt(file, 8, headerBytes, path, "the header");
        long dataStart = 8 + (long)headerLength;
        var (entries, metadata) = ParseHeader(headerBytes, fileLength - dataStart, path);
        var result = new StateDict();
        foreach (var entry in entries)
        {
            var tensor = Tensor.Zeros(entry.Shape, entry.DType);
            Span<byte> bytes = entry.DType switch
            {
                DType.Float32 => MemoryMarshal.AsBytes(tensor.AsSpan<float>()),
                DType.Float64 => MemoryMarshal.AsBytes(tensor.AsSpan<double>()),
                DType.Int32 => MemoryMarshal.AsBytes(tensor.AsSpan<int>()),
                _ => MemoryMarshal.AsBytes(tensor.AsSpan<bool>()),
            };
            ReadAt(file, dataStart + entry.Begin, bytes, path, $"entry {Quote(entry.Name)}");
            // A bool must be stored as 0 or 1; any other byte would be a bool that is neither true nor false.
            if (entry.DType == DType.Bool)
                foreach (ref byte b in bytes) b = b == 0 ? (byte)0 : (byte)1;
            result.Add(entry.Name, tensor);
        }
        return (result, metadata);
    }

    private sealed record Entry(string Name, DType DType, int[] Shape, long Begin, long End);

    /// <summary>Reads exactly <paramref name="buffer"/>'s length from <paramref name="offset"/>; a short file is reported as truncated.</summary>
    private static void ReadAt(FileStream file, long offset, Span<byte> buffer, string path, string what)
    {
        file.Position = offset;
        int got = file.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);
        if (got < buffer.Length)
            throw new InvalidDataException($"{path}: truncated at byte {offset + got}: {what} needs bytes [{offset}, {offset + buffer.Length})");
    }

    /// <summary>
    /// Validates the JSON header against <paramref name="dataLength"/> bytes of data; returns the entries in file
    /// order and the metadata.
    /// </summary>
    private static (List<Entry> Entries, Dictionary<string, string> Metadata) ParseHeader(byte[] headerBytes, long dataLength, string path)
    {
        using (var doc = UntrustedJson.Parse(headerBytes, path, "the header"))
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"{path}: the header is not a JSON object (found {Describe(doc.RootElement)})");
            var metadata = new Dictionary<string, string>();
            var entries = new List<Entry>();
            foreach (var (name, node) in Properties(doc.RootElement, path, "the header"))
            {
                if (name == "__metadata__")
                {
                    foreach (var (key, value) in Properties(node, path, "__metadata__"))
                        metadata[key] = value.ValueKind == JsonValueKind.String ? value.GetString()! : throw new InvalidDataException($"{path}: __metadata__.{Quote(key)} is not a string");
                    continue;
                }
                entries.Add(ParseEntry(name, node, dataLength, path));
            }
            // The format requires the byte ranges to tile the data with no gap, overlap or tail.
            entries.Sort((a, b) => a.Begin != b.Begin ? a.Begin.CompareTo(b.Begin) : a.End.CompareTo(b.End));
            long covered = 0;
            foreach (var e in entries)
            {
                if (e.Begin != covered)
                    throw new InvalidDataException($"{path}: entry {Quote(e.Name)}, data_offsets [{e.Begin}, {e.End}): " +
                        (e.Begin < covered ? $"overlaps the tensor data before byte {covered}" : $"leaves bytes [{covered}, {e.Begin}) of the data unused"));
                covered = e.End;
            }
            if (covered != dataLength)
                throw new InvalidDataException($"{path}: {dataLength - covered} bytes of trailing data after the last tensor (data bytes [{covered}, {dataLength}) belong to no entry)");
            return (entries, metadata);
        }
    }

    /// <summary>One tensor entry: its dtype, shape and byte range, all checked against the data's length.</summary>
    private static Entry ParseEntry(string name, JsonElement node, long dataLength, string path)
    {
        string where = $"{path}: entry {Quote(name)}";
        if (node.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"{where} is not an object (found {Describe(node)})");
        JsonElement? dtypeNode = null, shapeNode = null, offsetsNode = null;
        foreach (var (field, value) in Properties(node, path, $"entry {Quote(name)}"))
        {
            if (field == "dtype") dtypeNode = value;
            else if (field == "shape") shapeNode = value;
            else if (field == "data_offsets") offsetsNode = value;
        }
        if (dtypeNode is not { } dtypeValue) throw new InvalidDataException($"{where} has no dtype");
        if (dtypeValue.ValueKind != JsonValueKind.String) throw new InvalidDataException($"{where}, dtype: expected a string such as \"F32\", found {Describe(dtypeValue)}");
        string code = dtypeValue.GetString()!;
        var dtype = FromCode(code) ?? throw new InvalidDataException($"{where} has unsupported dtype {Quote(code, quotes: false)} (Fovea reads F32, F64, I32, BOOL)");

        if (shapeNode is not { ValueKind: JsonValueKind.Array } shapeArray)
            throw new InvalidDataException($"{where} has no shape (expected an array of sizes)");
        var shape = new int[shapeArray.GetArrayLength()];
        int i = 0;
        foreach (var d in shapeArray.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt32(out shape[i]))
                throw new InvalidDataException($"{where}, shape[{i}]: expected a whole number below 2^31, found {Describe(d)}");
            if (shape[i] < 0) throw new InvalidDataException($"{where}, shape[{i}]: negative dimension {shape[i]}");
            i++;
        }

        if (offsetsNode is not { ValueKind: JsonValueKind.Array } offsets || offsets.GetArrayLength() != 2)
            throw new InvalidDataException($"{where} needs data_offsets [begin, end]");
        var range = new long[2];
        for (int k = 0; k < 2; k++)
            if (offsets[k].ValueKind != JsonValueKind.Number || !offsets[k].TryGetInt64(out range[k]) || range[k] < 0)
                throw new InvalidDataException($"{where}, data_offsets[{k}]: expected a byte offset (a whole number from 0), found {Describe(offsets[k])}");
        long begin = range[0], end = range[1];
        if (end < begin) throw new InvalidDataException($"{where}, data_offsets: the range [{begin}, {end}) ends before it begins");
        if (end > dataLength)
            throw new InvalidDataException($"{where}, data_offsets: truncated: the range [{begin}, {end}) runs past the {dataLength} bytes of tensor data");

        long expected = ByteCount(shape, dtype.SizeOf(), dataLength);
        if (expected < 0 || end - begin != expected)
            throw new InvalidDataException($"{where}, data_offsets: spans bytes [{begin}, {end}) but {code} {ShapeChecks.Format(shape)} needs " +
                (expected < 0 ? $"more than the {dataLength} bytes of tensor data" : $"{expected} bytes"));
        if (expected / dtype.SizeOf() > Array.MaxLength)
            throw new InvalidDataException($"{where}, shape: {ShapeChecks.Format(shape)} has more elements than one tensor can hold ({Array.MaxLength})");
        return new Entry(name, dtype, shape, begin, end);
    }

    /// <summary>
    /// The bytes of a <paramref name="shape"/> of <paramref name="elementSize"/>-byte elements, or -1 when that is more
    /// than <paramref name="limit"/>; never overflows, whatever the dimensions.
    /// </summary>
    private static long ByteCount(int[] shape, int elementSize, long limit)
    {
        if (shape.Contains(0)) return 0;
        long bytes = elementSize;
        foreach (int d in shape)
        {
            if (bytes > limit / d) return -1;
            bytes *= d;
        }
        return bytes > limit ? -1 : bytes;
    }
}
