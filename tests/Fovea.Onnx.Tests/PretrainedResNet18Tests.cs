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

    [Fact]
    public void MissingFileSaysWhereItLooked()
    {
        var dir = Path.Combine(Path.GetTempPath(), "fovea-no-model-" + Guid.NewGuid().ToString("N"));
        var e = Assert.Throws<FileNotFoundException>(() => PretrainedModels.ResNet18Features(dir));
        Assert.Contains(dir, e.Message);
        Assert.Contains("Microsoft.ML.DnnImageFeaturizer.ResNet18", e.Message);
    }
}
