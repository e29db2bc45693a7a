using Fovea.Onnx.Protobuf;
using Google.Protobuf;

namespace Fovea.Onnx.Import;

/// <summary>
/// Reads ONNX files: the protobuf message with every length checked against the bytes that remain (Google.Protobuf
/// refuses a length past the end before allocating), then every tensor's declared dims × element size checked
/// against the data it carries. Anything malformed is an <see cref="InvalidDataException"/> naming the file.
/// </summary>
internal static class OnnxReader
{
    /// <summary>A protobuf message is at most 2 GiB; ONNX stores larger models with external data, which Fovea refuses.</summary>
    public const long MaxModelBytes = int.MaxValue;

    /// <summary>The most elements one tensor may declare (a Fovea tensor is indexed by int).</summary>
    private const long MaxElements = int.MaxValue;

    public static ModelProto ReadFile(string path)
    {
        var info = new FileInfo(path);
        if (!info.Exists) throw new FileNotFoundException($"{path}: no such ONNX file", path);
        if (info.Length > MaxModelBytes)
            throw new InvalidDataException($"{path}: {info.Length} bytes is more than a protobuf message can hold (2 GiB); models with external data are not supported");
        return Parse(File.ReadAllBytes(path), path);
    }

    public static ModelProto ReadStream(Stream stream, string source)
    {
        if (stream.CanSeek && stream.Length - stream.Position > MaxModelBytes)
            throw new InvalidDataException($"{source}: {stream.Length - stream.Position} bytes is more than a protobuf message can hold (2 GiB)");
        using var buffer = new MemoryStream();
        var chunk = new byte[81920];
        int read;
        while ((read = stream.Read(chunk, 0, chunk.Length)) > 0)
        {
            if (buffer.Length + read > MaxModelBytes)
                throw new InvalidDataException($"{source}: more than 2 GiB of data, more than a protobuf message can hold");
            buffer.Write(chunk, 0, read);
        }
        return Parse(buffer.ToArray(), source);
    }

    public static ModelProto Parse(byte[] bytes, string source)
    {
        if (bytes.Length == 0) throw new InvalidDataException($"{source}: empty file, not an ONNX model");
        ModelProto model;
        try
        {
            model = ModelProto.Parser.ParseFrom(bytes);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new InvalidDataException($"{source}: not a valid ONNX model (protobuf: {e.Message})", e);
        }
        if (model.Graph is null)
            throw new InvalidDataException($"{source}: not an ONNX model: it has no graph");
        return model;
    }

    /// <summary>The tensor's dims as ints, checked non-negative with a product that fits a Fovea tensor.</summary>
    public static int[] Dims(TensorProto t, string source)
    {
        var dims = new int[t.Dims.Count];
        long count = 1;
        for (int i = 0; i < dims.Length; i++)
        {
            long d = t.Dims[i];
            if (d < 0 || d > MaxElements)
                throw new InvalidDataException($"{source}: tensor '{t.Name}' has dimension {i} = {d}");
            count *= d;
            if (count > MaxElements)
                throw new InvalidDataException($"{source}: tensor '{t.Name}' declares {ShapeText(t.Dims)} = more than {MaxElements} elements");
            dims[i] = (int)d;
        }
        return dims;
    }

    /// <summary>The element type's name as ONNX spells it, for messages.</summary>
    public static string TypeName(int dataType) =>
        Enum.IsDefined((TensorProto.Types.DataType)dataType) ? ((TensorProto.Types.DataType)dataType).ToString().ToUpperInvariant() : $"type {dataType}";

    /// <summary>True for the element types Fovea reads as floating values.</summary>
    public static bool IsFloating(int dataType) =>
        dataType is (int)TensorProto.Types.DataType.Float or (int)TensorProto.Types.DataType.Double;

    /// <summary>True for the element types Fovea reads as integers (shapes, axes, indices).</summary>
    public static bool IsInteger(int dataType) =>
        dataType is (int)TensorProto.Types.DataType.Int64 or (int)TensorProto.Types.DataType.Int32 or (int)TensorProto.Types.DataType.Int8
            or (int)TensorProto.Types.DataType.Uint8 or (int)TensorProto.Types.DataType.Int16 or (int)TensorProto.Types.DataType.Uint16
            or (int)TensorProto.Types.DataType.Bool;

