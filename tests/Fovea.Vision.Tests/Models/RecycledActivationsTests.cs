using Fovea.NN;
using Fovea.Vision.Models;

namespace Fovea.Vision.Tests.Models;

[CollectionDefinition(nameof(RecycledActivationsTests), DisableParallelization = true)]
public sealed class RecycledActivationsCollection;

/// <summary>
/// The zoo's ResNets in inference hand their intermediate activations (the residual blocks' inner outputs, each
/// stage's block outputs) back to <see cref="StoragePool"/>: the logits are bit for bit those of runs without the
/// pool, and the activations a <see cref="FeatureExtractor"/> captured stay intact through later forwards.
/// </summary>
[Collection(nameof(RecycledActivationsTests))]
public sealed class RecycledActivationsTests
{
    [Theory]
    [InlineData("resnet18")]
    [InlineData("resnet50")]
    public void Logits_match_runs_without_the_pool(string name)
    {
        var model = ModelZoo.Create(name, 3, 10, 32, new Generator(31));
        model.Eval();
        var x1 = Tensor.Randn([2, 3, 32, 32], new Generator(32));
        var x2 = Tensor.Randn([2, 3, 32, 32], new Generator(33));
        using (GradMode.Disable())
        {
            float[] expected1, expected2;
            StoragePool.Enabled = false;
            try
            {
                expected1 = model.Forward(x1).ToArray<float>();
                expected2 = model.Forward(x2).ToArray<float>();
            }
            finally { StoragePool.Enabled = true; }
            StoragePool.Clear();
            var y1 = model.Forward(x1);
            Assert.True(StoragePool.PooledBytes > 0, "no activation was handed back");
            var y2 = model.Forward(x2);
            var y3 = model.Forward(x1);
            Assert.Equal(expected1, y1.ToArray<float>());
            Assert.Equal(expected2, y2.ToArray<float>());
            Assert.Equal(expected1, y3.ToArray<float>());
        }
    }

    [Theory]
    [InlineData("resnet18")]
    [InlineData("resnet50")]
    public void Training_steps_match_runs_without_the_pool(string name)
    {
        // The backward pass hands each activation to the pool when the last node that saved it is done: the next
        // step's forward and the rest of the backward reuse it, and the weights come out bit for bit the same.
        float[][] Train(bool pooled)
        {
            StoragePool.Enabled = pooled;
            try
            {
                StoragePool.Clear();
                var model = ModelZoo.Create(name, 3, 10, 32, new Generator(41));
                var opt = new Fovea.Optim.Sgd(model.Parameters(), 0.05, momentum: 0.9);
                var g = new Generator(42);
                var losses = new List<float>();
                for (int step = 0; step < 3; step++)
                {
                    opt.ZeroGrad();
                    var loss = Functional.CrossEntropy(model.Forward(Tensor.Randn([4, 3, 32, 32], g)), Tensor.RandInt([4], 0, 10, g));
                    loss.Backward();
                    opt.Step();
                    losses.Add((float)loss.ToScalar());
                    if (pooled) Assert.True(StoragePool.PooledBytes > 0, "nothing was handed back");
                }
                return [[.. losses], .. model.Parameters().Select(p => p.ToArray<float>())];
            }
            finally { StoragePool.Enabled = true; }
        }
        var without = Train(pooled: false);
        var with = Train(pooled: true);
        Assert.Equal(without.Length, with.Length);
        for (int i = 0; i < without.Length; i++) Assert.Equal(without[i], with[i]);
    }

    [Fact]
    public void Activations_captured_in_training_stay_intact_through_backward_and_later_steps()
    {
        var model = ModelZoo.Create("resnet18", 3, 10, 32, new Generator(43));
        var opt = new Fovea.Optim.Sgd(model.Parameters(), 0.05);
        using var extractor = new FeatureExtractor(model, "layer1.0.bn1", "layer2");
        var g = new Generator(44);
        var x = Tensor.Randn([2, 3, 32, 32], g);
        Dictionary<string, float[]> values;
        StoragePool.Enabled = false;
        try { values = extractor.Extract(x).ToDictionary(kv => kv.Key, kv => kv.Value.ToArray<float>()); }
        finally { StoragePool.Enabled = true; }
        var captured = extractor.Extract(x);
        foreach (var tensor in captured.Values) Assert.True(tensor.RequiresGrad);
        extractor.Dispose();
        for (int step = 0; step < 3; step++)
        {
            opt.ZeroGrad();
            Functional.CrossEntropy(model.Forward(Tensor.Randn([2, 3, 32, 32], g)), Tensor.RandInt([2], 0, 10, g)).Backward();
            opt.Step();
        }
        foreach (var (layer, tensor) in captured) Assert.Equal(values[layer], tensor.ToArray<float>());
    }

    [Fact]
    public void Captured_activations_stay_intact_through_later_forwards()
    {
        var model = ModelZoo.Create("resnet18", 3, 10, 32, new Generator(34));
        model.Eval();
        using var extractor = new FeatureExtractor(model, "layer1", "layer2.0.conv1", "layer3");
        using (GradMode.Disable())
        {
            var captured = extractor.Extract(Tensor.Randn([2, 3, 32, 32], new Generator(35)));
            var values = captured.ToDictionary(kv => kv.Key, kv => kv.Value.ToArray<float>());
            for (int i = 0; i < 3; i++) model.Forward(Tensor.Randn([2, 3, 32, 32], new Generator((ulong)(36 + i))));
            foreach (var (layer, tensor) in captured) Assert.Equal(values[layer], tensor.ToArray<float>());
        }
    }
}
