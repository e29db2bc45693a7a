using System.Numerics;
using System.Numerics.Tensors;

namespace Fovea.Kernels;

/// <summary>
/// im2col and col2im: the lowering that turns a convolution into one GEMM. For C channels of an H x W
/// image, the column matrix has C·KH·KW rows (channel, kernel row, kernel column) and OH·OW columns
/// (output pixels); entry (c·KH·KW + i·KW + j, oy·OW + ox) is x[c, oy·sh − ph + i·dh, ox·sw − pw + j·dw],
/// or 0 in the padding. col2im is its adjoint: it adds every column entry back onto the pixel it came from.
/// </summary>
public static class Im2Col
{
    /// <summary>Writes the column matrix of <paramref name="x"/> ([channels, h, w]) into <paramref name="col"/> ([channels·KH·KW, oh·ow]).</summary>
    public static void Forward<T>(ReadOnlySpan<T> x, int channels, int h, int w, in Window2d win, int oh, int ow, Span<T> col)
        where T : unmanaged, INumber<T>
    {
        int plane = oh * ow;
        int row = 0;
        for (int c = 0; c < channels; c++)
        {
            var xc = x.Slice(c * h * w, h * w);
            for (int i = 0; i < win.KernelH; i++)
            {
                for (int j = 0; j < win.KernelW; j++, row++)
                {
                    var dst = col.Slice(row * plane, plane);
                    int x0 = j * win.DilationW - win.PadW;
                    // Output columns whose input column lands inside the image: x0 + ox·sw in [0, w).
                    int lo = FirstInside(x0, win.StrideW), hi = EndInside(x0, win.StrideW, w, ow);
                    for (int oy = 0; oy < oh; oy++)
                    {
                        int iy = oy * win.StrideH - win.PadH + i * win.DilationH;
                        var d = dst.Slice(oy * ow, ow);
                        if ((uint)iy >= (uint)h || lo >= hi)
                        {
                            d.Clear();
                            continue;
                        }
                        d[..lo].Clear();
                        d[hi..].Clear();
                        var src = xc.Slice(iy * w);
                        if (win.StrideW == 1)
                            src.Slice(x0 + lo, hi - lo).CopyTo(d[lo..hi]);
                        else
                            for (int ox = lo, ix = x0 + lo * win.StrideW; ox < hi; ox++, ix += win.StrideW) d[ox] = src[ix];
                    }
                }
            }
        }
    }

    /// <summary>
    /// Adds the column matrix <paramref name="col"/> ([channels·KH·KW, oh·ow]) back onto the image
    /// <paramref name="x"/> ([channels, h, w]); entries that fell in the padding are dropped. Clear x first for a plain col2im.
    /// </summary>
    public static void Backward<T>(ReadOnlySpan<T> col, int channels, int h, int w, in Window2d win, int oh, int ow, Span<T> x)
        where T : unmanaged, INumber<T>
    {
        int plane = oh * ow;
        int row = 0;
        for (int c = 0; c < channels; c++)
        {
            var xc = x.Slice(c * h * w, h * w);
            for (int i = 0; i < win.KernelH; i++)
            {
                for (int j = 0; j < win.KernelW; j++, row++)
                {
                    var src = col.Slice(row * plane, plane);
                    int x0 = j * win.DilationW - win.PadW;
                    int lo = FirstInside(x0, win.StrideW), hi = EndInside(x0, win.StrideW, w, ow);
                    if (lo >= hi) continue;
                    for (int oy = 0; oy < oh; oy++)
                    {
                        int iy = oy * win.StrideH - win.PadH + i * win.DilationH;
                        if ((uint)iy >= (uint)h) continue;
                        var s = src.Slice(oy * ow, ow);
                        var dst = xc.Slice(iy * w);
                        if (win.StrideW == 1)
                        {
                            var d = dst.Slice(x0 + lo, hi - lo);
                            TensorPrimitives.Add(d, s[lo..hi], d);
                        }
                        else
                            for (int ox = lo, ix = x0 + lo * win.StrideW; ox < hi; ox++, ix += win.StrideW) dst[ix] += s[ox];
                    }
                }
            }
        }
    }

    /// <summary>Smallest ox ≥ 0 with x0 + ox·stride ≥ 0.</summary>
    private static int FirstInside(int x0, int stride) => x0 >= 0 ? 0 : (-x0 + stride - 1) / stride;

    /// <summary>One past the largest ox &lt; ow with x0 + ox·stride &lt; w.</summary>
    private static int EndInside(int x0, int stride, int w, int ow)
    {
        if (x0 >= w) return 0;
        int end = (w - 1 - x0) / stride + 1;
        return Math.Min(end, ow);
    }
}
