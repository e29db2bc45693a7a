namespace Fovea.Tests.Tensors;

/// <summary>ToString prints like PyTorch, plus the shape and dtype.</summary>
public class FormatTests
{
    public static TheoryData<string, string> Cases() => new()
    {
        { "floats_integral", "tensor([1., 2., 3.], shape=[3], dtype=float32)" },
        { "floats_fixed", "tensor([ 1.5000, -2.2500,  0.1250], shape=[3], dtype=float32)" },
        { "floats_scientific", "tensor([1.0000e-05, 1.0000e+02], shape=[2], dtype=float32)" },
        { "matrix", "tensor([[1., 2.],\n        [3., 4.]], shape=[2, 2], dtype=float32)" },
        { "cube", "tensor([[[0, 1],\n         [2, 3]],\n\n        [[4, 5],\n         [6, 7]]], shape=[2, 2, 2], dtype=int32)" },
        { "ints", "tensor([  1, -20, 300], shape=[3], dtype=int32)" },
        { "bools", "tensor([ True, False], shape=[2], dtype=bool)" },
        { "scalar", "tensor(3.5000, shape=[], dtype=float64)" },
        { "scalar_int", "tensor(7, shape=[], dtype=int32)" },
        { "empty", "tensor([], shape=[0], dtype=float32)" },
        { "empty_2d", "tensor([], shape=[2, 0], dtype=float32)" },
        { "nan_inf", "tensor([1., nan, inf, -inf], shape=[4], dtype=float32)" }, // width from finite values only, as PyTorch
        { "transposed", "tensor([[0, 2],\n        [1, 3]], shape=[2, 2], dtype=int32)" },
    };

    private static Tensor Make(string name) => name switch
    {
        "floats_integral" => Tensor.From(1f, 2f, 3f),
        "floats_fixed" => Tensor.From(1.5f, -2.25f, 0.125f),
        "floats_scientific" => Tensor.From(1e-5f, 100f),
        "matrix" => Tensor.FromArray(new float[,] { { 1, 2 }, { 3, 4 } }),
        "cube" => Tensor.Arange(8, DType.Int32).Reshape(2, 2, 2),
        "ints" => Tensor.From(1, -20, 300),
        "bools" => Tensor.FromArray(new[] { true, false }, 2),
        "scalar" => Tensor.Scalar(3.5, DType.Float64),
        "scalar_int" => Tensor.Scalar(7, DType.Int32),
        "empty" => Tensor.Zeros(0),
        "empty_2d" => Tensor.Zeros(2, 0),
        "nan_inf" => Tensor.From(1f, float.NaN, float.PositiveInfinity, float.NegativeInfinity),
        "transposed" => Tensor.Arange(4, DType.Int32).Reshape(2, 2).T,
        _ => throw new ArgumentException(name),
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Prints_like_pytorch(string name, string expected) => Assert.Equal(expected, Make(name).ToString());

    [Fact]
    public void Large_tensor_is_elided()
    {
        var s = Tensor.Arange(2000).ToString();
        Assert.StartsWith("tensor([   0.,    1.,    2., ..., 1997., 1998., 1999.]", s);
        Assert.EndsWith("shape=[2000], dtype=float32)", s);
        var m = Tensor.Arange(50 * 40, DType.Int32).Reshape(50, 40).ToString();
        Assert.Contains("...", m);
        Assert.Contains("[   0,    1,    2, ...,   37,   38,   39]", m);
        Assert.Contains("[1960, 1961, 1962, ..., 1997, 1998, 1999]", m);
        Assert.DoesNotContain("1000", m); // a middle row is left out
        Assert.Equal("        ...,", m.Split('\n')[3]);
        Assert.Equal(7, m.Split('\n').Length); // 3 rows, "...", 3 rows
    }

    [Fact]
    public void Exactly_threshold_elements_are_not_elided()
    {
        var s = Tensor.Arange(Tensor.PrintThreshold).ToString();
        Assert.DoesNotContain("...", s);
        Assert.Contains(" 500.,", s);
    }
}
