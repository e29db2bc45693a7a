using System.Runtime.Intrinsics;
using Fovea.Kernels.Simd;

namespace Fovea.Kernels.Tests;

public class VectorExpTests
{
    /// <summary>The distance from <paramref name="got"/> to the exact e^x in units of the last place of the rounded result.</summary>
    private static double Ulps(float x, float got)
    {
        double exact = Math.Exp(x);
        float rounded = (float)exact;
        double ulp = MathF.BitIncrement(rounded) - rounded;
        if (rounded == 0) ulp = float.Epsilon;
        return Math.Abs(got - exact) / ulp;
    }

    [Fact]
    public void Every_lane_is_within_one_ulp_over_the_whole_range_subnormal_results_included()
    {
        // 4 million points from e^x = 0 to just below overflow, and every lane of a vector a different value.
        const int count = 1 << 22;
        const float lo = -104f, hi = 88.72f;
        double worst = 0;
        float worstAt = 0;
        var lanes = new float[16];
        for (int i = 0; i < count; i += 16)
        {
            for (int l = 0; l < 16; l++) lanes[l] = lo + (hi - lo) * (i + l) / count;
            var v = VectorExp.Exp(Vector512.Create(lanes));
            for (int l = 0; l < 16; l++)
            {
                double u = Ulps(lanes[l], v[l]);
                if (u > worst) (worst, worstAt) = (u, lanes[l]);
            }
        }
        Assert.True(worst <= 1.0, $"e^{worstAt} is {worst:F3} ulps off");
    }

    [Theory]
    [InlineData(0f, 1f)]
    [InlineData(float.NegativeInfinity, 0f)]
    [InlineData(float.PositiveInfinity, float.PositiveInfinity)]
    [InlineData(-1000f, 0f)]
    [InlineData(-104f, 0f)]
    [InlineData(89f, float.PositiveInfinity)]
    [InlineData(1000f, float.PositiveInfinity)]
    [InlineData(1f, 2.71828183f)]
    public void Special_values_and_the_ends_of_the_range(float x, float expected)
    {
        Assert.Equal(expected, VectorExp.Exp(x));
        Assert.Equal(expected, VectorExp.Exp(Vector256.Create(x))[3]);
        Assert.Equal(expected, VectorExp.Exp(Vector512.Create(x))[11]);
    }

    [Fact]
    public void The_largest_finite_result_and_the_smallest_subnormal_are_reached()
    {
        // ln(float.MaxValue) = 88.7228391: just below stays finite, just above overflows.
        Assert.True(float.IsFinite(VectorExp.Exp(88.7228f)) && VectorExp.Exp(88.7228f) > 3.4e38f);
        Assert.Equal(float.PositiveInfinity, VectorExp.Exp(88.723f));
        // e^−103.2789 is the smallest subnormal, 2^−149.
        Assert.Equal(float.Epsilon, VectorExp.Exp(-103.2789f));
        Assert.True(VectorExp.Exp(-87.5f) is > 0 and < 1.17549435e-38f);
    }

    [Fact]
    public void NaN_lanes_stay_NaN_and_leave_the_other_lanes_alone()
    {
        var v = VectorExp.Exp(Vector256.Create(0f, float.NaN, 1f, -float.NaN, 2f, float.NaN, -1f, 0.5f));
        Assert.True(float.IsNaN(v[1]) && float.IsNaN(v[3]) && float.IsNaN(v[5]));
        Assert.Equal(new[] { 1f, VectorExp.Exp(1f), VectorExp.Exp(2f), VectorExp.Exp(-1f), VectorExp.Exp(0.5f) }, new[] { v[0], v[2], v[4], v[6], v[7] });
        Assert.True(float.IsNaN(VectorExp.Exp(float.NaN)));
    }

    [Fact]
    public void Both_widths_and_the_scalar_form_give_the_same_bits()
    {
        var rng = new Random(5);
        var lanes = new float[16];
        for (int trial = 0; trial < 2000; trial++)
        {
            for (int l = 0; l < 16; l++) lanes[l] = (float)(rng.NextDouble() * 200 - 110);
            var wide = VectorExp.Exp(Vector512.Create(lanes));
            var lo = VectorExp.Exp(Vector256.Create(lanes, 0));
            var hi = VectorExp.Exp(Vector256.Create(lanes, 8));
            for (int l = 0; l < 16; l++)
            {
                float narrow = l < 8 ? lo[l] : hi[l - 8];
                Assert.Equal(BitConverter.SingleToInt32Bits(wide[l]), BitConverter.SingleToInt32Bits(narrow));
                Assert.Equal(BitConverter.SingleToInt32Bits(wide[l]), BitConverter.SingleToInt32Bits(VectorExp.Exp(lanes[l])));
            }
        }
    }
}
