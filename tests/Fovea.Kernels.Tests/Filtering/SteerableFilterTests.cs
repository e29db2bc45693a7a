using Fovea.Kernels.Filtering;
using Fovea.Kernels.Tests.Support;

namespace Fovea.Kernels.Tests.Filtering;

[Collection(SimdPathsCollection.Name)]
public class SteerableFilterTests
{
    // Plain 2-D correlation with BORDER_REFLECT_101, in double.
    private static double[] Correlate(float[] img, int w, int h, Func<int, int, double> k, int r)
    {
        var o = new double[w * h];
        for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
        {
            double s = 0;
            for (int v = -r; v <= r; v++)
            for (int u = -r; u <= r; u++)
                s += k(u, v) * img[BorderReflect101.Index(y + v, h) * w + BorderReflect101.Index(x + u, w)];
            o[y * w + x] = s;
        }
        return o;
    }

    [Theory]
    [InlineData(1, 1, 1)]
    [InlineData(3, 2, 5)]
    [InlineData(17, 9, 2)]
    [InlineData(40, 23, 3)]
    public void SeparableFilterEqualsDirectCorrelation(int w, int h, int r)
    {
        var img = TestData.Random(w * h, 21);
        var kx = TestData.Random(2 * r + 1, 22).Select(v => v - 0.5f).ToArray();
        var ky = TestData.Random(2 * r + 1, 23).Select(v => v - 0.5f).ToArray();
        var expected = Correlate(img, w, h, (u, v) => kx[u + r] * (double)ky[v + r], r);
        SimdPaths.ForEach(path =>
        {
            var dst = new float[w * h];
            SeparableFilter.Apply(img, w, h, kx, ky, dst);
            for (int i = 0; i < dst.Length; i++) Assert.True(Math.Abs(dst[i] - expected[i]) <= 1e-5, $"path {path} at {i}");
        });
    }

    [Fact]
    public void SteeredResponseEqualsRotatedDerivativeKernelAtEveryAngle()
    {
        // The directly rotated derivative of a Gaussian, sampled, scaled for unit response to a unit ramp along α:
        // K_α(u, v) = (u cos α + v sin α) e^{−(u²+v²)/2σ²} / Σ (u cos α + v sin α)² e^{−(u²+v²)/2σ²}.
        int w = 48, h = 37;
        double sigma = 1.7;
        int r = SteerableFilters.DefaultRadius(sigma);
        var img = TestData.Random(w * h, 24);
        var gx = new float[w * h];
        var gy = new float[w * h];
        SteerableFilters.Basis(img, w, h, sigma, gx, gy);
        var steered = new float[w * h];
        double worst = 0, scale = 0;
        for (int deg = 0; deg <= 360; deg += 15)
        {
            double a = deg * Math.PI / 180, c = Math.Cos(a), s = Math.Sin(a);
            double z = 0;
            for (int v = -r; v <= r; v++)
            for (int u = -r; u <= r; u++)
                z += Math.Pow(u * c + v * s, 2) * Math.Exp(-(u * u + v * v) / (2 * sigma * sigma));
            var direct = Correlate(img, w, h, (u, v) => (u * c + v * s) * Math.Exp(-(u * u + v * v) / (2 * sigma * sigma)) / z, r);
            SteerableFilters.Steer(gx, gy, a, steered);
            for (int i = 0; i < steered.Length; i++)
            {
                worst = Math.Max(worst, Math.Abs(steered[i] - direct[i]));
                scale = Math.Max(scale, Math.Abs(direct[i]));
            }
        }
        // Steering is exact for first derivatives; what remains is float rounding (observed 2.9e-8 absolute, 4e-7 of the peak response, over 0..360° in 15° steps).
        Assert.True(worst <= 1e-6 * Math.Max(1, scale), $"max |steered − direct| = {worst}, peak response {scale}");
    }

    [Fact]
    public void SteeredKernelIsTheCombinationOfTheBasisKernels()
    {
        var k0 = SteerableFilters.SteeredKernel(1.2, 0, 4);
        var k90 = SteerableFilters.SteeredKernel(1.2, Math.PI / 2, 4);
        var k30 = SteerableFilters.SteeredKernel(1.2, Math.PI / 6, 4);
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
        var gx = new float[w * h];
        var gy = new float[w * h];
        SteerableFilters.Basis(img, w, h, 1.5, gx, gy);
        int r = SteerableFilters.DefaultRadius(1.5);
        for (int y = r; y < h - r; y++)
        for (int x = r; x < w - r; x++)
        {
            Assert.Equal(0.3f, gx[y * w + x], 1e-4f);
            Assert.Equal(-0.2f, gy[y * w + x], 1e-4f);
        }
        Assert.Throws<ArgumentOutOfRangeException>(() => SteerableFilters.Basis(img, w, h, 0, gx, gy));
    }
}
