using Fovea.Kernels.Filtering;
using Fovea.Kernels.Tests.Support;

namespace Fovea.Kernels.Tests.Filtering;

[Collection(SimdPathsCollection.Name)]
public class PyrKernelsTests
{
    private static readonly double[] K = [1, 4, 6, 4, 1];

    // The definition, in double: dst(y, x) = Σ k_i k_j src(r(2y+i-2), r(2x+j-2)) / 256.
    private static float[] ReferenceDown(float[] src, int w, int h)
    {
        int dw = (w + 1) / 2, dh = (h + 1) / 2;
        var dst = new float[dw * dh];
        for (int y = 0; y < dh; y++)
            for (int x = 0; x < dw; x++)
            {
                double s = 0;
                for (int i = 0; i < 5; i++)
                    for (int j = 0; j < 5; j++)
                        s += K[i] * K[j] * src[BorderReflect101.Index(2 * y + i - 2, h) * w + BorderReflect101.Index(2 * x + j - 2, w)];
                dst[y * dw + x] = (float)(s / 256);
            }
        return dst;
    }

    // Zero insertion on the 2h x 2w grid, reflected there, filtered by 4 k k^T / 64; a (2n+1)-th column
    // repeats column 2n-1, a (2n+1)-th row repeats row 2n-2, a (2n-1)-sized output drops the last one.
    private static float[] ReferenceUp(float[] src, int w, int h, int dw, int dh)
    {
        int uw = 2 * w, uh = 2 * h;
        double U(int y, int x)
        {
            y = BorderReflect101.Index(y, uh);
            x = BorderReflect101.Index(x, uw);
            return (y & 1) == 0 && (x & 1) == 0 ? src[(y / 2) * w + x / 2] : 0;
        }
        var dst = new float[dw * dh];
        for (int y = 0; y < dh; y++)
            for (int x = 0; x < dw; x++)
            {
                int yy = y == uh ? uh - 2 : y, xx = Math.Min(x, uw - 1);
                double s = 0;
                for (int i = 0; i < 5; i++)
                    for (int j = 0; j < 5; j++)
                        s += K[i] * K[j] * U(yy + i - 2, xx + j - 2);
                dst[y * dw + x] = (float)(s / 64);
            }
        return dst;
    }

    public static TheoryData<int, int> Sizes => new()
    {
        { 1, 1 }, { 1, 7 }, { 7, 1 }, { 2, 2 }, { 2, 3 }, { 3, 2 }, { 5, 5 }, { 16, 9 }, { 33, 17 },
        { 64, 64 }, { 65, 3 }, { 66, 5 }, { 67, 31 }, { 97, 4 }, { 100, 3 }, { 129, 130 }, { 130, 6 },
    };

    [Theory]
    [MemberData(nameof(Sizes))]
    public void PyrDownMatchesDefinitionOnEveryPath(int w, int h)
    {
        var src = TestData.Random(w * h, w * 31 + h);
        var expected = ReferenceDown(src, w, h);
        SimdPaths.ForEach(path =>
        {
            var dst = new float[expected.Length];
            PyrKernels.PyrDown(src, w, h, dst);
            Assert.True(TestData.MaxAbsDiff(expected, dst) <= 1e-6, $"path {path}, {w}x{h}: {TestData.MaxAbsDiff(expected, dst)}");
        });
    }

    // The AVX-512 path starts its blocks where the source row is 64-byte aligned: every offset of the plane in its
    // array gives another split into a leading block, aligned blocks and a trailing block.
    [Theory]
    [InlineData(64, 5)]
    [InlineData(95, 4)]
    [InlineData(130, 3)]
    [InlineData(257, 4)]
    public void PyrDownMatchesDefinitionAtEveryOffsetOfThePlane(int w, int h)
    {
        var all = TestData.Random(w * h + 16, w + h);
        for (int offset = 0; offset < 16; offset++)
        {
            var src = all.AsSpan(offset, w * h).ToArray();
            var expected = ReferenceDown(src, w, h);
            SimdPaths.ForEach(path =>
            {
                var dst = new float[expected.Length + 16];
                PyrKernels.PyrDown(all.AsSpan(offset, w * h), w, h, dst.AsSpan(offset, expected.Length));
                Assert.True(TestData.MaxAbsDiff(expected, dst.AsSpan(offset, expected.Length).ToArray()) <= 1e-6, $"path {path}, {w}x{h} at offset {offset}");
            });
        }
    }

    [Theory]
    [MemberData(nameof(Sizes))]
    public void PyrUpMatchesDefinitionForEveryAllowedSize(int w, int h)
    {
        var src = TestData.Random(w * h, w * 17 + h);
        foreach (int dw in new[] { 2 * w - 1, 2 * w, 2 * w + 1 })
            foreach (int dh in new[] { 2 * h - 1, 2 * h, 2 * h + 1 })
            {
                var expected = ReferenceUp(src, w, h, dw, dh);
                SimdPaths.ForEach(path =>
                {
                    var dst = new float[dw * dh];
                    PyrKernels.PyrUp(src, w, h, dst, dw, dh);
                    Assert.True(TestData.MaxAbsDiff(expected, dst) <= 1e-6, $"path {path}, {w}x{h} -> {dw}x{dh}: {TestData.MaxAbsDiff(expected, dst)}");
                });
            }
    }

