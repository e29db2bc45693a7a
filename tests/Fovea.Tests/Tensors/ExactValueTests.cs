using static Fovea.Tests.TestUtil;

namespace Fovea.Tests.Tensors;

/// <summary>Small hand-computed cases with PyTorch's answers.</summary>
public class ExactValueTests
{
    [Theory]
    [InlineData(new[] { 3, 1, 5 }, new[] { 4, 5 }, new[] { 3, 4, 5 })]
    [InlineData(new[] { 4, 5 }, new[] { 3, 1, 5 }, new[] { 3, 4, 5 })]
    [InlineData(new[] { 5 }, new int[0], new[] { 5 })]
    [InlineData(new int[0], new int[0], new int[0])]
    [InlineData(new[] { 1 }, new int[0], new[] { 1 })]
    [InlineData(new[] { 3, 1 }, new[] { 1, 4 }, new[] { 3, 4 })]
    [InlineData(new[] { 2, 1, 3, 1 }, new[] { 5, 1, 7 }, new[] { 2, 5, 3, 7 })]
    [InlineData(new[] { 0, 1 }, new[] { 1, 6 }, new[] { 0, 6 })]
    [InlineData(new[] { 1, 0 }, new[] { 3, 1 }, new[] { 3, 0 })]
    [InlineData(new[] { 8, 1, 6, 1 }, new[] { 7, 1, 5 }, new[] { 8, 7, 6, 5 })]
    public void Broadcast_result_shape(int[] a, int[] b, int[] expected)
    {
        Assert.Equal(expected, ShapeChecks.Broadcast("add", a, b));
        Assert.Equal(expected, (Tensor.Ones(a) + Tensor.Ones(b)).Shape);
        Assert.Equal(expected, Tensor.Zeros(a).Lt(Tensor.Zeros(b)).Shape);
        Assert.Equal(expected, Tensor.Where(Tensor.Zeros(a, DType.Bool), Tensor.Zeros(b), Tensor.Zeros(a)).Shape);
    }

    [Fact]
    public void Broadcast_add_values_row_plus_column()
    {
        var col = Tensor.FromArray(new float[] { 0, 10, 20 }, 3, 1);
        var row = Tensor.From(1f, 2f, 3f, 4f);
        AssertValues(col + row, 1, 2, 3, 4, 11, 12, 13, 14, 21, 22, 23, 24);
        AssertValues(row - col, 1, 2, 3, 4, -9, -8, -7, -6, -19, -18, -17, -16);
    }

    [Fact]
    public void Scalar_operators_both_sides()
    {
        var x = Tensor.From(1f, 2f, 4f);
        AssertValues(x + 1, 2, 3, 5);
        AssertValues(1 + x, 2, 3, 5);
        AssertValues(x - 1, 0, 1, 3);
        AssertValues(1 - x, 0, -1, -3);
        AssertValues(x * 2, 2, 4, 8);
        AssertValues(2 * x, 2, 4, 8);
        AssertValues(x / 2, 0.5, 1, 2);
        AssertValues(2 / x, 2, 1, 0.5);
        AssertValues(-x, -1, -2, -4);
        AssertValues(x.Add(x, 0.5), 1.5, 3, 6);
        AssertValues(x.Pow(3), 1, 8, 64);
        AssertValues(x.Pow(0.5), 1, Math.Sqrt(2), 2);
        AssertValues(x.Reciprocal(), 1, 0.5, 0.25);
        Assert.Equal(DType.Float32, (2 * x).DType);
        Assert.Equal(DType.Float64, (2 * x.To(DType.Float64)).DType);
    }

    [Fact]
    public void Pow_of_negative_base_with_integral_exponent_is_real()
    {
        var x = Tensor.From(-2f, -3f, 2f);
        AssertValues(x.Pow(3), -8, -27, 8);
        AssertValues(x.Pow(Tensor.From(3f, 2f, -1f)), -8, 9, 0.5);
        Assert.True(double.IsNaN(x.Pow(0.5)[0]));
    }

