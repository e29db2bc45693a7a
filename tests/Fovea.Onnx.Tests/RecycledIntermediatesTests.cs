using Fovea.Onnx;

namespace Fovea.Onnx.Tests;

[CollectionDefinition("Storage pool", DisableParallelization = true)]
public sealed class StoragePoolCollection;

/// <summary>
/// An imported graph run in inference hands each intermediate value's buffer to <see cref="StoragePool"/> once its
/// last reader is done, so later nodes and later runs reuse it. The outputs are bit for bit those of runs without
/// the pool, and nothing the caller holds (the input, earlier outputs) or a live value shares (a view, a ReLU computed
/// in place) is ever reused. With gradients on, nothing is handed back.
/// </summary>
[Collection("Storage pool")]
public sealed class RecycledIntermediatesTests
{
    private static OnnxModule Imported()
    {
        var module = OnnxModel.Import(OnnxModel.ExportToBytes(InferenceTestModels.ResNet18(32, randomAffine: true), [1, 3, 32, 32]), "resnet18.onnx");
        module.Eval();
        return module;
    }

    [Fact]
    public void Inference_outputs_match_runs_without_the_pool_and_nothing_the_caller_holds_is_reused()
    {
        var module = Imported();
        var x1 = Tensor.Randn([2, 3, 32, 32], new Generator(5));
        var x2 = Tensor.Randn([2, 3, 32, 32], new Generator(6));
        float[] input = x1.ToArray<float>();
        float[] expected1, expected2;
        using (GradMode.Disable())
        {
            StoragePool.Enabled = false;
            try
            {
                expected1 = module.Forward(x1).ToArray<float>();
                expected2 = module.Forward(x2).ToArray<float>();
            }
            finally { StoragePool.Enabled = true; }

            StoragePool.Clear();
            var y1 = module.Forward(x1);
            Assert.True(StoragePool.PooledBytes > 0, "no intermediate was handed back");
            var y2 = module.Forward(x2);
            var y3 = module.Forward(x1);
            Assert.Equal(expected1, y1.ToArray<float>());
            Assert.Equal(expected2, y2.ToArray<float>());
            Assert.Equal(expected1, y3.ToArray<float>());
            Assert.Equal(input, x1.ToArray<float>());
        }
    }

    [Fact]
    public void With_gradients_on_no_intermediate_is_handed_back()
    {
        var module = Imported();
        var x = Tensor.Randn([2, 3, 32, 32], new Generator(7));
        StoragePool.Clear();
        var y = module.Forward(x);
        Assert.Equal(0, StoragePool.PooledBytes);
        y.Sum().Backward();
        Assert.All(module.NamedParameters(), p => Assert.NotNull(p.Parameter.Grad));
    }
}
