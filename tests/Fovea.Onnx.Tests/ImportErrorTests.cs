using Fovea.Onnx.Protobuf;
using Google.Protobuf;

namespace Fovea.Onnx.Tests;

/// <summary>Malformed files are InvalidDataException naming the file; unsupported content names node, op, opset and attribute.</summary>
public sealed class ImportErrorTests
{
    private static byte[] Valid() => new OnnxModelBuilder(13).Input("x", -1, 3).Initializer("b", [1f, 2f, 3f], 3)
        .Node("Add", ["x", "b"], ["y"]).Output("y").ToBytes();

    private static string Write(byte[] bytes)
    {
        string path = Path.Combine(Path.GetTempPath(), $"fovea-onnx-{Guid.NewGuid():N}.onnx");
        File.WriteAllBytes(path, bytes);
        return path;
    }

    [Fact]
    public void GarbageAndTruncatedFilesNameTheFile()
    {
        var garbage = Write([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 1, 2, 3]);
        var e = Assert.Throws<InvalidDataException>(() => OnnxModel.Import(garbage));
        Assert.Contains(garbage, e.Message);
        var bytes = Valid();
        var truncated = Write(bytes[..(bytes.Length - 5)]);
        Assert.Contains(truncated, Assert.Throws<InvalidDataException>(() => OnnxModel.Import(truncated)).Message);
        var empty = Write([]);
        Assert.Contains("empty", Assert.Throws<InvalidDataException>(() => OnnxModel.Import(empty)).Message);
        File.Delete(garbage);
        File.Delete(truncated);
        File.Delete(empty);
    }

    [Fact]
    public void RawDataOfTheWrongLengthIsRefusedBeforeUse()
    {
        var model = ModelProto.Parser.ParseFrom(Valid());
        model.Graph.Initializer[0].RawData = ByteString.CopyFrom(new byte[8]);
        var e = Assert.Throws<InvalidDataException>(() => OnnxModel.Import(model.ToByteArray(), "short.onnx"));
        Assert.Contains("short.onnx", e.Message);
        Assert.Contains("raw_data holds 8 bytes", e.Message);
    }

    [Fact]
    public void HugeDeclaredDimsAreRefusedWithoutAllocating()
    {
        var model = ModelProto.Parser.ParseFrom(Valid());
        model.Graph.Initializer[0].Dims.Clear();
        model.Graph.Initializer[0].Dims.AddRange([1L << 20, 1L << 20]);
        var e = Assert.Throws<InvalidDataException>(() => OnnxModel.Import(model.ToByteArray(), "huge.onnx"));
        Assert.Contains("more than", e.Message);
    }

    [Fact]
    public void ExternalDataIsRefusedClearly()
    {
        var model = ModelProto.Parser.ParseFrom(Valid());
        var t = model.Graph.Initializer[0];
        t.RawData = ByteString.Empty;
        t.DataLocation = TensorProto.Types.DataLocation.External;
        t.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = "weights.bin" });
        var e = Assert.Throws<OnnxImportException>(() => OnnxModel.Import(model.ToByteArray(), "ext.onnx"));
        Assert.Contains("external", e.Message);
    }

    [Fact]
    public void UnsupportedOperatorNamesNodeOpAndOpset()
    {
        var bytes = new OnnxModelBuilder(13).Input("x", 3).Node("Einsum", ["x"], ["y"], ("equation", "i->i")).Output("y").ToBytes();
        var e = Assert.Throws<OnnxImportException>(() => OnnxModel.Import(bytes, "m.onnx"));
        Assert.Contains("m.onnx: node 'einsum_0' (Einsum, opset 13)", e.Message);
        Assert.Contains("not supported", e.Message);
    }

    [Fact]
    public void UnsupportedAttributeIsNamed()
    {
        var bytes = new OnnxModelBuilder(13).Input("x", 1, 1, 4, 4, 4).Initializer("w", new float[27], 1, 1, 3, 3, 3)
            .Node("Conv", ["x", "w"], ["y"], ("kernel_shape", new long[] { 3, 3, 3 })).Output("y").ToBytes();
        var e = Assert.Throws<OnnxImportException>(() => OnnxModel.Import(bytes, "m.onnx"));
        Assert.Contains("(Conv, opset 13): attribute 'kernel_shape' = [3, 3, 3] is not supported", e.Message);
        var unknown = new OnnxModelBuilder(13).Input("x", 3).Node("Relu", ["x"], ["y"], ("fancy", 1L)).Output("y").ToBytes();
        Assert.Contains("attribute 'fancy'", Assert.Throws<OnnxImportException>(() => OnnxModel.Import(unknown, "m.onnx")).Message);
        var cubic = new OnnxModelBuilder(13).Input("x", 1, 1, 4, 4).Initializer("s", [1f, 1f, 2f, 2f], 4)
            .Node("Resize", ["x", "", "s"], ["y"], ("mode", "cubic")).Output("y").ToBytes();
        Assert.Contains("attribute 'mode' = 'cubic' is not supported", Assert.Throws<OnnxImportException>(() => OnnxModel.Import(cubic, "m.onnx")).Message);
    }

    [Fact]
    public void OpsetOutsideTheRangeAndUndefinedInputsAreRefused()
    {
        var old = new OnnxModelBuilder(6).Input("x", 3).Node("Relu", ["x"], ["y"]).Output("y").ToBytes();
        Assert.Contains("opset 6 is outside the opsets 7–21", Assert.Throws<OnnxImportException>(() => OnnxModel.Import(old, "m.onnx")).Message);
        var dangling = new OnnxModelBuilder(13).Input("x", 3).Node("Add", ["x", "nowhere"], ["y"]).Output("y").ToBytes();
        Assert.Contains("input 'nowhere' is not defined", Assert.Throws<InvalidDataException>(() => OnnxModel.Import(dangling, "m.onnx")).Message);
    }

    [Fact]
    public void WrongInputShapeIsAClearError()
    {
        var m = OnnxModel.Import(Valid(), "m.onnx");
        var e = Assert.Throws<ArgumentException>(() => m.Forward(Tensor.Zeros(2, 4)));
        Assert.Contains("input 'x' expects shape [?, 3], got [2, 4]", e.Message);
    }
}
