namespace Fovea.Kernels.Tests;

/// <summary>Max and average pooling kernels against <see cref="ConvReference"/>, and their backward passes as adjoints.</summary>
public class PoolKernelTests
{
    /// <summary>(h, w, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow): the output sizes include ceil_mode cases.</summary>
    public static TheoryData<int[]> Windows => new()
    {
        new[] { 4, 4, 2, 2, 2, 2, 0, 0, 1, 1, 2, 2 },
        new[] { 7, 7, 3, 3, 2, 2, 1, 1, 1, 1, 4, 4 },
        new[] { 6, 6, 3, 3, 2, 2, 1, 1, 1, 1, 4, 4 },   // ceil_mode: the last window starts in the input
        new[] { 5, 5, 2, 2, 2, 2, 0, 0, 1, 1, 3, 3 },   // ceil_mode: the last window is cut by the border
        new[] { 5, 7, 2, 2, 2, 2, 0, 0, 1, 1, 2, 3 },   // 2x2 fast path with a leftover row and column
        new[] { 6, 7, 2, 3, 1, 2, 1, 1, 1, 1, 7, 4 },
        new[] { 7, 6, 2, 2, 1, 1, 0, 0, 2, 2, 5, 4 },   // dilation (max only)
        new[] { 9, 39, 2, 2, 2, 2, 0, 0, 1, 1, 4, 19 }, // 2x2 rows of 19: two 8-wide vector blocks and an overlapping third
        new[] { 28, 28, 2, 2, 2, 2, 0, 0, 1, 1, 14, 14 }, // LeNet's first pooling: one 8-wide block and an overlapping one
        new[] { 10, 10, 2, 2, 2, 2, 0, 0, 1, 1, 5, 5 },   // LeNet's second: 4-wide blocks, overlapping
        new[] { 9, 15, 2, 2, 2, 2, 0, 0, 1, 1, 4, 7 },    // 4-wide blocks with a leftover row and column
        new[] { 8, 8, 2, 2, 2, 2, 0, 0, 1, 1, 4, 4 },     // exactly one 4-wide block
        new[] { 6, 6, 2, 2, 2, 2, 0, 0, 1, 1, 3, 3 },     // rows under four outputs: scalar
        new[] { 4, 32, 2, 2, 2, 2, 0, 0, 1, 1, 2, 16 },   // exactly two 8-wide blocks
        new[] { 20, 40, 3, 3, 2, 2, 1, 1, 1, 1, 10, 20 }, // ResNet's stem window: vector groups at 1, 9 and an overlapping 11, scalar borders
        new[] { 12, 37, 3, 3, 1, 1, 1, 1, 1, 1, 12, 37 }, // stride 1 (GoogLeNet's branch pooling): 8-wide groups of unit-stride taps
        new[] { 15, 45, 3, 3, 2, 2, 1, 1, 2, 2, 7, 22 },  // stride 2 with dilation: every tap its own even-lane load
        new[] { 9, 40, 2, 2, 2, 2, 1, 1, 1, 1, 5, 21 },   // 2x2 with padding: the general path, taps paired from one load
        new[] { 7, 23, 3, 3, 2, 2, 1, 1, 1, 1, 4, 12 },   // one vector group only (first = last)
        // Rows of 16 outputs or more: without indices, 16-wide groups of the separable path where AVX-512 is there.
        new[] { 9, 112, 3, 3, 2, 2, 1, 1, 1, 1, 5, 56 },  // ResNet's stem window at 224²: groups at 0, 16, 32 and an overlapping 40
        new[] { 6, 37, 3, 3, 1, 1, 1, 1, 1, 1, 6, 37 },   // stride 1, 16-wide
        new[] { 9, 42, 3, 3, 2, 2, 0, 0, 1, 1, 4, 21 },   // ceil_mode: the last window hangs past the row
        new[] { 11, 60, 5, 5, 2, 2, 2, 2, 1, 1, 6, 30 },  // 5x5: taps 0, 2, 4 from even lanes, 1, 3 from odd
        new[] { 8, 18, 3, 3, 1, 2, 1, 1, 1, 1, 8, 9 },    // under sixteen outputs a row: the one-pass loop; row stride 1, column stride 2
        new[] { 7, 34, 3, 3, 1, 2, 1, 1, 1, 1, 7, 17 },   // seventeen: one 16-wide group and an overlapping one; row stride 1
        new[] { 5, 18, 3, 3, 1, 1, 0, 0, 1, 1, 3, 16 },   // one stride-1 group whose loads end at the row's last float: no mask
        new[] { 5, 34, 3, 3, 2, 2, 0, 0, 1, 1, 2, 16 },   // the same at stride 2 (32 + 2 floats); any padding masks the group
    };

    private static Window2d Win(int[] g) => new(g[2], g[3], g[4], g[5], g[6], g[7], g[8], g[9]);

    private static double[] Random(int n, int seed)
    {
        var rng = new Random(seed);
        var x = new double[n];
        for (int i = 0; i < n; i++) x[i] = Math.Round(rng.NextDouble() * 8 - 4, 1); // ties happen: the first index must win
        return x;
    }

