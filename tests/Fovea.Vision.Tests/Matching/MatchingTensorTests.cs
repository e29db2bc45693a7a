using Fovea.Backends;
using Fovea.Vision.Imaging;
using Fovea.Vision.Tests.Imaging;

namespace Fovea.Vision.Tests;

/// <summary>Template matching on tensors, scikit-image's padded mode, peaks, and the image/tensor bridge.</summary>
public class MatchingTensorTests
{
    private static Tensor Coins() => ImageIO.Load(ImageIOTests.DataPath("coins.png")).ToTensor().Narrow(1, 0, 120).Narrow(2, 0, 160).Contiguous();

    [Fact]
    public void MatchTemplateFindsACutOutPatch()
    {
        var img = Coins();
        var tpl = img.Narrow(1, 40, 15).Narrow(2, 70, 11).Contiguous();
        var map = Matching.MatchTemplate(img, tpl);
        Assert.Equal([120 - 15 + 1, 160 - 11 + 1], map.Shape);
        var peaks = Matching.FindPeaks(map, 3, 5);
        Assert.Equal((70, 40), (peaks[0].X, peaks[0].Y));
        Assert.True(peaks[0].Score > 0.9999f);
        Assert.True(peaks[1].Score <= peaks[0].Score && peaks[2].Score <= peaks[1].Score);
        var sq = Matching.MatchTemplate(img, tpl, TemplateMatchMethod.SqDiff);
        var best = Matching.FindPeaks(sq, 1, 1, Matching.LowerIsBetter(TemplateMatchMethod.SqDiff));
        Assert.Equal((70, 40), (best[0].X, best[0].Y));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void MatchTemplateIntoAScoreMapEqualsTheAllocatingCallOnBothBackends(bool reference)
    {
        var img = Coins();
        using var _ = reference ? Backend.Use(Backend.Reference) : null;
        if (reference) img = img.Narrow(1, 0, 40).Narrow(2, 0, 50).Contiguous();
        foreach (var (th, tw) in new[] { (15, 11), (3, 4) })   // the FFT and the direct correlation
        {
            var tpl = img.Narrow(1, 10, th).Narrow(2, 20, tw).Contiguous();
            int oh = img.Size(1) - th + 1, ow = img.Size(2) - tw + 1;
            // A view at an offset into a larger buffer, full of old values: every entry must be overwritten.
            var buffer = Tensor.Full([oh + 2, ow], 7f);
            var output = buffer.Narrow(0, 1, oh);
            foreach (var method in Enum.GetValues<TemplateMatchMethod>())
            {
                var expected = Matching.MatchTemplate(img, tpl, method).ToArray<float>();
                var returned = Matching.MatchTemplate(img, tpl, output, method);
                Assert.Same(output, returned);
                Assert.Equal(expected, output.ToArray<float>());
            }
            Assert.All(buffer.Narrow(0, 0, 1).ToArray<float>(), v => Assert.Equal(7f, v));
            Assert.All(buffer.Narrow(0, oh + 1, 1).ToArray<float>(), v => Assert.Equal(7f, v));
        }
    }

    [Fact]
    public void MatchTemplateIntoRefusesAWrongScoreMapByName()
    {
        var img = Coins().Squeeze(0);
        var tpl = img.Narrow(0, 40, 15).Narrow(1, 70, 11).Contiguous();
        var shape = Assert.Throws<ShapeException>(() => Matching.MatchTemplate(img, tpl, Tensor.Zeros([106, 149])));
        Assert.Contains("output must be [106, 150]", shape.Message);
        var dtype = Assert.Throws<DTypeException>(() => Matching.MatchTemplate(img, tpl, Tensor.Zeros([106, 150], DType.Float64)));
        Assert.Contains("output must be float32", dtype.Message);
        var strided = Assert.Throws<ShapeException>(() => Matching.MatchTemplate(img, tpl, Tensor.Zeros([150, 106]).T));
        Assert.Contains("contiguous", strided.Message);
        // The first 106 x 150 floats of the image's own storage: contiguous and the right shape, but the image's memory.
        var alias = Assert.Throws<ArgumentException>(() => Matching.MatchTemplate(img, tpl, img.Reshape(-1).Narrow(0, 0, 106 * 150).Reshape(106, 150)));
        Assert.Contains("share memory", alias.Message);
        var leaf = Tensor.Zeros([106, 150]).RequiresGrad_();
        Assert.Throws<InvalidOperationException>(() => Matching.MatchTemplate(img, tpl, leaf));
    }

    [Theory]
    [InlineData(5, 7, 0.0)]
    [InlineData(6, 4, 0.0)]
    [InlineData(5, 5, 0.37)]
    public void PadInputFollowsScikitImage(int th, int tw, double padValue)
    {
        var img = Coins().Narrow(1, 0, 20).Narrow(2, 0, 24).Contiguous();
        var tpl = img.Narrow(1, 3, th).Narrow(2, 9, tw).Contiguous();
        var map = Matching.MatchTemplate(img, tpl, padInput: true, padValue: padValue);
        Assert.Equal([20, 24], map.Shape);
        // Definition: output (y, x) is the NCC of the template with its top-left at (x − tw/2, y − th/2) on the image extended by
        // padValue; flat windows score 0.
        float[] I = img.ToArray<float>(), T = tpl.ToArray<float>();
        double n = th * tw, tm = T.Average(v => (double)v), tss = T.Sum(v => (v - tm) * (v - tm));
        double Px(int y, int x) => y < 0 || y >= 20 || x < 0 || x >= 24 ? padValue : I[y * 24 + x];
        for (int y = 0; y < 20; y++)
            for (int x = 0; x < 24; x++)
            {
                double s = 0, s2 = 0, st = 0;
                for (int j = 0; j < th; j++)
                    for (int i = 0; i < tw; i++)
                    {
                        double v = Px(y - th / 2 + j, x - tw / 2 + i);
                        s += v; s2 += v * v; st += v * (T[j * tw + i] - tm);
                    }
                double var = s2 - s * s / n;
                double expected = var <= 1e-9 ? 0 : st / Math.Sqrt(var * tss);
                Assert.True(Math.Abs(map[y, x] - expected) <= 1e-4, $"({x},{y}): {map[y, x]} vs {expected}");
            }
        // The cut-out's centre scores 1.
        Assert.True(map[3 + th / 2, 9 + tw / 2] > 0.9999);
    }

    [Fact]
    public void BadInputsNameTheShapes()
    {
        var e = Assert.Throws<ShapeException>(() => Matching.MatchTemplate(Tensor.Zeros(5, 5), Tensor.Zeros(6, 3)));
        Assert.Contains("template [6, 3]", e.Message);
        Assert.Contains("image [5, 5]", e.Message);
        Assert.Contains("Grayscale", Assert.Throws<ShapeException>(() => Matching.MatchTemplate(Tensor.Zeros(3, 5, 5), Tensor.Zeros(2, 2))).Message);
    }

    [Fact]
    public void ImagePlanesAndTensorsRoundTrip()
    {
        var img = ImageIO.Load(ImageIOTests.DataPath("chelsea.png"));
        var t = img.ToTensor();
        Assert.Equal([3, 300, 451], t.Shape);
        Assert.Equal(DType.Float32, t.DType);
        var back = ImagePlanes.FromTensor(t.To(DType.Float64));
        Assert.Equal(img.Data, back.Data);
        Assert.Equal(1, ImagePlanes.FromTensor(Tensor.Zeros(4, 5)).Channels);
        Assert.Throws<ShapeException>(() => ImagePlanes.FromTensor(Tensor.Zeros(1, 1, 4, 5)));
    }
}
