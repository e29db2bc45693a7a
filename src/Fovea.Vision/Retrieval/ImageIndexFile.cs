using System.Buffers.Binary;
using System.Text.Json;
using System.Text.Json.Serialization;
using Fovea.Vision.Serialization;

namespace Fovea.Vision.Retrieval;

/// <summary>How an <see cref="ImageIndex"/> stores its vectors.</summary>
public enum VectorStorage
{
    /// <summary>4 bytes per element: scores exact to float rounding.</summary>
    Float32 = 1,

    /// <summary>
    /// 2 bytes per element (IEEE half): half the file and half the memory traffic of a search. The vectors are unit
    /// length, so each element keeps about 3 significant digits (relative error ≤ 2⁻¹¹) and a cosine score moves by
    /// at most about 10⁻³.
    /// </summary>
    Float16 = 2,
}

/// <summary>What an index says about where its vectors came from (stored as JSON after the vectors).</summary>
/// <param name="Model">The model's identity, e.g. <c>checkpoint:fmnist_cnn</c> or <c>pretrained:resnet18</c>.</param>
/// <param name="Layer">The layer whose output is the vector, e.g. <c>classifier.2</c>.</param>
/// <param name="ModelFile">The checkpoint the vectors were computed with (absolute path), when there is one.</param>
/// <param name="ModelSha256">SHA-256 of that file in hex, so a search can refuse a different model.</param>
/// <param name="Root">The folder the image paths are relative to (absolute path when the index was built).</param>
public sealed record ImageIndexInfo(string Model, string Layer, string? ModelFile = null, string? ModelSha256 = null, string? Root = null);

/// <summary>The JSON section of an index file.</summary>
internal sealed class ImageIndexMetadata
{
    public string Model { get; set; } = "";
    public string Layer { get; set; } = "";
    public string? ModelFile { get; set; }
    public string? ModelSha256 { get; set; }
    public string? Root { get; set; }
    public List<string> Paths { get; set; } = [];
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(ImageIndexMetadata))]
internal sealed partial class RetrievalJsonContext : JsonSerializerContext;

/// <summary>
/// The <c>.fvi</c> layout, version 1, little-endian:
/// <code>
///  0  8  magic "FOVEAIDX"
///  8  4  version (1)
/// 12  4  storage: 1 float32, 2 float16
/// 16  4  dimension D (1 … 65536)
/// 20  4  zero
/// 24  8  count N (0 … 2³¹ − 1)
/// 32  8  metadata offset = 64 + N·D·(element size)
/// 40  8  metadata length in bytes
/// 48 16  zero
/// 64     the vectors, row-major, N × D elements
///        the metadata: UTF-8 JSON { model, layer, model_file, model_sha256, root, paths[N] }
/// </code>
/// A reader checks every declared size against the file's length before it maps or allocates anything.
/// </summary>
internal static class ImageIndexFile
{
    public static ReadOnlySpan<byte> Magic => "FOVEAIDX"u8;
    public const int Version = 1;
    public const int HeaderBytes = 64;
    public const int MaxDimension = 65536;

    /// <summary>The metadata section may be at most this large (paths of 2³¹ images would not fit anyway).</summary>
    public const long MaxMetadataBytes = 1L << 30;

    public static int ElementSize(VectorStorage storage) => storage == VectorStorage.Float16 ? 2 : 4;

    public static void WriteHeader(Stream s, VectorStorage storage, int dimension, long count, long metadataLength)
    {
        Span<byte> h = stackalloc byte[HeaderBytes];
        h.Clear();
        Magic.CopyTo(h);
        BinaryPrimitives.WriteInt32LittleEndian(h[8..], Version);
        BinaryPrimitives.WriteInt32LittleEndian(h[12..], (int)storage);
        BinaryPrimitives.WriteInt32LittleEndian(h[16..], dimension);
        BinaryPrimitives.WriteInt64LittleEndian(h[24..], count);
        BinaryPrimitives.WriteInt64LittleEndian(h[32..], HeaderBytes + count * dimension * ElementSize(storage));
        BinaryPrimitives.WriteInt64LittleEndian(h[40..], metadataLength);
        s.Write(h);
    }

    public static byte[] SerializeMetadata(ImageIndexMetadata meta) =>
        JsonSerializer.SerializeToUtf8Bytes(meta, RetrievalJsonContext.Default.ImageIndexMetadata);

