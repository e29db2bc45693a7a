using static Fovea.Tests.TestUtil;

namespace Fovea.Tests.Tensors;

/// <summary>Views share storage, have PyTorch's shapes and strides, and copy only when they must.</summary>
public class ViewTests
{
    private static Tensor Base() => Tensor.Arange(24).Reshape(2, 3, 4);

    /// <summary>Each view kind of a [2, 3, 4] arange, its expected shape and strides, and the base element [i, j, k] that view element 0 maps to.</summary>
    public static TheoryData<string, int[], int[], int> ViewKinds() => new()
    {
        { "reshape", [6, 4], [4, 1], 0 },
        { "reshape_infer", [4, 6], [6, 1], 0 },
        { "view", [2, 12], [12, 1], 0 },
        { "permute", [4, 2, 3], [1, 12, 4], 0 },
        { "transpose", [2, 4, 3], [12, 1, 4], 0 },
        { "squeeze_unsqueeze", [2, 1, 3, 4], [12, 12, 4, 1], 0 },
        { "unsqueeze_last", [2, 3, 4, 1], [12, 4, 1, 1], 0 },
        { "narrow", [2, 2, 4], [12, 4, 1], 4 },
        { "slice_step", [2, 3, 2], [12, 4, 2], 1 },
        { "select", [2, 4], [12, 1], 8 },
        { "expand", [5, 2, 3, 4], [0, 12, 4, 1], 0 },
        { "flatten", [2, 12], [12, 1], 0 },
        { "split", [2, 3, 3], [12, 4, 1], 1 },
        { "chunk", [1, 3, 4], [12, 4, 1], 12 },
        { "unbind", [3, 4], [4, 1], 12 },
        { "T_of_select", [4, 3], [1, 4], 12 },
    };

    private static Tensor MakeView(string kind, Tensor x) => kind switch
    {
        "reshape" => x.Reshape(6, 4),
        "reshape_infer" => x.Reshape(4, -1),
        "view" => x.View(2, 12),
        "permute" => x.Permute(2, 0, 1),
        "transpose" => x.Transpose(-1, 1),
        "squeeze_unsqueeze" => x.Unsqueeze(1).Unsqueeze(0).Squeeze(0),
        "unsqueeze_last" => x.Unsqueeze(-1),
        "narrow" => x.Narrow(1, 1, 2),
        "slice_step" => x.Slice(2, 1, null, 2),
        "select" => x.Select(1, 2),
        "expand" => x.Expand(5, -1, -1, -1),
        "flatten" => x.Flatten(1),
        "split" => x.Split([1, 3], 2)[1],
        "chunk" => x.Chunk(2, 0)[1],
        "unbind" => x.Unbind(0)[1],
        "T_of_select" => x.Select(0, 1).T,
        _ => throw new ArgumentException(kind),
    };

    [Theory]
    [MemberData(nameof(ViewKinds))]
    public void View_has_expected_shape_strides_and_shares_storage(string kind, int[] shape, int[] strides, int firstValue)
    {
        var x = Base();
        var v = MakeView(kind, x);
        Assert.Equal(shape, v.Shape);
        Assert.Equal(strides, v.Strides);
        Assert.Same(x.Storage, v.Storage);
        Assert.Equal(firstValue, v[new int[v.Rank]]);
        // Writing through the view shows in the base, and bumps the shared version.
        int version = x.Storage.Version;
        v[new int[v.Rank]] = -100;
        Assert.Equal(-100, x.ToArray<float>()[firstValue]);
        Assert.True(x.Storage.Version > version);
        // And a write to the base shows in the view.
        x.Reshape(-1)[firstValue] = 7;
        Assert.Equal(7, v[new int[v.Rank]]);
    }

    [Theory]
    [MemberData(nameof(ViewKinds))]
    public void View_values_match_a_contiguous_copy(string kind, int[] shape, int[] strides, int firstValue)
    {
        _ = strides;
        _ = firstValue;
        var v = MakeView(kind, Base());
        var c = v.Contiguous();
        Assert.True(c.IsContiguous);
        Assert.Equal(shape, c.Shape);
        // Element-by-element through the strided indexer equals the row-major copy.
        var flat = c.ToArray<float>();
        var idx = new int[v.Rank];
        for (int i = 0; i < flat.Length; i++)
        {
            Assert.Equal(flat[i], v[idx]);
            for (int d = v.Rank - 1; d >= 0; d--) { if (++idx[d] < shape[d]) break; idx[d] = 0; }
        }
    }

