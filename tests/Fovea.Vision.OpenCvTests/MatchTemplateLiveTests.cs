using Fovea.Backends;
using Fovea.OracleFixtures;
using Fovea.Vision.Imaging;
using OpenCvSharp;
using static Fovea.Vision.Tests.Oracle.OpenCvCases;

namespace Fovea.Vision.OpenCvTests;

/// <summary>The public Matching.MatchTemplate against OpenCV's matchTemplate on a real image, direct and FFT paths, all six methods, every position.</summary>
[Trait("Category", LiveOracle.Category)]
public class MatchTemplateLiveTests
{
    public static TheoryData<TemplateMatchMethod, int> Cases()
    {
        var d = new TheoryData<TemplateMatchMethod, int>();
        foreach (var m in Enum.GetValues<TemplateMatchMethod>())
            foreach (int side in TemplateSides)
                d.Add(m, side);
        return d;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void EqualsOpenCv(TemplateMatchMethod method, int size)
    {
        var img = ImageIO.Load(LiveOracle.DataPath("coins.png"));
        int w = img.Width, h = MatchRows;
        var plane = img.Plane(0).Slice(0, w * h).ToArray();
        var templ = CutTemplate(plane, w, size);
        int ow = w - size + 1, oh = h - size + 1;
        var scores = Matching.MatchTemplate(Tensor.FromArray(plane, h, w), Tensor.FromArray(templ, size, size), method);
        Assert.Equal([oh, ow], scores.Shape);
        var ours = scores.ToArray<float>();

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
        if (method == TemplateMatchMethod.CCoeffNormed)
        {
            // OpenCV's own score drifts in nearly flat windows (see Fovea.Vision.Tests' MatchTemplateOracleTests): where it is
            // off the exact value by more than 5e-5 it is not a reference.
            var exact = ExactCCoeffNormed(plane, w, templ, size, ow, oh);
            int oracleOff = 0;
            for (int i = 0; i < ours.Length; i++)
            {
                Assert.True(Math.Abs(ours[i] - exact[i]) <= 1e-4, $"({i % ow},{i / ow}): ours {ours[i]}, exact {exact[i]}");
                if (Math.Abs(theirs[i] - exact[i]) > 5e-5)
                {
                    oracleOff++;
                    theirs[i] = ours[i];
                }
            }
            Assert.True(oracleOff < ours.Length / 4, $"OpenCV is off the exact score at {oracleOff} of {ours.Length} positions");
        }
        double err = MaxAbsDiff(theirs, ours) / scale;
        Assert.True(err <= 1e-4, $"{method}, {size}x{size}: max |ours − OpenCV| = {err} (relative to {scale})");
    }
}
