using Fovea.Backends;
using OpenCvSharp;

namespace Fovea.Vision.Tests.Oracle;

/// <summary>The public PyrDown / PyrUp against OpenCV's pyrDown / pyrUp on float32 planes.</summary>
public class PyramidOracleTests
{
    public static TheoryData<int, int> Sizes => new()
    {
        { 1, 1 }, { 1, 2 }, { 2, 1 }, { 1, 9 }, { 9, 1 }, { 2, 2 }, { 3, 3 }, { 4, 7 }, { 17, 5 },
        { 31, 32 }, { 64, 48 }, { 101, 77 }, { 255, 3 },
    };

    [Theory]
    [MemberData(nameof(Sizes))]
    public void PyrDownEqualsOpenCvAtEveryLevel(int w, int h)
    {
        var cur = Cv.Random(w * h, w * 1000 + h);
        int cw = w, ch = h;
        while (true)
        {
            int dw = PyramidGeometry.DownSize(cw), dh = PyramidGeometry.DownSize(ch);
            var ours = Pyramids.PyrDown(Tensor.FromArray(cur, 1, ch, cw)).ToArray<float>();
            using var src = Cv.FromPlane(cur, cw, ch);
            using var dst = new Mat();
            Cv2.PyrDown(src, dst);
            Assert.Equal(dw, dst.Cols);
            Assert.Equal(dh, dst.Rows);
            double err = Cv.MaxAbsDiff(Cv.ToPlane(dst), ours);
            Assert.True(err <= 1e-5, $"{cw}x{ch}: max |ours - OpenCV| = {err}");
            if (cw == 1 && ch == 1) break;
            cur = ours; cw = dw; ch = dh;
        }
    }

    [Theory]
    [MemberData(nameof(Sizes))]
    public void PyrUpEqualsOpenCvForEveryAllowedSize(int w, int h)
    {
        var src = Cv.Random(w * h, w * 77 + h);
        using var cvSrc = Cv.FromPlane(src, w, h);
        foreach (int dw in new[] { 2 * w - 1, 2 * w, 2 * w + 1 })
        foreach (int dh in new[] { 2 * h - 1, 2 * h, 2 * h + 1 })
        {
            var ours = Pyramids.PyrUp(Tensor.FromArray(src, 1, h, w), (dh, dw)).ToArray<float>();
            using var dst = new Mat();
            Cv2.PyrUp(cvSrc, dst, new Size(dw, dh));
            var theirs = Cv.ToPlane(dst);
            if (w == 1 && dw == 3)
            {
                // OpenCV never writes the ring-buffer slot of that third column for a 1-pixel-wide source (it holds
                // whatever the previous call left there), so only the two defined columns are compared.
                for (int y = 0; y < dh; y++) theirs[y * dw + 2] = ours[y * dw + 2];
            }
            double err = Cv.MaxAbsDiff(theirs, ours);
            Assert.True(err <= 1e-5, $"{w}x{h} -> {dw}x{dh}: max |ours - OpenCV| = {err}");
        }
    }
}