    [Theory, MemberData(nameof(Windows))]
    public void Max_pool_matches_reference_with_first_index_on_ties(int[] g)
    {
        const int planes = 3;
        int h = g[0], w = g[1], oh = g[10], ow = g[11];
        var x = Random(planes * h * w, g.Sum());
        x[5] = double.NaN; // NaN propagates, as in PyTorch
        if (h >= 4 && w >= 8)
        {
            // NaN in the second tap of the first window, the first tap of the next row's second, and the last tap of a window near the row's end.
            x[w + 1] = double.NaN; x[2 * w + 2] = double.NaN; x[3 * w + (w - 1) / 2 * 2 - 1] = double.NaN;
        }
        if (x.Length > 300)
        {
            // NaN in each tap position of vector-path windows, and two NaNs in one window (the later one is taken).
            x[2 * w + 3] = double.NaN; x[w + 20] = double.NaN; x[3 * w + 21] = double.NaN; x[2 * w + 30] = double.NaN; x[3 * w + 31] = double.NaN;
            for (int k = 0; k < 16; k++) x[4 * w + k] = 1.5; // a run of ties: the first index must win
        }
        var (ev, ei) = ConvReference.MaxPool(x, planes, h, w, Win(g), oh, ow);
        var y = new double[planes * oh * ow];
        var idx = new int[y.Length];
        Pool2dKernels.MaxForward<double>(x, planes, h, w, Win(g), oh, ow, y, idx);
        Assert.Equal(ev, y);
        Assert.Equal(ei, idx);
        var yf = new float[y.Length];
        var idxf = new int[y.Length];
        var xf = Array.ConvertAll(x, v => (float)v);
        Pool2dKernels.MaxForward<float>(xf, planes, h, w, Win(g), oh, ow, yf, idxf);
        Assert.Equal(ei, idxf);
        Assert.Equal(Array.ConvertAll(ev, v => (float)v), yf);
        // Without indices (inference): the same values, on the vector path where it applies.
        var yv = new double[y.Length];
        Pool2dKernels.MaxForwardValues<double>(x, planes, h, w, Win(g), oh, ow, yv);
        Assert.Equal(ev, yv);
        var yvf = new float[y.Length];
        Pool2dKernels.MaxForwardValues<float>(xf, planes, h, w, Win(g), oh, ow, yvf);
        Assert.Equal(Array.ConvertAll(ev, v => (float)v), yvf);
        // Backward routes every gradient to its index.
        var dy = Random(y.Length, 3);
        var dx = new double[x.Length];
        Array.Fill(dx, double.NaN); // dx is cleared by the kernel, plane by plane: nothing of what it held survives
        Pool2dKernels.MaxBackward<double>(dy, idx, planes, h * w, oh * ow, dx);
        var expected = new double[x.Length];
        for (int k = 0; k < dy.Length; k++) expected[k / (oh * ow) * h * w + idx[k]] += dy[k];
        Assert.Equal(expected, dx);
        // An index outside its plane is a clear error, not a write into the next plane.
        if (idx.Length > 0)
        {
            idx[^1] = h * w;
            var e = Assert.Throws<ArgumentOutOfRangeException>(() => Pool2dKernels.MaxBackward<double>(dy, idx, planes, h * w, oh * ow, dx));
            Assert.Contains($"index {h * w} is outside a plane of {h * w} elements", e.Message);
        }
    }

    [Fact]
    public void Max_pool_without_indices_keeps_the_first_of_equal_zeros_and_every_nan()
    {
        // 3x3 stride 2 over one 16x40 plane: −0 then +0 in one window gives −0 (the first maximum, as with indices);
        // a NaN in any tap, first or later, gives NaN.
        const int h = 16, w = 40;
        var win = new Window2d(3, 3, 2, 2, 1, 1, 1, 1);
        int oh = 8, ow = 20;
        var x = new float[h * w];
        Array.Fill(x, -1f);
        x[4 * w + 9] = -0f;  // output (2, 5) meets −0 (column 9) before +0 (column 10) in its middle row
        x[4 * w + 10] = 0f;
        x[5 * w + 19] = float.NaN; // the first tap of output (3, 10)
        x[9 * w + 30] = float.NaN; // the middle tap of outputs (4, 15) and (5, 15)
        var (ev, ei) = ConvReference.MaxPool(Array.ConvertAll(x, v => (double)v), 1, h, w, win, oh, ow);
        var y = new float[oh * ow];
        var idx = new int[oh * ow];
        Pool2dKernels.MaxForward<float>(x, 1, h, w, win, oh, ow, y, idx);
        var yv = new float[oh * ow];
        Pool2dKernels.MaxForwardValues<float>(x, 1, h, w, win, oh, ow, yv);
        Assert.Equal(ei, idx);
        for (int k = 0; k < ev.Length; k++)
        {
            Assert.Equal(BitConverter.DoubleToInt64Bits(ev[k]) < 0 && ev[k] == 0, float.IsNegative(y[k]) && y[k] == 0);
            Assert.Equal(float.IsNaN(y[k]), float.IsNaN(yv[k]));
            Assert.Equal(float.IsNaN(y[k]) ? 0 : BitConverter.SingleToInt32Bits(y[k]), float.IsNaN(yv[k]) ? 0 : BitConverter.SingleToInt32Bits(yv[k]));
        }
        Assert.True(float.IsNaN(yv[3 * ow + 10]) && float.IsNaN(yv[5 * ow + 15]));
        Assert.True(yv[2 * ow + 5] == 0 && float.IsNegative(yv[2 * ow + 5]));
    }

