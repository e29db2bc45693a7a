namespace Fovea.Tests.Diagnostics;

/// <summary>Bad shapes and dtypes fail with messages that name the op, both shapes and the offending dim.</summary>
public class ErrorMessageTests
{
    private static Tensor Z(params int[] shape) => Tensor.Zeros(shape);

    /// <summary>(case name, the failing call, fragments the message must contain).</summary>
    private static readonly Dictionary<string, (Action Call, string[] Fragments)> ShapeCases = new()
    {
        ["matmul_inner"] = (() => Z(2, 3).MatMul(Z(4, 5)), ["matmul: inner dimensions must match, got [2, 3] @ [4, 5] (3 != 4)"]),
        ["matmul_vector"] = (() => Z(3).MatMul(Z(4)), ["matmul", "[3] @ [4]", "3 != 4"]),
        ["matmul_matrix_vector"] = (() => Z(2, 3).MatMul(Z(2)), ["matmul", "[2, 3] @ [2]", "3 != 2"]),
        ["matmul_batch"] = (() => Z(2, 3, 4).MatMul(Z(3, 4, 5)), ["matmul", "batch", "[2, 3, 4] @ [3, 4, 5]"]),
        ["matmul_0d"] = (() => Tensor.Scalar(1).MatMul(Z(3)), ["matmul", "[] @ [3]"]),
        ["add_broadcast"] = (() => _ = Z(2, 3) + Z(4, 3), ["add", "[2, 3]", "[4, 3]", "dim -2", "2 vs 4"]),
        ["mul_broadcast"] = (() => _ = Z(5, 2) * Z(3), ["mul", "[5, 2]", "[3]", "dim -1", "2 vs 3"]),
        ["lt_broadcast"] = (() => Z(2).Lt(Z(3)), ["lt", "[2]", "[3]"]),
        ["where_broadcast"] = (() => Tensor.Where(Tensor.Zeros([2], DType.Bool), Z(3), Z(2)), ["where", "[2]", "[3]"]),
        ["reshape_count"] = (() => Z(2, 3).Reshape(4, 2), ["reshape", "[4, 2]", "[2, 3]", "6 elements"]),
        ["reshape_infer"] = (() => Z(2, 3).Reshape(4, -1), ["reshape", "[4, -1]", "[2, 3]"]),
        ["reshape_two_minus_one"] = (() => Z(2, 3).Reshape(-1, -1), ["reshape", "only one dimension can be -1"]),
        ["view_count"] = (() => Z(2, 3).View(7), ["view", "[7]", "[2, 3]"]),
        ["cat_sizes"] = (() => Tensor.Cat([Z(2, 3), Z(2, 4)], 0), ["cat", "[2, 3]", "[2, 4]", "dim 1", "4 != 3"]),
        ["cat_rank"] = (() => Tensor.Cat([Z(2, 3), Z(2, 3, 1)], 0), ["cat", "same rank", "[2, 3]", "[2, 3, 1]"]),
        ["cat_empty_list"] = (() => Tensor.Cat([]), ["cat", "non-empty"]),
        ["stack_shapes"] = (() => Tensor.Stack([Z(2, 3), Z(3, 2)]), ["stack", "[2, 3]", "[3, 2]", "tensor 1"]),
        ["expand"] = (() => Z(3, 2).Expand(3, 4), ["expand", "[3, 2]", "[3, 4]", "dim 1", "size 2"]),
        ["expand_fewer_dims"] = (() => Z(2, 3).Expand(3), ["expand", "[2, 3]", "[3]", "fewer dimensions"]),
        ["copy_shape"] = (() => Z(2, 3).CopyFrom(Z(3, 2)), ["copy", "[3, 2]", "[2, 3]"]),
        ["gather_rank"] = (() => Z(2, 3).Gather(1, Tensor.Zeros([2], DType.Int32)), ["gather", "same rank", "[2, 3]", "[2]"]),
        ["gather_size"] = (() => Z(2, 3).Gather(1, Tensor.Zeros([3, 1], DType.Int32)), ["gather", "[3, 1]", "[2, 3]", "dim 0", "3 > 2"]),
        ["scatter_add_size"] = (() => Z(2, 3).ScatterAdd(1, Tensor.Zeros([3, 1], DType.Int32), Z(3, 1)), ["scatter_add", "[3, 1]", "dim 0"]),
        ["scatter_add_src_smaller"] = (() => Z(2, 5).ScatterAdd(1, Tensor.Zeros([2, 4], DType.Int32), Z(2, 2)), ["scatter_add", "[2, 4]", "[2, 2]", "dim 1"]),
        ["permute_length"] = (() => Z(2, 3).Permute(0), ["permute", "[0]", "[2, 3]", "rank 2"]),
        ["permute_repeat"] = (() => Z(2, 3).Permute(1, 1), ["permute", "dimension 1 appears more than once"]),
        ["dim_out_of_range"] = (() => Z(2, 3).Sum(2), ["sum", "dimension out of range", "[-2, 1]", "got 2"]),
        ["dim_negative_out_of_range"] = (() => Z(2, 3).Transpose(0, -3), ["transpose", "[-2, 1]", "got -3"]),
        ["narrow_range"] = (() => Z(4, 5).Narrow(1, 3, 3), ["narrow", "[3, 6)", "dim 1", "size 5", "[4, 5]"]),
        ["select_index"] = (() => Z(4, 5).Select(0, 4), ["select", "index 4", "dim 0", "size 4"]),
        ["index_out_of_range"] = (() => _ = Z(4, 5)[1, 5], ["index", "index 5", "dim 1", "size 5"]),
        ["index_count"] = (() => _ = Z(4, 5)[1], ["index", "expected 2 indices", "[4, 5]", "got 1"]),
        ["index_select_value"] = (() => Z(4, 5).IndexSelect(1, Tensor.From(0, 7)), ["index_select", "index 7", "dim 1", "size 5"]),
        ["index_select_negative"] = (() => Z(4, 5).IndexSelect(0, Tensor.From(-1)), ["index_select", "index -1", "dim 0"]),
        ["gather_value"] = (() => Z(4, 5).Gather(0, Tensor.FromArray(new[] { 4 }, 1, 1)), ["gather", "index 4", "dim 0", "size 4"]),
        ["scatter_add_value"] = (() => Z(4, 5).ScatterAdd(1, Tensor.FromArray(new[] { 5 }, 1, 1), Z(1, 1)), ["scatter_add", "index 5", "dim 1", "size 5"]),
        ["split_sizes"] = (() => Z(4, 5).Split([2, 2], 1), ["split", "[2, 2]", "add up to 4", "dim 1", "[4, 5]", "size 5"]),
        ["max_empty"] = (() => Z(0, 3).Max(0), ["max", "dim 0", "size 0", "[0, 3]"]),
        ["amax_empty"] = (() => Z(3, 0).Amax([1]), ["amax", "dim 1", "size 0", "[3, 0]"]),
        ["item"] = (() => Z(2).Item<float>(), ["item", "one-element", "[2]"]),
        ["negative_shape"] = (() => Tensor.Zeros(2, -1), ["dim 1 is -1"]),
        ["from_array_count"] = (() => Tensor.FromArray(new float[5], 2, 3), ["from_array", "[2, 3]", "6 elements", "array of 5"]),
        ["t_rank"] = (() => _ = Z(2, 3, 4).T, ["T", "[2, 3, 4]"]),
        ["slice_step"] = (() => Z(4).Slice(0, 0, 4, 0), ["slice", "step must be positive"]),
        ["reduce_duplicate_dims"] = (() => Z(2, 3).Sum([1, -1]), ["sum", "dimension 1 appears more than once"]),
        ["flatten_order"] = (() => Z(2, 3, 4).Flatten(2, 1), ["flatten", "start dim 2", "end dim 1"]),
    };

