using Fovea;
using Fovea.Vision;
using Fovea.Vision.Imaging;
using Fovea.Vision.Tests.Imaging;

// A namespace of its own, as user code has (see DocsExampleTests).
namespace FoveaDocs;

/// <summary>The API snippet of the README's "What pyramids are for", run on the test images.</summary>
public class PyramidUsesDocsTests
{
    [Fact]
    public void TheDocumentedSnippetRuns()
    {
        Tensor clean = ImageIO.Load(ImageIOTests.DataPath("coins.png")).ToTensor();
        Tensor noisy = ImageQuality.AddGaussianNoise(clean, 20 / 255.0, seed: 1);
        Tensor denoised = PyramidDenoising.Denoise(noisy, noiseSigma: 20 / 255.0);
        double gain = ImageQuality.Psnr(clean, denoised) - ImageQuality.Psnr(clean, noisy);
        Assert.Equal(2.97, gain, 1); // the README's table: 22.10 → 25.07 dB

        CompressionResult r = PyramidCompression.Compress(clean, step: 8 / 255.0);
        Assert.Equal(3.257, r.BitsPerPixel, 2);
        Assert.Equal(40.14, r.Psnr, 1);

        Tensor image = Grayscale.ToGray(ImageIO.Load(ImageIOTests.DataPath("chelsea.png"))).ToTensor();
        Tensor template = Pyramids.PyrDown(image.Narrow(1, 80, 48).Narrow(2, 210, 48).Contiguous());
        ScaledMatch[] m = Matching.MatchMultiScale(image, template, scales: 3);
        Assert.Equal((2.0, 24, 24), (m[0].Scale, m[0].Width / 2, m[0].Height / 2));
        Assert.InRange(m[0].X, 208, 212);

        Tensor gray = clean;
        SecondOrderSteerableBasis g2 = SecondOrderSteerableFilter.Basis(gray, sigma: 2);
        Tensor lines30 = g2.Steer(30 * Math.PI / 180);
        Assert.Equal(gray.Shape, lines30.Shape);

        Tensor g = Pyramids.DownsampleMatrix(8);
        Tensor f = Pyramids.UpsampleMatrix(8);
        Assert.Equal([4, 8], g.Shape);
        Assert.Equal([8, 4], f.Shape);
    }
}
