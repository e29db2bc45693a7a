using Fovea.NN;

namespace Fovea.Distributed.Tests;

public class DataParallelTests
{
    private static Sequential Mlp(ulong seed) =>
        new(new Linear(4, 8, generator: new Generator(seed)), new Tanh(), new Linear(8, 3, generator: new Generator(seed + 1)));

    [Fact]
    public void TwoRanksWithHalfTheBatch_ReachTheParametersOfOneRankWithTheWholeBatch()
    {
        var (single, firstLoss, lastLoss) = Equivalence.Train(null);
        var ranks = InProcessProcessGroup.Run(2, g => Equivalence.Train(g));
        Assert.True(lastLoss < 0.7 * firstLoss, $"the reference did not train: loss {firstLoss} -> {lastLoss}");
        Assert.Equal(ranks[0].Parameters, ranks[1].Parameters); // the replicas are bit-identical
        double diff = Equivalence.RelativeDifference(ranks[0].Parameters, single);
        Assert.True(diff <= Equivalence.Tolerance, $"max |diff| / max |param| = {diff:E2} after {Equivalence.Steps} steps");
    }

    [Fact]
    public void WithoutAveraging_TheRunsWouldDiffer()
    {
        // The equivalence test can fail: one rank alone with batch 32 (half the data per step) ends elsewhere.
        var (single, _, _) = Equivalence.Train(null);
        var (alone, _, _) = Equivalence.Train(new HalfOfTwo());
        Assert.True(Equivalence.RelativeDifference(alone, single) > 1000 * Equivalence.Tolerance);
    }

    [Fact]
    public void Construction_BroadcastsRankZerosParameters()
    {
        var weights = InProcessProcessGroup.Run(3, g =>
        {
            var model = Mlp(10 + (ulong)g.Rank);
            using var ddp = new DistributedDataParallel(model, g);
            return model.Parameters().SelectMany(p => p.ToArray<float>()).ToArray();
        });
        var expected = Mlp(10).Parameters().SelectMany(p => p.ToArray<float>()).ToArray();
        Assert.All(weights, w => Assert.Equal(expected, w));
    }

    [Fact]
    public void Buckets_HoldParametersInReverseRegistrationOrder_UpToTheCap()
    {
        var group = InProcessProcessGroup.Create(1)[0];
        using (group)
        {
            // 0.0002 MB = 209 bytes: 2.bias (12 bytes), 2.weight (96) and 0.bias (32) fit; 0.weight (128) starts another.
            using var ddp = new DistributedDataParallel(Mlp(1), group, bucketMegabytes: 0.0002);
            Assert.Equal([["2.bias", "2.weight", "0.bias"], ["0.weight"]], ddp.BucketParameterNames.Select(b => b.ToArray()).ToArray());
            Assert.Equal((8 * 4 + 8 + 3 * 8 + 3) * 4, ddp.GradientBytes);
            using var one = new DistributedDataParallel(Mlp(1), group);
            Assert.Single(one.BucketParameterNames);
        }
    }

    [Fact]
    public void GradientsAreAveraged_WhenBackwardReturns()
    {
        var grads = InProcessProcessGroup.Run(2, g =>
        {
            var model = Mlp(3);
            using var ddp = new DistributedDataParallel(model, g, bucketMegabytes: 0.0001);
            var x = Tensor.Full([2, 4], g.Rank == 0 ? 1.0 : -2.0);
            model.Forward(x).Square().Sum().Backward();
            var afterBackward = model.Parameters().Select(p => p.Grad!.ToArray<float>()).ToArray();
            ddp.SynchronizeGradients(); // already done: returns at once
            return afterBackward;
        });
        // The reference: the mean of the two ranks' gradients, computed in one process.
        var reference = new float[4][];
        var sums = new List<float[]>();
        foreach (double v in new[] { 1.0, -2.0 })
        {
            var model = Mlp(3);
            model.Forward(Tensor.Full([2, 4], v)).Square().Sum().Backward();
            sums.Add([.. model.Parameters().SelectMany(p => p.Grad!.ToArray<float>())]);
        }
        var mean = sums[0].Zip(sums[1], (a, b) => (a + b) / 2).ToArray();
        Assert.Equal(grads[0].SelectMany(a => a), grads[1].SelectMany(a => a));
        var got = grads[0].SelectMany(a => a).ToArray();
        for (int i = 0; i < mean.Length; i++) Assert.Equal(mean[i], got[i], 1e-5f);
    }

