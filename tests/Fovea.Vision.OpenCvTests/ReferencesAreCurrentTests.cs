using Fovea.Backends;
using Fovea.OracleFixtures;
using Fovea.Vision.Imaging;
using Fovea.Vision.Tests.Oracle;

namespace Fovea.Vision.OpenCvTests;

/// <summary>
/// The committed references are what the installed OpenCV computes now, so the default tests check against OpenCV. Not
/// to the bit: OpenCV picks its SIMD code by the processor, and its template-matching scores, differences of sums of up
/// to a template's worth of terms, move in the last places between the AVX-512 machine that wrote the references and an
/// AVX2 one (Zen 3, 9x9 template: SqDiff 2.2736588 committed, 2.2736664 there; CCoeff −0.6007697 and −0.60078114). So
/// each value is compared within 1e-4 of the largest magnitude in its reference (at least 1), the bound the tests that
/// read the references hold Fovea to; a stale reference, of another input or another case, is off by far more. Where
/// OpenCV's normalised correlation coefficient is itself off the exact score by more than 5e-5 (it drifts in nearly flat
/// windows: −0.13089727 committed, −0.1307812 on the Zen 3 core), it is no reference, and the tests that read it replace
/// it there; so does this check.
/// </summary>
[Trait("Category", LiveOracle.Category)]
public class ReferencesAreCurrentTests
{
    [Fact]
    public void CommittedReferencesEqualWhatOpenCvComputes()
    {
        var committed = OpenCvReferenceFile.Read(Path.Combine(LiveOracle.Root, OpenCvCases.ReferencePath));
        var now = OpenCvReferences.All(LiveOracle.Root).ToList();
        Assert.Equal(now.Select(r => r.Key).Order(), committed.Keys.Order());
        var exact = ExactCCoeffNormedByKey();
        foreach (var r in now)
        {
            var c = committed[r.Key];
            Assert.Equal(r.Shape, c.Shape);
            double scale = Math.Max(1, c.Values.Where(v => !float.IsNaN(v)).Select(v => Math.Abs((double)v)).DefaultIfEmpty(0).Max());
            exact.TryGetValue(r.Key, out var e);
            for (int i = 0; i < r.Values.Length; i++)
            {
                float a = r.Values[i], b = c.Values[i];
                if (e is not null && (Math.Abs(a - e[r.Indices[i]]) > 5e-5 || Math.Abs(b - e[r.Indices[i]]) > 5e-5)) continue;
                Assert.True(float.IsNaN(a) == float.IsNaN(b) && (float.IsNaN(a) || Math.Abs(a - b) <= 1e-4 * scale),
                    $"{r.Key} at flat index {r.Indices[i]}: OpenCV now {a}, committed {b}; regenerate with tools/Fovea.OracleFixtures");
            }
        }
    }

    /// <summary>The exact (double-precision) CCoeffNormed score of every template-matching case, by its reference key.</summary>
    private static Dictionary<string, double[]> ExactCCoeffNormedByKey()
    {
        var img = ImageIO.Load(LiveOracle.DataPath("coins.png"));
        int w = img.Width, h = OpenCvCases.MatchRows;
        var plane = img.Plane(0).Slice(0, w * h).ToArray();
        var byKey = new Dictionary<string, double[]>();
        foreach (int side in OpenCvCases.TemplateSides)
        {
            var templ = OpenCvCases.CutTemplate(plane, w, side);
            byKey[OpenCvCases.MatchKey(nameof(TemplateMatchMethod.CCoeffNormed), side)] =
                OpenCvCases.ExactCCoeffNormed(plane, w, templ, side, w - side + 1, h - side + 1);
        }
        return byKey;
    }
}
