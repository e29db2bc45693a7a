using Fovea.Backends;
using static Fovea.Tests.TestUtil;

namespace Fovea.Tests.Backends;

/// <summary>Every reduction, over every dim subset, held against the reference backend.</summary>
public class ReductionBackendTests
{
    private static readonly Dictionary<string, Func<Tensor, int[], bool, Tensor>> Reductions = new()
    {
        ["sum"] = (x, d, k) => x.Sum(d, k),
        ["mean"] = (x, d, k) => x.Mean(d, k),
        ["var"] = (x, d, k) => x.Var(d, 1, k),
        ["var_c0"] = (x, d, k) => x.Var(d, 0, k),
        ["std"] = (x, d, k) => x.Std(d, 1, k),
        ["amax"] = (x, d, k) => x.Amax(d, k),
        ["amin"] = (x, d, k) => x.Amin(d, k),
        ["logsumexp"] = (x, d, k) => x.LogSumExp(d, k),
        ["prod"] = (x, d, k) => d.Length == 1 ? x.Prod(d[0], k) : x.Prod(),
    };

    /// <summary>Shapes reduced over each of their dim subsets (odd sizes, a size-1 dim, a 4-d one).</summary>
    private static readonly int[][] Shapes = [[3, 5, 7], [4, 1, 6], [2, 3, 4, 5]];

