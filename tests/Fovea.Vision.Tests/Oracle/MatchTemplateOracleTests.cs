using Fovea.Kernels.Matching;
using Fovea.Vision.Imaging;
using Fovea.Vision.Tests.Imaging;
using OpenCvSharp;

namespace Fovea.Vision.Tests.Oracle;

/// <summary>MatchTemplate against OpenCV's matchTemplate on a real image, direct and FFT paths, all six methods.</summary>
public class MatchTemplateOracleTests
{
    public static TheoryData<TemplateMatchMethod, int> Cases()
    {
        var d = new TheoryData<TemplateMatchMethod, int>();
        foreach (var m in Enum.GetValues<TemplateMatchMethod>())
        {
            d.Add(m, 9);  // 81 pixels: direct
            d.Add(m, 41); // FFT
        }
        return d;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void EqualsOpenCv(TemplateMatchMethod method, int size)
    {
        var img = ImageIO.Load(ImageIOTests.DataPath("coins.png"));
        int w = img.Width, h = 160; // the top 160 rows keep the test fast
        var plane = img.Plane(0).Slice(0, w * h).ToArray();
        var templ = new float[size * size];
        for (int j = 0; j < size; j++) for (int i = 0; i < size; i++) templ[j * size + i] = plane[(60 + j) * w + 150 + i];

        var (ow, oh) = TemplateMatching.ResultSize(w, h, size, size);
        var ours = new float[ow * oh];
        TemplateMatching.Match(plane, w, h, templ, size, size, method, ours);

        using var cvImg = Cv.FromPlane(plane, w, h);
        using var cvT = Cv.FromPlane(templ, size, size);
        using var cvR = new Mat();
        Cv2.MatchTemplate(cvImg, cvT, cvR, (TemplateMatchModes)(int)method);
        var theirs = Cv.ToPlane(cvR);
        Assert.Equal(ow, cvR.Cols);
        Assert.Equal(oh, cvR.Rows);

        // Unnormalised scores are sums of up to size² terms: compare relative to the largest.
        double scale = method is TemplateMatchMethod.SqDiff or TemplateMatchMethod.CCorr or TemplateMatchMethod.CCoeff
            ? Math.Max(1, theirs.Max(Math.Abs)) : 1;
        int exactOnly = 0;
        if (method == TemplateMatchMethod.CCoeffNormed)
        {
            // OpenCV stores the raw correlation Σ T·I in float before centring, so in nearly flat windows its own score
            // is off by about |Σ T·I|·2⁻²⁴ / sqrt(Σ I'²·Σ T'²) (2.7e-4 observed here where the window variance is 5e-5).
            // Where that bound exceeds 5e-5 we hold our score to the exact double-precision value (to the same 1e-4) instead.
            int n = size * size;
            double st = templ.Sum(v => (double)v), st2 = templ.Sum(v => (double)v * v);
            for (int y = 0; y < oh; y++)
            for (int x = 0; x < ow; x++)
            {
                double si = 0, si2 = 0, sti = 0;
                for (int j = 0; j < size; j++)
                for (int i = 0; i < size; i++)
                {
                    double a = templ[j * size + i], b = plane[(y + j) * w + x + i];
                    si += b; si2 += b * b; sti += a * b;
                }
                double t = Math.Sqrt(Math.Max(si2 - si * si / n, 0) * (st2 - st * st / n));
                if (t == 0 || Math.Abs(sti) * Math.Pow(2, -24) / t <= 5e-5) continue;
                exactOnly++;
                double exact = (sti - st * si / n) / t;
                Assert.True(Math.Abs(ours[y * ow + x] - exact) <= 1e-4, $"({x},{y}): ours {ours[y * ow + x]}, exact {exact}");
                theirs[y * ow + x] = ours[y * ow + x];
            }
            Assert.True(exactOnly < ours.Length / 4, $"{exactOnly} of {ours.Length} positions are outside OpenCV's float accuracy");
        }
        double err = Cv.MaxAbsDiff(theirs, ours) / scale;
        Assert.True(err <= 1e-4, $"{method}, {size}x{size}: max |ours − OpenCV| = {err} (relative to {scale})");
        var best = PeakFinder.FindPeaks(ours, ow, oh, 1, 1, lowerIsBetter: method is TemplateMatchMethod.SqDiff or TemplateMatchMethod.SqDiffNormed);
        if (method is not (TemplateMatchMethod.CCorr or TemplateMatchMethod.CCorrNormed or TemplateMatchMethod.CCoeff))
            Assert.Equal((150, 60), (best[0].X, best[0].Y));
    }
}
