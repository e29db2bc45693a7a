using F = Fovea.NN.Functional;

namespace Fovea.Tests.NN;

/// <summary>
/// The convolution layer's backward pass, stated as the lecture notes state it and computed independently here with
/// plain loops (no Fovea op), against Fovea's backward. The forward is a cross-correlation,
/// y[n, o, i, j] = Σ_{c, p, q} x[n, c, i + p, j + q] · k[o, c, p, q]. Then, at stride 1:
/// <list type="bullet">
/// <item>∂L/∂x equals the cross-correlation of the zero-padded ∂L/∂y with the flipped kernel (a full correlation):
/// pad ∂L/∂y by kH − 1 rows and kW − 1 columns on each side, flip k in both spatial axes and swap its in/out roles;</item>
/// <item>∂L/∂k equals the cross-correlation of x with ∂L/∂y (∂L/∂y used as the kernel).</item>
/// </list>
/// With stride s, the same two statements hold once ∂L/∂y is dilated: s − 1 zeros inserted between its elements
/// (the positions the strided forward skipped). Input rows or columns that no window reached (when (H − kH) is not
/// a multiple of s) get zero gradient, so the full correlation is padded with zeros at the end to x's size.
/// </summary>
public class ConvDualityTests
{
    [Theory]
    [InlineData(1, 5, 6)]
    [InlineData(2, 7, 6)] // W: (6 − 3) is not a multiple of 2, so the last column receives nothing
    public void ConvBackward_IsTheNotesCrossCorrelations(int stride, int height, int width)
    {
        const int n = 2, cin = 2, cout = 3, kh = 3, kw = 3;
        var gen = new Generator(11);
        var x = Tensor.Randn([n, cin, height, width], gen, DType.Float64).RequiresGrad_();
        var k = Tensor.Randn([cout, cin, kh, kw], gen, DType.Float64).RequiresGrad_();
        var y = F.Conv2d(x, k, stride: stride);
        var dy = Tensor.Randn(y.Shape, gen, DType.Float64);
        var grads = Fovea.Autograd.Grad([y], [x, k], [dy]);

        double[,,,] X = To4(x), K = To4(k), G = To4(dy);
        // What changes with stride: ∂L/∂y is dilated by the stride first.
        var Gd = Dilate(G, stride);

        // ∂L/∂x: the cross-correlation of the zero-padded ∂L/∂y with the flipped kernel.
        var padded = ZeroPad(Gd, kh - 1, kw - 1);
        var flipped = new double[cin, cout, kh, kw]; // flipped in space, in/out swapped
        for (int o = 0; o < cout; o++)
            for (int c = 0; c < cin; c++)
                for (int p = 0; p < kh; p++)
                    for (int q = 0; q < kw; q++)
                        flipped[c, o, p, q] = K[o, c, kh - 1 - p, kw - 1 - q];
        var dx = CrossCorrelate(padded, flipped, height, width);

        // ∂L/∂k: the cross-correlation of x with ∂L/∂y (summed over the batch).
        var dk = new double[cout, cin, kh, kw];
        for (int o = 0; o < cout; o++)
            for (int c = 0; c < cin; c++)
                for (int p = 0; p < kh; p++)
                    for (int q = 0; q < kw; q++)
                    {
                        double s = 0;
                        for (int b = 0; b < n; b++)
                            for (int i = 0; i < Gd.GetLength(2); i++)
                                for (int j = 0; j < Gd.GetLength(3); j++)
                                    s += X[b, c, p + i, q + j] * Gd[b, o, i, j];
                        dk[o, c, p, q] = s;
                    }

        AssertEqual(dx, grads[0]!);
        AssertEqual(dk, grads[1]!);
        if (stride == 2) Assert.All(Enumerable.Range(0, height), i => Assert.Equal(0, dx[0, 0, i, width - 1]));
    }

    /// <summary>out[n, o, i, j] = Σ_{c, p, q} a[n, c, i + p, j + q] · kernel[o, c, p, q] for i, j inside a, zero beyond (up to outH × outW).</summary>
    private static double[,,,] CrossCorrelate(double[,,,] a, double[,,,] kernel, int outH, int outW)
    {
        int n = a.GetLength(0), cin = a.GetLength(1), kh = kernel.GetLength(2), kw = kernel.GetLength(3), cout = kernel.GetLength(0);
        int validH = a.GetLength(2) - kh + 1, validW = a.GetLength(3) - kw + 1;
        var outp = new double[n, cout, outH, outW];
        for (int b = 0; b < n; b++)
            for (int o = 0; o < cout; o++)
                for (int i = 0; i < Math.Min(outH, validH); i++)
                    for (int j = 0; j < Math.Min(outW, validW); j++)
                    {
                        double s = 0;
                        for (int c = 0; c < cin; c++)
                            for (int p = 0; p < kh; p++)
                                for (int q = 0; q < kw; q++)
                                    s += a[b, c, i + p, j + q] * kernel[o, c, p, q];
                        outp[b, o, i, j] = s;
                    }
        return outp;
    }

    /// <summary>s − 1 zeros between neighbouring elements along both spatial axes.</summary>
    private static double[,,,] Dilate(double[,,,] g, int s)
    {
        int h = g.GetLength(2), w = g.GetLength(3);
        var d = new double[g.GetLength(0), g.GetLength(1), (h - 1) * s + 1, (w - 1) * s + 1];
        for (int b = 0; b < g.GetLength(0); b++)
            for (int c = 0; c < g.GetLength(1); c++)
                for (int i = 0; i < h; i++)
                    for (int j = 0; j < w; j++)
                        d[b, c, i * s, j * s] = g[b, c, i, j];
        return d;
    }

    private static double[,,,] ZeroPad(double[,,,] g, int ph, int pw)
    {
        int h = g.GetLength(2), w = g.GetLength(3);
        var d = new double[g.GetLength(0), g.GetLength(1), h + 2 * ph, w + 2 * pw];
        for (int b = 0; b < g.GetLength(0); b++)
            for (int c = 0; c < g.GetLength(1); c++)
                for (int i = 0; i < h; i++)
                    for (int j = 0; j < w; j++)
                        d[b, c, i + ph, j + pw] = g[b, c, i, j];
        return d;
    }

    private static double[,,,] To4(Tensor t)
    {
        var s = t.Shape;
        var v = t.Detach().ToArray<double>();
        var a = new double[s[0], s[1], s[2], s[3]];
        Buffer.BlockCopy(v, 0, a, 0, v.Length * sizeof(double));
        return a;
    }

    private static void AssertEqual(double[,,,] expected, Tensor actual)
    {
        Assert.Equal([expected.GetLength(0), expected.GetLength(1), expected.GetLength(2), expected.GetLength(3)], actual.Shape);
        var flat = new double[expected.Length];
        Buffer.BlockCopy(expected, 0, flat, 0, flat.Length * sizeof(double));
        var got = actual.ToArray<double>();
        for (int i = 0; i < flat.Length; i++) Assert.Equal(flat[i], got[i], 1e-12);
    }
}
