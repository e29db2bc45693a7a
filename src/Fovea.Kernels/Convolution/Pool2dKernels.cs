using System.Numerics;

namespace Fovea.Kernels;

/// <summary>
/// Max and average pooling over planes: x [planes, h, w] to y [planes, oh, ow], with PyTorch's rules.
/// Max pooling treats padding as −∞, lets NaN win (it propagates), and records for each output the flat
/// index (row·w + column) of the chosen input in its plane; its backward routes each gradient to that index.
/// Average pooling divides by the window clipped to the padded input (count_include_pad) or to the input itself.
/// Planes are independent, so callers split them over threads.
/// </summary>
public static class Pool2dKernels
{
    /// <summary>Max pooling forward with argmax indices.</summary>
    public static void MaxForward<T>(ReadOnlySpan<T> x, int planes, int h, int w, in Window2d win, int oh, int ow, Span<T> y, Span<int> indices)
        where T : unmanaged, INumber<T>
    {
        int inPlane = h * w, outPlane = oh * ow;
        if (win is { KernelH: 2, KernelW: 2, StrideH: 2, StrideW: 2, PadH: 0, PadW: 0, DilationH: 1, DilationW: 1 } && 2 * oh <= h && 2 * ow <= w)
        {
            MaxForward2x2(x, planes, h, w, oh, ow, y, indices);
            return;
        }
        for (int p = 0; p < planes; p++)
        {
            var xp = x.Slice(p * inPlane, inPlane);
            var yp = y.Slice(p * outPlane, outPlane);
            var ip = indices.Slice(p * outPlane, outPlane);
            for (int oy = 0; oy < oh; oy++)
            {
                int y0 = oy * win.StrideH - win.PadH;
                for (int ox = 0; ox < ow; ox++)
                {
                    int x0 = ox * win.StrideW - win.PadW;
                    T best = T.Zero;
                    int bestAt = -1;
                    for (int i = 0; i < win.KernelH; i++)
                    {
                        int iy = y0 + i * win.DilationH;
                        if ((uint)iy >= (uint)h) continue;
                        var row = xp.Slice(iy * w, w);
                        for (int j = 0; j < win.KernelW; j++)
                        {
                            int ix = x0 + j * win.DilationW;
                            if ((uint)ix >= (uint)w) continue;
                            T v = row[ix];
                            // First maximum wins; a NaN is taken whenever met (as PyTorch does), so NaN propagates.
                            if (bestAt < 0 || v > best || T.IsNaN(v))
                            {
                                best = v;
                                bestAt = iy * w + ix;
                            }
                        }
                    }
                    yp[oy * ow + ox] = bestAt < 0 ? T.CreateTruncating(double.NegativeInfinity) : best;
                    ip[oy * ow + ox] = Math.Max(bestAt, 0);
                }
            }
        }
    }

    /// <summary>
    /// The common 2x2, stride-2 window with every tap inside the input: no bounds tests, the four taps read in
    /// the general kernel's order (so ties and NaN resolve identically).
    /// </summary>
    private static void MaxForward2x2<T>(ReadOnlySpan<T> x, int planes, int h, int w, int oh, int ow, Span<T> y, Span<int> indices)
        where T : unmanaged, INumber<T>
    {
        for (int p = 0; p < planes; p++)
        {
            var xp = x.Slice(p * h * w, h * w);
            for (int oy = 0; oy < oh; oy++)
            {
                int r0 = 2 * oy * w, r1 = r0 + w;
                var row0 = xp.Slice(r0, 2 * ow);
                var row1 = xp.Slice(r1, 2 * ow);
                var yr = y.Slice((p * oh + oy) * ow, ow);
                var ir = indices.Slice((p * oh + oy) * ow, ow);
                for (int ox = 0; ox < ow; ox++)
                {
                    int c = 2 * ox;
                    T best = row0[c];
                    int at = r0 + c;
                    T v = row0[c + 1];
                    if (v > best || T.IsNaN(v)) { best = v; at = r0 + c + 1; }
                    v = row1[c];
                    if (v > best || T.IsNaN(v)) { best = v; at = r1 + c; }
                    v = row1[c + 1];
                    if (v > best || T.IsNaN(v)) { best = v; at = r1 + c + 1; }
                    yr[ox] = best;
                    ir[ox] = at;
                }
            }
        }
    }

