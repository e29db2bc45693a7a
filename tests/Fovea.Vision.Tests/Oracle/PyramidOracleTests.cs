using Fovea.Kernels.Filtering;
using static Fovea.Vision.Tests.Oracle.OpenCvCases;

namespace Fovea.Vision.Tests.Oracle;

/// <summary>PyrDown / PyrUp against OpenCV's pyrDown / pyrUp on float32 planes (the committed references).</summary>
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
            int dw = PyrKernels.DownSize(cw), dh = PyrKernels.DownSize(ch);
            var ours = new float[dw * dh];
            PyrKernels.PyrDown(cur, cw, ch, ours);
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
            var ours = new float[dw * dh];
            PyrKernels.PyrUp(src, w, h, ours, dw, dh);
            OpenCvFixture.AssertClose(PyrUpKey(w, h, dw, dh), [dh, dw], ours, 1e-5);
        }
    }
}
