using Fovea.Kernels.Pyramids;
using Fovea.Kernels.Tests.Support;

namespace Fovea.Kernels.Tests.Pyramids;

public class SteerablePyramidTests
{
    public static TheoryData<int, int, int, int> Cases => new()
    {
        { 1, 1, 0, 4 }, { 2, 3, 1, 4 }, { 7, 5, 2, 4 }, { 16, 16, 4, 4 }, { 33, 17, 4, 2 }, { 64, 48, 5, 4 },
        { 101, 77, 3, 6 }, { 31, 64, 4, 1 }, { 1, 40, 0, 3 }, { 128, 9, 3, 4 },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void ReconstructionIsExactAtEverySize(int w, int h, int scales, int k)
    {
        var img = TestData.Random(w * h, w * 3 + h);
        var p = SteerablePyramid.Build(img, w, h, scales, k);
        Assert.Equal(scales * k, p.Bands.Length);
        for (int s = 0; s <= scales; s++)
        {
            Assert.Equal((w + (1 << s) - 1) >> s, p.BandWidth(s));
            Assert.Equal((h + (1 << s) - 1) >> s, p.BandHeight(s));
        }
        var back = new float[w * h];
        p.Reconstruct(back);
        double num = 0, den = 0;
        for (int i = 0; i < img.Length; i++) { num += Math.Pow(back[i] - img[i], 2); den += (double)img[i] * img[i]; }
        double rel = Math.Sqrt(num / den);
        Assert.True(rel <= 1e-5, $"{w}x{h}, {scales} scales, {k} orientations: relative error {rel}");
        Assert.True(TestData.MaxAbsDiff(img, back) <= 1e-5);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(4)]
    [InlineData(7)]
    public void AngularMasksSumToOne(int k)
    {
        double a = SteerablePyramid.AngularConstant(k);
        for (double theta = 0; theta < 2 * Math.PI; theta += 0.1)
        {
            double s = 0;
            for (int j = 0; j < k; j++) s += a * a * Math.Pow(Math.Cos(theta - Math.PI * j / k), 2 * (k - 1));
            Assert.Equal(1, s, 1e-12);
        }
    }

    [Fact]
    public void BandsAreOrientationSelective()
    {
        // A grating varying along x (vertical stripes) at a mid frequency lands in orientation 0, not in orientation 2 (90°).
        int w = 64, h = 64;
        var img = new float[w * h];
        for (int y = 0; y < h; y++) for (int x = 0; x < w; x++) img[y * w + x] = (float)Math.Cos(2 * Math.PI * 12 * x / w);
        var p = SteerablePyramid.Build(img, w, h, 2, 4);
        double Energy(float[] b) => b.Sum(v => (double)v * v);
        double e0 = Energy(p.Band(0, 0)), e90 = Energy(p.Band(0, 2));
        Assert.True(e0 > 1000 * Math.Max(e90, 1e-12), $"orientation 0: {e0}, 90°: {e90}");
        Assert.True(Energy(p.HighPass) < 1e-6 * e0 && Energy(p.LowPass) < 1e-6 * e0);
    }

    [Fact]
    public void RejectsBadArguments()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => SteerablePyramid.Build(new float[16], 4, 4, 3, 4));
        Assert.Throws<ArgumentOutOfRangeException>(() => SteerablePyramid.Build(new float[16], 4, 4, 1, 0));
        Assert.Equal(2, SteerablePyramid.MaxScales(4, 9));
    }
}