    // The AVX-512 path starts its blocks where the output row is 64-byte aligned (see PyrDown's test).
    [Theory]
    [InlineData(48, 3)]
    [InlineData(49, 2)]
    [InlineData(97, 3)]
    public void PyrUpMatchesDefinitionAtEveryOffsetOfThePlane(int w, int h)
    {
        var src = TestData.Random(w * h, w + 3 * h);
        foreach (int dw in new[] { 2 * w - 1, 2 * w, 2 * w + 1 })
        {
            int dh = 2 * h + (dw & 1), n = dw * dh;
            var expected = ReferenceUp(src, w, h, dw, dh);
            for (int offset = 0; offset < 16; offset++)
            {
                SimdPaths.ForEach(path =>
                {
                    var dst = new float[n + 16];
                    PyrKernels.PyrUp(src, w, h, dst.AsSpan(offset, n), dw, dh);
                    Assert.True(TestData.MaxAbsDiff(expected, dst.AsSpan(offset, n).ToArray()) <= 1e-6, $"path {path}, {w}x{h} -> {dw}x{dh} at offset {offset}");
                    // A band in place (the addend is dst): each column combined exactly once.
                    var band = TestData.Random(n + 16, offset);
                    var bandExpected = band.AsSpan(offset, n).ToArray();
                    for (int i = 0; i < n; i++) bandExpected[i] -= expected[i];
                    PyrKernels.PyrUp(src, w, h, band.AsSpan(offset, n), dw, dh, band.AsSpan(offset, n), PyrUpCombine.Subtract);
                    Assert.True(TestData.MaxAbsDiff(bandExpected, band.AsSpan(offset, n).ToArray()) <= 1e-6, $"path {path}, in place, {w}x{h} -> {dw}x{dh} at offset {offset}");
                });
            }
        }
    }

    [Theory]
    [InlineData(37, 21, 74, 42)]
    [InlineData(37, 21, 73, 41)]
    [InlineData(37, 21, 75, 43)]
    [InlineData(65, 5, 129, 11)]
    [InlineData(65, 5, 130, 10)]
    [InlineData(1, 1, 1, 1)]
    public void FusedAddAndSubtractEqualSeparateOps(int w, int h, int dw, int dh)
    {
        var src = TestData.Random(w * h, 5);
        var addend = TestData.Random(dw * dh, 6);
        var up = new float[dw * dh];
        PyrKernels.PyrUp(src, w, h, up, dw, dh);
        SimdPaths.ForEach(path =>
        {
            var sum = new float[dw * dh];
            PyrKernels.PyrUp(src, w, h, sum, dw, dh, addend, PyrUpCombine.Add);
            // In place: the addend is the destination itself.
            var diff = (float[])addend.Clone();
            PyrKernels.PyrUp(src, w, h, diff, dw, dh, diff, PyrUpCombine.Subtract);
            for (int i = 0; i < up.Length; i++)
            {
                Assert.Equal(addend[i] + up[i], sum[i], 1e-6f);
                Assert.Equal(addend[i] - up[i], diff[i], 1e-6f);
            }
        });
    }

    [Fact]
    public void RejectsBadSizes()
    {
        var src = new float[6];
        Assert.Throws<ArgumentException>(() => PyrKernels.PyrUp(src, 3, 2, new float[100], 8, 4));
        Assert.Throws<ArgumentException>(() => PyrKernels.PyrUp(src, 3, 2, new float[10], 6, 4));
        Assert.Throws<ArgumentException>(() => PyrKernels.PyrDown(src, 3, 3, new float[4]));
        Assert.Throws<ArgumentException>(() => PyrKernels.PyrDown(src, 0, 2, new float[4]));
        Assert.True(PyrKernels.IsValidUpSize(3, 5) && PyrKernels.IsValidUpSize(3, 7) && PyrKernels.IsValidUpSize(3, 6));
        Assert.False(PyrKernels.IsValidUpSize(3, 4) || PyrKernels.IsValidUpSize(3, 8));
    }

    [Fact]
    public void Reflect101MatchesMirrorDefinition()
    {
        // gfedcb|abcdefgh|gfedcba for length 8, and the degenerate lengths 1 and 2.
        Assert.Equal(new[] { 2, 1, 0, 1, 2, 3, 4, 5, 6, 7, 6, 5 }, Enumerable.Range(-2, 12).Select(p => BorderReflect101.Index(p, 8)));
        Assert.All(Enumerable.Range(-5, 11), p => Assert.Equal(0, BorderReflect101.Index(p, 1)));
        Assert.Equal(new[] { 0, 1, 0, 1, 0, 1, 0 }, Enumerable.Range(-2, 7).Select(p => BorderReflect101.Index(p, 2)));
        // The division-free form agrees wherever one reflection is enough: p in [-(length - 1), 2 length - 2].
        foreach (int length in new[] { 3, 8, 64 })
            Assert.All(Enumerable.Range(1 - length, 3 * length - 2), p => Assert.Equal(BorderReflect101.Index(p, length), BorderReflect101.IndexNear(p, length)));
    }
}
