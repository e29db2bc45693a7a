using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Fovea.Kernels;

/// <summary>
/// im2col and col2im: the lowering that turns a convolution into one GEMM. For C channels of an H x W
/// image, the column matrix has C·KH·KW rows (channel, kernel row, kernel column) and OH·OW columns
/// (output pixels); entry (c·KH·KW + i·KW + j, oy·OW + ox) is x[c, oy·sh − ph + i·dh, ox·sw − pw + j·dw],
/// or 0 in the padding. col2im is its adjoint: it adds every column entry back onto the pixel it came from.
/// <para>
/// The work is many short row copies (a LeNet layer's rows are 10 pixels), so the stride-1 rows are moved with
/// Vector256 loads and stores on refs rather than span slices and memmove calls, whose fixed cost would dominate.
/// </para>
/// </summary>
public static class Im2Col
{
    /// <summary>Writes the column matrix of <paramref name="x"/> ([channels, h, w]) into <paramref name="col"/> ([channels·KH·KW, oh·ow]).</summary>
    public static void Forward<T>(ReadOnlySpan<T> x, int channels, int h, int w, in Window2d win, int oh, int ow, Span<T> col)
        where T : unmanaged, INumber<T> => Forward(x, channels, h, w, win, oh, ow, col, oh * ow);

    /// <summary>
    /// Writes the column matrix into the first oh·ow columns of a wider matrix whose rows are <paramref name="ldCol"/>
    /// apart, so several images can sit side by side and share one GEMM.
    /// </summary>
    public static void Forward<T>(ReadOnlySpan<T> x, int channels, int h, int w, in Window2d win, int oh, int ow, Span<T> col, int ldCol)
        where T : unmanaged, INumber<T>
    {
        int rows = channels * win.KernelSize;
        if (x.Length < channels * h * w || (rows > 0 && oh * ow > 0 && col.Length < (rows - 1) * ldCol + oh * ow))
            throw new ArgumentException($"im2col: buffers too short for {channels} x {h} x {w} -> {rows} x {oh * ow} (ld {ldCol})");
        ref T x0Ref = ref MemoryMarshal.GetReference(x);
        ref T colRef = ref MemoryMarshal.GetReference(col);
        int row = 0;
        for (int c = 0; c < channels; c++)
        {
            ref T xc = ref Unsafe.Add(ref x0Ref, c * h * w);
            for (int i = 0; i < win.KernelH; i++)
            {
                for (int j = 0; j < win.KernelW; j++, row++)
                {
                    ref T dst = ref Unsafe.Add(ref colRef, row * ldCol);
                    int x0 = j * win.DilationW - win.PadW;
                    // Output columns whose input column lands inside the image: x0 + ox·sw in [0, w).
                    int lo = FirstInside(x0, win.StrideW), hi = EndInside(x0, win.StrideW, w, ow);
                    for (int oy = 0; oy < oh; oy++)
                    {
                        int iy = oy * win.StrideH - win.PadH + i * win.DilationH;
                        ref T d = ref Unsafe.Add(ref dst, oy * ow);
                        if ((uint)iy >= (uint)h || lo >= hi)
                        {
                            Clear(ref d, ow);
                            continue;
                        }
                        Clear(ref d, lo);
                        Clear(ref Unsafe.Add(ref d, hi), ow - hi);
                        ref T src = ref Unsafe.Add(ref xc, iy * w + x0 + lo * win.StrideW);
                        if (win.StrideW == 1)
                            Copy(ref src, ref Unsafe.Add(ref d, lo), hi - lo);
                        else
                            for (int k = 0; k < hi - lo; k++) Unsafe.Add(ref d, lo + k) = Unsafe.Add(ref src, k * win.StrideW);
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
        where T : unmanaged, INumber<T> => Backward(col, channels, h, w, win, oh, ow, x, oh * ow);

    /// <summary>col2im from the first oh·ow columns of a matrix whose rows are <paramref name="ldCol"/> apart.</summary>
    public static void Backward<T>(ReadOnlySpan<T> col, int channels, int h, int w, in Window2d win, int oh, int ow, Span<T> x, int ldCol)
        where T : unmanaged, INumber<T>
    {
        int rows = channels * win.KernelSize;
        if (x.Length < channels * h * w || (rows > 0 && oh * ow > 0 && col.Length < (rows - 1) * ldCol + oh * ow))
            throw new ArgumentException($"col2im: buffers too short for {rows} x {oh * ow} (ld {ldCol}) -> {channels} x {h} x {w}");
        ref T x0Ref = ref MemoryMarshal.GetReference(x);
        ref T colRef = ref MemoryMarshal.GetReference(col);
        int row = 0;
        for (int c = 0; c < channels; c++)
        {
            ref T xc = ref Unsafe.Add(ref x0Ref, c * h * w);
            for (int i = 0; i < win.KernelH; i++)
            {
                for (int j = 0; j < win.KernelW; j++, row++)
                {
                    ref T src = ref Unsafe.Add(ref colRef, row * ldCol);
                    int x0 = j * win.DilationW - win.PadW;
                    int lo = FirstInside(x0, win.StrideW), hi = EndInside(x0, win.StrideW, w, ow);
                    if (lo >= hi) continue;
                    for (int oy = 0; oy < oh; oy++)
                    {
                        int iy = oy * win.StrideH - win.PadH + i * win.DilationH;
                        if ((uint)iy >= (uint)h) continue;
                        ref T s = ref Unsafe.Add(ref src, oy * ow + lo);
                        ref T dst = ref Unsafe.Add(ref xc, iy * w + x0 + lo * win.StrideW);
                        if (win.StrideW == 1)
                            Add(ref s, ref dst, hi - lo);
                        else
                            for (int k = 0; k < hi - lo; k++) Unsafe.Add(ref dst, k * win.StrideW) += Unsafe.Add(ref s, k);
                    }
                }
            }
        }
    }

    /// <summary>dst[0..count) = src[0..count): full vectors, then the last vector again overlapping (no scalar tail).</summary>
    private static void Copy<T>(ref T src, ref T dst, int count) where T : unmanaged
    {
        int vc = Vector256<T>.Count;
        if (Vector256.IsHardwareAccelerated && count >= vc)
        {
            int k = 0;
            for (; k <= count - vc; k += vc) Vector256.LoadUnsafe(ref src, (nuint)k).StoreUnsafe(ref dst, (nuint)k);
            if (k < count) Vector256.LoadUnsafe(ref src, (nuint)(count - vc)).StoreUnsafe(ref dst, (nuint)(count - vc));
            return;
        }
        for (int k = 0; k < count; k++) Unsafe.Add(ref dst, k) = Unsafe.Add(ref src, k);
    }

    /// <summary>dst[0..count) += src[0..count). An overlapping tail would add twice, so the tail is scalar.</summary>
    private static void Add<T>(ref T src, ref T dst, int count) where T : unmanaged, INumber<T>
    {
        int k = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            int vc = Vector256<T>.Count;
            for (; k <= count - vc; k += vc)
                (Vector256.LoadUnsafe(ref dst, (nuint)k) + Vector256.LoadUnsafe(ref src, (nuint)k)).StoreUnsafe(ref dst, (nuint)k);
        }
        for (; k < count; k++) Unsafe.Add(ref dst, k) += Unsafe.Add(ref src, k);
    }

    private static void Clear<T>(ref T dst, int count) where T : unmanaged
    {
        if (count > 0) MemoryMarshal.CreateSpan(ref dst, count).Clear();
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
