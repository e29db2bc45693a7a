namespace Fovea.Tests.Tensors;

/// <summary>
/// Tests that change the global thread count. They run alone (no other test class in parallel), and
/// restore the setting afterwards.
/// </summary>
[CollectionDefinition("Global thread count", DisableParallelization = true)]
public class GlobalThreadCountCollection;

[Collection("Global thread count")]
public class ThreadCountDeterminismTests
{
    private static T WithThreads<T>(int threads, Func<T> f)
    {
        int saved = Threading.MaxDegreeOfParallelism;
        try
        {
            Threading.MaxDegreeOfParallelism = threads;
            return f();
        }
        finally { Threading.MaxDegreeOfParallelism = saved; }
    }

    public static TheoryData<string> Draws() => new() { "uniform32", "uniform64", "normal32", "normal64_odd", "bernoulli", "randint" };

    private static Tensor Draw(string kind, Generator g) => kind switch
    {
        "uniform32" => Tensor.Uniform([300_001], -2, 3, g),
        "uniform64" => Tensor.Uniform([200_000], 0, 1, g, DType.Float64),
        "normal32" => Tensor.Randn([300_000], g),
        "normal64_odd" => Tensor.Normal([100_001], 5, 2, g, DType.Float64),
        "bernoulli" => Tensor.Bernoulli([200_000], 0.5, g),
        _ => Tensor.RandInt([200_000], 0, 100, g),
    };

    [Theory]
    [MemberData(nameof(Draws))]
    public void Same_seed_gives_same_numbers_on_one_and_two_threads(string kind)
    {
        var one = WithThreads(1, () => { var g = new Generator(42); return (Draw(kind, g), Draw(kind, g)); });
        var two = WithThreads(2, () => { var g = new Generator(42); return (Draw(kind, g), Draw(kind, g)); });
        Assert.True(one.Item1.Equal(two.Item1), $"{kind}: first draw differs between 1 and 2 threads");
        Assert.True(one.Item2.Equal(two.Item2), $"{kind}: second draw differs between 1 and 2 threads");
        Assert.False(one.Item1.Equal(one.Item2), $"{kind}: consecutive draws must differ");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Float32_sums_are_bitwise_identical_for_any_thread_count(int threads)
    {
        var x = Tensor.Randn([400, 700], new Generator(3));
        var baseline = WithThreads(1, () => (x.Sum().ToScalar(), x.Sum(0).ToArray<float>(), x.Sum(1).ToArray<float>(), x.T.Sum(1).ToArray<float>()));
        var other = WithThreads(threads, () => (x.Sum().ToScalar(), x.Sum(0).ToArray<float>(), x.Sum(1).ToArray<float>(), x.T.Sum(1).ToArray<float>()));
        Assert.Equal(baseline.Item1, other.Item1);
        Assert.Equal(baseline.Item2, other.Item2);
        Assert.Equal(baseline.Item3, other.Item3);
        Assert.Equal(baseline.Item4, other.Item4);
    }
}

public class GeneratorTests
{
    [Fact]
    public void Same_seed_same_numbers_different_seed_different_numbers()
    {
        var a = Tensor.Rand([100], new Generator(7));
        var b = Tensor.Rand([100], new Generator(7));
        var c = Tensor.Rand([100], new Generator(8));
        Assert.True(a.Equal(b));
        Assert.False(a.Equal(c));
    }

    [Fact]
    public void Draws_continue_the_stream_and_state_restores_it()
    {
        var g = new Generator(9);
        var first = Tensor.Rand([10], g);
        var state = g.State;
        var second = Tensor.Rand([10], g);
        Assert.False(first.Equal(second));
        // One draw of 20 is the concatenation of two draws of 10.
        var whole = Tensor.Rand([20], new Generator(9));
        Assert.True(Tensor.Cat([first, second]).Equal(whole));
        g.SetState(state.Seed, state.Position);
        Assert.True(Tensor.Rand([10], g).Equal(second));
        g.ManualSeed(9);
        Assert.True(Tensor.Rand([10], g).Equal(first));
    }

    [Fact]
    public void Randn_has_mean_zero_and_unit_std()
    {
        foreach (var dt in new[] { DType.Float32, DType.Float64 })
        {
            var x = Tensor.Randn([200_000], new Generator(11), dt);
            // Standard error of the mean is 1/sqrt(n) ≈ 0.0022; allow 4.5 of them.
            Assert.InRange(x.Mean().ToScalar(), -0.01, 0.01);
            Assert.InRange(x.Std([]).ToScalar(), 0.99, 1.01);
            // About 68.3 % within one standard deviation (a check on the shape, not just the moments).
            double within = x.Abs().Lt(1).To(dt).Mean().ToScalar();
            Assert.InRange(within, 0.678, 0.688);
        }
        var y = Tensor.Normal([100_000], 3, 0.5, new Generator(12));
        Assert.InRange(y.Mean().ToScalar(), 2.99, 3.01);
        Assert.InRange(y.Std([]).ToScalar(), 0.49, 0.51);
    }

    [Fact]
    public void Uniform_stays_in_half_open_interval_with_the_right_mean()
    {
        foreach (var dt in new[] { DType.Float32, DType.Float64 })
        {
            var x = Tensor.Uniform([100_000], -1, 3, new Generator(13), dt);
            Assert.True(x.Min().ToScalar() >= -1);
            Assert.True(x.Max().ToScalar() < 3);
            Assert.InRange(x.Mean().ToScalar(), 0.98, 1.02);
            Assert.InRange(x.Var().ToScalar(), 16.0 / 12 * 0.98, 16.0 / 12 * 1.02);
        }
        // A tiny interval where float rounding would land on high: it must stay below.
        var t = Tensor.Uniform([10_000], 1, 1.0000001, new Generator(14));
        Assert.True(t.Lt(1.0000001f).All());
    }

    [Theory]
    [InlineData(0.1)]
    [InlineData(0.5)]
    [InlineData(0.93)]
    public void Bernoulli_rate(double p)
    {
        var x = Tensor.Bernoulli([100_000], p, new Generator(15));
        double rate = x.Mean().ToScalar();
        double se = Math.Sqrt(p * (1 - p) / 100_000);
        Assert.InRange(rate, p - 5 * se, p + 5 * se);
        Assert.True(x.Eq(0).LogicalOr(x.Eq(1)).All());
    }

    [Fact]
    public void Permutation_is_a_permutation_and_seeded()
    {
        var p = new Generator(16).Permutation(1000);
        Assert.Equal(Enumerable.Range(0, 1000), p.Order());
        Assert.Equal(p, new Generator(16).Permutation(1000));
        Assert.NotEqual(Enumerable.Range(0, 1000), p);
        var g = new Generator(17);
        var counts = new int[5];
        for (int i = 0; i < 5000; i++) counts[g.NextInt(5)]++;
        Assert.All(counts, c => Assert.InRange(c, 850, 1150));
        double d = g.NextDouble();
        Assert.InRange(d, 0, 1);
    }
}
