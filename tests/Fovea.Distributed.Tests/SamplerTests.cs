using Fovea.Data;

namespace Fovea.Distributed.Tests;

public class SamplerTests
{
    private static int[][] Shards(int n, int replicas, int epoch, bool shuffle = true, ulong seed = 3, bool dropLast = false) =>
        [.. Enumerable.Range(0, replicas).Select(r => new DistributedSampler(n, replicas, r, shuffle, seed, dropLast).Order(epoch))];

    [Fact]
    public void Shards_AreDisjoint_CoverTheDataset_AndEqual()
    {
        var shards = Shards(100, 4, epoch: 2);
        Assert.All(shards, s => Assert.Equal(25, s.Length));
        var all = shards.SelectMany(s => s).ToArray();
        Assert.Equal(100, all.Distinct().Count());
        Assert.Equal(Enumerable.Range(0, 100), all.Order());
    }

    [Fact]
    public void UnevenDataset_IsPaddedFromThePermutationsStart_AsPyTorchDoes()
    {
        // n = 10, 3 ranks: 4 each, 12 positions; positions 10 and 11 repeat the permutation's first two.
        var perm = new Generator(3).SelectStream(0).Permutation(10);
        var shards = Shards(10, 3, epoch: 0);
        Assert.All(shards, s => Assert.Equal(4, s.Length));
        Assert.Equal([perm[0], perm[3], perm[6], perm[9]], shards[0]);
        Assert.Equal([perm[1], perm[4], perm[7], perm[0]], shards[1]);
        Assert.Equal([perm[2], perm[5], perm[8], perm[1]], shards[2]);
        Assert.Equal(10, shards.SelectMany(s => s).Distinct().Count());
    }

    [Fact]
    public void DropLast_CutsTheTail_AndMoreRanksThanSamplesStillWork()
    {
        var dropped = Shards(10, 3, epoch: 0, dropLast: true);
        Assert.All(dropped, s => Assert.Equal(3, s.Length));
        Assert.Equal(9, dropped.SelectMany(s => s).Distinct().Count());
        var tiny = Shards(2, 5, epoch: 1);
        Assert.All(tiny, s => Assert.Single(s));
        Assert.Equal([0, 1], tiny.SelectMany(s => s).Distinct().Order());
        Assert.Empty(new DistributedSampler(0, 2, 1).Order(0));
    }

    [Fact]
    public void Order_IsAFunctionOfSeedAndEpoch()
    {
        Assert.Equal(Shards(50, 2, 4)[1], Shards(50, 2, 4)[1]);
        Assert.NotEqual(Shards(50, 2, 4)[1], Shards(50, 2, 5)[1]);
        Assert.NotEqual(Shards(50, 2, 4, seed: 1)[1], Shards(50, 2, 4, seed: 2)[1]);
        Assert.Equal([0, 2, 4, 6], Shards(8, 2, 9, shuffle: false)[0]);
    }

    [Fact]
    public void OneReplica_VisitsExactlyWhatAShufflingLoaderVisits()
    {
        var loader = DataLoader.FromTensors(Tensor.Zeros(30, 1), Tensor.Zeros(30), 4, shuffle: true, seed: 11);
        Assert.Equal(loader.Order(3), new DistributedSampler(30, 1, 0, seed: 11).Order(3));
    }

    [Fact]
    public void ALoaderWithTheSampler_YieldsTheRanksShardInBatches()
    {
        var x = Tensor.Arange(10).Reshape(10, 1);
        var sampler = new DistributedSampler(10, 2, 1, seed: 4);
        var loader = new DataLoader<(Tensor Input, Tensor Target), (Tensor Input, Tensor Target)>(new TensorDataset(x, Tensor.Zeros(10)), 2, prefetch: 0)
        {
            Sampler = sampler,
        };
        Assert.Equal(3, loader.BatchCount); // 5 samples in batches of 2
        var seen = loader.SelectMany(b => b.Input.ToArray<float>()).Select(v => (int)v).ToArray();
        Assert.Equal(sampler.Order(0), seen);
    }

    [Fact]
    public void ASamplerReturningBadIndices_IsAClearError()
    {
        var loader = new DataLoader<(Tensor Input, Tensor Target), (Tensor Input, Tensor Target)>(new TensorDataset(Tensor.Zeros(4, 1), Tensor.Zeros(4)), 2, prefetch: 0)
        {
            Sampler = new DistributedSampler(8, 1, 0),
        };
        var e = Assert.Throws<InvalidOperationException>(() => loader.Order(0));
        Assert.Contains("outside the dataset of 4", e.Message);
    }
}
