using Fovea.Kernels.Filtering;
using Fovea.Kernels.Pyramids;
using Fovea.Kernels.Tests.Support;

namespace Fovea.Kernels.Tests.Pyramids;

public class PyramidTests
{
    public static TheoryData<int, int, int> Cases => new()
    {
        { 1, 1, 1 }, { 1, 1, 3 }, { 1, 13, 4 }, { 13, 1, 4 }, { 2, 3, 2 }, { 5, 7, 3 }, { 64, 64, 7 },
        { 65, 33, 5 }, { 100, 37, 9 }, { 127, 129, 4 }, { 31, 2, 6 },
    };

    [Fact]
    public void LayoutFollowsOpenCvSizes()
    {
        var l = PyramidLayout.Create(13, 6, 5);
        Assert.Equal(new[] { 13, 7, 4, 2, 1 }, Enumerable.Range(0, 5).Select(l.LevelWidth));
        Assert.Equal(new[] { 6, 3, 2, 1, 1 }, Enumerable.Range(0, 5).Select(l.LevelHeight));
        Assert.Equal(13 * 6 + 7 * 3 + 4 * 2 + 2 + 1, l.TotalLength);
        Assert.Equal(13 * 6 + 7 * 3, l.Offset(2));
        Assert.Throws<ArgumentOutOfRangeException>(() => PyramidLayout.Create(4, 4, 0));
        Assert.Throws<ArgumentException>(() => PyramidLayout.Create(0, 4, 2));
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void GaussianLevelsAreRepeatedPyrDown(int w, int h, int levels)
    {
        var img = TestData.Random(w * h, 3);
        var layout = PyramidLayout.Create(w, h, levels);
        var g = new float[layout.TotalLength];
        GaussianPyramid.Build(img, layout, g);
        float[] cur = img;
        for (int i = 0; i < levels; i++)
        {
            if (i > 0)
            {
                var next = new float[layout.LevelLength(i)];
                PyrKernels.PyrDown(cur, layout.LevelWidth(i - 1), layout.LevelHeight(i - 1), next);
                cur = next;
            }
            Assert.Equal(cur, layout.Level((ReadOnlySpan<float>)g, i).ToArray());
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void LaplacianBandsAreGaussianMinusUpsampledNext(int w, int h, int levels)
    {
        var img = TestData.Random(w * h, 4);
        var layout = PyramidLayout.Create(w, h, levels);
        var g = new float[layout.TotalLength];
        var l = new float[layout.TotalLength];
        GaussianPyramid.Build(img, layout, g);
        LaplacianPyramid.Build(img, layout, l);
        for (int i = 0; i < levels; i++)
        {
            var gi = layout.Level((ReadOnlySpan<float>)g, i).ToArray();
            var expected = gi;
            if (i < levels - 1)
            {
                var up = new float[gi.Length];
                PyrKernels.PyrUp(layout.Level((ReadOnlySpan<float>)g, i + 1), layout.LevelWidth(i + 1), layout.LevelHeight(i + 1),
                    up, layout.LevelWidth(i), layout.LevelHeight(i));
                expected = gi.Select((v, k) => v - up[k]).ToArray();
            }
            Assert.True(TestData.MaxAbsDiff(expected, layout.Level((ReadOnlySpan<float>)l, i)) <= 1e-6, $"level {i}");
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void ReconstructIsExactToFloatRounding(int w, int h, int levels)
    {
        var img = TestData.Random(w * h, 5);
        var layout = PyramidLayout.Create(w, h, levels);
        var l = new float[layout.TotalLength];
        LaplacianPyramid.Build(img, layout, l);
        var back = new float[w * h];
        LaplacianPyramid.Reconstruct(l, layout, back);
        double err = TestData.MaxAbsDiff(img, back);
        Assert.True(err <= 1e-5, $"{w}x{h}, {levels} levels: max error {err}");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(5)]
    public void BlendWithConstantMaskIsAlphaBlend(int levels)
    {
        // The pyramid is linear and a constant mask has constant Gaussian levels, so any depth gives m·a + (1−m)·b.
        int w = 37, h = 23;
        var a = TestData.Random(w * h, 6);
        var b = TestData.Random(w * h, 7);
        var mask = Enumerable.Repeat(0.3f, w * h).ToArray();
        var outp = new float[w * h];
        PyramidBlend.Blend(a, b, mask, w, h, levels, outp);
        var expected = a.Select((v, i) => 0.3f * v + 0.7f * b[i]).ToArray();
        Assert.True(TestData.MaxAbsDiff(expected, outp) <= 2e-6);
    }

    [Fact]
    public void OneLevelBlendIsPixelwiseAlpha()
    {
        int w = 19, h = 11;
        var a = TestData.Random(w * h, 8);
        var b = TestData.Random(w * h, 9);
        var mask = TestData.Random(w * h, 10);
        var outp = new float[w * h];
        PyramidBlend.Blend(a, b, mask, w, h, 1, outp);
        Assert.True(TestData.MaxAbsDiff(a.Select((v, i) => mask[i] * v + (1 - mask[i]) * b[i]).ToArray(), outp) <= 1e-6);
    }

    [Fact]
    public void DeepBlendMatchesBandwiseDefinitionAndSmoothsTheSeam()
    {
        int w = 256, h = 16, levels = 4;
        var a = Enumerable.Repeat(1f, w * h).ToArray();
        var b = new float[w * h];
        var mask = new float[w * h];
        for (int y = 0; y < h; y++) for (int x = 0; x < w / 2; x++) mask[y * w + x] = 1;
        var outp = new float[w * h];
        PyramidBlend.Blend(a, b, mask, w, h, levels, outp);

        // The definition written out with the public pieces.
        var layout = PyramidLayout.Create(w, h, levels);
        var la = new float[layout.TotalLength];
        var lb = new float[layout.TotalLength];
        var gm = new float[layout.TotalLength];
        LaplacianPyramid.Build(a, layout, la);
        LaplacianPyramid.Build(b, layout, lb);
        GaussianPyramid.Build(mask, layout, gm);
        var l = la.Select((v, i) => gm[i] * v + (1 - gm[i]) * lb[i]).ToArray();
        var expected = new float[w * h];
        LaplacianPyramid.Reconstruct(l, layout, expected);
        Assert.True(TestData.MaxAbsDiff(expected, outp) <= 1e-6);

        // Far from the seam the inputs come through; across it the step is spread over several pixels.
        Assert.Equal(1f, outp[10 * w + 2], 3);
        Assert.Equal(0f, outp[10 * w + w - 3], 3);
        float mid = outp[10 * w + w / 2 - 1];
        Assert.InRange(mid, 0.2f, 0.8f);
        Assert.InRange(outp[10 * w + w / 2 - 3], mid, 1f);
    }

    [Fact]
    public void ColourBlendSharesOneMaskAcrossChannels()
    {
        int w = 21, h = 17, c = 3;
        var a = TestData.Random(c * w * h, 11);
        var b = TestData.Random(c * w * h, 12);
        var mask = TestData.Random(w * h, 13);
        var outp = new float[c * w * h];
        PyramidBlend.BlendPlanes(a, b, mask, c, w, h, 3, outp);
        for (int ch = 0; ch < c; ch++)
        {
            var one = new float[w * h];
            PyramidBlend.Blend(a.AsSpan(ch * w * h, w * h), b.AsSpan(ch * w * h, w * h), mask, w, h, 3, one);
            Assert.Equal(one, outp.AsSpan(ch * w * h, w * h).ToArray());
        }
    }
}
