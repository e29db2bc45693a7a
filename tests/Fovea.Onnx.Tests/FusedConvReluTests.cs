namespace Fovea.Onnx.Tests;

/// <summary>
/// A Conv (with a BatchNormalization folded into it or not) whose output only a Relu reads, or only an Add whose
/// output only a Relu reads, runs as one convolution that adds the Add's other operand and rectifies each output
/// (<see cref="NN.Functional.Conv2dRelu"/>): in evaluation with gradients off the values are those of the graph as
/// written; in training, or with gradients on, the nodes run apart.
/// </summary>
[CollectionDefinition(ThreadCount, DisableParallelization = true)]
[Collection(ThreadCount)]
public sealed class FusedConvReluTests
{
    /// <summary>The collection of the tests that set the global thread count (no other test runs meanwhile).</summary>
    public const string ThreadCount = "Global thread count";

    private static float[] Values(int n, int seed)
    {
        var rng = new Random(seed);
        return [.. Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1))];
    }

    /// <summary>
    /// shortcut = Conv(x) with a bias; body = BatchNormalization(Conv(x)); y = Relu(Add(shortcut, body)) (the
    /// convolution's output second, as a CNTK export orders it); z = Relu(BatchNormalization(Conv(y))).
    /// </summary>
    private static byte[] Graph(bool bodyReadTwice = false)
    {
        var b = new OnnxModelBuilder().Input("x", 2, 4, 6, 6)
            .Initializer("ws", Values(4 * 4, 1), 4, 4, 1, 1).Initializer("bs", Values(4, 2), 4)
            .Initializer("wb", Values(4 * 4 * 9, 3), 4, 4, 3, 3)
            .Initializer("wz", Values(4 * 4 * 9, 4), 4, 4, 3, 3);
        foreach (var p in new[] { "n1", "n2" })
            b.Initializer($"{p}.scale", [.. Values(4, 5).Select(v => 1 + v / 2)], 4).Initializer($"{p}.bias", Values(4, 6), 4)
                .Initializer($"{p}.mean", Values(4, 7), 4).Initializer($"{p}.var", [.. Values(4, 8).Select(v => 1.5f + v)], 4);
        b.Node("Conv", ["x", "ws", "bs"], ["s"])
            .Node("Conv", ["x", "wb"], ["c"], ("pads", new long[] { 1, 1, 1, 1 }))
            .Node("BatchNormalization", ["c", "n1.scale", "n1.bias", "n1.mean", "n1.var"], ["body"])
            .Node("Add", ["s", "body"], ["a"])
            .Node("Relu", ["a"], ["y"])
            .Node("Conv", ["y", "wz"], ["cz"], ("pads", new long[] { 1, 1, 1, 1 }))
            .Node("BatchNormalization", ["cz", "n2.scale", "n2.bias", "n2.mean", "n2.var"], ["nz"])
            .Node("Relu", ["nz"], ["z"]);
        if (bodyReadTwice)
            b.Node("Mul", ["body", "z"], ["out"]).Output("out");
        else
            b.Output("z");
        return b.ToBytes();
    }

    [Fact]
    public void A_join_and_a_relu_run_in_their_convolutions_with_the_values_of_the_graph_as_written()
    {
        var imported = OnnxModel.Import(Graph(), "joins.onnx");
        imported.Eval();
        Assert.Equal(1, imported.FusedConvJoins);
        Assert.Equal(1, imported.FusedConvRelus);
        Assert.Equal(2, imported.FusedConvBatchNormPairs);
        var x = Tensor.Randn([2, 4, 6, 6], new Generator(9));
        var xBefore = x.ToArray<float>();
        var expected = imported.Forward(x).Detach(); // gradients on: nothing folded or fused
        Assert.Contains(expected.ToArray<float>(), v => v == 0f);
        Assert.Contains(expected.ToArray<float>(), v => v > 0f);
        foreach (int threads in new[] { 1, 2 })
        {
            int saved = Threading.MaxDegreeOfParallelism;
            Threading.MaxDegreeOfParallelism = threads;
            try
            {
                Tensor fused;
                using (GradMode.Disable()) fused = imported.Forward(x);
                InferenceTestModels.Close(expected, fused, 1e-5);
            }
            finally { Threading.MaxDegreeOfParallelism = saved; }
        }
        Assert.Equal(xBefore, x.ToArray<float>());

        // Training mode: batch statistics, so nothing folds; without gradients the nodes run apart and agree with a
        // recorded forward.
        imported.Train();
        var trainExpected = imported.Forward(x).Detach();
        Tensor trainNoGrad;
        using (GradMode.Disable()) trainNoGrad = imported.Forward(x);
        InferenceTestModels.Close(trainExpected, trainNoGrad, 1e-6);
        // Batch statistics differ from the running ones.
        Assert.Contains(expected.ToArray<float>().Zip(trainExpected.ToArray<float>()), p => Math.Abs(p.First - p.Second) > 1e-3);
    }

    [Fact]
    public void A_convolution_output_read_twice_is_left_to_its_nodes()
    {
        var imported = OnnxModel.Import(Graph(bodyReadTwice: true), "read-twice.onnx");
        imported.Eval();
        Assert.Equal(0, imported.FusedConvJoins); // body is also read by the Mul
        Assert.Equal(1, imported.FusedConvRelus);
        var x = Tensor.Randn([2, 4, 6, 6], new Generator(10));
        var expected = imported.Forward(x).Detach();
        Tensor y;
        using (GradMode.Disable()) y = imported.Forward(x);
        InferenceTestModels.Close(expected, y, 1e-5);
    }
}