    [Fact]
    public void AParameterUnusedOnOneRank_ContributesZeros_WithoutHanging()
    {
        var grads = InProcessProcessGroup.Run(2, g =>
        {
            var used = Tensor.Full([3], 1.0).RequiresGrad_();
            var sometimes = Tensor.Full([2], 1.0).RequiresGrad_();
            var model = new ParameterHolder(used, sometimes);
            using var ddp = new DistributedDataParallel(model, g, bucketMegabytes: 1e-6); // one bucket each
            var loss = (used * (g.Rank + 1.0)).Sum();
            if (g.Rank == 0) loss = loss + (sometimes * 4.0).Sum();
            loss.Backward();
            ddp.SynchronizeGradients();
            return (used.Grad!.ToArray<float>(), sometimes.Grad!.ToArray<float>());
        }, TimeSpan.FromSeconds(20));
        Assert.All(grads, r =>
        {
            Assert.Equal([1.5f, 1.5f, 1.5f], r.Item1); // (1 + 2) / 2
            Assert.Equal([2f, 2f], r.Item2);           // (4 + 0) / 2
        });
    }

    [Fact]
    public void NoSync_AccumulatesLocally_AndTheNextBackwardAveragesTheSum()
    {
        var grads = InProcessProcessGroup.Run(2, g =>
        {
            var w = Tensor.Full([2], 1.0).RequiresGrad_();
            using var ddp = new DistributedDataParallel(new ParameterHolder(w), g);
            using (ddp.NoSync()) (w * (g.Rank + 1.0)).Sum().Backward();
            var local = w.Grad!.ToArray<float>();
            (w * 10.0).Sum().Backward();
            ddp.SynchronizeGradients();
            return (local, w.Grad!.ToArray<float>());
        });
        Assert.Equal([1f, 1f], grads[0].local);
        Assert.Equal([2f, 2f], grads[1].local);
        Assert.All(grads, r => Assert.Equal([11.5f, 11.5f], r.Item2)); // ((1 + 10) + (2 + 10)) / 2
    }

    [Fact]
    public void ASecondBackwardBeforeSynchronising_IsAClearError()
    {
        var e = Assert.Throws<InvalidOperationException>(() => InProcessProcessGroup.Run(1, g =>
        {
            var a = Tensor.Full([2], 1.0).RequiresGrad_();
            var b = Tensor.Full([2], 1.0).RequiresGrad_();
            using var ddp = new DistributedDataParallel(new ParameterHolder(b, a), g, bucketMegabytes: 1e-6); // buckets [a], [b]
            (a.Sum() + b.Sum()).Backward(); // both buckets full: averaged at the end of backward
            a.Sum().Backward();             // only a's bucket: started, not finished
            a.Sum().Backward();             // a's bucket again while in flight
            return 0;
        }));
        Assert.Contains("NoSync", e.Message);
    }

    [Fact]
    public void Dispose_RemovesTheHooks()
    {
        var group = InProcessProcessGroup.Create(1)[0];
        using (group)
        {
            var w = Tensor.Full([2], 1.0).RequiresGrad_();
            var ddp = new DistributedDataParallel(new ParameterHolder(w), group);
            ddp.Dispose();
            w.Sum().Backward();
            w.Sum().Backward(); // no hook, so no "second backward" complaint
            Assert.Equal([2f, 2f], w.Grad!.ToArray<float>());
        }
    }

    /// <summary>A module that only holds the given tensors as parameters p0, p1, ….</summary>
    private sealed class ParameterHolder : Module
    {
        public ParameterHolder(params Tensor[] parameters)
        {
            for (int i = 0; i < parameters.Length; i++) RegisterParameter($"p{i}", parameters[i]);
        }
    }

    /// <summary>Rank 0 of two that communicates with nobody: a run that shards like a two-rank run but never averages.</summary>
    private sealed class HalfOfTwo : IProcessGroup
    {
        public int Rank => 0;
        public int Size => 2; // so the sampler and the batch size are those of a two-rank run
        public void AllReduce(Span<float> data, ReduceOp op = ReduceOp.Sum) { }
        public void AllReduce(Span<double> data, ReduceOp op = ReduceOp.Sum) { }
        public CollectiveHandle AllReduceAsync(Memory<float> data, ReduceOp op = ReduceOp.Sum) => new(Task.CompletedTask);
        public CollectiveHandle AllReduceAsync(Memory<double> data, ReduceOp op = ReduceOp.Sum) => new(Task.CompletedTask);
        public void Broadcast(Span<float> data, int root = 0) { }
        public void Broadcast(Span<double> data, int root = 0) { }
        public void Barrier() { }
        public void Dispose() { }
    }
}
