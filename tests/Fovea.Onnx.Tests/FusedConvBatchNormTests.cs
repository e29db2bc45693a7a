using Fovea.NN;
using Fovea.Vision.Models;

namespace Fovea.Onnx.Tests;

/// <summary>
/// Conv → BatchNormalization pairs of an imported graph, and the zoo ResNet's own conv + batch norm pairs, run as one
/// folded convolution in evaluation with gradients off: the same output as the layers run apart (1e-5 relative),
/// following every change to a parameter or statistic.
/// </summary>
public sealed class FusedConvBatchNormTests
{
    private static void Close(Tensor expected, Tensor actual, double rel) => InferenceTestModels.Close(expected, actual, rel);

    private static Module<Tensor, Tensor> ResNet() => InferenceTestModels.ResNet18(32, randomAffine: true);

    /// <summary>The output with gradients on (nothing folded) and off (folded where it can be).</summary>
    private static (Tensor Unfolded, Tensor Folded) Both(Module<Tensor, Tensor> m, Tensor x)
    {
        var unfolded = m.Forward(x).Detach();
        using var _ = GradMode.Disable();
        return (unfolded, m.Forward(x));
    }

    [Fact]
    public void Zoo_resnet_folds_every_pair_and_keeps_its_output()
    {
        var model = ResNet();
        var x = Tensor.Randn([2, 3, 32, 32], new Generator(2));
        var (unfolded, folded) = Both(model, x);
        Close(unfolded, folded, 1e-5);
    }

    [Fact]
    public void Imported_graph_fuses_conv_and_batch_norm_and_follows_changes()
    {
        var imported = OnnxModel.Import(OnnxModel.ExportToBytes(ResNet(), [1, 3, 32, 32]), "resnet18.onnx");
        imported.Eval();
        Assert.Equal(20, imported.FusedConvBatchNormPairs); // the stem, two per block, three downsampling shortcuts
        var x = Tensor.Randn([2, 3, 32, 32], new Generator(3));
        var (unfolded, folded) = Both(imported, x);
        Close(unfolded, folded, 1e-5);

        // A running variance changed in place: the folded weights are recomputed.
        var variance = imported.NamedBuffers().First(b => b.Name.EndsWith("running_var", StringComparison.Ordinal)).Buffer;
        using (GradMode.Disable()) variance.CopyFrom(variance.Mul(3));
        var (unfolded2, folded2) = Both(imported, x);
        Close(unfolded2, folded2, 1e-5);
        Assert.True(unfolded2.Sub(unfolded).Abs().Max().ToScalar() > 1e-3);

        // Training mode runs the graph as written: batch statistics, gradients reach every batch-norm scale.
        imported.Train();
        imported.Forward(x).Square().Sum().Backward();
        Assert.All(imported.NamedParameters(), p => Assert.NotNull(p.Parameter.Grad));
    }
}