    [Fact]
    public void View_refuses_incompatible_strides_and_reshape_copies()
    {
        var t = Tensor.Arange(6).Reshape(2, 3).T; // [3, 2] with strides [1, 3]
        var ex = Assert.Throws<ShapeException>(() => t.View(6));
        Assert.Contains("view", ex.Message);
        Assert.Contains("[6]", ex.Message);
        Assert.Contains("[1, 3]", ex.Message); // the strides
        Assert.Contains("[3, 2]", ex.Message); // the shape
        Assert.Contains("Reshape", ex.Message);
        var r = t.Reshape(6);
        Assert.NotSame(t.Storage, r.Storage);
        AssertValues(r, 0, 3, 1, 4, 2, 5);
    }

    [Fact]
    public void View_of_non_contiguous_but_compatible_layout_does_not_copy()
    {
        // Narrowing dim 0 keeps dims 1 and 2 contiguous with each other: they can merge.
        var x = Tensor.Arange(60).Reshape(5, 3, 4).Narrow(0, 1, 3).Slice(0, 0, null, 2);
        Assert.False(x.IsContiguous);
        var v = x.View(2, 12);
        Assert.Same(x.Storage, v.Storage);
        Assert.Equal([24, 1], v.Strides);
        AssertValues(v.Select(1, 0), 12, 36);
        // Splitting a dim of a transposed tensor is also a view.
        var t = Tensor.Arange(24).Reshape(4, 6).T; // [6, 4] strides [1, 6]
        var s = t.View(2, 3, 4);
        Assert.Equal([3, 1, 6], s.Strides);
        Assert.Same(t.Storage, s.Storage);
        // Expanded dims can be viewed when the stride-0 part maps onto whole new dims.
        var e = Tensor.From(1f, 2f).Expand(3, 2);
        Assert.Equal([0, 2, 1], e.View(3, 1, 2).Strides); // as PyTorch computes them
    }

    [Theory]
    [InlineData(new[] { -1 }, new[] { 24 })]
    [InlineData(new[] { 2, -1 }, new[] { 2, 12 })]
    [InlineData(new[] { -1, 2, 3 }, new[] { 4, 2, 3 })]
    [InlineData(new[] { 1, -1, 1 }, new[] { 1, 24, 1 })]
    [InlineData(new[] { 24 }, new[] { 24 })]
    public void Reshape_infers_minus_one(int[] target, int[] expected)
    {
        Assert.Equal(expected, Base().Reshape(target).Shape);
        Assert.Equal(expected, Base().View(target).Shape);
    }

    [Fact]
    public void Reshape_of_empty_and_scalar()
    {
        Assert.Equal([0, 5], Tensor.Zeros(5, 0).Reshape(0, 5).Shape);
        Assert.Equal([3, 0], Tensor.Zeros(0, 3).T.Reshape(3, 0).Shape);
        Assert.Equal(new int[0], Tensor.From(7f).Reshape().Shape);
        Assert.Equal([1, 1], Tensor.Scalar(7).Reshape(1, 1).Shape);
        Assert.Equal(7, Tensor.Scalar(7).Reshape(-1)[0]);
    }

    [Fact]
    public void Squeeze_and_unsqueeze_with_negative_dims()
    {
        var x = Tensor.Zeros(1, 3, 1, 2);
        Assert.Equal([3, 2], x.Squeeze().Shape);
        Assert.Equal([3, 1, 2], x.Squeeze(0).Shape);
        Assert.Equal([1, 3, 2], x.Squeeze(-2).Shape);
        Assert.Equal([1, 3, 1, 2], x.Squeeze(1).Shape); // not size 1: unchanged
        Assert.Equal([1, 3, 1, 2, 1], x.Unsqueeze(-1).Shape);
        Assert.Equal([1, 3, 1, 1, 2], x.Unsqueeze(-2).Shape);
        Assert.Equal([1, 1, 3, 1, 2], x.Unsqueeze(-5).Shape);
        Assert.Equal([1, 1, 3, 1, 2], x.Unsqueeze(0).Shape);
        Assert.Equal([1], Tensor.Scalar(1).Unsqueeze(0).Shape);
        Assert.Equal([1], Tensor.Scalar(1).Unsqueeze(-1).Shape);
        Assert.Equal(new int[0], Tensor.Scalar(1).Squeeze().Shape);
        Assert.Throws<ShapeException>(() => x.Unsqueeze(5));
        Assert.Throws<ShapeException>(() => x.Squeeze(4));
    }

