namespace Fovea.Kernels;

/// <summary>
/// Plain float64 loops straight from the definitions, no lowering, no SIMD, no threads: the oracle the
/// im2col/GEMM convolution and the pooling kernels are tested against.
/// </summary>
public static class ConvReference
{
    /// <summary>Input row/column read by output index <paramref name="o"/> at kernel tap <paramref name="k"/>.</summary>
    private static int Tap(int o, int k, int stride, int pad, int dilation) => o * stride - pad + k * dilation;

    /// <summary>y[n, co, oy, ox] = bias[co] + Σ x[n, g·Cg + ci, tap(oy, i), tap(ox, j)] · w[co, ci, i, j].</summary>
    public static double[] Forward(in ConvShape s, ReadOnlySpan<double> x, ReadOnlySpan<double> w, ReadOnlySpan<double> bias)
    {
        var y = new double[s.Batch * s.OutChannels * s.OutPlane];
        var win = s.Window;
        for (int n = 0; n < s.Batch; n++)
            for (int co = 0; co < s.OutChannels; co++)
            {
                int g = co / s.GroupOut;
                for (int oy = 0; oy < s.OutH; oy++)
                    for (int ox = 0; ox < s.OutW; ox++)
                    {
                        double sum = bias.IsEmpty ? 0 : bias[co];
                        for (int ci = 0; ci < s.GroupIn; ci++)
                            for (int i = 0; i < win.KernelH; i++)
                                for (int j = 0; j < win.KernelW; j++)
                                {
                                    int iy = Tap(oy, i, win.StrideH, win.PadH, win.DilationH), ix = Tap(ox, j, win.StrideW, win.PadW, win.DilationW);
                                    if (iy < 0 || iy >= s.Height || ix < 0 || ix >= s.Width) continue;
                                    sum += x[((n * s.InChannels + g * s.GroupIn + ci) * s.Height + iy) * s.Width + ix]
                                         * w[((co * s.GroupIn + ci) * win.KernelH + i) * win.KernelW + j];
                                }
                        y[((n * s.OutChannels + co) * s.OutH + oy) * s.OutW + ox] = sum;
                    }
            }
        return y;
    }

    /// <summary>dx: every output's gradient times the weight it multiplied, added onto the input it read.</summary>
    public static double[] BackwardInput(in ConvShape s, ReadOnlySpan<double> dy, ReadOnlySpan<double> w)
    {
        var dx = new double[s.Batch * s.InChannels * s.Height * s.Width];
        var win = s.Window;
        for (int n = 0; n < s.Batch; n++)
            for (int co = 0; co < s.OutChannels; co++)
            {
                int g = co / s.GroupOut;
                for (int oy = 0; oy < s.OutH; oy++)
                    for (int ox = 0; ox < s.OutW; ox++)
                    {
                        double d = dy[((n * s.OutChannels + co) * s.OutH + oy) * s.OutW + ox];
                        for (int ci = 0; ci < s.GroupIn; ci++)
                            for (int i = 0; i < win.KernelH; i++)
                                for (int j = 0; j < win.KernelW; j++)
                                {
                                    int iy = Tap(oy, i, win.StrideH, win.PadH, win.DilationH), ix = Tap(ox, j, win.StrideW, win.PadW, win.DilationW);
                                    if (iy < 0 || iy >= s.Height || ix < 0 || ix >= s.Width) continue;
                                    dx[((n * s.InChannels + g * s.GroupIn + ci) * s.Height + iy) * s.Width + ix] += d * w[((co * s.GroupIn + ci) * win.KernelH + i) * win.KernelW + j];
                                }
                    }
            }
        return dx;
    }

    /// <summary>dw: every output's gradient times the input it read, added onto the weight that multiplied it.</summary>
    public static double[] BackwardWeight(in ConvShape s, ReadOnlySpan<double> x, ReadOnlySpan<double> dy)
    {
        var win = s.Window;
        var dw = new double[s.OutChannels * s.GroupIn * win.KernelSize];
        for (int n = 0; n < s.Batch; n++)
            for (int co = 0; co < s.OutChannels; co++)
            {
                int g = co / s.GroupOut;
                for (int oy = 0; oy < s.OutH; oy++)
                    for (int ox = 0; ox < s.OutW; ox++)
                    {
                        double d = dy[((n * s.OutChannels + co) * s.OutH + oy) * s.OutW + ox];
                        for (int ci = 0; ci < s.GroupIn; ci++)
                            for (int i = 0; i < win.KernelH; i++)
                                for (int j = 0; j < win.KernelW; j++)
                                {
                                    int iy = Tap(oy, i, win.StrideH, win.PadH, win.DilationH), ix = Tap(ox, j, win.StrideW, win.PadW, win.DilationW);
                                    if (iy < 0 || iy >= s.Height || ix < 0 || ix >= s.Width) continue;
                                    dw[((co * s.GroupIn + ci) * win.KernelH + i) * win.KernelW + j] += d * x[((n * s.InChannels + g * s.GroupIn + ci) * s.Height + iy) * s.Width + ix];
                                }
                    }
            }
        return dw;
    }

    /// <summary>Max pooling by definition: the largest (or a NaN) of the in-bounds window taps, and its flat index.</summary>
    public static (double[] Values, int[] Indices) MaxPool(ReadOnlySpan<double> x, int planes, int h, int w, in Window2d win, int oh, int ow)
    {
        var y = new double[planes * oh * ow];
        var idx = new int[planes * oh * ow];
        for (int p = 0; p < planes; p++)
            for (int oy = 0; oy < oh; oy++)
                for (int ox = 0; ox < ow; ox++)
                {
                    double best = double.NegativeInfinity;
                    int at = -1;
                    for (int i = 0; i < win.KernelH; i++)
                        for (int j = 0; j < win.KernelW; j++)
                        {
                            int iy = Tap(oy, i, win.StrideH, win.PadH, win.DilationH), ix = Tap(ox, j, win.StrideW, win.PadW, win.DilationW);
                            if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                            double v = x[(p * h + iy) * w + ix];
                            if (at < 0 || v > best || double.IsNaN(v)) { best = v; at = iy * w + ix; }
                        }
                    y[(p * oh + oy) * ow + ox] = best;
                    idx[(p * oh + oy) * ow + ox] = Math.Max(at, 0);
                }
        return (y, idx);
    }

    /// <summary>Average pooling by definition, with PyTorch's divisor rule (see <see cref="Pool2dKernels.AvgWindow"/>).</summary>
    public static double[] AvgPool(ReadOnlySpan<double> x, int planes, int h, int w, in Window2d win, bool countIncludePad, int oh, int ow)
    {
        var y = new double[planes * oh * ow];
        for (int p = 0; p < planes; p++)
            for (int oy = 0; oy < oh; oy++)
                for (int ox = 0; ox < ow; ox++)
                {
                    int ys = oy * win.StrideH - win.PadH, xs = ox * win.StrideW - win.PadW;
                    int ye = Math.Min(ys + win.KernelH, h + win.PadH), xe = Math.Min(xs + win.KernelW, w + win.PadW);
                    int padded = (ye - ys) * (xe - xs);
                    double sum = 0;
                    int count = 0;
                    for (int iy = ys; iy < ye; iy++)
                        for (int ix = xs; ix < xe; ix++)
                        {
                            if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                            sum += x[(p * h + iy) * w + ix];
                            count++;
                        }
                    int divisor = countIncludePad ? padded : count;
                    y[(p * oh + oy) * ow + ox] = divisor == 0 ? 0 : sum / divisor;
                }
        return y;
    }
}
