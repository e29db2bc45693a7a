using Fovea.Kernels.Filtering;
using Fovea.Kernels.Tests.Support;

namespace Fovea.Kernels.Tests.Filtering;

[Collection(SimdPathsCollection.Name)]
public class SeparableFilterTests
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
}
