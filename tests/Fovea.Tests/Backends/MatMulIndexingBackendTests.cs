using Fovea.Backends;
using static Fovea.Tests.TestUtil;

namespace Fovea.Tests.Backends;

/// <summary>Matmul, gather, scatter-add, index-select, cat and stack held against the reference backend.</summary>
public class MatMulIndexingBackendTests
{
    /// <summary>(a shape, b shape, transpose a's last two dims in memory, same for b).</summary>
    public static TheoryData<int[], int[], bool, bool> MatMulCases() => new()
    {
        { [5], [5], false, false },              // dot
        { [0], [0], false, false },              // empty dot = 0
        { [4], [4, 3], false, false },           // vector @ matrix
        { [4, 3], [3], false, false },           // matrix @ vector
        { [3, 4], [4, 5], false, false },
        { [3, 4], [4, 5], true, false },
        { [3, 4], [4, 5], false, true },
        { [3, 4], [4, 5], true, true },
        { [1, 1], [1, 1], false, false },
        { [1, 7], [7, 1], false, false },
        { [7, 1], [1, 7], true, true },
        { [0, 3], [3, 4], false, false },
        { [3, 0], [0, 4], false, false },        // inner dim 0: zeros
        { [2, 3, 4], [4, 5], false, false },     // batch @ matrix (folded into one GEMM)
        { [2, 3, 4], [4, 5], true, false },
        { [2, 3, 4], [4], false, false },        // batch @ vector
        { [4], [2, 4, 5], false, false },        // vector @ batch
        { [3, 4], [2, 4, 5], false, true },      // matrix broadcast over b's batch
        { [2, 3, 4], [2, 4, 5], true, true },
        { [2, 1, 3, 4], [5, 4, 2], false, false }, // batch dims broadcast both ways
        { [1, 3, 4], [6, 4, 2], false, true },
        { [2, 0, 3, 4], [4, 5], false, false },  // zero batch
        { [2, 3, 0], [0, 5], false, false },     // batch, inner dim 0
        { [65, 130], [130, 67], false, false },  // blocked sizes, odd
        { [65, 130], [130, 67], true, true },
        { [16, 9, 33], [33, 17], false, false },
    };

    private static Tensor MakeMatrix(int[] shape, DType dtype, bool transposed, Random rng)
    {
        if (!transposed || shape.Length < 2) return Make(shape, dtype, Layout.Contiguous, rng);
        var swapped = (int[])shape.Clone();
        (swapped[^1], swapped[^2]) = (swapped[^2], swapped[^1]);
        return Make(swapped, dtype, Layout.Contiguous, rng).Transpose(-1, -2);
    }

    [Theory]
    [MemberData(nameof(MatMulCases))]
    public void MatMul_matches_reference(int[] sa, int[] sb, bool ta, bool tb)
    {
        var rng = new Random(59);
        foreach (var dt in new[] { DType.Float32, DType.Float64 })
        {
            var a = MakeMatrix(sa, dt, ta, rng);
            var b = MakeMatrix(sb, dt, tb, rng);
            // Tolerance scales with |a| @ |b|, the size of the terms being summed.
            CompareBackends($"matmul {dt} {Describe(sa)}{(ta ? "ᵀ" : "")} @ {Describe(sb)}{(tb ? "ᵀ" : "")}",
                () => a.MatMul(b),
                () => Values(On(Backend.Reference, () => a.Abs().MatMul(b.Abs()))));
        }
    }

    [Theory]
    [InlineData(Layout.Strided)]
    [InlineData(Layout.Offset)]
    [InlineData(Layout.Expanded)]
    public void MatMul_of_strided_offset_and_expanded_views_matches_reference(Layout layout)
    {
        var rng = new Random(61);
        foreach (var dt in new[] { DType.Float32, DType.Float64 })
            foreach (var (sa, sb) in new (int[], int[])[] { ([6, 5], [5, 4]), ([3, 6, 5], [3, 5, 4]), ([3, 6, 5], [5, 4]) })
            {
                var a = Make(sa, dt, layout, rng);
                var b = Make(sb, dt, layout, rng);
                CompareBackends($"matmul {dt} {layout} {Describe(sa)} @ {Describe(sb)}", () => a.MatMul(b),
                    () => Values(On(Backend.Reference, () => a.Abs().MatMul(b.Abs()))));
            }
    }

    public static TheoryData<DType, Layout> IndexCases()
    {
        var data = new TheoryData<DType, Layout>();
        foreach (var dt in new[] { DType.Float32, DType.Float64, DType.Int32 })
            foreach (var layout in new[] { Layout.Contiguous, Layout.Transposed, Layout.Strided, Layout.Expanded })
                data.Add(dt, layout);
        return data;
    }