    public static TheoryData<string> ShapeCaseNames() => new(ShapeCases.Keys);

    [Theory]
    [MemberData(nameof(ShapeCaseNames))]
    public void Bad_shape_throws_shape_exception_naming_op_shapes_and_dim(string name)
    {
        var (call, fragments) = ShapeCases[name];
        var ex = Assert.Throws<ShapeException>(call);
        foreach (var f in fragments)
            Assert.True(ex.Message.Contains(f, StringComparison.Ordinal), $"{name}: message \"{ex.Message}\" lacks \"{f}\"");
        Assert.StartsWith(ex.Op + ": ", ex.Message);
    }

    private static readonly Dictionary<string, (Action Call, string[] Fragments)> DTypeCases = new()
    {
        ["add_mismatch"] = (() => _ = Tensor.Zeros(2) + Tensor.Zeros([2], DType.Float64), ["add", "float32", "float64"]),
        ["matmul_mismatch"] = (() => Tensor.Zeros(2, 2).MatMul(Tensor.Zeros([2, 2], DType.Float64)), ["matmul", "float32", "float64"]),
        ["matmul_int"] = (() => Tensor.Zeros([2, 2], DType.Int32).MatMul(Tensor.Zeros([2, 2], DType.Int32)), ["matmul", "int32"]),
        ["cat_mismatch"] = (() => Tensor.Cat([Tensor.Zeros(2), Tensor.Zeros([2], DType.Int32)]), ["cat", "float32", "int32"]),
        ["where_condition"] = (() => Tensor.Where(Tensor.Zeros(2), Tensor.Zeros(2), Tensor.Zeros(2)), ["where", "condition must be bool", "float32"]),
        ["where_branches"] = (() => Tensor.Where(Tensor.Zeros([2], DType.Bool), Tensor.Zeros(2), Tensor.Zeros([2], DType.Int32)), ["where", "float32", "int32"]),
        ["index_dtype"] = (() => Tensor.Zeros(3).IndexSelect(0, Tensor.Zeros(2)), ["index_select", "int32", "float32"]),
        ["gather_dtype"] = (() => Tensor.Zeros(3).Gather(0, Tensor.Zeros(2)), ["gather", "int32", "float32"]),
        ["mean_int"] = (() => Tensor.Zeros([3], DType.Int32).Mean(), ["mean", "floating", "int32"]),
        ["exp_int"] = (() => Tensor.Zeros([3], DType.Int32).Exp(), ["exp", "int32"]),
        ["div_int"] = (() => _ = Tensor.Zeros([3], DType.Int32) / Tensor.Ones([3], DType.Int32), ["div", "int32"]),
        ["add_bool"] = (() => _ = Tensor.Zeros([3], DType.Bool) + Tensor.Zeros([3], DType.Bool), ["add", "bool"]),
        ["logical_not_float"] = (() => Tensor.Zeros(3).LogicalNot(), ["logical_not", "bool", "float32"]),
        ["to_array_type"] = (() => Tensor.Zeros(3).ToArray<double>(), ["ToArray", "float32", "float64"]),
        ["item_type"] = (() => Tensor.Zeros(1).Item<int>(), ["item", "float32", "int32"]),
        ["uniform_int"] = (() => Tensor.Uniform([3], dtype: DType.Int32, generator: new Generator(1)), ["uniform", "int32"]),
        ["copy_mismatch"] = (() => Tensor.Zeros(3).CopyFrom(Tensor.Zeros([3], DType.Float64)), ["copy", "float32", "float64"]),
    };