    /// <summary>Max pooling backward: dx (cleared here) receives dy at each output's recorded index.</summary>
    public static void MaxBackward<T>(ReadOnlySpan<T> dy, ReadOnlySpan<int> indices, int planes, int inPlane, int outPlane, Span<T> dx)
        where T : unmanaged, INumber<T>
    {
        dx.Slice(0, planes * inPlane).Clear();
        for (int p = 0; p < planes; p++)
        {
            var dxp = dx.Slice(p * inPlane, inPlane);
            var dyp = dy.Slice(p * outPlane, outPlane);
            var ip = indices.Slice(p * outPlane, outPlane);
            for (int k = 0; k < outPlane; k++) dxp[ip[k]] += dyp[k];
        }
    }

    /// <summary>
    /// The divisor and clipped window of average-pool output (oy, ox), as PyTorch computes them: the window is
    /// first clipped to the padded input (which sets the count_include_pad divisor), then to the input itself.
    /// </summary>
    public static int AvgWindow(int oy, int ox, int h, int w, in Window2d win, bool countIncludePad, out int y0, out int y1, out int x0, out int x1)
    {
        y0 = oy * win.StrideH - win.PadH;
        x0 = ox * win.StrideW - win.PadW;
        y1 = Math.Min(y0 + win.KernelH, h + win.PadH);
        x1 = Math.Min(x0 + win.KernelW, w + win.PadW);
        int padded = (y1 - y0) * (x1 - x0);
        y0 = Math.Max(y0, 0);
        x0 = Math.Max(x0, 0);
        y1 = Math.Min(y1, h);
        x1 = Math.Min(x1, w);
        return countIncludePad ? padded : (y1 - y0) * (x1 - x0);
    }

    /// <summary>Average pooling forward (dilation 1).</summary>
    public static void AvgForward<T>(ReadOnlySpan<T> x, int planes, int h, int w, in Window2d win, bool countIncludePad, int oh, int ow, Span<T> y)
        where T : unmanaged, INumber<T>
    {
        int inPlane = h * w, outPlane = oh * ow;
        for (int p = 0; p < planes; p++)
        {
            var xp = x.Slice(p * inPlane, inPlane);
            var yp = y.Slice(p * outPlane, outPlane);
            for (int oy = 0; oy < oh; oy++)
            {
                for (int ox = 0; ox < ow; ox++)
                {
                    int divisor = AvgWindow(oy, ox, h, w, win, countIncludePad, out int y0, out int y1, out int x0, out int x1);
                    T sum = T.Zero;
                    for (int iy = y0; iy < y1; iy++)
                    {
                        var row = xp.Slice(iy * w, w);
                        for (int ix = x0; ix < x1; ix++) sum += row[ix];
                    }
                    yp[oy * ow + ox] = divisor == 0 ? T.Zero : sum / T.CreateTruncating(divisor);
                }
            }
        }
    }

    /// <summary>Average pooling backward: dx (cleared here) receives dy / divisor over each output's window.</summary>
    public static void AvgBackward<T>(ReadOnlySpan<T> dy, int planes, int h, int w, in Window2d win, bool countIncludePad, int oh, int ow, Span<T> dx)
        where T : unmanaged, INumber<T>
    {
        int inPlane = h * w, outPlane = oh * ow;
        dx.Slice(0, planes * inPlane).Clear();
        for (int p = 0; p < planes; p++)
        {
            var dxp = dx.Slice(p * inPlane, inPlane);
            var dyp = dy.Slice(p * outPlane, outPlane);
            for (int oy = 0; oy < oh; oy++)
            {
                for (int ox = 0; ox < ow; ox++)
                {
                    int divisor = AvgWindow(oy, ox, h, w, win, countIncludePad, out int y0, out int y1, out int x0, out int x1);
                    if (divisor == 0) continue;
                    T v = dyp[oy * ow + ox] / T.CreateTruncating(divisor);
                    for (int iy = y0; iy < y1; iy++)
                    {
                        var row = dxp.Slice(iy * w, w);
                        for (int ix = x0; ix < x1; ix++) row[ix] += v;
                    }
                }
            }
        }
    }
}
