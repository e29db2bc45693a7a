using static Fovea.Vision.Tests.Oracle.OpenCvCases;

namespace Fovea.Vision.Tests.Oracle;

/// <summary>Gaussian and Laplacian pyramids against the same construction done with OpenCV's pyrDown / pyrUp / subtract (the committed references).</summary>
public class LaplacianOracleTests
{
    public static TheoryData<int, int, int> Cases()
    {
        var d = new TheoryData<int, int, int>();
        foreach (var (w, h, levels) in LaplacianCases) d.Add(w, h, levels);
        return d;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void PyramidsEqualOpenCvPyrDownChainAndPyrUp(int w, int h, int levels)
    {
        var img = LaplacianInput(w, h);
        var image = Tensor.FromArray(img, 1, h, w);
        var g = Pyramids.GaussianPyramid(image, levels);
        var l = Pyramids.LaplacianPyramid(image, levels);
        for (int i = 0; i < levels; i++)
        {
            OpenCvFixture.AssertClose(GaussianKey(w, h, levels, i), g[i].Shape[1..], g[i].ToArray<float>(), 1e-5);
            OpenCvFixture.AssertClose(LaplacianKey(w, h, levels, i), l[i].Shape[1..], l[i].ToArray<float>(), 1e-5);
        }

        Assert.True(MaxAbsDiff(img, Pyramids.Reconstruct(l).ToArray<float>()) <= 1e-5);
    }
}
