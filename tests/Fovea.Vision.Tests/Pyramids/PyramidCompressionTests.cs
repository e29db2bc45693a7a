namespace Fovea.Vision.Tests;

/// <summary>Laplacian-pyramid coding: entropy estimate, rate and distortion against the step, exactness at small steps.</summary>
public class PyramidCompressionTests
{
    private static Tensor Coins() => PyramidDenoisingTests.TestImage("coins.png").Narrow(1, 60, 128).Narrow(2, 100, 160).Contiguous();

    [Fact]
    public void EntropyOfAConstantBandIsZero()
    {
        Assert.Equal(0, PyramidCompression.Entropy(Enumerable.Repeat(7, 1000).ToArray()));
        Assert.Equal(0, PyramidCompression.Entropy(PyramidCompression.Quantize(Tensor.Full([1, 16, 16], 0.25f), 0.01)));
        Assert.Equal(0, PyramidCompression.Entropy([]));
        Assert.Equal(1, PyramidCompression.Entropy([3, -3, 3, -3]), 12);
        Assert.Equal(2, PyramidCompression.Entropy([0, 1, 2, 3, 3, 2, 1, 0]), 12);
        // p = (1/2, 1/4, 1/4): 1/2·1 + 2·1/4·2 = 1.5 bits.
        Assert.Equal(1.5, PyramidCompression.Entropy([5, 5, 6, 7]), 12);
    }

    [Theory]
    [InlineData(StepAllocation.EqualSlope)]
    [InlineData(StepAllocation.Uniform)]
    public void BitsAndPsnrFallAsTheStepGrows(StepAllocation allocation)
    {
        var img = Coins();
        CompressionResult? previous = null;
        foreach (double step in new[] { 1.0, 2, 4, 8, 16, 32 })
        {
            var r = PyramidCompression.Compress(img, step / 255, levels: 5, allocation);
            Assert.Equal(img.Shape, r.Decoded.Shape);
            Assert.Equal(5, r.BandEntropies.Length);
            // The size is the entropies weighted by the band sizes, over the image's pixels.
            var sizes = Pyramids.LaplacianPyramid(img, 5).Select(b => (double)b.Numel).ToArray();
            Assert.Equal(r.BandEntropies.Zip(sizes, (h, n) => h * n).Sum() / (128 * 160), r.BitsPerPixel, 9);
            Assert.Equal(ImageQuality.Psnr(img, r.Decoded), r.Psnr, 9);
            if (previous is not null)
            {
                Assert.True(r.BitsPerPixel < previous.BitsPerPixel, $"step {step}: {r.BitsPerPixel} bpp, previous {previous.BitsPerPixel}");
                Assert.True(r.Psnr < previous.Psnr, $"step {step}: {r.Psnr} dB, previous {previous.Psnr}");
            }
            previous = r;
        }
    }

    [Fact]
    public void ReconstructionIsExactAsTheStepGoesToZero()
    {
        var img = Coins();
        var r = PyramidCompression.Compress(img, 1e-7, levels: 5);
        double err = (r.Decoded - img).Abs().Max().ToScalar();
        Assert.True(err < 2e-6, $"max error {err}");
        Assert.True(r.Psnr > 110, $"{r.Psnr} dB");
        var f64 = img.To(DType.Float64);
        Assert.True((PyramidCompression.Compress(f64, 1e-8).Decoded - f64).Abs().Max().ToScalar() < 1e-7);
    }

    [Fact]
    public void StepAllocationsAreAsDocumented()
    {
        Assert.All(PyramidCompression.BandSteps(0.5, 4, StepAllocation.Uniform), s => Assert.Equal(0.5, s));
        var steps = PyramidCompression.BandSteps(0.5, 4, StepAllocation.EqualSlope);
        Assert.Equal(0.5, steps[0]);
        for (int i = 1; i < 4; i++)
        {
            Assert.True(steps[i] < steps[i - 1], "coarser levels get finer steps");
            Assert.Equal(0.5 * 0.5 * 1, steps[i] * steps[i] * LaplacianBandGains.SynthesisGain(i), 12); // g_i·Δ_i² is the same
        }
    }

    [Fact]
    public void BadStepsAreRefused()
    {
        var img = Coins();
        Assert.Throws<ArgumentOutOfRangeException>(() => PyramidCompression.Compress(img, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => PyramidCompression.Compress(img, double.PositiveInfinity));
        Assert.Throws<ArgumentException>(() => PyramidCompression.Quantize(Tensor.From(1f), 1e-12));
    }
}
