using Fovea.Kernels.Filtering;

namespace Fovea.Vision.Tests.Pyramids;

/// <summary>Steerable filters and the steerable pyramid on tensors.</summary>
public class SteerableTensorTests
{
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
                s += k[v * n + u] * img[BorderReflect101.Index(y + v - r, h) * w + BorderReflect101.Index(x + u - r, w)];
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
    public void BadInputsAreRejected()
    {
        Assert.Contains("steerable_basis", Assert.Throws<ShapeException>(() => SteerableFilter.Basis(Tensor.Zeros(1, 1, 4, 4), 1)).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => SteerableFilter.Basis(Tensor.Zeros(4, 4), 0));
        Assert.Contains("scales", Assert.Throws<ArgumentOutOfRangeException>(() => SteerablePyramid.Build(Tensor.Zeros(8, 8), 4)).Message);
    }
}
