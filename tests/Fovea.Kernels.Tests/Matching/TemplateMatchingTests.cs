using Fovea.Kernels.Matching;
using Fovea.Kernels.Tests.Support;

namespace Fovea.Kernels.Tests.Matching;

[Collection(SimdPathsCollection.Name)]
public class TemplateMatchingTests
{
    private static double Corr(float[] img, int w, float[] t, int tw, int th, int x, int y)
    {
        double s = 0;
        for (int j = 0; j < th; j++) for (int i = 0; i < tw; i++) s += (double)t[j * tw + i] * img[(y + j) * w + x + i];
        return s;
    }

    // Every method from its definition, in double.
    private static double Reference(TemplateScore m, float[] img, int w, float[] t, int tw, int th, int x, int y)
    {
        int n = tw * th;
        double st = 0, st2 = 0, si = 0, si2 = 0, sti = 0, sq = 0;
        for (int j = 0; j < th; j++)
            for (int i = 0; i < tw; i++)
            {
                double a = t[j * tw + i], b = img[(y + j) * w + x + i];
                st += a; st2 += a * a; si += b; si2 += b * b; sti += a * b; sq += (a - b) * (a - b);
            }
        double cov = sti - st * si / n, vt = st2 - st * st / n, vi = si2 - si * si / n;
        return m switch
        {
            TemplateScore.SqDiff => sq,
            TemplateScore.SqDiffNormed => Math.Min(1, sq / Math.Sqrt(st2 * si2)),
            TemplateScore.CCorr => sti,
            TemplateScore.CCorrNormed => sti / Math.Sqrt(st2 * si2),
            TemplateScore.CCoeff => cov,
            _ => cov / Math.Sqrt(vt * vi),
        };
    }

    [Theory]
    [InlineData(20, 13, 3, 2)]
    [InlineData(41, 29, 5, 7)]
    [InlineData(70, 50, 12, 12)]
    [InlineData(9, 9, 9, 9)]
    [InlineData(64, 40, 1, 1)]
    [InlineData(200, 80, 40, 40)]  // 64..256-wide tiles: even and odd radix-2 stage counts
    [InlineData(150, 90, 33, 17)]  // mixed tile sides, odd stage counts
    [InlineData(6, 300, 2, 150)]   // tiles narrower than one 16-column strip
    public void DirectAndFftCorrelationEqualTheSum(int w, int h, int tw, int th)
    {
        var img = TestData.Random(w * h, 31);
        var t = TestData.Random(tw * th, 32).Select(v => v - 0.5f).ToArray();
        int ow = w - tw + 1, oh = h - th + 1;
        SimdPaths.ForEach(path =>
        {
            var direct = new float[ow * oh];
            var viaFft = new float[ow * oh];
            TemplateMatching.Correlate(img, w, h, t, tw, th, direct, useFft: false);
            TemplateMatching.Correlate(img, w, h, t, tw, th, viaFft, useFft: true);
            for (int y = 0; y < oh; y++)
                for (int x = 0; x < ow; x++)
                {
                    double e = Corr(img, w, t, tw, th, x, y);
                    Assert.True(Math.Abs(direct[y * ow + x] - e) <= 1e-5 * tw * th, $"direct, path {path}, ({x},{y})");
                    Assert.True(Math.Abs(viaFft[y * ow + x] - e) <= 1e-6 * tw * th, $"fft, path {path}, ({x},{y})");
                }
        });
    }

    public static TheoryData<TemplateScore, int, int> MethodCases()
    {
        var d = new TheoryData<TemplateScore, int, int>();
        foreach (var m in Enum.GetValues<TemplateScore>())
        {
            d.Add(m, 6, 5);   // direct
            d.Add(m, 17, 14); // FFT
        }
        return d;
    }

    [Theory]
    [MemberData(nameof(MethodCases))]
    public void EveryMethodEqualsItsDefinition(TemplateScore method, int tw, int th)
    {
        int w = 57, h = 44;
        var img = TestData.Random(w * h, 33);
        var t = TestData.Random(tw * th, 34);
        var (ow, oh) = TemplateMatching.ResultSize(w, h, tw, th);
        var r = new float[ow * oh];
        TemplateMatching.Match(img, w, h, t, tw, th, method, r);
        bool raw = method is TemplateScore.SqDiff or TemplateScore.CCorr or TemplateScore.CCoeff;
        for (int y = 0; y < oh; y++)
            for (int x = 0; x < ow; x++)
            {
                double e = Reference(method, img, w, t, tw, th, x, y);
                double tol = raw ? 1e-5 * tw * th : 1e-5;
                Assert.True(Math.Abs(r[y * ow + x] - e) <= tol, $"{method} at ({x},{y}): {r[y * ow + x]} vs {e}");
            }
    }

    [Fact]
    public void FlatTemplateOrFlatWindowScoresZero()
    {
        int w = 30, h = 20;
        var img = TestData.Random(w * h, 35);
        for (int y = 0; y < 8; y++) for (int x = 0; x < 8; x++) img[y * w + x] = 0.25f; // a flat patch
        var t = TestData.Random(16, 36);
        var r = new float[27 * 17];
        TemplateMatching.Match(img, w, h, t, 4, 4, TemplateScore.CCoeffNormed, r);
        Assert.Equal(0f, r[0]);
        Assert.Equal(0f, r[2 * 27 + 3]);
        Assert.All(r, v => Assert.InRange(v, -1f, 1f));

        var flat = Enumerable.Repeat(0.7f, 16).ToArray();
        TemplateMatching.Match(img, w, h, flat, 4, 4, TemplateScore.CCoeffNormed, r);
        Assert.All(r, v => Assert.Equal(0f, v));

        // Zero energy: CCORR_NORMED gives 0, SQDIFF_NORMED gives 1; nothing is NaN.
        var zeros = new float[w * h];
        TemplateMatching.Match(zeros, w, h, t, 4, 4, TemplateScore.CCorrNormed, r);
        Assert.All(r, v => Assert.Equal(0f, v));
        TemplateMatching.Match(zeros, w, h, t, 4, 4, TemplateScore.SqDiffNormed, r);
        Assert.All(r, v => Assert.Equal(1f, v));
    }

    [Fact]
    public void FindsAPlantedTemplateExactly()
    {
        int w = 300, h = 200, tw = 20, th = 15;
        var img = TestData.Random(w * h, 37);
        var t = new float[tw * th];
        for (int j = 0; j < th; j++) for (int i = 0; i < tw; i++) t[j * tw + i] = img[(120 + j) * w + 77 + i];
        var (ow, oh) = TemplateMatching.ResultSize(w, h, tw, th);
        var r = new float[ow * oh];
        TemplateMatching.Match(img, w, h, t, tw, th, TemplateScore.CCoeffNormed, r);
        int best = Array.IndexOf(r, r.Max());
        Assert.Equal((77, 120), (best % ow, best / ow));
        Assert.Equal(1f, r[best], 1e-5f);
        TemplateMatching.Match(img, w, h, t, tw, th, TemplateScore.SqDiff, r);
        int low = Array.IndexOf(r, r.Min());
        Assert.Equal((77, 120), (low % ow, low / ow));
        Assert.True(r[low] <= 1e-3f);
    }

    [Fact]
    public void RejectsTemplateLargerThanImage()
    {
        var e = Assert.Throws<ArgumentException>(() => TemplateMatching.Match(new float[20], 5, 4, new float[30], 6, 5, TemplateScore.CCoeffNormed, new float[1]));
        Assert.Contains("6x5", e.Message);
    }
}