    [Fact]
    public void Unary_values()
    {
        var x = Tensor.From(-1.0, 0.0, 2.0);
        AssertValues(x.Abs(), 1, 0, 2);
        AssertValues(x.Sign(), -1, 0, 1);
        AssertValues(x.Relu(), 0, 0, 2);
        AssertValues(x.Exp(), Math.Exp(-1), 1, Math.Exp(2));
        AssertValues(x.Sigmoid(), 1 / (1 + Math.E), 0.5, 1 / (1 + Math.Exp(-2)));
        AssertValues(x.Tanh(), Math.Tanh(-1), 0, Math.Tanh(2));
        AssertValues(Tensor.From(4.0, 0.25).Sqrt(), 2, 0.5);
        AssertValues(Tensor.From(4.0, 0.25).Rsqrt(), 0.5, 2);
        AssertValues(Tensor.From(1.0, Math.E).Log(), 0, 1);
        AssertValues(Tensor.From(0.0, Math.PI / 2).Sin(), 0, 1);
        AssertValues(Tensor.From(0.0, Math.PI).Cos(), 1, -1);
        AssertValues(Tensor.From(-3, 0, 5).Abs(), 3, 0, 5);
        Assert.True(double.IsNaN(Tensor.From(float.NaN).Sign()[0]));
        Assert.True(double.IsNaN(Tensor.From(float.NaN).Relu()[0]));
    }

    [Fact]
    public void Sigmoid_saturates_without_nan()
    {
        var x = Tensor.From(-1000f, -100f, 100f, 1000f);
        var y = x.Sigmoid();
        Assert.False(y.Ne(y).Any()); // no NaN
        AssertValues(y, 0, 0, 1, 1);
    }

    [Fact]
    public void Clamp_keeps_nan_and_uses_max_when_bounds_cross()
    {
        var x = Tensor.From(-5f, 0.5f, 5f, float.NaN);
        var c = x.Clamp(-1, 1);
        AssertValues(c.Narrow(0, 0, 3), -1, 0.5, 1);
        Assert.True(double.IsNaN(c[3]));
        AssertValues(Tensor.From(0f, 3f).Clamp(2, 1), 1, 1); // PyTorch: min > max gives max
        Assert.Throws<ArgumentException>(() => x.Clamp());
    }

    [Fact]
    public void Maximum_minimum_propagate_nan()
    {
        var a = Tensor.From(1f, float.NaN, 3f);
        var b = Tensor.From(2f, 0f, float.NaN);
        var mx = a.Maximum(b);
        var mn = a.Minimum(b);
        Assert.Equal(2, mx[0]);
        Assert.Equal(1, mn[0]);
        Assert.True(double.IsNaN(mx[1]) && double.IsNaN(mx[2]) && double.IsNaN(mn[1]) && double.IsNaN(mn[2]));
    }

    [Fact]
    public void Comparisons_give_bool_and_nan_compares_unequal()
    {
        var a = Tensor.From(1f, 2f, float.NaN);
        var b = Tensor.From(2f, 2f, float.NaN);
        Assert.Equal(DType.Bool, a.Lt(b).DType);
        AssertValues(a.Lt(b), 1, 0, 0);
        AssertValues(a.Le(b), 1, 1, 0);
        AssertValues(a.Gt(b), 0, 0, 0);
        AssertValues(a.Ge(b), 0, 1, 0);
        AssertValues(a.Eq(b), 0, 1, 0);
        AssertValues(a.Ne(b), 1, 0, 1);
        AssertValues(a.Eq(2), 0, 1, 0);
        var t = Tensor.FromArray(new[] { true, true, false, false }, 4);
        var u = Tensor.FromArray(new[] { true, false, true, false }, 4);
        AssertValues(t.LogicalAnd(u), 1, 0, 0, 0);
        AssertValues(t.LogicalOr(u), 1, 1, 1, 0);
        AssertValues(t.LogicalXor(u), 0, 1, 1, 0);
        AssertValues(t.LogicalNot(), 0, 0, 1, 1);
    }

