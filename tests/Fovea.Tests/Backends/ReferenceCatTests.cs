using Fovea.Backends;

namespace Fovea.Tests.Backends;

/// <summary>The reference <c>Cat</c> (element by element) against hand-written results, so the CPU comparison rests on something independent.</summary>
public class ReferenceCatTests
{
    [Fact]
    public void Cat_along_the_last_dim_takes_each_row_from_every_input_in_turn()
    {
        var a = Tensor.FromArray(new[] { 1, 2 }, 2, 1);
        var empty = Tensor.Zeros([2, 0], DType.Int32);
        var b = Tensor.FromArray(new[] { 3, 5, 4, 6 }, 2, 2).T; // non-contiguous: rows [3, 4] and [5, 6]
        var y = Backend.Reference.Cat([a, empty, b], 1, [2, 3]);
        Assert.Equal(DType.Int32, y.DType);
        Assert.Equal([1, 3, 4, 2, 5, 6], y.ToArray<int>());
    }

    [Fact]
    public void Cat_along_the_first_dim_stacks_the_blocks()
    {
        var a = Tensor.FromArray(new[] { 1.5, 2.5 }, 1, 2);
        var b = Tensor.FromArray(new[] { 7.0 }, 1, 1).Expand(2, 2); // broadcast view
        var y = Backend.Reference.Cat([a, b], 0, [3, 2]);
        Assert.Equal([1.5, 2.5, 7, 7, 7, 7], y.ToArray<double>());
        var flags = Backend.Reference.Cat([Tensor.FromArray(new[] { true }, 1), Tensor.FromArray(new[] { false, true }, 2)], 0, [3]);
        Assert.Equal([true, false, true], flags.ToArray<bool>());
    }
}
