namespace Fovea.Onnx.Tests;

/// <summary>
/// The pretrained ImageNet ResNet-18 (and its preprocessing model) from the NuGet package: imported by Fovea, run on
/// the same image as ONNX Runtime, the features agree to 1e-4 relative.
/// </summary>
public sealed class PretrainedResNet18Tests
{
    private static string ModelPath => Path.Combine(AppContext.BaseDirectory, PretrainedModels.ResNet18RelativePath);

    private static string PreprocessPath => Path.Combine(AppContext.BaseDirectory, PretrainedModels.ResNet18PreprocessRelativePath);

    /// <summary>A synthetic 224² RGB "photograph" with values 0–255: smooth gradients, a disc and noise.</summary>
    private static float[] Image(int seed)
    {
        const int s = PretrainedModels.ResNet18ImageSize;
        var rng = new Random(seed);
        var v = new float[3 * s * s];
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < s; y++)
                for (int x = 0; x < s; x++)
                {
                    double disc = (x - 100) * (x - 100) + (y - 120) * (y - 120) < 60 * 60 ? 80 : 0;
                    v[(c * s + y) * s + x] = (float)Math.Clamp(60 + 0.5 * x * (c + 1) / 2 + 0.3 * y + disc + rng.NextDouble() * 30, 0, 255);
                }
        return v;
    }

    [Fact]
    public void FeaturesAgreeWithOnnxRuntime()
    {
        var model = PretrainedModels.ResNet18Features();
        Assert.Single(model.Inputs);
        var name = model.Inputs[0].Name;
        int[] shape = [1, 3, 224, 224];
        // The network's input is what the preprocessing gives: BGR minus the mean image (about −128…128).
        var input = Image(3).Select(v => v - 120f).ToArray();
        var error = OrtAgreement.Check("ResNet-18 (pretrained, ImageNet) features", File.ReadAllBytes(ModelPath), [(name, input, shape)]);
        Assert.True(error <= OrtAgreement.Tolerance);
        // The CNTK export has 22 convolutions (no bias) and 22 batch norms: 66 trainable tensors and 44 statistics buffers.
        Assert.Equal(66, model.NamedParameters().Count());
        Assert.Equal(44, model.NamedBuffers().Count());
        Assert.All(model.Parameters(), p => Assert.True(p.RequiresGrad));
    }

    [Fact]
    public void PreprocessingAgreesWithOnnxRuntime()
    {
        var model = PretrainedModels.ResNet18Preprocess();
        var name = model.Inputs[0].Name;
        OrtAgreement.Check("ResNet-18 preprocessing", File.ReadAllBytes(PreprocessPath), [(name, Image(5), [1, 3, 224, 224])]);
        Assert.All(model.Parameters(), p => Assert.False(p.RequiresGrad));
    }

    /// <summary>
    /// The classifier `fovea train --pretrained resnet18` trains (resize, gray to RGB, ×255, the opset-8 preprocessing
    /// and body upgraded to the export's opset, the linear head) exports, runs in ONNX Runtime with Fovea's outputs,
    /// and imports back to the same outputs: RGB at the network's 224² (no resize), and gray 28² images (Resize and
    /// Expand) at the lowest opset the exporter writes.
    /// </summary>
    [Theory]
    [InlineData(3, 224, 17)]
    [InlineData(1, 28, 13)]
    public void ClassifierExports_RunsInOnnxRuntime_AndImportsBack(int channels, int size, int opset)
    {
        var classifier = PretrainedModels.ResNet18Classifier(5, path: AppContext.BaseDirectory, generator: new Generator(4));
        classifier.Eval();
        byte[] bytes = OnnxModel.ExportToBytes(classifier, [1, channels, size, size], opset);
        using (var session = new ExportedSession(bytes))
        {
            double error = session.WorstRelativeError(classifier, [channels, size, size], 1, 2);
            Assert.True(error <= ExportedSession.Tolerance, $"ONNX Runtime differs from Fovea by {error:E2} of the output's scale");
        }
        var back = OnnxModel.Import(bytes, "classifier.onnx");
        back.Eval();
        var x = Tensor.Uniform([2, channels, size, size], 0, 1, new Generator(6));
        using var _ = GradMode.Disable();
        var expected = classifier.Forward(x).ToArray<float>();
        var actual = back.Forward(x).ToArray<float>();
        double scale = expected.Max(Math.Abs);
        Assert.True(expected.Zip(actual).Max(p => Math.Abs(p.First - p.Second)) <= 1e-6 * scale, "the imported export should give the classifier's outputs");
    }

    [Fact]
    public void ThePretrainedBody_IsUpgradedToTheExportOpset_NeverDowngraded()
    {
        var body = PretrainedModels.ResNet18Features(AppContext.BaseDirectory);
        var at17 = OnnxModel.Import(OnnxModel.ExportToBytes(body, [1, 3, 224, 224], 17), "body17.onnx");
        Assert.Equal(17, at17.Opset);
        var e = Assert.Throws<NotSupportedException>(() => OnnxModel.ExportToBytes(at17, [1, 3, 224, 224], 13));
        Assert.Contains("never downgraded", e.Message);
    }

    [Fact]
    public void MissingFileSaysWhereItLooked()
    {
        var dir = Path.Combine(Path.GetTempPath(), "fovea-no-model-" + Guid.NewGuid().ToString("N"));
        var e = Assert.Throws<FileNotFoundException>(() => PretrainedModels.ResNet18Features(dir));
        Assert.Contains(dir, e.Message);
        Assert.Contains("Microsoft.ML.DnnImageFeaturizer.ResNet18", e.Message);
    }
}