    [Theory]
    [InlineData(null, null, 1, new double[] { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9 })]
    [InlineData(2, 5, 1, new double[] { 2, 3, 4 })]
    [InlineData(-3, null, 1, new double[] { 7, 8, 9 })]
    [InlineData(null, -7, 1, new double[] { 0, 1, 2 })]
    [InlineData(-100, 100, 1, new double[] { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9 })]
    [InlineData(1, null, 3, new double[] { 1, 4, 7 })]
    [InlineData(0, 10, 4, new double[] { 0, 4, 8 })]
    [InlineData(8, 2, 1, new double[0])]
    [InlineData(20, 30, 1, new double[0])]
    [InlineData(-2, null, 5, new double[] { 8 })]
    public void Slice_follows_python_rules(int? start, int? end, int step, double[] expected)
    {
        var x = Tensor.Arange(10);
        var s = x.Slice(0, start, end, step);
        Assert.Equal([expected.Length], s.Shape);
        AssertValues(s, expected);
        if (expected.Length > 1) Assert.Equal(step, s.Strides[0]);
    }

    [Fact]
    public void Narrow_and_select_accept_negative_positions()
    {
        var x = Tensor.Arange(10);
        AssertValues(x.Narrow(0, -3, 2), 7, 8);
        Assert.Equal(9, x.Select(0, -1).ToScalar());
        AssertValues(x.Narrow(0, 10, 0)); // empty at the end is fine
        AssertValues(Base().Select(-1, 3).Reshape(-1), 3, 7, 11, 15, 19, 23);
    }

    [Fact]
    public void Expand_uses_stride_zero_and_adds_leading_dims()
    {
        var x = Tensor.FromArray(new float[] { 1, 2, 3 }, 3, 1);
        var e = x.Expand(2, 3, 4);
        Assert.Equal([2, 3, 4], e.Shape);
        Assert.Equal([0, 1, 0], e.Strides);
        Assert.Same(x.Storage, e.Storage);
        AssertValues(e.Select(0, 1).Select(0, 2), 3, 3, 3, 3);
        Assert.Equal([3, 5], x.Expand(-1, 5).Shape);
        Assert.Equal([3, 0], x.Expand(3, 0).Shape);
        Assert.Equal([3, 1], x.ExpandAs(Tensor.Zeros(3, 1)).Shape);
        // Writing into an expanded view writes the one shared element.
        e.Select(0, 0).Select(0, 0).CopyFrom(Tensor.Scalar(9));
        Assert.Equal(9, x[0, 0]);
    }

    [Theory]
    [InlineData(10, 3, new[] { 3, 3, 3, 1 })]
    [InlineData(9, 3, new[] { 3, 3, 3 })]
    [InlineData(2, 5, new[] { 2 })]
    [InlineData(0, 2, new[] { 0 })]
    public void Split_sizes(int n, int size, int[] expected)
    {
        var parts = Tensor.Arange(n).Split(size);
        Assert.Equal(expected, parts.Select(p => p.Size(0)).ToArray());
        Assert.Equal(Enumerable.Range(0, n).Select(i => (double)i), parts.SelectMany(Values));
    }

    [Theory]
    [InlineData(10, 3, new[] { 4, 4, 2 })]
    [InlineData(6, 4, new[] { 2, 2, 2 })]
    [InlineData(5, 5, new[] { 1, 1, 1, 1, 1 })]
    [InlineData(3, 5, new[] { 1, 1, 1 })]
    [InlineData(12, 1, new[] { 12 })]
    public void Chunk_sizes_follow_pytorch(int n, int chunks, int[] expected)
    {
        var parts = Tensor.Arange(n).Chunk(chunks);
        Assert.Equal(expected, parts.Select(p => p.Size(0)).ToArray());
        Assert.All(parts, p => Assert.Equal(1, p.Strides[0]));
    }