    [Fact]
    public void Where_and_masked_fill_values()
    {
        var cond = Tensor.FromArray(new[] { true, false, true }, 3);
        AssertValues(Tensor.Where(cond, Tensor.From(1f, 2f, 3f), Tensor.From(-1f, -2f, -3f)), 1, -2, 3);
        AssertValues(Tensor.Where(cond.Reshape(3, 1), Tensor.From(1f, 2f), Tensor.Scalar(0)), 1, 2, 0, 0, 1, 2);
        var x = Tensor.FromArray(new float[] { 1, 2, 3, 4, 5, 6 }, 2, 3);
        var y = x.MaskedFill(cond, -9);
        AssertValues(y, -9, 2, -9, -9, 5, -9);
        AssertValues(x, 1, 2, 3, 4, 5, 6); // out of place
    }

    [Fact]
    public void Var_unbiased_and_with_correction_zero()
    {
        var x = Tensor.From(1.0, 2.0, 3.0, 4.0);
        Assert.Equal(5.0 / 3.0, x.Var().ToScalar(), 12);
        Assert.Equal(1.25, x.Var([], correction: 0).ToScalar(), 12);
        Assert.Equal(Math.Sqrt(5.0 / 3.0), x.Std([]).ToScalar(), 12);
        Assert.Equal(Math.Sqrt(1.25), x.Std([], correction: 0).ToScalar(), 12);
        var m = Tensor.FromArray(new double[] { 1, 2, 3, 4, 6, 8 }, 2, 3);
        AssertValues(m.Var([1]), 1, 4);
        AssertValues(m.Var(0, correction: 0), 2.25, 4, 6.25);
        Assert.Equal([2, 1], m.Var(1, keepDim: true).Shape);
        // A single element has no unbiased variance (PyTorch: nan).
        Assert.True(double.IsNaN(Tensor.From(3.0).Var().ToScalar()));
    }

    [Fact]
    public void Var_is_accurate_with_a_large_mean()
    {
        // Naive E[x²] − E[x]² in float32 loses everything at mean 1e4; two-pass does not.
        var x = Tensor.From(10000f, 10001f, 10002f, 10003f);
        Assert.Equal(5.0 / 3.0, x.Var().ToScalar(), 4);
    }

    [Fact]
    public void Mean_sum_prod_values()
    {
        var x = Tensor.FromArray(new float[] { 1, 2, 3, 4, 5, 6 }, 2, 3);
        Assert.Equal(21, x.Sum().ToScalar());
        Assert.Equal(720, x.Prod().ToScalar());
        Assert.Equal(3.5, x.Mean().ToScalar());
        AssertValues(x.Sum(0), 5, 7, 9);
        AssertValues(x.Sum(-1), 6, 15);
        AssertValues(x.Mean(1), 2, 5);
        AssertValues(x.Prod(1), 6, 120);
        Assert.Equal([1, 3], x.Sum(0, keepDim: true).Shape);
        Assert.Equal(new int[0], x.Sum([0, 1]).Shape);
        Assert.Equal([1, 1], x.Mean([0, -1], keepDim: true).Shape);
        Assert.Equal(DType.Int32, Tensor.FromArray(new[] { true, true, false }, 3).Sum().DType);
        Assert.Equal(2, Tensor.FromArray(new[] { true, true, false }, 3).Sum().ToScalar());
        Assert.True(double.IsNaN(Tensor.Zeros([0]).Mean().ToScalar()));
    }

