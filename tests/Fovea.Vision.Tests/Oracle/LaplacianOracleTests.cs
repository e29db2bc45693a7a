using Fovea.Kernels.Pyramids;
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
        var layout = PyramidLayout.Create(w, h, levels);
        var g = new float[layout.TotalLength];
        var l = new float[layout.TotalLength];
        GaussianPyramid.Build(img, layout, g);
        LaplacianPyramid.Build(img, layout, l);
        for (int i = 0; i < levels; i++)
        {
            int[] shape = [layout.LevelHeight(i), layout.LevelWidth(i)];
            OpenCvFixture.AssertClose(GaussianKey(w, h, levels, i), shape, layout.Level((ReadOnlySpan<float>)g, i), 1e-5);
            OpenCvFixture.AssertClose(LaplacianKey(w, h, levels, i), shape, layout.Level((ReadOnlySpan<float>)l, i), 1e-5);
        }

        var back = new float[w * h];
        LaplacianPyramid.Reconstruct(l, layout, back);
        Assert.True(MaxAbsDiff(img, back) <= 1e-5);
    }
}
