using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Fovea.NN;

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
            foreach (int d in t.Shape) shape.Add(d);
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

    /// <summary>Reads a file written by <see cref="Save"/> (or any safetensors file of F32/F64/I32/BOOL tensors).</summary>
    public static (StateDict Tensors, Dictionary<string, string> Metadata) Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: file not found", path);
        byte[] bytes = File.ReadAllBytes(path);
        if (bytes.Length < 8) throw new InvalidDataException($"{path}: truncated at byte {bytes.Length}: the 8-byte header length is incomplete");
        ulong headerLen = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        if (headerLen > MaxHeaderBytes || (long)headerLen > bytes.Length - 8)
            throw new InvalidDataException($"{path}: header length {headerLen} exceeds the file ({bytes.Length} bytes): not a safetensors file, or truncated");
        JsonObject header;
        try
        {
            header = JsonNode.Parse(Encoding.UTF8.GetString(bytes, 8, (int)headerLen)) as JsonObject
                ?? throw new InvalidDataException($"{path}: the header is not a JSON object");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: the header is not valid JSON ({e.Message})", e);
        }
        long dataStart = 8 + (long)headerLen;
        long dataLen = bytes.Length - dataStart;
        var metadata = new Dictionary<string, string>();
        var result = new StateDict();
        var entries = new List<(string Name, DType DType, int[] Shape, long Begin, long End)>();
        foreach (var (name, node) in header)
        {
            if (name == "__metadata__")
            {
                if (node is not JsonObject meta) throw new InvalidDataException($"{path}: __metadata__ must be an object of strings");
                foreach (var (k, v) in meta)
                    metadata[k] = v is JsonValue jv && jv.TryGetValue(out string? s) ? s : throw new InvalidDataException($"{path}: __metadata__.{k} is not a string");
                continue;
            }
            if (node is not JsonObject o) throw new InvalidDataException($"{path}: entry '{name}' is not an object");
            string code = o["dtype"]?.GetValue<string>() ?? throw new InvalidDataException($"{path}: entry '{name}' has no dtype");
            var dtype = FromCode(code) ?? throw new InvalidDataException($"{path}: entry '{name}' has unsupported dtype {code} (Fovea reads F32, F64, I32, BOOL)");
            var shape = (o["shape"] as JsonArray ?? throw new InvalidDataException($"{path}: entry '{name}' has no shape"))
                .Select(d => d!.GetValue<int>()).ToArray();
            if (shape.Any(d => d < 0)) throw new InvalidDataException($"{path}: entry '{name}' has a negative dimension in {ShapeChecks.Format(shape)}");
            var offsets = o["data_offsets"] as JsonArray;
            if (offsets is null || offsets.Count != 2) throw new InvalidDataException($"{path}: entry '{name}' needs data_offsets [begin, end]");
            long begin = offsets[0]!.GetValue<long>(), end = offsets[1]!.GetValue<long>();
            long expected = shape.Aggregate(1L, (a, d) => a * d) * dtype.SizeOf();
            if (begin < 0 || end < begin || end - begin != expected)
                throw new InvalidDataException($"{path}: entry '{name}' spans bytes [{begin}, {end}) but {code} {ShapeChecks.Format(shape)} needs {expected} bytes");
            if (end > dataLen)
                throw new InvalidDataException($"{path}: truncated at byte {bytes.Length}: entry '{name}' ends at byte {dataStart + end}");
            entries.Add((name, dtype, shape, begin, end));
        }
        foreach (var (name, dtype, shape, begin, end) in entries.OrderBy(e => e.Begin))
        {
            var span = bytes.AsSpan((int)(dataStart + begin), (int)(end - begin));
            Tensor t = dtype switch
            {
                DType.Float32 => Tensor.FromArray(MemoryMarshal.Cast<byte, float>(span).ToArray(), shape),
                DType.Float64 => Tensor.FromArray(MemoryMarshal.Cast<byte, double>(span).ToArray(), shape),
                DType.Int32 => Tensor.FromArray(MemoryMarshal.Cast<byte, int>(span).ToArray(), shape),
                _ => Tensor.FromArray(span.ToArray().Select(b => b != 0).ToArray(), shape),
            };
            result.Add(name, t);
        }
        return (result, metadata);
    }
}
