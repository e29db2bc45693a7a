namespace Fovea.Vision.Tests;

/// <summary>Steerable filters and the steerable pyramid on tensors.</summary>
public class SteerableTensorTests
{
    // BORDER_REFLECT_101: mirror about the end samples without repeating them.
    private static int Reflect(int p, int n)
    {
        if (n == 1) return 0;
        while (p < 0 || p >= n) p = p < 0 ? -p : 2 * (n - 1) - p;
        return p;
    }

    // Direct 2-D correlation with BORDER_REFLECT_101, in double.
    private static float[] Correlate(float[] img, int w, int h, float[] k, int r)
    {
        int n = 2 * r + 1;
        var o = new float[w * h];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                double s = 0;
                for (int v = 0; v < n; v++)
                    for (int u = 0; u < n; u++)
                        s += k[v * n + u] * img[Reflect(y + v - r, h) * w + Reflect(x + u - r, w)];
                o[y * w + x] = (float)s;
            }
        return o;
    }

    [Fact]
    public void SteeredResponseEqualsTheRotatedKernelAtEveryAngle()
    {
        int w = 23, h = 17;
        var img = Tensor.Rand([2, h, w], new Generator(3));
        var basis = SteerableFilter.Basis(img, 1.5);
        double worst = 0;
        for (int deg = 0; deg <= 360; deg += 30)
        {
            double a = deg * Math.PI / 180;
            var kernel = SteerableFilter.Kernel(1.5, a);
            int r = (kernel.Size(0) - 1) / 2;
            var steered = basis.Steer(a);
            for (int c = 0; c < 2; c++)
            {
                var direct = Correlate(img.Select(0, c).ToArray<float>(), w, h, kernel.ToArray<float>(), r);
                var ours = steered.Select(0, c).ToArray<float>();
                for (int i = 0; i < ours.Length; i++) worst = Math.Max(worst, Math.Abs(ours[i] - direct[i]));
            }
        }
        // Float rounding of two separable passes against one 13x13 pass: observed ~1e-7.
        Assert.True(worst <= 1e-5, $"max |steered − direct| = {worst}");
        Assert.True((SteerableFilter.Response(img, 1.5, 0.3) - basis.Steer(0.3)).Abs().Max().ToScalar() == 0);
    }

    [Fact]
    public void SteerablePyramidReconstructsColourImagesAtOddSizes()
    {
        var img = Tensor.Rand([3, 21, 30], new Generator(4));
        var p = SteerablePyramid.Build(img, 3, 4);
        Assert.Equal([3, 21, 30], p.HighPass.Shape);
        Assert.Equal([3, 11, 15], p.Band(1, 2).Shape);
        Assert.Equal([3, 3, 4], p.LowPass.Shape);
        var back = p.Reconstruct();
        double err = (back - img).Abs().Max().ToScalar();
        Assert.True(err <= 1e-5, $"reconstruction error {err}");
        // Edited bands are used: zeroing every band and residual gives zero.
        p.HighPass.AsSpan<float>().Clear();
        p.LowPass.AsSpan<float>().Clear();
        foreach (var b in p.Bands) b.AsSpan<float>().Clear();
        Assert.Equal(0, p.Reconstruct().Abs().Max().ToScalar());
    }

    [Fact]
    public void SteeredResponseEqualsTheRotatedGaussianDerivativeAtEveryAngle()
    {
        // The directly rotated derivative of a Gaussian, sampled, scaled for unit response to a unit ramp along α:
        // K_α(u, v) = (u cos α + v sin α) e^{−(u²+v²)/2σ²} / Σ (u cos α + v sin α)² e^{−(u²+v²)/2σ²}.
        int w = 48, h = 37;
        double sigma = 1.7;
        int r = SteerableFilter.DefaultRadius(sigma), n = 2 * r + 1;
        var img = Tensor.Rand([h, w], new Generator(24));
        var basis = SteerableFilter.Basis(img, sigma);
        double worst = 0, scale = 0;
        for (int deg = 0; deg <= 360; deg += 15)
        {
            double a = deg * Math.PI / 180, c = Math.Cos(a), s = Math.Sin(a);
            var k = new float[n * n];
            double z = 0;
            for (int v = -r; v <= r; v++)
                for (int u = -r; u <= r; u++)
                    z += Math.Pow(u * c + v * s, 2) * Math.Exp(-(u * u + v * v) / (2 * sigma * sigma));
            for (int v = -r; v <= r; v++)
                for (int u = -r; u <= r; u++)
                    k[(v + r) * n + u + r] = (float)((u * c + v * s) * Math.Exp(-(u * u + v * v) / (2 * sigma * sigma)) / z);
            var direct = Correlate(img.ToArray<float>(), w, h, k, r);
            var steered = basis.Steer(a).ToArray<float>();
            for (int i = 0; i < steered.Length; i++)
            {
                worst = Math.Max(worst, Math.Abs(steered[i] - direct[i]));
                scale = Math.Max(scale, Math.Abs(direct[i]));
            }
        }
        // Steering is exact for first derivatives; what remains is float rounding (of the kernel taps and both passes).
        Assert.True(worst <= 1e-5 * Math.Max(1, scale), $"max |steered − direct| = {worst}, peak response {scale}");
    }

    [Fact]
    public void SteeredKernelIsTheCombinationOfTheBasisKernels()
    {
        var k0 = SteerableFilter.Kernel(1.2, 0, 4).ToArray<float>();
        var k90 = SteerableFilter.Kernel(1.2, Math.PI / 2, 4).ToArray<float>();
        var k30 = SteerableFilter.Kernel(1.2, Math.PI / 6, 4).ToArray<float>();
        for (int i = 0; i < k30.Length; i++)
            Assert.Equal(Math.Cos(Math.PI / 6) * k0[i] + Math.Sin(Math.PI / 6) * k90[i], k30[i], 1e-6);
        // Gx is odd in u and even in v; Gy is its transpose.
        Assert.Equal(-k0[4 * 9 + 5], k0[4 * 9 + 3], 1e-7);
        Assert.Equal(k0[2 * 9 + 7], k90[7 * 9 + 2], 1e-7);
    }

    [Fact]
    public void GradientOfARampIsExactAwayFromTheBorder()
    {
        // f = 0.3 x − 0.2 y: the normalised basis gives ∂f/∂x = 0.3 and ∂f/∂y = −0.2 wherever the kernel fits.
        int w = 40, h = 30;
        var img = new float[w * h];
        for (int y = 0; y < h; y++) for (int x = 0; x < w; x++) img[y * w + x] = 0.3f * x - 0.2f * y;
        var basis = SteerableFilter.Basis(Tensor.FromArray(img, h, w), 1.5);
        float[] gx = basis.Gx.ToArray<float>(), gy = basis.Gy.ToArray<float>();
        int r = SteerableFilter.DefaultRadius(1.5);
        for (int y = r; y < h - r; y++)
            for (int x = r; x < w - r; x++)
            {
                Assert.Equal(0.3f, gx[y * w + x], 1e-4f);
                Assert.Equal(-0.2f, gy[y * w + x], 1e-4f);
            }
    }

    [Theory]
    [InlineData(1, 1, 0, 4)]
    [InlineData(2, 3, 1, 4)]
    [InlineData(7, 5, 2, 4)]
    [InlineData(33, 17, 4, 2)]
    [InlineData(101, 77, 3, 6)]
    [InlineData(31, 64, 4, 1)]
    [InlineData(1, 40, 0, 3)]
    [InlineData(128, 9, 3, 4)]
    public void SteerablePyramidReconstructionIsExactAtEverySize(int w, int h, int scales, int k)
    {
        var img = Tensor.Rand([h, w], new Generator((ulong)(w * 3 + h)));
        var p = SteerablePyramid.Build(img, scales, k);
        for (int s = 0; s < scales; s++)
            Assert.Equal([(h + (1 << s) - 1) >> s, (w + (1 << s) - 1) >> s], p.Band(s, k - 1).Shape);
        Assert.Equal([(h + (1 << scales) - 1) >> scales, (w + (1 << scales) - 1) >> scales], p.LowPass.Shape);
        double err = (p.Reconstruct() - img).Abs().Max().ToScalar();
        Assert.True(err <= 1e-5, $"{w}x{h}, {scales} scales, {k} orientations: error {err}");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(4)]
    [InlineData(7)]
    public void AngularMasksSumToOne(int k)
    {
        double a = SteerablePyramid.AngularConstant(k);
        for (double theta = 0; theta < 2 * Math.PI; theta += 0.1)
        {
            double s = 0;
            for (int j = 0; j < k; j++) s += a * a * Math.Pow(Math.Cos(theta - Math.PI * j / k), 2 * (k - 1));
            Assert.Equal(1, s, 1e-12);
        }
    }

    [Fact]
    public void SteerableBandsAreOrientationSelective()
    {
        // A grating varying along x (vertical stripes) at a mid frequency lands in orientation 0, not in orientation 2 (90°).
        int w = 64, h = 64;
        var img = new float[w * h];
        for (int y = 0; y < h; y++) for (int x = 0; x < w; x++) img[y * w + x] = (float)Math.Cos(2 * Math.PI * 12 * x / w);
        var p = SteerablePyramid.Build(Tensor.FromArray(img, h, w), 2, 4);
        double Energy(Tensor b) => b.To(DType.Float64).Square().Sum().ToScalar();
        double e0 = Energy(p.Band(0, 0)), e90 = Energy(p.Band(0, 2));
        Assert.True(e0 > 1000 * Math.Max(e90, 1e-12), $"orientation 0: {e0}, 90°: {e90}");
        Assert.True(Energy(p.HighPass) < 1e-6 * e0 && Energy(p.LowPass) < 1e-6 * e0);
    }

    [Fact]
    public void BadInputsAreRejected()
    {
        Assert.Contains("steerable_basis", Assert.Throws<ShapeException>(() => SteerableFilter.Basis(Tensor.Zeros(1, 1, 4, 4), 1)).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => SteerableFilter.Basis(Tensor.Zeros(4, 4), 0));
        Assert.Contains("scales", Assert.Throws<ArgumentOutOfRangeException>(() => SteerablePyramid.Build(Tensor.Zeros(8, 8), 4)).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => SteerablePyramid.Build(Tensor.Zeros(4, 4), 1, 0));
        Assert.Equal(2, SteerablePyramid.MaxScales(4, 9));
    }
}