    [Fact]
    public void LogSumExp_does_not_overflow_and_handles_infinities()
    {
        var big = Tensor.From(1000f, 1000f);
        Assert.Equal(1000 + Math.Log(2), big.LogSumExp(0).ToScalar(), 3);
        var small = Tensor.From(-1000.0, -1000.0, -1000.0);
        Assert.Equal(-1000 + Math.Log(3), small.LogSumExp(0).ToScalar(), 9);
        var allNegInf = Tensor.From(double.NegativeInfinity, double.NegativeInfinity);
        Assert.Equal(double.NegativeInfinity, allNegInf.LogSumExp(0).ToScalar());
        var withPosInf = Tensor.From(1.0, double.PositiveInfinity);
        Assert.Equal(double.PositiveInfinity, withPosInf.LogSumExp(0).ToScalar());
        var m = Tensor.FromArray(new double[] { 0, 0, double.NegativeInfinity, 1 }, 2, 2);
        AssertValues(m.LogSumExp(1), Math.Log(2), 1);
        Assert.Equal([2, 1], m.LogSumExp(1, keepDim: true).Shape);
        Assert.Equal(Math.Log(2 + Math.E), m.LogSumExp([0, 1]).ToScalar(), 12);
        Assert.Equal(new int[0], m.LogSumExp([]).Shape);
    }

    [Fact]
    public void Argmax_ties_return_first_index()
    {
        var x = Tensor.From(1f, 3f, 3f, 0f, 3f);
        Assert.Equal(1, x.Argmax().Item<int>());
        Assert.Equal(3, x.Argmin().Item<int>());
        var m = Tensor.FromArray(new float[] { 5, 5, 1, 2, 7, 7 }, 2, 3);
        AssertValues(m.Argmax(1), 0, 1);
        AssertValues(m.Argmax(0), 0, 1, 1);
        Assert.Equal(4, m.Argmax().Item<int>()); // flat index
        var (values, indices) = m.Min(1, keepDim: true);
        AssertValues(values, 1, 2);
        AssertValues(indices, 2, 0);
        Assert.Equal([2, 1], indices.Shape);
        Assert.Equal(DType.Int32, indices.DType);
        var n = Tensor.From(1f, float.NaN, 5f, float.NaN);
        Assert.Equal(1, n.Argmax().Item<int>()); // NaN is the maximum, like PyTorch
        Assert.Equal(1, n.Argmin().Item<int>());
        Assert.True(double.IsNaN(n.Max().ToScalar()));
    }

    [Fact]
    public void Max_of_a_0d_tensor()
    {
        var s = Tensor.Scalar(4);
        var (v, i) = s.Max(0);
        Assert.Equal(0, v.Rank);
        Assert.Equal(4, v.ToScalar());
        Assert.Equal(0, i.Item<int>());
        Assert.Equal(4, s.Sum().ToScalar());
        Assert.Equal(4, s.Amax([0]).ToScalar());
        Assert.Equal(4, s.Sum(0).ToScalar());
        Assert.Equal(4, s.Sum(-1, keepDim: true).ToScalar());
        Assert.Equal(4, s.Mean(0).ToScalar());
        Assert.Equal(4, s.LogSumExp(0).ToScalar(), 6);
        Assert.Equal(0, s.Sum(0).Rank);
        Assert.Throws<ShapeException>(() => s.Sum(1));
    }

    [Fact]
    public void MatMul_shapes_and_values_follow_pytorch()
    {
        var a = Tensor.FromArray(new float[] { 1, 2, 3, 4, 5, 6 }, 2, 3);
        var b = Tensor.FromArray(new float[] { 1, 0, 0, 1, 1, 1 }, 3, 2);
        AssertValues(a.MatMul(b), 4, 5, 10, 11);
        AssertValues(a.MatMul(Tensor.From(1f, 1f, 1f)), 6, 15);
        Assert.Equal([2], a.MatMul(Tensor.From(1f, 1f, 1f)).Shape);
        AssertValues(Tensor.From(1f, 1f).MatMul(a), 5, 7, 9);
        var dot = Tensor.From(1f, 2f, 3f).MatMul(Tensor.From(4f, 5f, 6f));
        Assert.Equal(0, dot.Rank);
        Assert.Equal(32, dot.ToScalar());
        Assert.Equal([5, 2, 2], Tensor.Ones(5, 2, 3).MatMul(b).Shape);
        Assert.Equal([5, 2], Tensor.Ones(5, 2, 3).MatMul(Tensor.Ones(3)).Shape);
        Assert.Equal([5, 4], Tensor.Ones(3).MatMul(Tensor.Ones(5, 3, 4)).Shape);
        Assert.Equal([7, 5, 2, 4], Tensor.Ones(7, 1, 2, 3).MatMul(Tensor.Ones(5, 3, 4)).Shape);
        Assert.Equal(0, Tensor.Zeros([0]).MatMul(Tensor.Zeros([0])).ToScalar());
        AssertValues(Tensor.Ones(2, 0).MatMul(Tensor.Ones(0, 2)), 0, 0, 0, 0);
    }

