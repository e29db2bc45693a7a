using Fovea.Onnx.Protobuf;
using Google.Protobuf;

namespace Fovea.Onnx.Tests;

/// <summary>
/// Builds small ONNX models in code with the generated protobuf classes: graph inputs and outputs, float
/// initializers, nodes with attributes, at a chosen opset. Each operator test writes its model with it.
/// </summary>
internal sealed class OnnxModelBuilder
{
    private readonly ModelProto _model;
    private readonly GraphProto _graph = new() { Name = "test" };
    private int _nodeCount;

    public OnnxModelBuilder(int opset = 13)
    {
        _model = new ModelProto { IrVersion = opset >= 21 ? 10 : opset >= 15 ? 8 : 7, ProducerName = "fovea-tests", Graph = _graph };
        _model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = opset });
    }

    /// <summary>The model being built (for edits a helper does not cover).</summary>
    public ModelProto Model => _model;

    /// <summary>A float graph input; a dimension below zero is symbolic ("N").</summary>
    public OnnxModelBuilder Input(string name, params long[] shape)
    {
        _graph.Input.Add(ValueInfo(name, shape));
        return this;
    }

    /// <summary>A float graph output of unknown shape.</summary>
    public OnnxModelBuilder Output(string name)
    {
        _graph.Output.Add(new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float } },
        });
        return this;
    }

    /// <summary>A float initializer stored as raw little-endian bytes.</summary>
    public OnnxModelBuilder Initializer(string name, float[] values, params long[] shape)
    {
        _graph.Initializer.Add(FloatTensor(name, values, shape));
        return this;
    }

    /// <summary>An int64 initializer (shapes, axes, pads).</summary>
    public OnnxModelBuilder Int64Initializer(string name, long[] values, params long[] shape)
    {
        var t = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Int64 };
        t.Dims.AddRange(shape);
        t.Int64Data.AddRange(values);
        _graph.Initializer.Add(t);
        return this;
    }

    /// <summary>A node; attributes are (name, value) with value a long, float, string, long[], float[] or TensorProto.</summary>
    public OnnxModelBuilder Node(string opType, string[] inputs, string[] outputs, params (string Name, object Value)[] attributes)
    {
        var node = new NodeProto { OpType = opType, Name = $"{opType.ToLowerInvariant()}_{_nodeCount++}" };
        node.Input.AddRange(inputs);
        node.Output.AddRange(outputs);
        foreach (var (name, value) in attributes) node.Attribute.Add(Attribute(name, value));
        _graph.Node.Add(node);
        return this;
    }

    /// <summary>The serialized model.</summary>
    public byte[] ToBytes() => _model.ToByteArray();

    public static TensorProto FloatTensor(string name, float[] values, long[] shape)
    {
        var t = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float };
        t.Dims.AddRange(shape);
        var bytes = new byte[values.Length * sizeof(float)];
        Buffer.BlockCopy(values, 0, bytes, 0, bytes.Length);
        t.RawData = ByteString.CopyFrom(bytes);
        return t;
    }

    private static ValueInfoProto ValueInfo(string name, long[] shape)
    {
        var tensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = new TensorShapeProto() };
        foreach (long d in shape)
            tensorType.Shape.Dim.Add(d < 0 ? new TensorShapeProto.Types.Dimension { DimParam = "N" } : new TensorShapeProto.Types.Dimension { DimValue = d });
        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = tensorType } };
    }

    private static AttributeProto Attribute(string name, object value)
    {
        var a = new AttributeProto { Name = name };
        switch (value)
        {
            case long l: a.Type = AttributeProto.Types.AttributeType.Int; a.I = l; break;
            case int i: a.Type = AttributeProto.Types.AttributeType.Int; a.I = i; break;
            case float f: a.Type = AttributeProto.Types.AttributeType.Float; a.F = f; break;
            case double d: a.Type = AttributeProto.Types.AttributeType.Float; a.F = (float)d; break;
            case string s: a.Type = AttributeProto.Types.AttributeType.String; a.S = ByteString.CopyFromUtf8(s); break;
            case long[] ls: a.Type = AttributeProto.Types.AttributeType.Ints; a.Ints.AddRange(ls); break;
            case int[] iss: a.Type = AttributeProto.Types.AttributeType.Ints; a.Ints.AddRange(iss.Select(x => (long)x)); break;
            case float[] fs: a.Type = AttributeProto.Types.AttributeType.Floats; a.Floats.AddRange(fs); break;
            case TensorProto t: a.Type = AttributeProto.Types.AttributeType.Tensor; a.T = t; break;
            default: throw new ArgumentException($"attribute {name}: unsupported value type {value.GetType().Name}");
        }
        return a;
    }
}
