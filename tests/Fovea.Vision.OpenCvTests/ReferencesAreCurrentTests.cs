using Fovea.OracleFixtures;
using Fovea.Vision.Tests.Oracle;

namespace Fovea.Vision.OpenCvTests;

/// <summary>The committed references are what the installed OpenCV computes now, so the default tests check against OpenCV.</summary>
[Trait("Category", LiveOracle.Category)]
public class ReferencesAreCurrentTests
{
    [Fact]
    public void CommittedReferencesEqualWhatOpenCvComputes()
    {
        var committed = OpenCvReferenceFile.Read(Path.Combine(LiveOracle.Root, OpenCvCases.ReferencePath));
        var now = OpenCvReferences.All(LiveOracle.Root).ToList();
        Assert.Equal(now.Select(r => r.Key).Order(), committed.Keys.Order());
        foreach (var r in now)
        {
            var c = committed[r.Key];
            Assert.Equal(r.Shape, c.Shape);
            for (int i = 0; i < r.Values.Length; i++)
            {
                float a = r.Values[i], b = c.Values[i];
                Assert.True(float.IsNaN(a) == float.IsNaN(b) && (float.IsNaN(a) || Math.Abs(a - b) <= 1e-6 * Math.Max(1, Math.Abs(a))),
                    $"{r.Key} at flat index {r.Indices[i]}: OpenCV now {a}, committed {b}; regenerate with tools/Fovea.OracleFixtures");
            }
        }
    }
}