    [Theory]
    [MemberData(nameof(IndexCases))]
    public void Gather_matches_reference(DType dtype, Layout layout)
    {
        var rng = new Random(67);
        var x = Make([4, 5, 6], dtype, layout, rng);
        for (int dim = 0; dim < 3; dim++)
        {
            // Index smaller than the input in the other dims, larger along dim, repeated entries.
            var ishape = new[] { 3, 4, 5 };
            ishape[dim] = 8;
            int n = x.Size(dim);
            var index = Make(ishape, DType.Int32, layout, rng, r => r.Next(n));
            int d = dim;
            CompareBackends($"gather {dtype} {layout} dim {dim}", () => x.Gather(d, index));
            CompareBackends($"gather {dtype} {layout} dim {dim - 3}", () => x.Gather(d - 3, index));
        }
    }

    [Theory]
    [MemberData(nameof(IndexCases))]
    public void ScatterAdd_matches_reference(DType dtype, Layout layout)
    {
        var rng = new Random(71);
        for (int dim = 0; dim < 3; dim++)
        {
            var x = Make([4, 5, 6], dtype, layout, rng);
            var ishape = new[] { 3, 4, 5 };
            ishape[dim] = 7;
            var src = Make(ishape, dtype, layout, rng);
            int n = x.Size(dim);
            // Few distinct targets, so several sources accumulate into one place.
            var index = Make(ishape, DType.Int32, layout == Layout.Expanded ? Layout.Contiguous : layout, rng, r => r.Next(Math.Min(n, 2)));
            int d = dim;
            CompareBackends($"scatter_add {dtype} {layout} dim {dim}", () => x.ScatterAdd(d, index, src));
        }
    }

    [Theory]
    [MemberData(nameof(IndexCases))]
    public void IndexSelect_matches_reference(DType dtype, Layout layout)
    {
        var rng = new Random(73);
        var x = Make([4, 5, 6], dtype, layout, rng);
        for (int dim = 0; dim < 3; dim++)
        {
            int n = x.Size(dim);
            foreach (var index in new[]
            {
                Tensor.From(Enumerable.Range(0, 9).Select(_ => rng.Next(n)).ToArray()),
                Tensor.From(Array.Empty<int>()),
                Tensor.Scalar(n - 1, DType.Int32),
                Tensor.From(Enumerable.Range(0, 10).Select(i => i % n).ToArray()).Slice(0, 1, null, 3),
            })
            {
                int d = dim;
                CompareBackends($"index_select {dtype} {layout} dim {dim} index {Describe(index.Shape)}", () => x.IndexSelect(d, index));
            }
        }
    }

    [Theory]
    [MemberData(nameof(IndexCases))]
    public void Cat_and_stack_match_reference(DType dtype, Layout layout)
    {
        var rng = new Random(79);
        for (int dim = 0; dim < 3; dim++)
        {
            var parts = new List<Tensor>();
            foreach (int len in new[] { 2, 0, 3, 1 })
            {
                var shape = new[] { 3, 4, 5 };
                shape[dim] = len;
                parts.Add(Make(shape, dtype, layout, rng));
            }
            int d = dim;
            CompareBackends($"cat {dtype} {layout} dim {dim}", () => Tensor.Cat(parts, d));
            CompareBackends($"cat {dtype} {layout} dim {dim - 3}", () => Tensor.Cat(parts, d - 3));
            var same = Enumerable.Range(0, 3).Select(_ => Make([3, 4, 5], dtype, layout, rng)).ToList();
            CompareBackends($"stack {dtype} {layout} dim {dim}", () => Tensor.Stack(same, d));
            CompareBackends($"stack {dtype} {layout} dim 3", () => Tensor.Stack(same, 3));
            CompareBackends($"stack {dtype} {layout} dim -1", () => Tensor.Stack(same, -1));
        }
    }

    [Theory]
    [InlineData(Layout.Contiguous)]
    [InlineData(Layout.Transposed)]
    [InlineData(Layout.Strided)]
    public void CopyFrom_into_views_matches_reference(Layout layout)
    {
        var rng = new Random(83);
        foreach (var dt in new[] { DType.Float32, DType.Int32, DType.Bool })
        {
            var src = Make([3, 1, 6], dt, layout, rng);
            Tensor Run()
            {
                var dst = Tensor.Zeros([5, 4, 3, 6], dt);
                // Write, broadcasting, through a strided view of dst (every other dim-0 slice, dims 1 and 2 swapped).
                dst.Slice(0, 0, null, 2).Permute(0, 2, 1, 3).CopyFrom(src);
                return dst;
            }
            CompareBackends($"copy {dt} {layout}", Run);
        }
    }
}