    /// <summary>The checked header of <paramref name="path"/>: every size is compared with the file length.</summary>
    public static (VectorStorage Storage, int Dimension, long Count, long MetadataOffset, long MetadataLength) ReadHeader(Stream s, string path)
    {
        long length = s.Length;
        if (length < HeaderBytes) throw new InvalidDataException($"{path}: {length} bytes is too short for an image index (the header alone is {HeaderBytes})");
        Span<byte> h = stackalloc byte[HeaderBytes];
        s.ReadExactly(h);
        if (!h[..8].SequenceEqual(Magic)) throw new InvalidDataException($"{path}: not a Fovea image index (the file does not start with FOVEAIDX)");
        int version = BinaryPrimitives.ReadInt32LittleEndian(h[8..]);
        if (version != Version) throw new InvalidDataException($"{path}: image index version {version}; this Fovea reads version {Version}");
        int storage = BinaryPrimitives.ReadInt32LittleEndian(h[12..]);
        if (storage is not ((int)VectorStorage.Float32 or (int)VectorStorage.Float16))
            throw new InvalidDataException($"{path}: header field 'storage' is {storage} (1 float32 or 2 float16)");
        int dim = BinaryPrimitives.ReadInt32LittleEndian(h[16..]);
        if (dim < 1 || dim > MaxDimension) throw new InvalidDataException($"{path}: header field 'dimension' is {dim} (1 to {MaxDimension})");
        long count = BinaryPrimitives.ReadInt64LittleEndian(h[24..]);
        long rowBytes = (long)dim * ElementSize((VectorStorage)storage);
        if (count < 0 || count > int.MaxValue || count > (length - HeaderBytes) / rowBytes)
            throw new InvalidDataException($"{path}: header field 'count' is {count}, but the file's {length} bytes hold at most {(length - HeaderBytes) / rowBytes} vectors of {rowBytes} bytes");
        long metaOffset = BinaryPrimitives.ReadInt64LittleEndian(h[32..]), metaLength = BinaryPrimitives.ReadInt64LittleEndian(h[40..]);
        long expectedOffset = HeaderBytes + count * rowBytes;
        if (metaOffset != expectedOffset)
            throw new InvalidDataException($"{path}: header field 'metadata offset' is {metaOffset}, but {count} vectors end at byte {expectedOffset}");
        if (metaLength < 2 || metaLength > MaxMetadataBytes || metaLength != length - metaOffset)
            throw new InvalidDataException($"{path}: header field 'metadata length' is {metaLength}, but the file has {length - metaOffset} bytes after the vectors");
        if (BinaryPrimitives.ReadInt32LittleEndian(h[20..]) != 0 || h[48..].IndexOfAnyExcept((byte)0) >= 0)
            throw new InvalidDataException($"{path}: reserved header bytes are not zero");
        return ((VectorStorage)storage, dim, count, metaOffset, metaLength);
    }

    /// <summary>Parses and checks the metadata section: known keys only, every path relative and free of "..", one per vector.</summary>
    public static ImageIndexMetadata ReadMetadata(byte[] json, long count, string path)
    {
        using var doc = UntrustedJson.Parse(json, path, "the index metadata");
        var meta = new ImageIndexMetadata();
        bool hasPaths = false;
        foreach (var (name, value) in UntrustedJson.Properties(doc.RootElement, path, "the index metadata"))
        {
            switch (name)
            {
                case "model": meta.Model = Text(value, path, name); break;
                case "layer": meta.Layer = Text(value, path, name); break;
                case "model_file": meta.ModelFile = Text(value, path, name); break;
                case "model_sha256": meta.ModelSha256 = Text(value, path, name); break;
                case "root": meta.Root = Text(value, path, name); break;
                case "paths":
                    hasPaths = true;
                    int i = 0;
                    foreach (var item in UntrustedJson.Items(value, path, "metadata 'paths'"))
                    {
                        if (i >= count) throw new InvalidDataException($"{path}: metadata 'paths' has more entries than the {count} vectors");
                        string p = Text(item, path, $"paths[{i}]");
                        if (CheckRelativePath(p) is { } why) throw new InvalidDataException($"{path}: metadata paths[{i}] {UntrustedJson.Quote(p)} {why}");
                        meta.Paths.Add(p);
                        i++;
                    }
                    break;
                default: throw new InvalidDataException($"{path}: the index metadata has an unknown key {UntrustedJson.Quote(name)}");
            }
        }
        if (!hasPaths || meta.Paths.Count != count)
            throw new InvalidDataException($"{path}: metadata 'paths' has {meta.Paths.Count} entries for {count} vectors");
        if (meta.Model.Length == 0 || meta.Layer.Length == 0) throw new InvalidDataException($"{path}: the index metadata does not name its model and layer");
        return meta;
    }

    private static string Text(JsonElement value, string path, string what) =>
        value.ValueKind == JsonValueKind.String ? value.GetString()! : throw new InvalidDataException($"{path}: metadata '{what}': expected a string, found {UntrustedJson.Describe(value)}");

    /// <summary>Why <paramref name="p"/> cannot be an image path of an index (null when it can): not empty, relative, no "..", no control characters.</summary>
    public static string? CheckRelativePath(string p)
    {
        if (p.Length == 0) return "is empty";
        if (p.Any(char.IsControl)) return "contains a control character";
        if (Path.IsPathRooted(p) || p.StartsWith('/') || p.StartsWith('\\')) return "is not relative to the index's root";
        if (p.Split('/', '\\').Any(part => part == "..")) return "leaves the index's root (..)";
        return null;
    }
}
