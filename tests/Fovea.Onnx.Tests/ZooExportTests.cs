using Fovea.NN;
using Fovea.Onnx.Protobuf;
using Fovea.Vision.Models;

namespace Fovea.Onnx.Tests;

/// <summary>
/// Every model of the zoo, exported and run in ONNX Runtime, gives Fovea's evaluation-mode output (1e-4 relative)
/// at batch 1 and batch 3 through the same file (the batch dim is symbolic), with the batch norms carrying
/// non-trivial statistics. Inputs are small where the model allows (the zoo's small-input stems at 28x28 and
/// 32x32); the ImageNet stems (strided convolutions, padded and ceil-mode max-pools) run once at 64x64.
/// </summary>
public sealed class ZooExportTests(Xunit.Abstractions.ITestOutputHelper output)
{
    public static TheoryData<string, int> ZooModels()
    {
        var data = new TheoryData<string, int>();
        // lenet5_1998's partial connection table and trainable subsampling have no ONNX form yet (tested below).
        foreach (string name in ModelZoo.Names.Where(n => n != "lenet5_1998")) data.Add(name, SmallInputSize(name));
        data.Add("resnet18", 64);
        data.Add("googlenet", 64);
        data.Add("alexnet", 64);
        return data;
    }

    /// <summary>The grayscale 28x28 models at their size; the others at 32x32, the smallest their stems take.</summary>
    private static int SmallInputSize(string name) => name is "mlp" or "lenet5" or "fmnist_cnn" or "fmnist_cnn_small" ? 28 : 32;

    private static int ChannelsFor(string name) => SmallInputSize(name) == 28 ? 1 : 3;

    [Theory]
    [MemberData(nameof(ZooModels))]
    public void ExportedZooModelGivesFoveasOutputInOnnxRuntime(string name, int size)
    {
        int channels = ChannelsFor(name);
        var model = ModelZoo.Create(name, channels, 10, size, new Generator(3));
        ExportedSession.RandomizeNormalization(model);
        byte[] bytes = OnnxModel.ExportToBytes(model, [1, channels, size, size]);
        using var session = new ExportedSession(bytes);
        double error = session.WorstRelativeError(model, [channels, size, size], 1, 3);
        output.WriteLine($"{name} {size}x{size}: max |ort - fovea| / max |fovea| = {error:E2}");
        Assert.True(error <= ExportedSession.Tolerance, $"{name} at {size}x{size}: ONNX Runtime differs from Fovea by {error:E2} (relative)");
    }

    [Fact]
    public void LeNet1998_IsRefusedNamingTheLayerWithNoOnnxForm()
    {
        var model = ModelZoo.Create("lenet5_1998", 1, 10, 32, new Generator(1));
        var e = Assert.Throws<NotSupportedException>(() => OnnxModel.ExportToBytes(model, [1, 1, 32, 32]));
        Assert.Contains("ScaledTanh", e.Message);
    }

    [Fact]
    public void InitializersAreTheStateDictUnderItsNamesBitForBit()
    {
        var model = ModelZoo.Create("resnet18", 3, 10, 32, new Generator(1));
        ExportedSession.RandomizeNormalization(model);
        var proto = ModelProto.Parser.ParseFrom(OnnxModel.ExportToBytes(model, [1, 3, 32, 32]));
        var initializers = proto.Graph.Initializer.ToDictionary(t => t.Name);
        var expected = model.StateDict().Where(kv => !kv.Key.EndsWith("num_batches_tracked", StringComparison.Ordinal)).ToList();
        Assert.Equal(expected.Select(kv => kv.Key).Order(StringComparer.Ordinal), initializers.Keys.Order(StringComparer.Ordinal));
        foreach (var (name, tensor) in expected)
        {
            var t = initializers[name];
            Assert.Equal(tensor.Shape.Select(d => (long)d), t.Dims);
            float[] stored = new float[tensor.Numel];
            Buffer.BlockCopy(t.RawData.ToByteArray(), 0, stored, 0, stored.Length * sizeof(float));
            Assert.Equal(tensor.ToArray<float>(), stored);
        }
        Assert.Equal("N", proto.Graph.Input.Single().Type.TensorType.Shape.Dim[0].DimParam);
        Assert.Equal("N", proto.Graph.Output.Single().Type.TensorType.Shape.Dim[0].DimParam);
        Assert.Equal(17, proto.OpsetImport.Single().Version);
    }
}
