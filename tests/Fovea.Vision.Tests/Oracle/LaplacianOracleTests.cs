using OpenCvSharp;

namespace Fovea.Vision.Tests.Oracle;

/// <summary>Gaussian and Laplacian pyramids against the same construction done with OpenCV's pyrDown / pyrUp / subtract.</summary>
public class LaplacianOracleTests
{
    [Theory]
    [InlineData(1, 1, 2)]
    [InlineData(1, 17, 5)]
    [InlineData(17, 1, 5)]
    [InlineData(64, 64, 7)]
    [InlineData(99, 45, 6)]
    [InlineData(128, 3, 4)]
    public void PyramidsEqualOpenCvPyrDownChainAndPyrUp(int w, int h, int levels)
    {
        var img = Cv.Random(w * h, w + 7 * h);
        var image = Tensor.FromArray(img, 1, h, w);
        var g = Pyramids.GaussianPyramid(image, levels);
        var l = Pyramids.LaplacianPyramid(image, levels);

        using var src = Cv.FromPlane(img, w, h);
        var cvG = new Mat[levels];
        cvG[0] = src.Clone();
        for (int i = 1; i < levels; i++)
        {
            cvG[i] = new Mat();
            Cv2.PyrDown(cvG[i - 1], cvG[i]);
        }
        for (int i = 0; i < levels; i++)
        {
            Assert.Equal([1, cvG[i].Rows, cvG[i].Cols], g[i].Shape);
            Assert.True(Cv.MaxAbsDiff(Cv.ToPlane(cvG[i]), g[i].ToArray<float>()) <= 1e-5, $"G level {i}");
            using var band = new Mat();
            if (i < levels - 1)
            {
                using var up = new Mat();
                Cv2.PyrUp(cvG[i + 1], up, cvG[i].Size());
                Cv2.Subtract(cvG[i], up, band);
            }
            else cvG[i].CopyTo(band);
            Assert.True(Cv.MaxAbsDiff(Cv.ToPlane(band), l[i].ToArray<float>()) <= 1e-5, $"L level {i}");
        }
        foreach (var m in cvG) m.Dispose();

        Assert.True(Cv.MaxAbsDiff(img, Pyramids.Reconstruct(l).ToArray<float>()) <= 1e-5);
    }
}