    public static TheoryData<string> DTypeCaseNames() => new(DTypeCases.Keys);

    [Theory]
    [MemberData(nameof(DTypeCaseNames))]
    public void Bad_dtype_throws_dtype_exception_naming_op_and_dtypes(string name)
    {
        var (call, fragments) = DTypeCases[name];
        var ex = Assert.Throws<DTypeException>(call);
        foreach (var f in fragments)
            Assert.True(ex.Message.Contains(f, StringComparison.Ordinal), $"{name}: message \"{ex.Message}\" lacks \"{f}\"");
    }

    [Fact]
    public void Backends_reject_the_same_dtypes()
    {
        // The reference backend must refuse what the CPU backend refuses, or tests against it would pass vacuously.
        foreach (var backend in new[] { Fovea.Backends.Backend.Cpu, Fovea.Backends.Backend.Reference })
            using (Fovea.Backends.Backend.Use(backend))
            {
                Assert.Throws<DTypeException>(() => Tensor.Zeros([3], DType.Int32).Log());
                Assert.Throws<DTypeException>(() => Tensor.Zeros([3], DType.Bool).Neg());
                Assert.Throws<DTypeException>(() => Tensor.Zeros([3], DType.Int32).Pow(Tensor.Zeros([3], DType.Int32)));
            }
    }

    [Fact]
    public void Invalid_factory_arguments()
    {
        Assert.Throws<ArgumentException>(() => Tensor.Arange(0, 5, 0));
        Assert.Throws<ArgumentException>(() => Tensor.Arange(5, 0, 1));
        Assert.Throws<ArgumentException>(() => Tensor.Linspace(0, 1, -1));
        Assert.Throws<ArgumentOutOfRangeException>(() => Tensor.Bernoulli([2], 1.5));
        Assert.Throws<ArgumentOutOfRangeException>(() => Tensor.Bernoulli([2], double.NaN));
        Assert.Throws<ArgumentException>(() => Tensor.RandInt([2], 3, 3));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Generator(1).NextInt(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => Threading.MaxDegreeOfParallelism = 0);
    }

    [Fact]
    public void ScatterAdd_never_reads_past_a_smaller_src_view()
    {
        // src is a [2, 2] view of a larger buffer; an index wider than src along dim must be refused,
        // not answered with whatever lies next to the view in memory.
        var big = Tensor.Arange(20).Reshape(2, 10);
        var src = big.Narrow(1, 0, 2);
        var index = Tensor.Zeros([2, 4], DType.Int32);
        foreach (var backend in new[] { Fovea.Backends.Backend.Cpu, Fovea.Backends.Backend.Reference })
            using (Fovea.Backends.Backend.Use(backend))
                Assert.Throws<ShapeException>(() => Tensor.Zeros(2, 5).ScatterAdd(1, index, src));
    }
}
