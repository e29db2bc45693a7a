using Fovea.Onnx.Protobuf;
using Google.Protobuf;

namespace Fovea.Fuzz;

/// <summary>
/// Valid ONNX models built in code for the <c>onnx</c> target: a small CNN (Conv, BatchNormalization, Relu, MaxPool,
/// GlobalAveragePool, Flatten, Gemm) with raw_data weights, the Shape→Gather→Unsqueeze→Concat→Reshape chain with
/// int64 constants, and a model whose weights use the typed float_data field with Pad, Resize and Softmax attributes.
/// </summary>
public static class OnnxSeeds
{
    /// <summary>The three seed models, serialized.</summary>
    public static IReadOnlyList<byte[]> All() => [SmallCnn(), FlattenChain(), TypedFields()];

    private static byte[] SmallCnn()
    {
        var g = Model(13, "x", [-1, 2, 8, 8]);
        Init(g, "conv.weight", [4, 2, 3, 3], raw: true);
        Init(g, "conv.bias", [4], raw: true);
        foreach (var n in new[] { "bn.weight", "bn.bias", "bn.running_mean", "bn.running_var" }) Init(g, n, [4], raw: true);
        Init(g, "fc.weight", [3, 4], raw: true);
        Init(g, "fc.bias", [3], raw: true);
        Node(g, "Conv", ["x", "conv.weight", "conv.bias"], ["c"], Ints("pads", 1, 1, 1, 1), Ints("strides", 1, 1));
        Node(g, "BatchNormalization", ["c", "bn.weight", "bn.bias", "bn.running_mean", "bn.running_var"], ["b"], Float("epsilon", 1e-5f));
        Node(g, "Relu", ["b"], ["r"]);
        Node(g, "MaxPool", ["r"], ["m"], Ints("kernel_shape", 2, 2), Ints("strides", 2, 2));
        Node(g, "GlobalAveragePool", ["m"], ["p"]);
        Node(g, "Flatten", ["p"], ["f"], Int("axis", 1));
        Node(g, "Gemm", ["f", "fc.weight", "fc.bias"], ["y"], Int("transB", 1));
        return Finish(g, "y");
    }

    private static byte[] FlattenChain()
    {
        var g = Model(11, "x", [-1, 3, 4, 4]);
        var zero = new TensorProto { DataType = (int)TensorProto.Types.DataType.Int64 };
        zero.Int64Data.Add(0);
        var minusOne = new TensorProto { DataType = (int)TensorProto.Types.DataType.Int64, Dims = { 1 } };
        minusOne.Int64Data.Add(-1);
        Node(g, "Shape", ["x"], ["s"]);
        Node(g, "Constant", [], ["zero"], new AttributeProto { Name = "value", Type = AttributeProto.Types.AttributeType.Tensor, T = zero });
        Node(g, "Gather", ["s", "zero"], ["n"], Int("axis", 0));
        Node(g, "Unsqueeze", ["n"], ["n1"], Ints("axes", 0));
        Node(g, "Constant", [], ["m1"], new AttributeProto { Name = "value", Type = AttributeProto.Types.AttributeType.Tensor, T = minusOne });
        Node(g, "Concat", ["n1", "m1"], ["shape"], Int("axis", 0));
        Node(g, "Reshape", ["x", "shape"], ["y"]);
        return Finish(g, "y");
    }

    private static byte[] TypedFields()
    {
        var g = Model(13, "x", [1, 2, 4, 4]);
        Init(g, "w", [2, 2, 1, 1], raw: false);
        var pads = new TensorProto { Name = "pads", DataType = (int)TensorProto.Types.DataType.Int64, Dims = { 8 } };
        pads.Int64Data.AddRange([0, 0, 1, 1, 0, 0, 1, 1]);
        g.Graph.Initializer.Add(pads);
        var scales = new TensorProto { Name = "scales", DataType = (int)TensorProto.Types.DataType.Float, Dims = { 4 } };
        scales.FloatData.AddRange([1f, 1f, 2f, 2f]);
        g.Graph.Initializer.Add(scales);
        Node(g, "Conv", ["x", "w"], ["c"]);
        Node(g, "Pad", ["c", "pads"], ["p"], new AttributeProto { Name = "mode", Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8("reflect") });
        Node(g, "Resize", ["p", "", "scales"], ["r"], new AttributeProto { Name = "mode", Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8("linear") });
        Node(g, "Softmax", ["r"], ["y"], Int("axis", 1));
        return Finish(g, "y");
    }

    private static ModelProto Model(int opset, string input, long[] shape)
    {
        var model = new ModelProto { IrVersion = 7, ProducerName = "fovea-fuzz", Graph = new GraphProto { Name = "seed" } };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = opset });
        var type = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = new TensorShapeProto() };
        foreach (long d in shape)
            type.Shape.Dim.Add(d < 0 ? new TensorShapeProto.Types.Dimension { DimParam = "N" } : new TensorShapeProto.Types.Dimension { DimValue = d });
        model.Graph.Input.Add(new ValueInfoProto { Name = input, Type = new TypeProto { TensorType = type } });
        return model;
    }

    private static void Init(ModelProto m, string name, long[] dims, bool raw)
    {
        var t = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float };
        t.Dims.AddRange(dims);
        int count = (int)dims.Aggregate(1L, (a, d) => a * d);
        var values = Enumerable.Range(0, count).Select(i => 0.25f + 0.125f * (i % 7)).ToArray();
        if (raw)
        {
            var bytes = new byte[count * 4];
            Buffer.BlockCopy(values, 0, bytes, 0, bytes.Length);
            t.RawData = ByteString.CopyFrom(bytes);
        }
        else t.FloatData.AddRange(values);
        m.Graph.Initializer.Add(t);
    }

    private static void Node(ModelProto m, string op, string[] inputs, string[] outputs, params AttributeProto[] attributes)
    {
        var n = new NodeProto { OpType = op, Name = $"{op}_{m.Graph.Node.Count}" };
        n.Input.AddRange(inputs);
        n.Output.AddRange(outputs);
        n.Attribute.AddRange(attributes);
        m.Graph.Node.Add(n);
    }

    private static AttributeProto Int(string name, long v) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = v };

    private static AttributeProto Float(string name, float v) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = v };

    private static AttributeProto Ints(string name, params long[] v)
    {
        var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        a.Ints.AddRange(v);
        return a;
    }

    private static byte[] Finish(ModelProto m, string output)
    {
        m.Graph.Output.Add(new ValueInfoProto { Name = output });
        return m.ToByteArray();
    }
}