    [Theory, MemberData(nameof(Windows))]
    public void Avg_pool_matches_reference_and_backward_is_its_adjoint(int[] g)
    {
        if (g[8] != 1 || g[9] != 1) return; // average pooling has no dilation
        const int planes = 2;
        int h = g[0], w = g[1], oh = g[10], ow = g[11];
        foreach (bool include in new[] { true, false })
        {
            var x = Random(planes * h * w, 5);
            var y = new double[planes * oh * ow];
            Pool2dKernels.AvgForward<double>(x, planes, h, w, Win(g), include, oh, ow, y);
            var expected = ConvReference.AvgPool(x, planes, h, w, Win(g), include, oh, ow);
            for (int i = 0; i < y.Length; i++) Assert.Equal(expected[i], y[i], 12);
            var dy = Random(y.Length, 6);
            var dx = new double[x.Length];
            Pool2dKernels.AvgBackward<double>(dy, planes, h, w, Win(g), include, oh, ow, dx);
            double lhs = 0, rhs = 0;
            for (int i = 0; i < y.Length; i++) lhs += y[i] * dy[i];
            for (int i = 0; i < x.Length; i++) rhs += x[i] * dx[i];
            Assert.Equal(lhs, rhs, 10);

            // Float32, where rows of eight outputs or more go eight at a time: the plain loop's sums and divisions bit for bit.
            var xf = Array.ConvertAll(x, v => (float)v);
            var yf = new float[y.Length];
            Pool2dKernels.AvgForward<float>(xf, planes, h, w, Win(g), include, oh, ow, yf);
            for (int p = 0; p < planes; p++)
                for (int oy = 0; oy < oh; oy++)
                    for (int ox = 0; ox < ow; ox++)
                    {
                        int divisor = Pool2dKernels.AvgWindow(oy, ox, h, w, Win(g), include, out int y0, out int y1, out int x0, out int x1);
                        float sum = 0;
                        for (int iy = y0; iy < y1; iy++)
                            for (int ix = x0; ix < x1; ix++) sum += xf[(p * h + iy) * w + ix];
                        float want = divisor == 0 ? 0 : sum / divisor;
                        Assert.Equal(BitConverter.SingleToInt32Bits(want), BitConverter.SingleToInt32Bits(yf[(p * oh + oy) * ow + ox]));
                    }
        }
    }

    [Theory]
    [InlineData(3, 3, 2, 1, 112, 112)] // ResNet's stem pooling
    [InlineData(3, 3, 1, 1, 20, 37)]
    [InlineData(2, 2, 2, 1, 30, 30)]   // 2x2 with padding: not the plain 2x2 kernel
    [InlineData(5, 4, 2, 2, 17, 40)]
    [InlineData(2, 3, 1, 0, 9, 9)]     // a row of 7 outputs: one-pass on AVX2 (under a group of 8)
    public void The_separable_form_gives_the_bits_of_the_one_pass_loop(int kh, int kw, int stride, int pad, int h, int w)
    {
        var win = new Window2d(kh, kw, stride, stride, Math.Min(pad, kh / 2), Math.Min(pad, kw / 2), 1, 1);
        int oh = (h + 2 * win.PadH - kh) / stride + 1, ow = (w + 2 * win.PadW - kw) / stride + 1;
        const int planes = 3;
        var rng = new Random(h * w + kh);
        var x = new float[planes * h * w];
        for (int i = 0; i < x.Length; i++) x[i] = MathF.Round((float)rng.NextDouble() * 8 - 4, 1);
        x[7] = float.NaN; x[w + 3] = -0f; x[w + 4] = 0f; x[^1] = float.NaN; x[h * w + w - 1] = float.NaN;
        var separable = new float[planes * oh * ow];
        var onePass = new float[separable.Length];
        Pool2dKernels.MaxForwardValues<float>(x, planes, h, w, win, oh, ow, separable);
        try
        {
            Pool2dKernels.SeparableEnabled = false;
            Pool2dKernels.MaxForwardValues<float>(x, planes, h, w, win, oh, ow, onePass);
        }
        finally
        {
            Pool2dKernels.SeparableEnabled = true;
        }
        for (int k = 0; k < separable.Length; k++)
        {
            Assert.Equal(float.IsNaN(onePass[k]), float.IsNaN(separable[k]));
            if (!float.IsNaN(onePass[k])) Assert.Equal(BitConverter.SingleToInt32Bits(onePass[k]), BitConverter.SingleToInt32Bits(separable[k]));
        }
    }
}
