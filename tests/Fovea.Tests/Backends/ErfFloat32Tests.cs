using Fovea.Backends;

namespace Fovea.Tests.Backends;

/// <summary>
/// The CPU backend's float32 erf (sixteen elements at a time in double precision, <c>ErfFloat32</c>) against the scalar
/// double function it vectorises, rounded to float32.
/// </summary>
public class ErfFloat32Tests
{
    private static float[] Inputs()
    {
        var values = new List<float>();
        for (int i = -7 * 1024; i <= 7 * 1024; i++) values.Add(i / 1024f); // through both algorithms' ranges and past 6
        var rng = new Random(11);
        for (int i = 0; i < 20_000; i++)
        {
            // Normal samples of two widths: a GELU's x/√2, and wide enough to put a lane past 2.5 in most groups of sixteen.
            double u1 = 1 - rng.NextDouble(), u2 = rng.NextDouble();
            double z = Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
            values.Add((float)(z * (i % 2 == 0 ? 0.7 : 2.0)));
        }
        values.AddRange([float.NaN, float.PositiveInfinity, float.NegativeInfinity, 0f, -0f, 2.5f, -2.5f,
            MathF.BitDecrement(2.5f), -MathF.BitDecrement(2.5f), 6f, -6f, 1e-30f, -1e-30f, float.Epsilon, -float.Epsilon,
            1e-40f, float.MaxValue, -float.MaxValue, 1e-4f, -0.5f]);
        return [.. values];
    }

    [Fact]
    public void Float32_erf_is_within_one_unit_of_the_double_function()
    {
        var x = Inputs();
        var y = Tensor.FromArray(x, x.Length).Erf().ToArray<float>();
        int exact = 0;
        for (int i = 0; i < x.Length; i++)
        {
            float expected = (float)SpecialFunctions.Erf(x[i]);
            if (float.IsNaN(expected))
            {
                Assert.True(float.IsNaN(y[i]), $"erf({x[i]:R}) = {y[i]:R}, expected NaN");
                continue;
            }
            int a = BitConverter.SingleToInt32Bits(y[i]), b = BitConverter.SingleToInt32Bits(expected);
            if (expected == 0) Assert.Equal(b, a); // the sign of zero too
            Assert.True(Math.Sign(a) == Math.Sign(b) && Math.Abs(a - b) <= 1, $"erf({x[i]:R}) = {y[i]:R}, expected {expected:R}");
            if (a == b) exact++;
        }
        // Double-precision sums round to the same float32 but within about 1e-15 of a rounding boundary.
        Assert.True(exact >= x.Length - 5, $"{x.Length - exact} of {x.Length} results differ from the scalar function's by one unit");
    }

    [Fact]
    public void Float32_erf_of_a_strided_view_matches_the_contiguous_one()
    {
        var x = Inputs();
        int n = x.Length / 2 * 2;
        var t = Tensor.FromArray(x[..n], n / 2, 2);
        var strided = t.Transpose(0, 1).Erf().Transpose(0, 1).Contiguous().ToArray<float>();
        var contiguous = t.Erf().ToArray<float>();
        Assert.Equal(contiguous.Select(BitConverter.SingleToInt32Bits), strided.Select(BitConverter.SingleToInt32Bits));
    }
}
