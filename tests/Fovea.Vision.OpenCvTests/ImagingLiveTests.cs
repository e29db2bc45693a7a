using Fovea.OracleFixtures;
using Fovea.Vision.Imaging;
using OpenCvSharp;
using static Fovea.Vision.Tests.Oracle.OpenCvCases;

namespace Fovea.Vision.OpenCvTests;

/// <summary>PNG decoding and BT.601 grey against OpenCV's imread and cvtColor, every pixel.</summary>
[Trait("Category", LiveOracle.Category)]
public class ImagingLiveTests
{
    public static TheoryData<string> PngNames()
    {
        var d = new TheoryData<string>();
        foreach (var p in Pngs) d.Add(p.Name);
        return d;
    }

    [Theory]
    [MemberData(nameof(PngNames))]
    public void LoadsPngLikeOpenCv(string name)
    {
        var img = ImageIO.Load(LiveOracle.DataPath(name));
        var (planar, c, h, w) = Cv.ReadPlanar(LiveOracle.DataPath(name));
        Assert.Equal((c, h, w), (img.Channels, img.Height, img.Width));
        for (int i = 0; i < planar.Length; i++) Assert.Equal(planar[i] / 255f, img.Data[i]);
    }

    [Fact]
    public void GrayEqualsOpenCvBt601OnFloatInput()
    {
        var rgb = ImageIO.Load(LiveOracle.DataPath("chelsea.png"));
        var gray = Grayscale.ToGray(rgb);
        int n = rgb.PlaneLength;
        var bgr = new float[3 * n];
        for (int i = 0; i < n; i++)
        {
            bgr[3 * i] = rgb.Plane(2)[i];
            bgr[3 * i + 1] = rgb.Plane(1)[i];
            bgr[3 * i + 2] = rgb.Plane(0)[i];
        }
        using var m = new Mat(rgb.Height, rgb.Width, MatType.CV_32FC3);
        System.Runtime.InteropServices.Marshal.Copy(bgr, 0, m.Data, bgr.Length);
        using var g = new Mat();
        Cv2.CvtColor(m, g, ColorConversionCodes.BGR2GRAY);
        Assert.True(MaxAbsDiff(Cv.ToPlane(g), gray.Plane(0)) <= 1e-6);
    }
}
