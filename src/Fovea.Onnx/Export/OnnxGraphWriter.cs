using Fovea.Onnx.Protobuf;
using Google.Protobuf;

namespace Fovea.Onnx.Export;

/// <summary>
/// Collects an ONNX graph while the exporter walks a module: initializers (the module's parameters and buffers,
/// under their state-dict names), constants (shapes, axes, pads and fixed matrices, as <c>Constant</c> nodes, so
/// that the initializers are exactly the state dict), nodes with attributes, and fresh value names. Writes the
/// protobuf classes and nothing else; what a module means is <see cref="ModuleExporter"/>'s business.
/// </summary>
internal sealed class OnnxGraphWriter
{
    private readonly GraphProto _graph = new();
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);
    private readonly HashSet<string> _initializers = new(StringComparer.Ordinal);

    /// <summary>The opset the nodes are written for.</summary>
    public int Opset { get; }

    /// <summary>A writer for <paramref name="opset"/>.</summary>
    public OnnxGraphWriter(int opset) => Opset = opset;

    /// <summary>The graph built so far.</summary>
    public GraphProto Graph => _graph;

    /// <summary>A value name not used yet, derived from <paramref name="hint"/> (a module path, or "input").</summary>
    public string Fresh(string hint)
    {
        string stem = hint.Length == 0 ? "value" : hint;
        string name = stem;
        for (int i = 1; !_names.Add(name); i++) name = $"{stem}_{i}";
        return name;
    }

    /// <summary>
    /// Adds <paramref name="tensor"/> as an initializer named <paramref name="name"/> (a state-dict name) once, and
    /// returns the name. Float32 only: the exporter refuses other parameter dtypes before it gets here.
    /// </summary>
    public string Initializer(string name, Tensor tensor)
    {
        if (_initializers.Add(name))
        {
            _names.Add(name);
            _graph.Initializer.Add(FloatTensor(name, tensor));
        }
        return name;
    }

    /// <summary>A float constant of any shape, as a <c>Constant</c> node; returns its output name.</summary>
    public string Constant(string hint, Tensor value)
    {
        string name = Fresh(hint);
        _graph.Node.Add(Node("Constant", [], [name], name, Attr("value", FloatTensor("", value))));
        return name;
    }

    /// <summary>A constant holding <paramref name="value"/> as it is (an imported graph's non-float initializer).</summary>
    public string Constant(string hint, TensorProto value)
    {
        string name = Fresh(hint);
        var copy = value.Clone();
        copy.Name = "";
        _graph.Node.Add(Node("Constant", [], [name], name, Attr("value", copy)));
        return name;
    }

    /// <summary>Adds a copy of <paramref name="node"/> with its inputs and outputs renamed by <paramref name="rename"/>.</summary>
    public void Copy(NodeProto node, Func<string, string> rename, string nameHint)
    {
        var copy = node.Clone();
        for (int i = 0; i < copy.Input.Count; i++) copy.Input[i] = copy.Input[i].Length == 0 ? "" : rename(copy.Input[i]);
        for (int i = 0; i < copy.Output.Count; i++) copy.Output[i] = copy.Output[i].Length == 0 ? "" : rename(copy.Output[i]);
        copy.Name = Fresh(nameHint);
        _graph.Node.Add(copy);
    }

    /// <summary>A 1-d int64 constant (shapes, axes, pads, starts, steps); returns its output name.</summary>
    public string Int64Constant(string hint, params long[] values)
    {
        string name = Fresh(hint);
        var t = new TensorProto { DataType = (int)TensorProto.Types.DataType.Int64 };
        t.Dims.Add(values.Length);
        t.Int64Data.AddRange(values);
        _graph.Node.Add(Node("Constant", [], [name], name, Attr("value", t)));
        return name;
    }

    /// <summary>A 0-d float constant (a scalar for elementwise arithmetic).</summary>
    public string Scalar(string hint, double value) => Constant(hint, Tensor.Scalar((float)value));

    /// <summary>
    /// Adds a node of <paramref name="opType"/> on <paramref name="inputs"/> (an empty string is an omitted optional
    /// input) with one fresh output named after <paramref name="hint"/>; returns that output.
    /// </summary>
    public string Add(string opType, string hint, string[] inputs, params AttributeProto[] attributes)
    {
        string output = Fresh(hint);
        _graph.Node.Add(Node(opType, inputs, [output], output, attributes));
        return output;
    }

    /// <summary>A graph input or output: float32 with dim 0 the symbolic batch "N" and the other dims fixed.</summary>
    public static ValueInfoProto BatchedFloat(string name, int[] shape)
    {
        var type = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = new TensorShapeProto() };
        for (int i = 0; i < shape.Length; i++)
            type.Shape.Dim.Add(i == 0 ? new TensorShapeProto.Types.Dimension { DimParam = "N" } : new TensorShapeProto.Types.Dimension { DimValue = shape[i] });
        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = type } };
    }

    /// <summary>An int attribute.</summary>
    public static AttributeProto Attr(string name, long value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    /// <summary>A float attribute.</summary>
    public static AttributeProto Attr(string name, double value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = (float)value };

    /// <summary>A string attribute.</summary>
    public static AttributeProto Attr(string name, string value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8(value) };

    /// <summary>An ints attribute.</summary>
    public static AttributeProto Attr(string name, params long[] values)
    {
        var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        a.Ints.AddRange(values);
        return a;
    }

    /// <summary>A tensor attribute.</summary>
    public static AttributeProto Attr(string name, TensorProto value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Tensor, T = value };

    private static NodeProto Node(string opType, string[] inputs, string[] outputs, string name, params AttributeProto[] attributes)
    {
        var node = new NodeProto { OpType = opType, Name = name };
        node.Input.AddRange(inputs);
        node.Output.AddRange(outputs);
        node.Attribute.AddRange(attributes);
        return node;
    }

    /// <summary>A float32 tensor proto holding <paramref name="tensor"/>'s values as raw little-endian bytes.</summary>
    private static TensorProto FloatTensor(string name, Tensor tensor)
    {
        var t = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float };
        foreach (int d in tensor.Shape) t.Dims.Add(d);
        // One copy, straight into the bytes the message keeps (wrapped, not copied again).
        var values = tensor.Detach().To(DType.Float32).Contiguous().AsSpan<float>();
        var bytes = new byte[values.Length * sizeof(float)];
        if (BitConverter.IsLittleEndian) System.Runtime.InteropServices.MemoryMarshal.AsBytes(values).CopyTo(bytes);
        else
            for (int i = 0; i < values.Length; i++)
                System.Buffers.Binary.BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * sizeof(float)), values[i]);
        t.RawData = UnsafeByteOperations.UnsafeWrap(bytes);
        return t;
    }
}
