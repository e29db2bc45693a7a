using Fovea.Backends;
using static Fovea.Vision.Tests.Oracle.OpenCvCases;

namespace Fovea.Vision.Tests.Oracle;

/// <summary>The public PyrDown / PyrUp against OpenCV's pyrDown / pyrUp on float32 planes (the committed references).</summary>
public class PyramidOracleTests
{
    public static TheoryData<int, int> Sizes()
    {
        var d = new TheoryData<int, int>();
        foreach (var (w, h) in PyramidSizes) d.Add(w, h);
        return d;
    }

    [Theory]
    [MemberData(nameof(Sizes))]
    public void PyrDownEqualsOpenCvAtEveryLevel(int w, int h)
    {
        var cur = PyrDownInput(w, h);
        int cw = w, ch = h;
        for (int level = 1; ; level++)
        {
            int dw = PyramidGeometry.DownSize(cw), dh = PyramidGeometry.DownSize(ch);
            var ours = Pyramids.PyrDown(Tensor.FromArray(cur, 1, ch, cw)).ToArray<float>();
            OpenCvFixture.AssertClose(PyrDownKey(w, h, level), [dh, dw], ours, 1e-5);
            if (cw == 1 && ch == 1) break;
            cur = ours; cw = dw; ch = dh;
        }
    }

    [Theory]
    [MemberData(nameof(Sizes))]
    public void PyrUpEqualsOpenCvForEveryAllowedSize(int w, int h)
    {
        var src = PyrUpInput(w, h);
        foreach (var (dw, dh) in PyrUpSizes(w, h))
        {
            var ours = Pyramids.PyrUp(Tensor.FromArray(src, 1, h, w), (dh, dw)).ToArray<float>();
            OpenCvFixture.AssertClose(PyrUpKey(w, h, dw, dh), [dh, dw], ours, 1e-5);
        }
    }
}
