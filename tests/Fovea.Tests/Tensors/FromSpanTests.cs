namespace Fovea.Tests.Tensors;

public class FromSpanTests
{
    [Fact]
    public void FromSpan_CopiesIntoTheGivenShape()
    {
        Span<double> data = stackalloc double[] { 1, 2, 3, 4, 5, 6 };
        var t = Tensor.FromSpan<double>(data, 2, 3);
        data[0] = 100;
        Assert.Equal([2, 3], t.Shape);
        Assert.Equal(DType.Float64, t.DType);
        Assert.Equal(1.0, t[0, 0]);
        Assert.Equal(6.0, t[1, 2]);
    }

    [Fact]
    public void FromSpan_WrongCount_NamesBothSizes()
    {
        var e = Assert.Throws<ShapeException>(() => Tensor.FromSpan<float>(new float[5], 2, 3));
        Assert.Contains("[2, 3] needs 6 elements, got a span of 5", e.Message);
    }
}
