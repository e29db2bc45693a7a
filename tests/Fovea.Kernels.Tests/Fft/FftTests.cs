using System.Numerics;
using Fovea.Kernels.Tests.Support;
using FftApi = Fovea.Kernels.Fft.Fft;

namespace Fovea.Kernels.Tests.Fft;

[Collection(SimdPathsCollection.Name)]
public class FftTests
{
    // The plain O(n²) definition; jk is reduced mod n so the angle stays exact for large n.
    private static Complex[] Dft(Complex[] x, int sign)
    {
        int n = x.Length;
        var y = new Complex[n];
        for (int k = 0; k < n; k++)
        {
            Complex s = 0;
            for (int j = 0; j < n; j++)
            {
                double a = sign * 2 * Math.PI * ((long)j * k % n) / n;
                s += x[j] * new Complex(Math.Cos(a), Math.Sin(a));
            }
            y[k] = s;
        }
        return y;
    }

    private static Complex[] RandomSignal(int n, int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => new Complex(rng.NextDouble() - 0.5, rng.NextDouble() - 0.5)).ToArray();
    }

    private static double MaxErr(Complex[] a, Complex[] b) => a.Zip(b, (p, q) => (p - q).Magnitude).Max();

    public static IEnumerable<object[]> Lengths =>
        Enumerable.Range(1, 64).Concat([97, 100, 127, 128, 243, 251, 256, 257, 509, 625, 1000, 1009, 1024])
            .Select(n => new object[] { n });

    [Theory]
    [MemberData(nameof(Lengths))]
    public void ForwardAndInverseEqualThePlainDft(int n)
    {
        var x = RandomSignal(n, n);
        var expected = Dft(x, -1);
        var y = (Complex[])x.Clone();
        FftApi.Forward(y);
        // Error bound: a few ulps times log n of the signal's scale (entries of |x| ≤ 0.71, sums up to n).
        double tol = 1e-13 * n * Math.Max(1, Math.Log2(n));
        Assert.True(MaxErr(expected, y) <= tol, $"n={n}: forward error {MaxErr(expected, y)}");

        var back = (Complex[])y.Clone();
        FftApi.Inverse(back);
        Assert.True(MaxErr(x, back) <= 1e-13 * Math.Max(1, Math.Log2(n)) * 10, $"n={n}: round trip error {MaxErr(x, back)}");

        var inv = Dft(x, +1).Select(v => v / n).ToArray();
        var z = (Complex[])x.Clone();
        FftApi.Inverse(z);
        Assert.True(MaxErr(inv, z) <= tol / n + 1e-14, $"n={n}: inverse error {MaxErr(inv, z)}");
    }

    [Theory]
    [InlineData(4099)]
    [InlineData(65536)]
    [InlineData(10007)]
    public void LargeLengthsRoundTrip(int n)
    {
        var x = RandomSignal(n, 1);
        var y = (Complex[])x.Clone();
        FftApi.Forward(y);
        // Parseval: Σ|X|² = n Σ|x|².
        double ex = x.Sum(v => v.Magnitude * v.Magnitude), ey = y.Sum(v => v.Magnitude * v.Magnitude);
        Assert.Equal(n * ex, ey, n * ex * 1e-12);
        FftApi.Inverse(y);
        Assert.True(MaxErr(x, y) <= 1e-12, $"n={n}: {MaxErr(x, y)}");
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(8, 4)]
    [InlineData(7, 5)]
    [InlineData(33, 16)]
    [InlineData(3, 41)]
    [InlineData(64, 64)]
    public void TwoDimensionalEqualsRowThenColumnDft(int w, int h)
    {
        var x = RandomSignal(w * h, w + h);
        var expected = (Complex[])x.Clone();
        for (int y = 0; y < h; y++)
        {
            var row = Dft(expected.Skip(y * w).Take(w).ToArray(), -1);
            row.CopyTo(expected, y * w);
        }
        for (int c = 0; c < w; c++)
        {
            var col = Dft(Enumerable.Range(0, h).Select(y => expected[y * w + c]).ToArray(), -1);
            for (int y = 0; y < h; y++) expected[y * w + c] = col[y];
        }
        SimdPaths.ForEach(path =>
        {
            var re = x.Select(v => v.Real).ToArray();
            var im = x.Select(v => v.Imaginary).ToArray();
            FftApi.Forward2D(re, im, w, h);
            var got = re.Zip(im, (a, b) => new Complex(a, b)).ToArray();
            Assert.True(MaxErr(expected, got) <= 1e-11, $"path {path}, {w}x{h}: {MaxErr(expected, got)}");
            FftApi.Inverse2D(re, im, w, h);
            Assert.True(MaxErr(x, re.Zip(im, (a, b) => new Complex(a, b)).ToArray()) <= 1e-13, $"path {path} round trip");
        });
    }

    // The unordered transforms of template matching: forward leaves X[k] at position bitrev(k), inverse takes that order back
    // to natural order, over a batch of columns (stride wider than the batch, as in the spectrum plane). Lengths cover every
    // grouping of the radix-4 passes into L1-sized pairs (0 to 3 pairs, with and without a leftover pass and radix-2 stage).
    [Theory]
    [InlineData(2)]
    [InlineData(4)]
    [InlineData(8)]
    [InlineData(16)]
    [InlineData(32)]
    [InlineData(64)]
    [InlineData(128)]
    [InlineData(256)]
    [InlineData(512)]
    [InlineData(1024)]
    public void UnorderedTransformsGiveTheBitReversedSpectrumAndComeBack(int n)
    {
        const int count = 5, stride = 7;
        var cols = Enumerable.Range(0, count).Select(c => RandomSignal(n, 7 * n + c)).ToArray();
        var expected = cols.Select(x => Dft(x, -1)).ToArray();
        int bits = System.Numerics.BitOperations.Log2((uint)n);
        SimdPaths.ForEach(path =>
        {
            var re = new double[n * stride];
            var im = new double[n * stride];
            for (int c = 0; c < count; c++)
                for (int j = 0; j < n; j++)
                {
                    re[j * stride + c] = cols[c][j].Real;
                    im[j * stride + c] = cols[c][j].Imaginary;
                }
            var plan = Kernels.Fft.FftPlan.Get(n);
            {
                plan.ColumnsUnordered(re, im, stride, count, inverse: false);
                for (int c = 0; c < count; c++)
                    for (int k = 0; k < n; k++)
                    {
                        int p = (int)(ReverseBits((uint)k) >> (32 - bits));
                        var got = new Complex(re[p * stride + c], im[p * stride + c]);
                        Assert.True((got - expected[c][k]).Magnitude <= 1e-13 * n * bits, $"path {path}, n={n}, column {c}, k={k}: {got} vs {expected[c][k]}");
                    }
                plan.ColumnsUnordered(re, im, stride, count, inverse: true);
            }
            for (int c = 0; c < count; c++)
                for (int j = 0; j < n; j++)
                {
                    var back = new Complex(re[j * stride + c], im[j * stride + c]) / n;
                    Assert.True((back - cols[c][j]).Magnitude <= 1e-13 * bits, $"path {path}, n={n}, column {c}: round trip {back} vs {cols[c][j]}");
                }
            // The padding columns between batches are never touched.
            for (int j = 0; j < n; j++)
                for (int c = count; c < stride; c++)
                    Assert.True(re[j * stride + c] == 0 && im[j * stride + c] == 0, $"path {path}, n={n}: padding written");
        });
    }

    private static uint ReverseBits(uint v)
    {
        uint r = 0;
        for (int b = 0; b < 32; b++, v >>= 1) r = (r << 1) | (v & 1);
        return r;
    }

    [Fact]
    public void RejectsMismatchedParts()
    {
        Assert.Throws<ArgumentException>(() => FftApi.Forward(new double[4], new double[5]));
        Assert.Throws<ArgumentException>(() => FftApi.Forward2D(new double[4], new double[4], 3, 2));
    }
}
