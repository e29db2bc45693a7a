using Fovea.Vision.Imaging;
using Fovea.Vision.Tests.Imaging;

namespace Fovea.Vision.Tests;

/// <summary>Denoising by coring Laplacian bands, and the band noise gains it is built on.</summary>
public class PyramidDenoisingTests
{
    // The committed test images as the CLI loads them: gray stays gray, colour (and RGBA) becomes RGB.
    internal static Tensor TestImage(string name) =>
        ImageIO.Load(ImageIOTests.DataPath(name), name == "coins.png" ? ImageChannels.Gray : ImageChannels.Rgb).ToTensor();

    private static double Std(Tensor band, int border)
    {
        int h = band.Size(-2), w = band.Size(-1);
        var inner = band.Narrow(-2, border, h - 2 * border).Narrow(-1, border, w - 2 * border);
        return Math.Sqrt((inner * inner).Mean().ToScalar());
    }

    [Fact]
    public void NoiseGainIsTheMeasuredDeviationOfEachBandOfWhiteNoise()
    {
        var noise = Tensor.Randn([1, 512, 512], new Generator(11), DType.Float64);
        var bands = Pyramids.LaplacianPyramid(noise, 5);
        for (int i = 0; i < 4; i++)
        {
            double measured = Std(bands[i], 8), exact = LaplacianBandGains.NoiseGain(i);
            // Sampling error of a deviation from ≥ 2300 samples: about 1.5 %.
            Assert.True(Math.Abs(measured / exact - 1) < 0.05, $"band {i}: measured {measured}, exact {exact}");
        }
        Assert.True(LaplacianBandGains.NoiseGain(0) > LaplacianBandGains.NoiseGain(1));
    }

    [Fact]
    public void SynthesisGainIsTheEnergyABandsErrorAddsToTheImage()
    {
        var zero = Pyramids.LaplacianPyramid(Tensor.Zeros([1, 256, 256], DType.Float64), 4);
        for (int level = 0; level < 3; level++)
        {
            var bands = zero.Select(b => b.Clone()).ToArray();
            bands[level] = Tensor.Randn(bands[level].Shape, new Generator((ulong)(20 + level)), DType.Float64);
            var image = Pyramids.Reconstruct(bands);
            int border = 16;
            double perPixel = Math.Pow(Std(image, border), 2);
            double expected = LaplacianBandGains.SynthesisGain(level) / (1 << (2 * level)); // N_level / N = 4^−level
            Assert.True(Math.Abs(perPixel / expected - 1) < 0.05, $"level {level}: measured {perPixel}, expected {expected}");
        }
        Assert.Equal(1, LaplacianBandGains.SynthesisGain(0));
    }

    [Theory]
    [InlineData("chelsea.png")]
    [InlineData("coins.png")]
    [InlineData("horse.png")]
    public void DenoisedPsnrBeatsNoisyPsnrAtEveryNoiseLevel(string name)
    {
        var clean = TestImage(name);
        foreach (double sigma in new[] { 10.0, 20.0, 30.0 })
        {
            var noisy = ImageQuality.AddGaussianNoise(clean, sigma / 255, seed: 1);
            double before = ImageQuality.Psnr(clean, noisy);
            // PSNR of unclipped Gaussian noise is 20·log10(255/σ), to sampling error.
            Assert.Equal(20 * Math.Log10(255 / sigma), before, 1);
            foreach (var coring in new[] { Coring.Hard, Coring.Soft })
            {
                double after = ImageQuality.Psnr(clean, PyramidDenoising.Denoise(noisy, sigma / 255, coring: coring));
                Assert.True(after > before + 0.5, $"{name}, sigma {sigma}, {coring}: noisy {before:0.00} dB, denoised {after:0.00} dB");
            }
        }
    }

    [Fact]
    public void CoringFollowsItsDefinition()
    {
        var band = Tensor.From(-3f, -1f, 0f, 0.5f, 1f, 2f);
        Assert.Equal([-2f, 0f, 0f, 0f, 0f, 1f], PyramidDenoising.Core(band, 1, Coring.Soft).ToArray<float>());
        Assert.Equal([-3f, 0f, 0f, 0f, 0f, 2f], PyramidDenoising.Core(band, 1, Coring.Hard).ToArray<float>());
        Assert.Equal([-3f, -1f, 0f, 0.5f, 1f, 2f], band.ToArray<float>());
    }

    [Fact]
    public void ThresholdsAreKTimesSigmaTimesTheBandGain()
    {
        var t = PyramidDenoising.Thresholds(0.1, 4, 2.5);
        Assert.Equal(3, t.Length);
        for (int i = 0; i < 3; i++) Assert.Equal(2.5 * 0.1 * LaplacianBandGains.NoiseGain(i), t[i], 15);
    }

    [Fact]
    public void ZeroSigmaGivesTheImageBackAndBadArgumentsAreRefused()
    {
        var img = Tensor.Rand([3, 37, 50], new Generator(2));
        Assert.True((PyramidDenoising.Denoise(img, 0) - img).Abs().Max().ToScalar() < 1e-5);
        Assert.Throws<ArgumentOutOfRangeException>(() => PyramidDenoising.Denoise(img, -1));
        Assert.Throws<ArgumentOutOfRangeException>(() => PyramidDenoising.Denoise(img, double.NaN));
        Assert.Throws<ArgumentOutOfRangeException>(() => PyramidDenoising.Denoise(img, 0.1, levels: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => PyramidDenoising.Denoise(img, 0.1, thresholdFactor: -1));
        Assert.Throws<ShapeException>(() => PyramidDenoising.Denoise(Tensor.Rand([4, 4]), 0.1));
    }

    [Fact]
    public void GaussianNoiseIsSeededAndHasTheRequestedDeviation()
    {
        var img = Tensor.Zeros([1, 200, 200]);
        var a = ImageQuality.AddGaussianNoise(img, 0.2, seed: 5);
        Assert.Equal(a.ToArray<float>(), ImageQuality.AddGaussianNoise(img, 0.2, seed: 5).ToArray<float>());
        Assert.NotEqual(a.ToArray<float>(), ImageQuality.AddGaussianNoise(img, 0.2, seed: 6).ToArray<float>());
        Assert.Equal(0.2, Math.Sqrt((a * a).Mean().ToScalar()), 2);
        Assert.True(double.IsPositiveInfinity(ImageQuality.Psnr(img, img)));
        Assert.Equal(20, ImageQuality.Psnr(img, img + 0.1f), 5); // MSE 0.01 → 10·log10(100)
    }
}
