using Fovea.NN;
using Fovea.Vision.Models;

namespace Fovea.Onnx.Tests;

/// <summary>
/// Export then import gives the module back: every parameter and batch-norm statistic under its state-dict name,
/// bit for bit, and the same outputs; an imported model (fine-tuned or not) exports again and runs in ONNX Runtime.
/// </summary>
public sealed class ExportImportRoundTripTests(Xunit.Abstractions.ITestOutputHelper output)
{
    [Theory]
    [InlineData("fmnist_cnn", 1, 28)]
    [InlineData("resnet18", 3, 32)]
    [InlineData("resnet20", 3, 32)]
    [InlineData("googlenet", 3, 32)]
    public void ExportThenImportKeepsNamesValuesAndOutputs(string name, int channels, int size)
    {
        var model = ModelZoo.Create(name, channels, 10, size, new Generator(7));
        ExportedSession.RandomizeNormalization(model);
        model.Eval();
        var imported = OnnxModel.Import(OnnxModel.ExportToBytes(model, [1, channels, size, size]), name);
        imported.Eval();

        // Batch norm's counter and dropout's generator position (rng_state) are training state with no ONNX form.
        var original = model.StateDict().Where(kv => !kv.Key.EndsWith("num_batches_tracked", StringComparison.Ordinal) && !kv.Key.EndsWith(".rng_state", StringComparison.Ordinal)).ToDictionary();
        var back = imported.StateDict().ToDictionary();
        Assert.Equal(original.Keys.Order(StringComparer.Ordinal), back.Keys.Order(StringComparer.Ordinal));
        foreach (var (key, tensor) in original)
        {
            Assert.Equal(tensor.Shape, back[key].Shape);
            Assert.Equal(tensor.ToArray<float>(), back[key].ToArray<float>());
        }
        Assert.Equal(original.Keys.Where(k => !k.EndsWith("running_mean", StringComparison.Ordinal) && !k.EndsWith("running_var", StringComparison.Ordinal)).Order(StringComparer.Ordinal),
            imported.NamedParameters().Select(p => p.Name).Order(StringComparer.Ordinal));

        var x = Tensor.Uniform([3, channels, size, size], -1, 1, new Generator(9));
        Tensor expected, actual;
        using (GradMode.Disable())
        {
            expected = model.Forward(x);
            actual = imported.Forward(x);
        }
        double error = (actual - expected).Abs().Max().ToScalar() / expected.Abs().Max().ToScalar();
        output.WriteLine($"{name}: max |import(export(m)) - m| / max |m| = {error:E2}");
        Assert.True(error <= 1e-6, $"{name}: {error:E2}");
    }

    [Fact]
    public void EveryLayerCompositionRoundTrips()
    {
        // The convolutional half of the layer composition (through its first Linear): the operators the importer
        // reads (GELU's Erf, Softplus, Maxout's ReduceMax and LayerNormalization are export-only).
        var model = new Sequential([.. LayerExportTests.ConvolutionalStack(17).Layers.Take(20), new Softmax(1)]);
        ExportedSession.RandomizeNormalization(model);
        model.Eval();
        var imported = OnnxModel.Import(OnnxModel.ExportToBytes(model, [1, 3, 12, 12]), "layers");
        imported.Eval();
        var x = Tensor.Uniform([3, 3, 12, 12], -1, 1, new Generator(9));
        using var _ = GradMode.Disable();
        var expected = model.Forward(x);
        double error = (imported.Forward(x) - expected).Abs().Max().ToScalar() / expected.Abs().Max().ToScalar();
        output.WriteLine($"layers: max |import(export(m)) - m| / max |m| = {error:E2}");
        Assert.True(error <= 1e-6, $"{error:E2}");
    }

    [Fact]
    public void FineTunedImportedModelExportsAgainWithItsNewWeights()
    {
        var model = ModelZoo.Create("resnet20", 3, 10, 32, new Generator(3));
        ExportedSession.RandomizeNormalization(model);
        var imported = OnnxModel.Import(OnnxModel.ExportToBytes(model, [1, 3, 32, 32]), "resnet20");
        using (GradMode.Disable())
        {
            var fc = imported.NamedParameters().Single(p => p.Name == "fc.weight").Parameter;
            fc.CopyFrom(fc * 2);
        }
        // Imported and extended: the imported graph inside a Sequential with a new head, exported at its opset.
        var extended = new Sequential(imported, new ReLU(), new Linear(10, 4, generator: new Generator(5)));
        byte[] bytes = OnnxModel.ExportToBytes(extended, [1, 3, 32, 32]);
        using var session = new ExportedSession(bytes);
        Assert.True(session.WorstRelativeError(extended, [3, 32, 32], 1, 3) <= ExportedSession.Tolerance);
        var again = OnnxModel.Import(bytes, "extended");
        Assert.Equal(extended.StateDict()["0.fc.weight"].ToArray<float>(), again.StateDict()["0.fc.weight"].ToArray<float>());

        var error = Assert.Throws<NotSupportedException>(() => OnnxModel.ExportToBytes(extended, [1, 3, 32, 32], 13));
        Assert.Contains("opset 17", error.Message);
    }
}
