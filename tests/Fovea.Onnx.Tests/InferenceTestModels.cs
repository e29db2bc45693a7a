using Fovea.NN;
using Fovea.Vision.Models;

namespace Fovea.Onnx.Tests;

/// <summary>What the inference tests (folding, fusion) share: a comparison and a ResNet-18 away from the identity.</summary>
internal static class InferenceTestModels
{
    /// <summary>Asserts equal shapes and |expected − actual| ≤ <paramref name="rel"/> · max |expected| elementwise.</summary>
    public static void Close(Tensor expected, Tensor actual, double rel)
    {
        Assert.Equal(expected.Shape, actual.Shape);
        var e = expected.To(DType.Float64).ToArray<double>();
        var a = actual.To(DType.Float64).ToArray<double>();
        double scale = e.Max(Math.Abs);
        for (int i = 0; i < e.Length; i++)
            Assert.True(Math.Abs(e[i] - a[i]) <= rel * scale, $"[{i}]: expected {e[i]}, got {a[i]} (scale {scale})");
    }

    /// <summary>
    /// The zoo ResNet-18 for <paramref name="size"/>² colour images in evaluation, its batch-norm statistics away from
    /// the identity and, with <paramref name="randomAffine"/>, its batch-norm scales and shifts too.
    /// </summary>
    public static Module<Tensor, Tensor> ResNet18(int size, bool randomAffine)
    {
        var model = ModelZoo.Create("resnet18", 3, 10, size, new Generator(0));
        var g = new Generator(1);
        using (GradMode.Disable())
        {
            foreach (var (name, t) in model.NamedBuffers())
            {
                if (name.EndsWith("running_mean", StringComparison.Ordinal)) t.CopyFrom(Tensor.Randn(t.Shape, g).Mul(0.2));
                if (name.EndsWith("running_var", StringComparison.Ordinal)) t.CopyFrom(Tensor.Uniform(t.Shape, 0.5, 2, g));
            }
            if (randomAffine)
                foreach (var (name, t) in model.NamedParameters())
                    if (name.Contains("bn", StringComparison.Ordinal) || name.Contains("downsample.1", StringComparison.Ordinal))
                        t.CopyFrom(name.EndsWith("weight", StringComparison.Ordinal) ? Tensor.Uniform(t.Shape, 0.5, 1.5, g) : Tensor.Randn(t.Shape, g).Mul(0.1));
        }
        model.Eval();
        return model;
    }
}
