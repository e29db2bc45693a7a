namespace Fovea.Vision.Tests;

/// <summary>The second-order (G2) steerable filters of Freeman &amp; Adelson.</summary>
public class SecondOrderSteerableTests
{
    private static int Reflect(int p, int n)
    {
        if (n == 1) return 0;
        while (p < 0 || p >= n) p = p < 0 ? -p : 2 * (n - 1) - p;
        return p;
    }

    // Direct 2-d correlation with BORDER_REFLECT_101, in double.
    private static double[] Correlate(float[] img, int w, int h, double[] k, int r)
    {
        int n = 2 * r + 1;
        var o = new double[w * h];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                double s = 0;
                for (int v = 0; v < n; v++)
                    for (int u = 0; u < n; u++)
                        s += k[v * n + u] * img[Reflect(y + v - r, h) * w + Reflect(x + u - r, w)];
                o[y * w + x] = s;
            }
        return o;
    }

    // The second derivative of a Gaussian along θ, rotated and sampled directly:
    // K_θ(u, v) = c·[(u_θ² / σ² − 1)·E(u, v) − μ·E(u, v)], u_θ = u cos θ + v sin θ, E = e^{−(u²+v²)/2σ²}, with μ making
    // Σ K_θ = 0 (the same μ at every θ, since Σ u_θ² E does not depend on θ) and c making Σ K_0·u²/2 = 1 (used at every θ).
    private static double[] RotatedKernel(double sigma, int r, double theta)
    {
        int n = 2 * r + 1;
        double s2 = sigma * sigma;
        double E(int u, int v) => Math.Exp(-(u * u + v * v) / (2 * s2));
        double sumE = 0, sumRaw0 = 0;
        for (int v = -r; v <= r; v++)
            for (int u = -r; u <= r; u++)
            {
                sumE += E(u, v);
                sumRaw0 += (u * u / s2 - 1) * E(u, v);
            }
        double mu = sumRaw0 / sumE;
        double quadratic = 0;
        for (int v = -r; v <= r; v++)
            for (int u = -r; u <= r; u++) quadratic += ((u * u / s2 - 1) - mu) * E(u, v) * u * u / 2;
        double cs = Math.Cos(theta), sn = Math.Sin(theta);
        var k = new double[n * n];
        for (int v = -r; v <= r; v++)
            for (int u = -r; u <= r; u++)
            {
                double ut = u * cs + v * sn;
                k[(v + r) * n + u + r] = ((ut * ut / s2 - 1) - mu) * E(u, v) / quadratic;
            }
        return k;
    }

    [Fact]
    public void SteeredResponseEqualsTheDirectlyRotatedG2KernelAtEveryAngle()
    {
        int w = 40, h = 31;
        double sigma = 1.6;
        int r = SteerableFilter.DefaultRadius(sigma);
        var img = Tensor.Rand([h, w], new Generator(31));
        var pixels = img.ToArray<float>();
        var basis = SecondOrderSteerableFilter.Basis(img, sigma);
        double worst = 0, scale = 0, kernelWorst = 0;
        for (int deg = 0; deg <= 360; deg += 15)
        {
            double a = deg * Math.PI / 180;
            var k = RotatedKernel(sigma, r, a);
            var direct = Correlate(pixels, w, h, k, r);
            var steered = basis.Steer(a).ToArray<float>();
            for (int i = 0; i < steered.Length; i++)
            {
                worst = Math.Max(worst, Math.Abs(steered[i] - direct[i]));
                scale = Math.Max(scale, Math.Abs(direct[i]));
            }
            var ours = SecondOrderSteerableFilter.Kernel(sigma, a).ToArray<float>();
            for (int i = 0; i < k.Length; i++) kernelWorst = Math.Max(kernelWorst, Math.Abs(ours[i] - k[i]));
        }
        // Steering G2 is exact on the samples; what remains is float32 rounding of the taps and of the passes.
        Assert.True(worst <= 1e-5 * Math.Max(1, scale), $"max |steered − direct| = {worst}, peak {scale}");
        Assert.True(kernelWorst <= 1e-6, $"max |kernel − rotated kernel| = {kernelWorst}");
    }

    [Fact]
    public void InterpolationFunctionsAreFreemanAndAdelsons()
    {
        foreach (double deg in new[] { 0.0, 30, 45, 90, 135, 200 })
        {
            double t = deg * Math.PI / 180;
            var (ka, kb, kc) = SecondOrderSteerableFilter.InterpolationWeights(t);
            Assert.Equal(Math.Cos(t) * Math.Cos(t), ka, 15);
            Assert.Equal(-2 * Math.Cos(t) * Math.Sin(t), kb, 15);
            Assert.Equal(Math.Sin(t) * Math.Sin(t), kc, 15);
        }
        // θ = 0 and 90° are the basis filters themselves.
        var img = Tensor.Rand([3, 20, 24], new Generator(4));
        var b = SecondOrderSteerableFilter.Basis(img, 1.2);
        Assert.True((b.Steer(0) - b.G2a).Abs().Max().ToScalar() < 1e-7);
        Assert.True((b.Steer(Math.PI / 2) - b.G2c).Abs().Max().ToScalar() < 1e-6);
    }

    [Fact]
    public void ConstantGivesZeroAndAQuadraticGivesItsSecondDerivative()
    {
        int w = 41, h = 41;
        var quad = new float[w * h];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) quad[y * w + x] = (float)(0.5 * (x - 20) * (x - 20) / 100 + 0.25 * (y - 20) * (y - 20) / 100);
        var b = SecondOrderSteerableFilter.Basis(Tensor.FromArray(quad, h, w), 1.5);
        // f = x²/200 + y²/400: f_xx = 0.01, f_yy = 0.005, f_xy = 0, at the centre (away from the reflected border).
        int c = 20 * w + 20;
        Assert.Equal(0.01, b.G2a.ToArray<float>()[c], 5);
        Assert.Equal(0.005, b.G2c.ToArray<float>()[c], 5);
        Assert.Equal(0, b.G2b.ToArray<float>()[c], 6);
        var flat = SecondOrderSteerableFilter.Response(Tensor.Full([15, 15], 0.7f), 1.5, 0.4);
        Assert.True(flat.Abs().Max().ToScalar() < 1e-6);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(30)]
    [InlineData(75)]
    [InlineData(120)]
    public void ResponseToALinePeaksAcrossIt(double lineDegrees)
    {
        // A bright line through the centre along direction φ: the second derivative is most negative across it (θ = φ + 90°).
        int n = 65, c = 32;
        double phi = lineDegrees * Math.PI / 180;
        var img = new float[n * n];
        for (int y = 0; y < n; y++)
            for (int x = 0; x < n; x++)
            {
                double d = -(x - c) * Math.Sin(phi) + (y - c) * Math.Cos(phi); // distance from the line
                img[y * n + x] = (float)Math.Exp(-d * d / (2 * 1.5 * 1.5));
            }
        var basis = SecondOrderSteerableFilter.Basis(Tensor.FromArray(img, n, n), 2);
        int best = -1;
        double bestValue = double.MaxValue;
        for (int deg = 0; deg < 180; deg++)
        {
            double v = basis.Steer(deg * Math.PI / 180).ToArray<float>()[c * n + c];
            if (v < bestValue) (best, bestValue) = (deg, v);
        }
        int expected = (int)((lineDegrees + 90) % 180);
        int diff = Math.Abs(best - expected);
        Assert.True(Math.Min(diff, 180 - diff) <= 1, $"line at {lineDegrees}°: strongest response at {best}°, expected {expected}°");
        Assert.True(bestValue < 0);
    }
}
