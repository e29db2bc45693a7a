using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

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
        if (typeof(T) == typeof(float) && SmallPlanes(h, w, oh, ow))
        {
            SmallPlaneForward(MemoryMarshal.Cast<T, float>(x), channels, h, w, win, oh, ow, MemoryMarshal.Cast<T, float>(col), ldCol);
            return;
        }
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
                        else if (win.StrideW == 2 && Unsafe.SizeOf<T>() == sizeof(uint))
                            CopyEven(ref src, ref Unsafe.Add(ref d, lo), hi - lo, x.Length - (c * h * w + iy * w + x0 + lo * 2));
                        else
                            for (int k = 0; k < hi - lo; k++) Unsafe.Add(ref d, lo + k) = Unsafe.Add(ref src, k * win.StrideW);
                    }
                }
            }
        }
    }

    /// <summary>
    /// Whether <see cref="SmallPlaneForward"/> serves an image of h x w pixels giving oh x ow outputs: both planes fit one
    /// 512-bit vector (a ResNet's last stage at 112², 4x4), on hardware with the 16-lane permute.
    /// </summary>
    internal static bool SmallPlanes(int h, int w, int oh, int ow) =>
        SmallPlaneEnabled && Avx512F.IsSupported && h * w is > 0 and <= 16 && oh * ow is > 0 and <= 16;

    /// <summary>Switch for <see cref="SmallPlanes"/> (tests turn it off to compare with the row-by-row copy).</summary>
    internal static bool SmallPlaneEnabled = true;

    /// <summary>
    /// im2col for planes of at most 16 pixels: a whole input plane is one vector, and each tap's row of the column matrix
    /// is that vector permuted (lane p takes the pixel tap (i, j) reads for output p) with the lanes that fall in the
    /// padding zeroed. A 4x4 plane's 3x3 taps are otherwise 36 copies of 2–4 floats and 36 clears each, which made the
    /// im2col a fifth of a 512-channel 4x4 layer's forward.
    /// </summary>
    private static unsafe void SmallPlaneForward(ReadOnlySpan<float> x, int channels, int h, int w, in Window2d win, int oh, int ow, Span<float> col, int ldCol)
    {
        int taps = win.KernelSize, hw = h * w, plane = oh * ow;
        // Per tap: the source lane of each output pixel, and an all-ones mask where that pixel lies inside the image.
        int* index = stackalloc int[taps * 16];
        uint* keep = stackalloc uint[taps * 16];
        for (int i = 0, t = 0; i < win.KernelH; i++)
            for (int j = 0; j < win.KernelW; j++, t++)
                for (int p = 0; p < 16; p++)
                {
                    int iy = p / ow * win.StrideH - win.PadH + i * win.DilationH, ix = p % ow * win.StrideW - win.PadW + j * win.DilationW;
                    bool inside = p < plane && (uint)iy < (uint)h && (uint)ix < (uint)w;
                    index[t * 16 + p] = inside ? iy * w + ix : 0;
                    keep[t * 16 + p] = inside ? uint.MaxValue : 0u;
                }
        float* last = stackalloc float[16];
        fixed (float* px = x, pc = col)
        {
            for (int c = 0; c < channels; c++)
            {
                // The plane's vector; the last planes would read past x, so they come through a buffer.
                float* src = px + (long)c * hw;
                if ((long)c * hw + 16 > x.Length)
                {
                    new Span<float>(last, 16).Clear();
                    new ReadOnlySpan<float>(src, hw).CopyTo(new Span<float>(last, 16));
                    src = last;
                }
                var v = Vector512.Load(src);
                for (int t = 0; t < taps; t++)
                {
                    var row = Avx512F.PermuteVar16x32(v, Vector512.Load(index + t * 16)) & Vector512.Load((float*)(keep + t * 16));
                    float* dst = pc + ((long)c * taps + t) * ldCol;
                    if (plane == 16) row.Store(dst);
                    else
                    {
                        // Fewer than 16 outputs: a full store would run into the next image's columns.
                        row.Store(last);
                        new ReadOnlySpan<float>(last, plane).CopyTo(new Span<float>(dst, plane));
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

    /// <summary>Floats that <see cref="BackwardGathered"/> may read before the first and after the last entry of its column matrix.</summary>
    public const int GatherSlack = 16;

    /// <summary>
    /// Whether <see cref="BackwardGathered"/> serves this window on an image <paramref name="w"/> pixels wide: stride 1,
    /// rows of at most 16 pixels (one 512-bit register, or two 256-bit ones), SIMD available, and loads that stay
    /// within <see cref="GatherSlack"/> of the column matrix.
    /// </summary>
    public static bool GathersRows(in Window2d win, int w, int ow) =>
        Vector256.IsHardwareAccelerated && win.StrideH == 1 && win.StrideW == 1 && w is > 0 and <= 16 && ow > 0
        && win.KernelW <= 32 && (win.KernelW - 1) * win.DilationW - win.PadW <= GatherSlack && win.PadW <= ow + 1;

    /// <summary>
    /// col2im for stride 1 and rows of at most 16 pixels, overwriting <paramref name="x"/> ([channels, h, w]) instead
    /// of adding to it. Each image row x[c, iy, ·] is summed in registers from the KH·KW column rows that reach it,
    /// x[c, iy, p] = Σ_(i, j) col[(c, i, j), oy·ow + p + pw − j·dw] over oy = iy + ph − i·dh inside [0, oh) and lanes
    /// whose column lies inside [0, ow), and stored once. The scatter (<see cref="Backward{T}(ReadOnlySpan{T}, int, int, int, in Window2d, int, int, Span{T}, int)"/>)
    /// instead adds KH·KW short pieces onto each row, each shifted one pixel from the last, so each reads back a store
    /// still in flight; on LeNet's c3 that made col2im slower than the GEMM before it.
    /// </summary>
    /// <remarks>
    /// Loads run up to <see cref="GatherSlack"/> floats past both ends of a column row (those lanes are masked off), so
    /// the caller's buffer must have that slack around the matrix. A full-width store spills onto the rows after it,
    /// which are written afterwards; the rows within 16 floats of the end of x go through a buffer.
    /// </remarks>
    public static unsafe void BackwardGathered(float* col, int ldCol, int channels, int h, int w, in Window2d win, int oh, int ow, float* x)
    {
        int kh = win.KernelH, kw = win.KernelW, ph = win.PadH, pw = win.PadW, dh = win.DilationH, dw = win.DilationW;
        // Lane p of kernel column j is kept when its output column p + pw − j·dw lies in [0, ow) and p < w.
        uint* masks = stackalloc uint[kw * 16];
        for (int j = 0; j < kw; j++)
            for (int p = 0; p < 16; p++)
            {
                int ox = p + pw - j * dw;
                masks[j * 16 + p] = p < w && ox >= 0 && ox < ow ? uint.MaxValue : 0u;
            }
        float* last = stackalloc float[16];
        bool wide = Vector512.IsHardwareAccelerated;
        long end = (long)channels * h * w;
        for (int c = 0; c < channels; c++)
        {
            for (int iy = 0; iy < h; iy++)
            {
                // Two sums per half-row, kernel columns alternating between them, so the adds form two dependency
                // chains instead of one KH·KW long.
                Vector512<float> acc = Vector512<float>.Zero, acc2 = Vector512<float>.Zero;
                Vector256<float> lo = Vector256<float>.Zero, hi = Vector256<float>.Zero, lo2 = Vector256<float>.Zero, hi2 = Vector256<float>.Zero;
                for (int i = 0; i < kh; i++)
                {
                    int oy = iy + ph - i * dh;
                    if ((uint)oy >= (uint)oh) continue;
                    float* src = col + (long)(c * kh + i) * kw * ldCol + oy * ow + pw;
                    int j = 0;
                    if (wide)
                    {
                        for (; j + 1 < kw; j += 2, src += 2 * ldCol)
                        {
                            acc += Vector512.Load(src - j * dw) & Vector512.Load((float*)(masks + j * 16));
                            acc2 += Vector512.Load(src + ldCol - (j + 1) * dw) & Vector512.Load((float*)(masks + (j + 1) * 16));
                        }
                        if (j < kw) acc += Vector512.Load(src - j * dw) & Vector512.Load((float*)(masks + j * 16));
                    }
                    else
                    {
                        for (; j < kw; j++, src += ldCol)
                        {
                            float* m = (float*)(masks + j * 16), s = src - j * dw;
                            if ((j & 1) == 0)
                            {
                                lo += Vector256.Load(s) & Vector256.Load(m);
                                hi += Vector256.Load(s + 8) & Vector256.Load(m + 8);
                            }
                            else
                            {
                                lo2 += Vector256.Load(s) & Vector256.Load(m);
                                hi2 += Vector256.Load(s + 8) & Vector256.Load(m + 8);
                            }
                        }
                    }
                }
                acc += acc2;
                lo += lo2;
                hi += hi2;
                long at = ((long)c * h + iy) * w;
                float* dst = x + at;
                // A full store spills 16 − w floats past the row: rows written later, except near the end of x.
                bool nearEnd = at + 16 > end;
                float* to = nearEnd ? last : dst;
                if (wide) acc.Store(to);
                else
                {
                    lo.Store(to);
                    hi.Store(to + 8);
                }
                if (nearEnd) new ReadOnlySpan<float>(last, w).CopyTo(new Span<float>(dst, w));
            }
        }
    }

    /// <summary>
    /// dst[k] = src[2k] for k &lt; count, 4-byte elements, reading at most <paramref name="readable"/> elements from src:
    /// the even elements of 16 consecutive ones are the low halves of 8 64-bit lanes, which Narrow gathers in order
    /// (the stride-2 rows of a ResNet's stem and downsampling layers, one scalar move each before).
    /// </summary>
    private static void CopyEven<T>(ref T src, ref T dst, int count, int readable) where T : unmanaged
    {
        int k = 0;
        if (Vector256.IsHardwareAccelerated)
            for (; k + 8 <= count && 2 * k + 16 <= readable; k += 8)
            {
                var pairs0 = Vector256.LoadUnsafe(ref Unsafe.As<T, ulong>(ref Unsafe.Add(ref src, 2 * k)));
                var pairs1 = Vector256.LoadUnsafe(ref Unsafe.As<T, ulong>(ref Unsafe.Add(ref src, 2 * k + 8)));
                Vector256.Narrow(pairs0, pairs1).StoreUnsafe(ref Unsafe.As<T, uint>(ref Unsafe.Add(ref dst, k)));
            }
        for (; k < count; k++) Unsafe.Add(ref dst, k) = Unsafe.Add(ref src, 2 * k);
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
