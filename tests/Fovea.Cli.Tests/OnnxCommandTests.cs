using Fovea.Onnx.Protobuf;
using Google.Protobuf;
using static Fovea.Cli.Tests.CliRunner;

namespace Fovea.Cli.Tests;

/// <summary>eval and predict take an .onnx model where they take a checkpoint.</summary>
public sealed class OnnxCommandTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"fovea-cli-onnx-{Guid.NewGuid():N}");

    public OnnxCommandTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>A linear classifier [N, 1, 28, 28] → 10 scores whose weights favour class 3 for bright images.</summary>
    private string LinearClassifier(bool withNames)
    {
        var model = new ModelProto { IrVersion = 8, Graph = new GraphProto { Name = "linear" } };
        model.OpsetImport.Add(new OperatorSetIdProto { Version = 13 });
        var shape = new TensorShapeProto();
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimParam = "N" });
        foreach (long d in new long[] { 1, 28, 28 }) shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = d });
        model.Graph.Input.Add(new ValueInfoProto { Name = "image", Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = 1, Shape = shape } } });
        var w = new float[10 * 784];
        for (int k = 0; k < 784; k++) w[3 * 784 + k] = 0.01f;
        var bytes = new byte[w.Length * 4];
        Buffer.BlockCopy(w, 0, bytes, 0, bytes.Length);
        model.Graph.Initializer.Add(new TensorProto { Name = "fc.weight", DataType = 1, Dims = { 10, 784 }, RawData = ByteString.CopyFrom(bytes) });
        model.Graph.Node.Add(new NodeProto { OpType = "Flatten", Input = { "image" }, Output = { "flat" } });
        model.Graph.Node.Add(new NodeProto { OpType = "Gemm", Input = { "flat", "fc.weight" }, Output = { "scores" }, Attribute = { new AttributeProto { Name = "transB", Type = AttributeProto.Types.AttributeType.Int, I = 1 } } });
        model.Graph.Output.Add(new ValueInfoProto { Name = "scores" });
        if (withNames)
            model.MetadataProps.Add(new StringStringEntryProto { Key = "fovea.class_names", Value = string.Join('\n', Enumerable.Range(0, 10).Select(k => $"thing {k}")) });
        string path = Path.Combine(_dir, withNames ? "named.onnx" : "linear.onnx");
        File.WriteAllBytes(path, model.ToByteArray());
        return path;
    }

    [Fact]
    public void EvalAndPredictAcceptOnnx()
    {
        string sample = RepoPaths.Image("fashion-mnist-sample");
        var (code, output, err) = Run("eval", "--checkpoint", LinearClassifier(withNames: false), "--data", sample);
        Assert.True(code == 0, err);
        Assert.Contains("onnx:linear.onnx", output);
        Assert.Contains("Dress", output);

        (code, output, err) = Run("predict", "--checkpoint", LinearClassifier(withNames: true), RepoPaths.Image("coins.png"));
        Assert.True(code == 0, err);
        Assert.Contains("1. thing 3", output);
    }

    [Fact]
    public void MalformedOnnxIsOneLine()
    {
        string path = Path.Combine(_dir, "broken.onnx");
        File.WriteAllBytes(path, [0x0a, 0xff, 0xff, 0xff, 0x7f, 1]);
        var (code, _, err) = Run("predict", "--checkpoint", path, RepoPaths.Image("coins.png"));
        Assert.Equal(1, code);
        Assert.Contains(path, err);
        Assert.Single(err.Trim().Split('\n'));
    }
}