    /// <summary>The values of a FLOAT or DOUBLE tensor as doubles, from raw_data or the typed field.</summary>
    public static double[] ReadReals(TensorProto t, string source)
    {
        RefuseExternal(t, source);
        int count = Count(Dims(t, source));
        var values = new double[count];
        switch ((TensorProto.Types.DataType)t.DataType)
        {
            case TensorProto.Types.DataType.Float:
                if (!t.RawData.IsEmpty)
                {
                    var raw = CheckedRaw(t, count, sizeof(float), source);
                    for (int i = 0; i < count; i++) values[i] = BitConverter.ToSingle(raw.Slice(i * 4, 4));
                }
                else
                {
                    CheckCount(t, t.FloatData.Count, count, "float_data", source);
                    for (int i = 0; i < count; i++) values[i] = t.FloatData[i];
                }
                break;
            case TensorProto.Types.DataType.Double:
                if (!t.RawData.IsEmpty)
                {
                    var raw = CheckedRaw(t, count, sizeof(double), source);
                    for (int i = 0; i < count; i++) values[i] = BitConverter.ToDouble(raw.Slice(i * 8, 8));
                }
                else
                {
                    CheckCount(t, t.DoubleData.Count, count, "double_data", source);
                    for (int i = 0; i < count; i++) values[i] = t.DoubleData[i];
                }
                break;
            default:
                throw new OnnxImportException($"{source}: tensor '{t.Name}' has element type {TypeName(t.DataType)}; Fovea reads FLOAT and DOUBLE tensors as values and integer tensors as shapes");
        }
        return values;
    }

    /// <summary>The values of an integer (or bool) tensor as longs, from raw_data or the typed field.</summary>
    public static long[] ReadIntegers(TensorProto t, string source)
    {
        RefuseExternal(t, source);
        int count = Count(Dims(t, source));
        var values = new long[count];
        var type = (TensorProto.Types.DataType)t.DataType;
        int size = type switch
        {
            TensorProto.Types.DataType.Int64 => 8,
            TensorProto.Types.DataType.Int32 => 4,
            TensorProto.Types.DataType.Int16 or TensorProto.Types.DataType.Uint16 => 2,
            TensorProto.Types.DataType.Int8 or TensorProto.Types.DataType.Uint8 or TensorProto.Types.DataType.Bool => 1,
            _ => throw new OnnxImportException($"{source}: tensor '{t.Name}' has element type {TypeName(t.DataType)} where integers are expected"),
        };
        if (!t.RawData.IsEmpty)
        {
            var raw = CheckedRaw(t, count, size, source);
            for (int i = 0; i < count; i++)
            {
                var b = raw.Slice(i * size, size);
                values[i] = type switch
                {
                    TensorProto.Types.DataType.Int64 => BitConverter.ToInt64(b),
                    TensorProto.Types.DataType.Int32 => BitConverter.ToInt32(b),
                    TensorProto.Types.DataType.Int16 => BitConverter.ToInt16(b),
                    TensorProto.Types.DataType.Uint16 => BitConverter.ToUInt16(b),
                    TensorProto.Types.DataType.Int8 => (sbyte)b[0],
                    _ => b[0],
                };
            }
        }
        else if (type == TensorProto.Types.DataType.Int64)
        {
            CheckCount(t, t.Int64Data.Count, count, "int64_data", source);
            for (int i = 0; i < count; i++) values[i] = t.Int64Data[i];
        }
        else
        {
            // ONNX stores every integer type narrower than 64 bits (and bool) in int32_data.
            CheckCount(t, t.Int32Data.Count, count, "int32_data", source);
            for (int i = 0; i < count; i++) values[i] = t.Int32Data[i];
        }
        return values;
    }

    public static int Count(int[] dims)
    {
        long n = 1;
        foreach (int d in dims) n *= d;
        return (int)n;
    }

    public static string ShapeText(IEnumerable<long> dims) => "[" + string.Join(", ", dims) + "]";

    private static void RefuseExternal(TensorProto t, string source)
    {
        if (t.DataLocation == TensorProto.Types.DataLocation.External || t.ExternalData.Count > 0)
            throw new OnnxImportException($"{source}: tensor '{t.Name}' keeps its data in an external file; Fovea reads only models whose weights are inside the .onnx file (re-save the model without external data)");
        if (t.Segment is not null)
            throw new OnnxImportException($"{source}: tensor '{t.Name}' is split into segments, which Fovea does not read");
    }

    private static ReadOnlySpan<byte> CheckedRaw(TensorProto t, int count, int elementSize, string source)
    {
        long expected = (long)count * elementSize;
        if (t.RawData.Length != expected)
            throw new InvalidDataException($"{source}: tensor '{t.Name}' declares {ShapeText(t.Dims)} of {TypeName(t.DataType)} ({expected} bytes) but raw_data holds {t.RawData.Length} bytes");
        return t.RawData.Span;
    }

    private static void CheckCount(TensorProto t, int actual, int expected, string field, string source)
    {
        if (actual != expected)
            throw new InvalidDataException($"{source}: tensor '{t.Name}' declares {ShapeText(t.Dims)} ({expected} values) but {field} holds {actual}");
    }
}
