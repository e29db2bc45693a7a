using Fovea.NN;

namespace Fovea.Tests.NN;

/// <summary>
/// <see cref="Sequential"/> in inference hands each intermediate output's buffer to <see cref="StoragePool"/> once the
/// next layer has read it, where every layer promises to keep nothing (<see cref="Module.HoldsNoActivations"/>) and no
/// module has a hook: the outputs are those of the layers run one by one, the caller's input is never reused, and a
/// layer that keeps its input, or a hook that keeps an output, sees it intact after later calls.
/// </summary>
[Collection("Global thread count")]
public sealed class SequentialRecyclingTests
{
    /// <summary>Outputs of 4,096 elements and more (pooled sizes), no Conv2d → BatchNorm2d or ReLU → MaxPool2d pair (fused).</summary>
    private static Sequential Net(Module<Tensor, Tensor>? middle = null)
    {
        var g = new Generator(21);
        var layers = new List<Module<Tensor, Tensor>>
        {
            new Conv2d(3, 7, 3, padding: 1, generator: g),
            new Tanh(),
            new Conv2d(7, 7, 3, padding: 1, generator: g),
        };
        if (middle is not null) layers.Add(middle);
        layers.AddRange([new ReLU(), new Conv2d(7, 5, 3, stride: 2, generator: g), new Flatten(), new Linear(5 * 18 * 18, 4, generator: g)]);
        var net = new Sequential([.. layers]);
        net.Eval();
        return net;
    }

    private static float[] OneByOne(Sequential net, Tensor x)
    {
        foreach (var layer in net.Layers) x = layer.Forward(x);
        return x.ToArray<float>();
    }

    [Fact]
    public void Inference_returns_what_the_layers_return_one_by_one_and_hands_the_intermediates_back()
    {
        var net = Net();
        var x1 = Tensor.Randn([2, 3, 37, 37], new Generator(22));
        var x2 = Tensor.Randn([2, 3, 37, 37], new Generator(23));
        var input = x1.ToArray<float>();
        using (GradMode.Disable())
        {
            var expected1 = OneByOne(net, x1);
            var expected2 = OneByOne(net, x2);
            StoragePool.Clear();
            var y1 = net.Forward(x1);
            Assert.True(StoragePool.PooledBytes > 0, "no intermediate output was handed back");
            var y2 = net.Forward(x2);
            var y3 = net.Forward(x1);
            Assert.Equal(expected1, y1.ToArray<float>());
            Assert.Equal(expected2, y2.ToArray<float>());
            Assert.Equal(expected1, y3.ToArray<float>());
            Assert.Equal(input, x1.ToArray<float>());
        }
    }

    [Fact]
    public void A_layer_that_keeps_its_input_and_a_hook_that_keeps_an_output_see_them_intact_after_later_calls()
    {
        var keeping = new KeepingLayer();
        var net = Net(keeping);
        Tensor? hooked = null;
        using var handle = ((Module<Tensor, Tensor>)net.Layers[1]).RegisterForwardHook((_, _, output) => { hooked = output; });
        using (GradMode.Disable())
        {
            net.Forward(Tensor.Randn([2, 3, 37, 37], new Generator(24)));
            var kept = keeping.Kept!;
            var seen = hooked!;
            var keptValues = kept.ToArray<float>();
            var seenValues = seen.ToArray<float>();
            for (int i = 0; i < 3; i++) net.Forward(Tensor.Randn([2, 3, 37, 37], new Generator((ulong)(25 + i))));
            Assert.Equal(keptValues, kept.ToArray<float>());
            Assert.Equal(seenValues, seen.ToArray<float>());
        }
    }

    [Fact]
    public void Training_gives_the_gradients_of_runs_without_the_pool_and_the_backward_hands_the_activations_back()
    {
        float[][] Train(bool pooled, Module<Tensor, Tensor>? middle = null, ulong seed = 30)
        {
            StoragePool.Enabled = pooled;
            try
            {
                StoragePool.Clear();
                var net = Net(middle);
                net.Train();
                var g = new Generator(seed);
                var grads = new List<float[]>();
                for (int step = 0; step < 3; step++)
                {
                    foreach (var p in net.Parameters()) p.Grad = null;
                    var loss = net.Forward(Tensor.Randn([2, 3, 37, 37], g)).Square().Sum();
                    long beforeBackward = StoragePool.PooledBytes;
                    loss.Backward();
                    if (pooled) Assert.True(StoragePool.PooledBytes > beforeBackward, "the backward handed nothing back");
                    grads.AddRange(net.Parameters().Select(p => p.Grad!.ToArray<float>()));
                }
                return [.. grads];
            }
            finally { StoragePool.Enabled = true; }
        }
        var without = Train(pooled: false);
        var with = Train(pooled: true);
        Assert.Equal(without.Length, with.Length);
        for (int i = 0; i < without.Length; i++) Assert.Equal(without[i], with[i]);
        // A layer of one's own in the list turns it off: what it kept stays intact through the backward and later steps.
        var reference = new KeepingLayer();
        Train(pooled: false, reference);
        var keeping = new KeepingLayer();
        Train(pooled: true, keeping);
        Train(pooled: true, new KeepingLayer(), seed: 31);
        Assert.Equal(reference.Kept!.ToArray<float>(), keeping.Kept!.ToArray<float>());
    }

    [Fact]
    public void Built_in_layers_promise_to_keep_nothing_and_a_module_of_ones_own_does_not()
    {
        Assert.True(new Conv2d(1, 1, 1).HoldsNoActivations);
        Assert.True(new Sequential().HoldsNoActivations);
        Assert.False(new KeepingLayer().HoldsNoActivations);
    }

    /// <summary>A layer of a user's own that keeps its input (for a later look): it makes no promise.</summary>
    private sealed class KeepingLayer : Module<Tensor, Tensor>
    {
        public Tensor? Kept { get; private set; }

        public override Tensor Forward(Tensor input)
        {
            Kept = input;
            return input.Mul(1.0);
        }
    }
}
