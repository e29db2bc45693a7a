using Fovea.Onnx;

namespace Fovea.Onnx.Tests;

[CollectionDefinition("Storage pool", DisableParallelization = true)]
public sealed class StoragePoolCollection;

/// <summary>
/// An imported graph run in inference hands each intermediate value's buffer to <see cref="StoragePool"/> once its
/// last reader is done, so later nodes and later runs reuse it. The outputs are bit for bit those of runs without
/// the pool, and nothing the caller holds (the input, earlier outputs) or a live value shares (a view, a ReLU computed
/// in place) is ever reused. With gradients on, the runner hands back none of its graph's values.
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
    public void With_gradients_on_the_outputs_and_gradients_are_those_of_runs_without_the_pool()
    {
        // The runner hands back no value of its graph while one is recorded (the backward may need it); only what an
        // op made and let go of itself (the sum inside a fused add + ReLU) goes to the pool.
        (float[] Output, float[][] Grads) Run(bool pooled)
        {
            StoragePool.Enabled = pooled;
            try
            {
                StoragePool.Clear();
                var module = Imported();
                var x = Tensor.Randn([2, 3, 32, 32], new Generator(7));
                var y = module.Forward(x);
                var output = y.ToArray<float>();
                foreach (int n in new[] { 2 * 64 * 16 * 16, 2 * 64 * 8 * 8, 2 * 128 * 4 * 4 })
                    for (int k = 0; k < 4; k++) Tensor.Full([n], -5.0); // takes what the forward handed back, and scribbles on it
                y.Sum().Backward();
                return (output, [.. module.NamedParameters().Select(p => p.Parameter.Grad!.ToArray<float>())]);
            }
            finally { StoragePool.Enabled = true; }
        }
        var without = Run(pooled: false);
        var with = Run(pooled: true);
        Assert.Equal(without.Output, with.Output);
        Assert.Equal(without.Grads.Length, with.Grads.Length);
        for (int i = 0; i < without.Grads.Length; i++) Assert.Equal(without.Grads[i], with.Grads[i]);
    }
}