    public static TheoryData<string, DType, bool> Cases()
    {
        var data = new TheoryData<string, DType, bool>();
        foreach (var op in Reductions.Keys)
            foreach (var dt in new[] { DType.Float32, DType.Float64 })
                foreach (var keep in new[] { false, true })
                    data.Add(op, dt, keep);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Reduction_over_every_dim_subset_matches_reference(string op, DType dtype, bool keepDim)
    {
        var rng = new Random(op.Length * 7 + (keepDim ? 1 : 0));
        // Prod of values near ±1 stays well scaled; the others see plain normals.
        Func<Random, double> draw = op == "prod" ? r => (r.Next(2) * 2 - 1) * (0.7 + 0.6 * r.NextDouble()) : Normal;
        foreach (var layout in new[] { Layout.Contiguous, Layout.Transposed, Layout.Strided, Layout.Expanded })
            foreach (var shape in Shapes)
                foreach (var dims in Subsets(shape.Length))
                {
                    if (op == "prod" && dims.Length > 1) continue; // prod takes one dim or all
                    var x = Make(shape, dtype, layout, rng, draw);
                    CompareBackends($"{op} {dtype} {layout} {Describe(shape)} dims {Describe(dims)} keepDim={keepDim}",
                        () => Reductions[op](x, dims, keepDim));
                }
    }

    [Theory]
    [InlineData("sum")]
    [InlineData("prod")]
    [InlineData("amax")]
    [InlineData("amin")]
    public void Int32_reduction_over_every_dim_subset_is_exact(string op)
    {
        var rng = new Random(41);
        Func<Random, double> draw = op == "prod" ? r => r.Next(-2, 3) : r => r.Next(-1000, 1000);
        foreach (var layout in new[] { Layout.Contiguous, Layout.Transposed, Layout.Expanded })
            foreach (var keep in new[] { false, true })
                foreach (var dims in Subsets(3))
                {
                    if (op == "prod" && dims.Length > 1) continue;
                    var x = Make([3, 4, 5], DType.Int32, layout, rng, draw);
                    CompareBackends($"{op} int32 {layout} dims {Describe(dims)} keepDim={keep}", () => Reductions[op](x, dims, keep));
                }
    }

    /// <summary>Large reductions: the blocked float32 sums, the SIMD middle-dim path and the threaded paths.</summary>
    public static TheoryData<string, int[], int[]> LargeCases() => new()
    {
        { "sum", [70_001], [0] },
        { "sum", [4, 40_000], [1] },
        { "sum", [40_000, 3], [0] },
        { "sum", [3, 300, 700], [1] },
        { "sum", [300, 700], [0] },
        { "sum", [2, 65, 1030], [1] },
        { "sum", [700, 300], [0, 1] },
        { "mean", [300, 7, 40], [0, 2] },
        { "var", [1100, 70], [0] },
        { "amax", [300, 700], [0] },
        { "amin", [3, 300, 700], [0, 2] },
        { "logsumexp", [256, 520], [1] },
    };

    [Theory]
    [MemberData(nameof(LargeCases))]
    public void Large_float32_reduction_matches_reference(string op, int[] shape, int[] dims)
    {
        var rng = new Random(43);
        // A large positive mean makes naive float32 accumulation visibly wrong.
        var x = Make(shape, DType.Float32, Layout.Contiguous, rng, r => 10 + Normal(r));
        var xt = Make(shape.Reverse().ToArray(), DType.Float32, Layout.Contiguous, rng, r => 10 + Normal(r));
        int rank = shape.Length;
        var dimsT = dims.Select(d => rank - 1 - d).ToArray();
        CompareBackends($"{op} {Describe(shape)} dims {Describe(dims)}", () => Reductions[op](x, dims, false));
        CompareBackends($"{op} transposed {Describe(shape)} dims {Describe(dims)}", () => Reductions[op](xt.Permute(Enumerable.Range(0, rank).Reverse().ToArray()), dims, true));
    }

    [Fact]
    public void Float32_sum_of_a_million_equal_values_is_accurate()
    {
        // 2^20 copies of 0.1f: a naive float32 running sum drifts by about 1%; blocked summation does not.
        var x = Tensor.Full([1 << 20], 0.1);
        double expected = (1 << 20) * (double)0.1f;
        Assert.Equal(expected, x.Sum().ToScalar(), expected * 1e-6);
        Assert.Equal(expected, x.Reshape(1024, 1024).Sum(0).Sum().ToScalar(), expected * 1e-6);
    }

    [Theory]
    [InlineData(new[] { 0, 4 }, new[] { 0 })]
    [InlineData(new[] { 0, 4 }, new[] { 1 })]
    [InlineData(new[] { 3, 0, 2 }, new[] { 1 })]
    [InlineData(new[] { 3, 0, 2 }, new[] { 0, 2 })]
    [InlineData(new[] { 0 }, new int[0])]
    public void Sum_and_prod_over_empty_dims_give_the_identity(int[] shape, int[] dims)
    {
        foreach (var dt in new[] { DType.Float32, DType.Float64, DType.Int32 })
        {
            var x = Tensor.Zeros(shape, dt);
            CompareBackends($"sum {dt} {Describe(shape)} {Describe(dims)}", () => x.Sum(dims, keepDim: true));
            CompareBackends($"sum {dt} {Describe(shape)} {Describe(dims)}", () => x.Sum(dims));
            var s = x.Sum(dims);
            Assert.All(Values(s), v => Assert.Equal(0, v));
            if (dims.Length <= 1)
            {
                var p = dims.Length == 0 ? x.Prod() : x.Prod(dims[0]);
                Assert.All(Values(p), v => Assert.Equal(1, v));
            }
        }
    }

    public static TheoryData<bool, DType, Layout> ArgCases()
    {
        var data = new TheoryData<bool, DType, Layout>();
        foreach (var max in new[] { true, false })
            foreach (var dt in new[] { DType.Float32, DType.Float64, DType.Int32 })
                foreach (var layout in new[] { Layout.Contiguous, Layout.Transposed, Layout.Strided, Layout.Expanded })
                    data.Add(max, dt, layout);
        return data;
    }

    [Theory]
    [MemberData(nameof(ArgCases))]
    public void Max_min_with_indices_match_reference_including_ties_and_nan(bool max, DType dtype, Layout layout)
    {
        var rng = new Random(47);
        // Few distinct values make ties common (the first index must win); floats also get NaNs and ±inf.
        Func<Random, double> draw = dtype == DType.Int32
            ? r => r.Next(-2, 3)
            : r => r.Next(30) switch { 0 => double.NaN, 1 => double.PositiveInfinity, 2 => double.NegativeInfinity, _ => r.Next(-2, 3) };
        foreach (var shape in new[] { new[] { 7 }, new[] { 3, 5, 7 }, new[] { 4, 1, 6 }, new[] { 2, 3, 4, 5 }, new[] { 40, 50 } })
            for (int dim = -shape.Length; dim < shape.Length; dim++)
                foreach (var keep in new[] { false, true })
                {
                    var x = Make(shape, dtype, layout, rng, draw);
                    string ctx = $"{(max ? "max" : "min")} {dtype} {layout} {Describe(shape)} dim {dim} keepDim={keep}";
                    int d = dim;
                    CompareBackends(ctx + " values", () => (max ? x.Max(d, keep) : x.Min(d, keep)).Values);
                    CompareBackends(ctx + " indices", () => (max ? x.Max(d, keep) : x.Min(d, keep)).Indices);
                    CompareBackends(ctx + " argmax/argmin", () => max ? x.Argmax(d, keep) : x.Argmin(d, keep));
                }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Max_min_over_all_propagate_nan_like_reference(bool max)
    {
        var rng = new Random(53);
        foreach (var dt in new[] { DType.Float32, DType.Float64 })
            foreach (int n in new[] { 1, 5, 8, 31, 64, 1000 })
                for (int nanAt = -1; nanAt < n; nanAt += Math.Max(1, n / 4))
                {
                    var v = Enumerable.Range(0, n).Select(_ => Normal(rng)).ToArray();
                    if (nanAt >= 0) v[nanAt] = double.NaN;
                    var x = Tensor.FromArray(v, n).To(dt);
                    CompareBackends($"{(max ? "max" : "min")} {dt} n={n} nan at {nanAt}", () => max ? x.Max() : x.Min());
                    CompareBackends($"{(max ? "argmax" : "argmin")} {dt} n={n} nan at {nanAt}", () => max ? x.Argmax() : x.Argmin());
                    // The same NaN seen down the columns (middle-dim SIMD path).
                    var col = x.Reshape(n, 1).Expand(n, 3).Contiguous().Reshape(1, n, 3);
                    CompareBackends($"amax/amin {dt} column n={n} nan at {nanAt}", () => max ? col.Amax([1]) : col.Amin([1]));
                }
    }

    [Fact]
    public void Signed_zero_ties_pick_the_first_index_like_reference()
    {
        // -0.0 == +0.0, so the first one is the arg-extreme in PyTorch and in the reference.
        var x = Tensor.From(-0.0f, 0.0f, -0.0f);
        var y = Tensor.From(0.0f, -0.0f, 0.0f);
        CompareBackends("argmax [-0, 0, -0]", () => x.Argmax());
        CompareBackends("argmin [0, -0, 0]", () => y.Argmin());
        Assert.Equal(0, x.Argmax().Item<int>());
        Assert.Equal(0, y.Argmin().Item<int>());
    }
}
