using Fovea.Backends;
using Fovea.Vision.Imaging;
using Fovea.Vision.Tests.Imaging;
using F = Fovea.NN.Functional;

namespace Fovea.Vision.Tests;

/// <summary>Template matching over the Gaussian pyramids of image and template.</summary>
public class MultiScaleMatchingTests
{
    private static Tensor Chelsea() => Grayscale.ToGray(ImageIO.Load(ImageIOTests.DataPath("chelsea.png"))).ToTensor();

    // A template cut at (x, y), resized by bilinear interpolation (not by the pyramid the search uses).
    private static Tensor Cut(Tensor image, int x, int y, int size, int resized) =>
        F.Interpolate(image.Narrow(1, y, size).Narrow(2, x, size).Contiguous(), new Fovea.NN.Size2d(resized, resized),
            mode: Fovea.NN.InterpolationMode.Bilinear, alignCorners: false);

    [Theory]
    [InlineData(24, 2.0)]   // template at half size: the image shows it twice as large
    [InlineData(96, 0.5)]   // template at double size: the image shows it at half
    [InlineData(48, 1.0)]
    public void FindsATemplateResizedToHalfOrDoubleAtTheRightPlaceAndScale(int resized, double scale)
    {
        var img = Chelsea();
        int x = 210, y = 80;
        var tpl = Cut(img, x, y, 48, resized);
        var best = Matching.MatchMultiScale(img, tpl, scales: 3, k: 3);
        Assert.Equal(scale, best[0].Scale);
        Assert.InRange(best[0].X, x - 2, x + 2);
        Assert.InRange(best[0].Y, y - 2, y + 2);
        Assert.InRange(best[0].Width, 47, 49);
        Assert.True(best[0].Score > 0.9f, $"score {best[0].Score}");
        Assert.True(best.Length == 1 || best[1].Score <= best[0].Score);
    }

    [Fact]
    public void ASingleScaleSearchMissesWhatTheMultiScaleOneFinds()
    {
        var img = Chelsea();
        var tpl = Cut(img, 210, 80, 48, 24);
        var single = Matching.MatchMultiScale(img, tpl, scales: 1)[0];
        var plain = Matching.FindPeaks(Matching.MatchTemplate(img, tpl), 1)[0];
        Assert.Equal((plain.X, plain.Y, plain.Score, 1.0), (single.X, single.Y, single.Score, single.Scale));
        Assert.True(Matching.MatchMultiScale(img, tpl, scales: 2)[0].Score > single.Score + 0.05f);
    }

    [Fact]
    public void UnnormalisedMethodsAndBadScalesAreRefused()
    {
        var img = Tensor.Rand([40, 40], new Generator(1));
        var tpl = img.Narrow(0, 5, 8).Narrow(1, 5, 8).Contiguous();
        Assert.Throws<ArgumentOutOfRangeException>(() => Matching.MatchMultiScale(img, tpl, 2, method: TemplateMatchMethod.SqDiff));
        Assert.Throws<ArgumentOutOfRangeException>(() => Matching.MatchMultiScale(img, tpl, 0));
        Assert.Empty(Matching.MatchMultiScale(tpl, img, 2)); // the template fits at no scale
        var sq = Matching.MatchMultiScale(img, tpl, 2, method: TemplateMatchMethod.SqDiffNormed);
        Assert.Equal((5, 5, 1.0), (sq[0].X, sq[0].Y, sq[0].Scale));
    }
}
