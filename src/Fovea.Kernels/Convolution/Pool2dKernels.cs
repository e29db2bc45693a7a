using System.Numerics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

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
                int ox = 0;
                if (typeof(T) == typeof(float) && Avx2.IsSupported)
                    ox = MaxRow2x2F32(MemoryMarshal.Cast<T, float>(row0), MemoryMarshal.Cast<T, float>(row1), r0, r1, MemoryMarshal.Cast<T, float>(yr), ir);
                for (; ox < ow; ox++)
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

    /// <summary>
    /// Eight outputs at a time of one 2x2 output row: the even and odd columns of both input rows are separated
    /// with in-lane shuffles plus one cross-lane permute, then the four taps are compared in the scalar loop's order
    /// (take a tap when it is greater, or NaN) with blends instead of branches, which on real data mispredict about
    /// every other time. A row's last partial group of eight is done as the eight outputs ending at the row's end
    /// (overlapping outputs already written, which are recomputed to the same values); rows of four to seven
    /// outputs (LeNet's second pooling has five) take the same steps four at a time. Returns how many outputs it
    /// wrote: all of them, or 0 for rows under four outputs.
    /// </summary>
    private static unsafe int MaxRow2x2F32(ReadOnlySpan<float> row0, ReadOnlySpan<float> row1, int r0, int r1, Span<float> y, Span<int> at)
    {
        int ow = y.Length;
        fixed (float* a = row0, b = row1, py = y)
        fixed (int* pi = at)
        {
            if (ow >= 8)
            {
                for (int ox = 0; ox < ow; ox += 8)
                    MaxGroup8(a, b, r0, r1, py, pi, Math.Min(ox, ow - 8));
                return ow;
            }
            if (ow >= 4 && Sse41.IsSupported)
            {
                MaxGroup4(a, b, r0, r1, py, pi, 0);
                MaxGroup4(a, b, r0, r1, py, pi, ow - 4);
                return ow;
            }
        }
        return 0;
    }

    /// <summary>Outputs ox .. ox + 7 of a 2x2 row (see <see cref="MaxRow2x2F32"/>).</summary>
    private static unsafe void MaxGroup8(float* a, float* b, int r0, int r1, float* py, int* pi, int ox)
    {
        var step = Vector256.Create(0, 2, 4, 6, 8, 10, 12, 14);
        int c = 2 * ox;
        var (e0, o0) = Deinterleave(Avx.LoadVector256(a + c), Avx.LoadVector256(a + c + 8));
        var (e1, o1) = Deinterleave(Avx.LoadVector256(b + c), Avx.LoadVector256(b + c + 8));
        var best = e0;
        var idx = Vector256.Create(r0 + c) + step;
        var pick = Avx.Or(Avx.CompareGreaterThan(o0, best), Avx.CompareUnordered(o0, o0));
        best = Avx.BlendVariable(best, o0, pick);
        idx = Avx.BlendVariable(idx.AsSingle(), (Vector256.Create(r0 + c + 1) + step).AsSingle(), pick).AsInt32();
        pick = Avx.Or(Avx.CompareGreaterThan(e1, best), Avx.CompareUnordered(e1, e1));
        best = Avx.BlendVariable(best, e1, pick);
        idx = Avx.BlendVariable(idx.AsSingle(), (Vector256.Create(r1 + c) + step).AsSingle(), pick).AsInt32();
        pick = Avx.Or(Avx.CompareGreaterThan(o1, best), Avx.CompareUnordered(o1, o1));
        best = Avx.BlendVariable(best, o1, pick);
        idx = Avx.BlendVariable(idx.AsSingle(), (Vector256.Create(r1 + c + 1) + step).AsSingle(), pick).AsInt32();
        Avx.Store(py + ox, best);
        Avx.Store(pi + ox, idx);
    }

    /// <summary>Outputs ox .. ox + 3 of a 2x2 row, with 128-bit vectors (no lane crossing: one shuffle per parity).</summary>
    private static unsafe void MaxGroup4(float* a, float* b, int r0, int r1, float* py, int* pi, int ox)
    {
        var step = Vector128.Create(0, 2, 4, 6);
        int c = 2 * ox;
        Vector128<float> a0 = Sse.LoadVector128(a + c), a1 = Sse.LoadVector128(a + c + 4);
        Vector128<float> b0 = Sse.LoadVector128(b + c), b1 = Sse.LoadVector128(b + c + 4);
        Vector128<float> e0 = Sse.Shuffle(a0, a1, 0x88), o0 = Sse.Shuffle(a0, a1, 0xDD);
        Vector128<float> e1 = Sse.Shuffle(b0, b1, 0x88), o1 = Sse.Shuffle(b0, b1, 0xDD);
        var best = e0;
        var idx = Vector128.Create(r0 + c) + step;
        var pick = Sse.Or(Sse.CompareGreaterThan(o0, best), Sse.CompareUnordered(o0, o0));
        best = Sse41.BlendVariable(best, o0, pick);
        idx = Sse41.BlendVariable(idx.AsSingle(), (Vector128.Create(r0 + c + 1) + step).AsSingle(), pick).AsInt32();
        pick = Sse.Or(Sse.CompareGreaterThan(e1, best), Sse.CompareUnordered(e1, e1));
        best = Sse41.BlendVariable(best, e1, pick);
        idx = Sse41.BlendVariable(idx.AsSingle(), (Vector128.Create(r1 + c) + step).AsSingle(), pick).AsInt32();
        pick = Sse.Or(Sse.CompareGreaterThan(o1, best), Sse.CompareUnordered(o1, o1));
        best = Sse41.BlendVariable(best, o1, pick);
        idx = Sse41.BlendVariable(idx.AsSingle(), (Vector128.Create(r1 + c + 1) + step).AsSingle(), pick).AsInt32();
        Sse.Store(py + ox, best);
        Sse2.Store(pi + ox, idx);
    }

    /// <summary>The even and the odd elements of 16 consecutive floats, each in order.</summary>
    private static (Vector256<float> Even, Vector256<float> Odd) Deinterleave(Vector256<float> lo, Vector256<float> hi)
    {
        // In-lane shuffles give [0 2 8 10 | 4 6 12 14]; swapping the middle 64-bit pairs restores the order.
        var even = Avx2.Permute4x64(Avx.Shuffle(lo, hi, 0x88).AsDouble(), 0xD8).AsSingle();
        var odd = Avx2.Permute4x64(Avx.Shuffle(lo, hi, 0xDD).AsDouble(), 0xD8).AsSingle();
        return (even, odd);
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
