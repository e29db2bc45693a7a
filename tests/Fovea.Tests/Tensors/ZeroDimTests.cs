using static Fovea.Tests.TestUtil;

namespace Fovea.Tests.Tensors;

/// <summary>0-d tensors: PyTorch accepts dim 0 / -1 where the op makes sense and refuses it with a clear error otherwise.</summary>
public class ZeroDimTests
{
    private static Tensor S() => Tensor.Scalar(5);

    [Fact]
    public void Ops_that_accept_a_0d_tensor()
    {
        Assert.Equal(5, S().Transpose(0, 0).ToScalar());
        Assert.Equal(new int[0], S().Transpose(0, -1).Shape);
        Assert.Equal(new int[0], S().Permute().Shape);
        Assert.Equal(new int[0], S().Squeeze(0).Shape);
        Assert.Equal([1], S().Flatten().Shape);
        AssertValues(S() + Tensor.From(1f, 2f), 6, 7);
        Assert.Equal("tensor(5., shape=[], dtype=float32)", S().ToString());
        Assert.Equal(5, S().Item<float>());
        Assert.Equal([2, 3], S().Expand(2, 3).Shape);
        Assert.Equal([0, 0], S().Expand(2, 3).Strides);
    }

    public static TheoryData<string> RefusedCases() => new() { "select", "narrow", "slice", "size", "unbind", "split", "chunk", "cat" };

    [Theory]
    [MemberData(nameof(RefusedCases))]
    public void Ops_that_need_a_dimension_refuse_a_0d_tensor_with_a_shape_error(string op)
    {
        Action call = op switch
        {
            "select" => () => S().Select(0, 0),
            "narrow" => () => S().Narrow(0, 0, 1),
            "slice" => () => S().Slice(0, 0, 1),
            "size" => () => S().Size(0),
            "unbind" => () => S().Unbind(0),
            "split" => () => S().Split(1, 0),
            "chunk" => () => S().Chunk(1, 0),
            _ => () => Tensor.Cat([S(), S()]),
        };
        var ex = Assert.Throws<ShapeException>(call);
        Assert.Contains("[]", ex.Message);
    }
}