    [Fact]
    public void Split_with_sizes_along_a_dim()
    {
        var parts = Base().Split([1, 0, 3], 2);
        Assert.Equal([[2, 3, 1], [2, 3, 0], [2, 3, 3]], parts.Select(p => p.Shape).ToArray());
        AssertValues(parts[0].Reshape(-1), 0, 4, 8, 12, 16, 20);
    }

    [Fact]
    public void Contiguous_copies_only_when_needed()
    {
        var x = Base();
        Assert.Same(x, x.Contiguous());
        var n = x.Narrow(0, 1, 1); // contiguous with an offset
        Assert.True(n.IsContiguous);
        Assert.Same(n, n.Contiguous());
        Assert.True(x.Unsqueeze(1).IsContiguous); // size-1 dims do not matter
        Assert.False(x.Select(2, 0).IsContiguous);
        var t = x.Transpose(0, 2);
        Assert.False(t.IsContiguous);
        var c = t.Contiguous();
        Assert.NotSame(t.Storage, c.Storage);
        Assert.True(c.IsContiguous);
        Assert.Equal([3, 2], Tensor.Zeros(4, 3).Slice(1, 0, null, 2).Strides);
        Assert.True(Tensor.Zeros(3, 0, 2).IsContiguous);
        var clone = x.Clone();
        Assert.NotSame(x.Storage, clone.Storage);
        clone[0, 0, 0] = 5;
        Assert.Equal(0, x[0, 0, 0]);
    }

    [Fact]
    public void Empty_tensors_can_be_read()
    {
        Assert.Empty(Tensor.Zeros(3, 0, 2).ToArray<float>());
        Assert.Empty(Tensor.Zeros(3, 0, 2).Transpose(0, 2).ToArray<float>());
        Assert.Equal(0, Tensor.Zeros(3, 0).AsSpan<float>().Length);
    }

    [Fact]
    public void In_place_ops_write_through_views_and_bump_version()
    {
        var x = Tensor.Zeros(3, 4);
        var col = x.Select(1, 2);
        int v0 = x.Storage.Version;
        col.FillInPlace(5);
        Assert.Equal(v0 + 1, x.Storage.Version);
        AssertValues(x.Select(0, 1), 0, 0, 5, 0);
        col.AddInPlace(Tensor.From(1f, 2f, 3f));
        AssertValues(x.Select(1, 2), 6, 7, 8);
        col.AddInPlace(Tensor.From(1f, 1f, 1f), alpha: -2);
        AssertValues(x.Select(1, 2), 4, 5, 6);
        col.MulInPlace(0.5);
        AssertValues(x.Select(1, 2), 2, 2.5, 3);
        Assert.Equal(v0 + 4, x.Storage.Version);
        x.T.Narrow(0, 0, 1).CopyFrom(Tensor.Scalar(-1)); // column 0 via the transpose
        AssertValues(x.Select(1, 0), -1, -1, -1);
        Assert.Equal(v0 + 5, x.Storage.Version);
        // An out-of-place op leaves the version alone.
        _ = x + 1;
        Assert.Equal(v0 + 5, x.Storage.Version);
    }

    [Fact]
    public void T_of_vector_and_scalar_is_identity_and_rejects_rank_3()
    {
        var v = Tensor.Arange(3);
        Assert.Same(v, v.T);
        var ex = Assert.Throws<ShapeException>(() => Base().T);
        Assert.Contains("[2, 3, 4]", ex.Message);
    }

    [Fact]
    public void Flatten_ranges()
    {
        var x = Tensor.Zeros(2, 3, 4, 5);
        Assert.Equal([120], x.Flatten().Shape);
        Assert.Equal([2, 12, 5], x.Flatten(1, 2).Shape);
        Assert.Equal([2, 3, 20], x.Flatten(-2).Shape);
        Assert.Equal([1], Tensor.Scalar(3).Flatten().Shape);
        Assert.Throws<ShapeException>(() => x.Flatten(2, 1));
    }

    [Fact]
    public void Empty_views_that_start_past_the_end_of_their_storage_read_as_empty()
    {
        foreach (var view in new[] { Tensor.Zeros(2, 0, 7).Slice(2, 1, null, 2), Tensor.Zeros(0, 3).Narrow(1, 2, 1), Tensor.Zeros(3, 0).Narrow(0, 3, 0) })
        {
            Assert.Equal(0, view.Numel);
            Assert.Empty(view.ToArray<float>());
            Assert.Equal(0, view.AsSpan<float>().Length);
        }
    }
}