    [Fact]
    public void Gather_scatter_add_index_select_values()
    {
        var x = Tensor.FromArray(new float[] { 1, 2, 3, 4, 5, 6 }, 2, 3);
        var idx = Tensor.FromArray(new[] { 2, 0, 1, 1 }, 2, 2);
        AssertValues(x.Gather(1, idx), 3, 1, 5, 5);
        var idx0 = Tensor.FromArray(new[] { 1, 0, 1 }, 1, 3);
        AssertValues(x.Gather(0, idx0), 4, 2, 6);
        var z = Tensor.Zeros(2, 3);
        AssertValues(z.ScatterAdd(1, idx, Tensor.FromArray(new float[] { 10, 20, 30, 40 }, 2, 2)), 20, 0, 10, 0, 70, 0);
        AssertValues(z, 0, 0, 0, 0, 0, 0); // out of place
        AssertValues(x.IndexSelect(1, Tensor.From(2, 2, 0)), 3, 3, 1, 6, 6, 4);
        AssertValues(x.IndexSelect(0, Tensor.From(1)), 4, 5, 6);
    }

    [Fact]
    public void Cat_stack_values()
    {
        var a = Tensor.FromArray(new float[] { 1, 2 }, 1, 2);
        var b = Tensor.FromArray(new float[] { 3, 4, 5, 6 }, 2, 2);
        AssertValues(Tensor.Cat([a, b]), 1, 2, 3, 4, 5, 6);
        AssertValues(Tensor.Cat([b, b.Narrow(1, 0, 1)], 1), 3, 4, 3, 5, 6, 5);
        var s = Tensor.Stack([Tensor.From(1f, 2f), Tensor.From(3f, 4f)], 1);
        Assert.Equal([2, 2], s.Shape);
        AssertValues(s, 1, 3, 2, 4);
        Assert.Equal([3], Tensor.Stack([Tensor.Scalar(1), Tensor.Scalar(2), Tensor.Scalar(3)]).Shape);
    }

    [Fact]
    public void Equal_and_allclose()
    {
        var a = Tensor.From(1f, 2f);
        Assert.True(a.Equal(Tensor.From(1f, 2f)));
        Assert.False(a.Equal(Tensor.From(1f, 2.5f)));
        Assert.False(a.Equal(Tensor.From(1.0, 2.0)));
        Assert.False(a.Equal(a.Reshape(2, 1)));
        Assert.True(Tensor.Zeros([0]).Equal(Tensor.Zeros([0])));
        Assert.True(a.AllClose(Tensor.From(1f, 2.00001f)));
        Assert.False(a.AllClose(Tensor.From(1f, 2.1f)));
        var n = Tensor.From(float.NaN);
        Assert.False(n.AllClose(n));
        Assert.True(n.AllClose(n, equalNan: true));
        Assert.True(Tensor.From(1f, 1f).All());
        Assert.False(Tensor.From(1f, 0f).All());
        Assert.True(Tensor.Zeros([0]).All());
        Assert.False(Tensor.Zeros([0]).Any());
    }

    [Fact]
    public void Casts_truncate_toward_zero_and_map_nonzero_to_true()
    {
        var x = Tensor.From(-2.7f, -0.5f, 0f, 0.5f, 2.7f);
        AssertValues(x.To(DType.Int32), -2, 0, 0, 0, 2);
        AssertValues(x.To(DType.Bool), 1, 1, 0, 1, 1);
        AssertValues(Tensor.FromArray(new[] { true, false }, 2).To(DType.Float32), 1, 0);
        Assert.Same(x, x.To(DType.Float32));
    }
}
