using static Fovea.Tests.TestUtil;

namespace Fovea.Tests.Tensors;

public class FactoryTests
{
    [Theory]
    [InlineData(0, 5, 1, new double[] { 0, 1, 2, 3, 4 })]
    [InlineData(1, 2, 0.25, new double[] { 1, 1.25, 1.5, 1.75 })]
    [InlineData(5, 0, -2, new double[] { 5, 3, 1 })]
    [InlineData(0, 0.3, 0.1, new double[] { 0, 0.1, 0.2 })]
    [InlineData(2, 2, 1, new double[0])]
    [InlineData(-1, 1, 0.75, new double[] { -1, -0.25, 0.5 })]
    public void Arange_values(double start, double end, double step, double[] expected)
    {
        var t = Tensor.Arange(start, end, step, DType.Float64);
        Assert.Equal([expected.Length], t.Shape);
        AssertValues(t, expected);
    }

    [Fact]
    public void Arange_int_and_default()
    {
        var t = Tensor.Arange(4, DType.Int32);
        Assert.Equal(DType.Int32, t.DType);
        Assert.Equal([0, 1, 2, 3], t.ToArray<int>());
        Assert.Equal(DType.Float32, Tensor.Arange(3).DType);
    }

    [Theory]
    [InlineData(0, 1, 5, new double[] { 0, 0.25, 0.5, 0.75, 1 })]
    [InlineData(-1, 1, 2, new double[] { -1, 1 })]
    [InlineData(3, 10, 1, new double[] { 3 })]
    [InlineData(3, 10, 0, new double[0])]
    [InlineData(10, 0, 6, new double[] { 10, 8, 6, 4, 2, 0 })]
    public void Linspace_values_and_endpoints(double start, double end, int steps, double[] expected)
    {
        var t = Tensor.Linspace(start, end, steps, DType.Float64);
        AssertValues(t, expected);
        if (steps > 0) Assert.Equal(start, t[0]);
        if (steps > 1) Assert.Equal(end, t[steps - 1]); // exactly, not start + (n-1)·step
    }

    [Fact]
    public void Linspace_last_value_is_exactly_end_in_float32()
    {
        var t = Tensor.Linspace(0.1, 0.7, 7);
        Assert.Equal(0.7f, t.ToArray<float>()[^1]);
        Assert.Equal(0.1f, t.ToArray<float>()[0]);
    }

    [Fact]
    public void Eye_square_and_rectangular()
    {
        AssertValues(Tensor.Eye(3), 1, 0, 0, 0, 1, 0, 0, 0, 1);
        AssertValues(Tensor.Eye(2, 3), 1, 0, 0, 0, 1, 0);
        AssertValues(Tensor.Eye(3, 2), 1, 0, 0, 1, 0, 0);
        Assert.Equal([0, 0], Tensor.Eye(0).Shape);
        Assert.Equal(DType.Int32, Tensor.Eye(2, dtype: DType.Int32).DType);
    }

    [Fact]
    public void Zeros_ones_full_scalar()
    {
        AssertValues(Tensor.Zeros(2, 2), 0, 0, 0, 0);
        AssertValues(Tensor.Ones([3], DType.Int32), 1, 1, 1);
        AssertValues(Tensor.Full([2], -2.5, DType.Float64), -2.5, -2.5);
        AssertValues(Tensor.Full([2], 1, DType.Bool), 1, 1);
        var s = Tensor.Scalar(3.5, DType.Float64);
        Assert.Equal(0, s.Rank);
        Assert.Equal(1, s.Numel);
        Assert.Equal(3.5, s.Item<double>());
        var like = Tensor.ZerosLike(Tensor.Ones([2, 3], DType.Int32));
        Assert.Equal([2, 3], like.Shape);
        Assert.Equal(DType.Int32, like.DType);
        Assert.Equal(6, Tensor.OnesLike(Tensor.Zeros(2, 3)).Sum().ToScalar());
    }

    [Fact]
    public void FromArray_keeps_shape_and_copies()
    {
        var data = new float[] { 1, 2, 3, 4, 5, 6 };
        var t = Tensor.FromArray(data, 2, 3);
        data[0] = 100;
        Assert.Equal(1, t[0, 0]);
        Assert.Equal(6, t[1, 2]);
        var m = Tensor.FromArray(new double[,] { { 1, 2, 3 }, { 4, 5, 6 } });
        Assert.Equal([2, 3], m.Shape);
        Assert.Equal(DType.Float64, m.DType);
        Assert.Equal(4, m[1, 0]);
        var cube = Tensor.FromArray(new int[2, 1, 2] { { { 1, 2 } }, { { 3, 4 } } });
        Assert.Equal([2, 1, 2], cube.Shape);
        Assert.Equal([1, 2, 3, 4], cube.ToArray<int>());
        var b = Tensor.FromArray(new bool[,] { { true }, { false } });
        Assert.Equal(DType.Bool, b.DType);
        Assert.Equal([true, false], b.ToArray<bool>());
        Assert.Equal([4], Tensor.FromArray(new float[4]).Shape);
        Assert.Equal(DType.Int32, Tensor.From(1, 2).DType);
        Assert.Equal(DType.Float64, Tensor.From(1.0, 2.0).DType);
        Assert.Throws<DTypeException>(() => Tensor.FromArray(new long[,] { { 1 } }));
    }

    [Fact]
    public void Indexer_reads_writes_and_wraps_negative_indices()
    {
        var t = Tensor.Zeros([2, 3], DType.Int32);
        t[1, -1] = 7;
        Assert.Equal(7, t[1, 2]);
        Assert.Equal(7, t[-1, -1]);
        Assert.Throws<OverflowException>(() => t[0, 0] = 3e10);
        var b = Tensor.Zeros([2], DType.Bool);
        b[1] = 5;
        Assert.Equal([false, true], b.ToArray<bool>());
    }

    [Fact]
    public void Bernoulli_and_randint_types_and_ranges()
    {
        var g = new Generator(5);
        var m = Tensor.Bernoulli([1000], 0.3, g, DType.Bool);
        Assert.Equal(DType.Bool, m.DType);
        var ri = Tensor.RandInt([10_000], -3, 4, g);
        Assert.Equal(DType.Int32, ri.DType);
        var v = ri.ToArray<int>();
        Assert.Equal(-3, v.Min());
        Assert.Equal(3, v.Max());
        // Every value in [low, high) appears with roughly equal frequency.
        foreach (var grp in v.GroupBy(x => x)) Assert.InRange(grp.Count(), 1200, 1660);
        Assert.All(Values(Tensor.Bernoulli([100], 0, g)), x => Assert.Equal(0, x));
        Assert.All(Values(Tensor.Bernoulli([100], 1, g)), x => Assert.Equal(1, x));
    }
}
