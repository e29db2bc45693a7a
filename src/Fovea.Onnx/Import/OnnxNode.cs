using System.Globalization;
using Fovea.Onnx.Protobuf;

namespace Fovea.Onnx.Import;

/// <summary>
/// One graph node while it is compiled: its attributes read by name and type (each read marks the attribute as
/// understood, so any attribute left over is refused by name), its inputs, and errors that name the file, the node,
/// the operator and the opset.
/// </summary>
internal sealed class OnnxNode
{
    private readonly Dictionary<string, AttributeProto> _attributes = [];
    private readonly HashSet<string> _read = [];

    public OnnxNode(NodeProto proto, int opset, string source)
    {
        Proto = proto;
        Opset = opset;
        Source = source;
        foreach (var a in proto.Attribute)
            if (!_attributes.TryAdd(a.Name, a))
                throw new InvalidDataException($"{Where}: attribute '{a.Name}' appears twice");
    }

    public NodeProto Proto { get; }

    public int Opset { get; }

    public string Source { get; }

    public string OpType => Proto.OpType;

    /// <summary>"file: node 'name' (Conv, opset 13)" for messages.</summary>
    public string Where => $"{Source}: node '{(Proto.Name.Length > 0 ? Proto.Name : string.Join(",", Proto.Output))}' ({Proto.OpType}, opset {Opset})";

    /// <summary>Number of inputs, counting empty (omitted optional) names.</summary>
    public int InputCount => Proto.Input.Count;

    /// <summary>True when input <paramref name="i"/> is given (present and not the empty name).</summary>
    public bool HasInput(int i) => i < Proto.Input.Count && Proto.Input[i].Length > 0;

    /// <summary>True when output <paramref name="i"/> is requested.</summary>
    public bool HasOutput(int i) => i < Proto.Output.Count && Proto.Output[i].Length > 0;

    public bool Has(string name) => _attributes.ContainsKey(name);

    public long Int(string name, long fallback) => Get(name, AttributeProto.Types.AttributeType.Int) is { } a ? a.I : fallback;

    /// <summary>An integer attribute that must lie in [min, max] (refused by name otherwise).</summary>
    public int Int(string name, long fallback, long min, long max)
    {
        long v = Int(name, fallback);
        if (v < min || v > max) throw Unsupported(name, v, $"expected a value in [{min}, {max}]");
        return (int)v;
    }

    /// <summary>Checks that every value of an ints attribute lies in [min, max] and returns them as ints.</summary>
    public int[] InRange(string name, long[] values, long min, long max)
    {
        foreach (long v in values)
            if (v < min || v > max) throw Unsupported(name, values, $"expected values in [{min}, {max}]");
        return [.. values.Select(v => (int)v)];
    }

    public float Float(string name, float fallback) => Get(name, AttributeProto.Types.AttributeType.Float) is { } a ? a.F : fallback;

    public string String(string name, string fallback) => Get(name, AttributeProto.Types.AttributeType.String) is { } a ? a.S.ToStringUtf8() : fallback;

    public long[]? Ints(string name) => Get(name, AttributeProto.Types.AttributeType.Ints) is { } a ? [.. a.Ints] : null;

    public float[]? Floats(string name) => Get(name, AttributeProto.Types.AttributeType.Floats) is { } a ? [.. a.Floats] : null;

    public TensorProto? Tensor(string name) => Get(name, AttributeProto.Types.AttributeType.Tensor) is { } a ? a.T : null;

    /// <summary>Marks an attribute as understood without reading it (ignored by design: e.g. a random seed).</summary>
    public void Ignore(string name) => _read.Add(name);

    /// <summary>Refuses the node because of one attribute's value.</summary>
    public OnnxImportException Unsupported(string attribute, object value, string why) =>
        new($"{Where}: attribute '{attribute}' = {Format(value)} is not supported: {why}");

    /// <summary>Refuses the node for a reason that is not one attribute (an input, an output, a shape).</summary>
    public OnnxImportException Error(string what) => new($"{Where}: {what}");

    /// <summary>After compiling: any attribute the operator did not read is refused by name.</summary>
    public void RefuseUnreadAttributes()
    {
        foreach (var (name, a) in _attributes)
            if (!_read.Contains(name))
                throw new OnnxImportException($"{Where}: attribute '{name}' is not supported by Fovea's {OpType}");
    }

    private AttributeProto? Get(string name, AttributeProto.Types.AttributeType type)
    {
        _read.Add(name);
        if (!_attributes.TryGetValue(name, out var a)) return null;
        // Files from old exporters leave the type unset (0); the field that carries the value then says it.
        if (a.Type != type && a.Type != AttributeProto.Types.AttributeType.Undefined)
            throw new InvalidDataException($"{Where}: attribute '{name}' has type {a.Type.ToString().ToUpperInvariant()}, expected {type.ToString().ToUpperInvariant()}");
        return a;
    }

    private static string Format(object value) => value switch
    {
        long[] ls => "[" + string.Join(", ", ls) + "]",
        float f => f.ToString(CultureInfo.InvariantCulture),
        double d => d.ToString(CultureInfo.InvariantCulture),
        string s => $"'{s}'",
        _ => Convert.ToString(value, CultureInfo.InvariantCulture) ?? "",
    };
}
