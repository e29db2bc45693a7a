using Fovea.Onnx.Protobuf;

namespace Fovea.Onnx.Tests;

/// <summary>The generated ONNX classes write models that ONNX Runtime runs, and read them back unchanged.</summary>
public sealed class OnnxProtobufTests
{
    [Fact]
    public void BuiltModelRunsInOnnxRuntimeAndParsesBack()
    {
        var bytes = new OnnxModelBuilder(13).Input("x", -1, 3).Initializer("b", [1f, -2f, 0.5f], 3)
            .Node("Add", ["x", "b"], ["s"]).Node("Relu", ["s"], ["y"]).Output("y").ToBytes();
        var (values, shape) = OnnxRuntimeOracle.Run(bytes, ("x", [0f, 1f, -1f, 2f, 3f, 4f], [2, 3]));
        Assert.Equal([2, 3], shape);
        Assert.Equal([1f, 0f, 0f, 3f, 1f, 4.5f], values);
        var parsed = ModelProto.Parser.ParseFrom(bytes);
        Assert.Equal(["Add", "Relu"], parsed.Graph.Node.Select(n => n.OpType));
        Assert.Equal(13, parsed.OpsetImport[0].Version);
    }

    [Fact]
    public void PretrainedFilesAreCopiedNextToTheTests()
    {
        string dir = Path.Combine(AppContext.BaseDirectory, "DnnImageModels");
        Assert.True(new FileInfo(Path.Combine(dir, "ResNet18Onnx", "ResNet18.onnx")).Length > 40_000_000);
        Assert.True(new FileInfo(Path.Combine(dir, "ResNetPrepOnnx", "ResNetPreprocess.onnx")).Length > 100_000);
    }
}
