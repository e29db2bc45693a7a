using System.Numerics;
using System.Runtime.CompilerServices;
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
        if (Plain2x2(win, h, w, oh, ow))
        {
            MaxForward2x2(x, planes, h, w, oh, ow, y, indices, withIndices: true);
            return;
        }
        MaxForwardRows(x, planes, h, w, win, oh, ow, y, indices, withIndices: true);
    }

    /// <summary>
    /// Max pooling forward without the argmax indices, for inference (no gradient will be routed back): the same
    /// values as <see cref="MaxForward{T}"/>, bit for bit, with half the work per tap on the vector path.
    /// </summary>
    public static void MaxForwardValues<T>(ReadOnlySpan<T> x, int planes, int h, int w, in Window2d win, int oh, int ow, Span<T> y)
        where T : unmanaged, INumber<T>
    {
        if (typeof(T) == typeof(float) && Separable(win, h, w, oh, ow))
        {
            MaxSeparableF32(MemoryMarshal.Cast<T, float>(x), planes, h, w, win, oh, ow, MemoryMarshal.Cast<T, float>(y));
            return;
        }
        // The 2x2 kernel computes indices it then drops, and still beats the general rows: LeNet-5's poolings (384
        // planes of 28² and 1,024 of 10², one thread of a 2-core AMD EPYC, Zen 5) 0.164 → 0.048 ms and 0.485 → 0.034;
        // 2,048 planes of 56² with AVX2 only 2.56 → 1.21 (with AVX-512 the separable form above takes those, 1.09).
        if (Plain2x2(win, h, w, oh, ow))
        {
            MaxForward2x2(x, planes, h, w, oh, ow, y, default, withIndices: false);
            return;
        }
        MaxForwardRows(x, planes, h, w, win, oh, ow, y, default, withIndices: false);
    }

    /// <summary>The common 2x2 stride-2 window without padding or dilation, every output's taps inside the input.</summary>
    private static bool Plain2x2(in Window2d win, int h, int w, int oh, int ow) =>
        win is { KernelH: 2, KernelW: 2, StrideH: 2, StrideW: 2, PadH: 0, PadW: 0, DilationH: 1, DilationW: 1 } && 2 * oh <= h && 2 * ow <= w;

    /// <summary>
    /// Where <see cref="MaxSeparableF32"/> runs: AVX-512 or AVX2, no dilation, stride 1 or 2 along rows, and at least one
    /// vector group of output columns, 16 or 8 (the ResNet stem's 3x3 stride-2 window over 112-wide rows, say).
    /// Elsewhere the one-pass loop runs (eight outputs at a time with AVX2). With AVX2 the plain 2x2 window stays on its
    /// own kernel, as fast as the separable form or faster (2,048 planes of 56²: 2.2 against 5.6 ms on a Zen 3 core,
    /// LeNet's 384 planes of 28² 0.07 against 0.31); with AVX-512 the separable form wins (see the 2x2 kernel's figures).
    /// </summary>
    private static bool Separable(in Window2d win, int h, int w, int oh, int ow) =>
        SeparableEnabled && win.DilationH == 1 && win.DilationW == 1 && win.StrideW is 1 or 2
        && (Wide ? ow >= 16 : Avx2.IsSupported && Vector256.IsHardwareAccelerated && ow >= 8 && !Plain2x2(win, h, w, oh, ow));

    /// <summary>Whether the dispatch may take <see cref="MaxSeparableF32"/>; tests switch it off to compare with the one-pass loop.</summary>
    internal static bool SeparableEnabled = true;

    /// <summary>
    /// Whether <see cref="RowMaximaF32"/> and <see cref="ColumnMaximaF32"/> take a window of this row shape and
    /// <paramref name="ow"/> output columns: the separable form's vector groups, whatever the rows (the fused stem and
    /// pooling, <see cref="ConvMaxPool"/>, feeds them rows it has just computed).
    /// </summary>
    internal static bool SeparableRows(in Window2d win, int ow) =>
        win.DilationH == 1 && win.DilationW == 1 && win.StrideW is 1 or 2 && (Wide ? ow >= 16 : Avx2.IsSupported && Vector256.IsHardwareAccelerated && ow >= 8);

    /// <summary>The maximum of one input row's taps for every output column (<see cref="MaxSeparableF32"/>'s first pass), where <see cref="SeparableRows"/>.</summary>
    internal static unsafe void RowMaximaF32(float* row, int w, in Window2d win, int ow, float* dst)
    {
        if (Wide) RowMaxima(row, w, win, ow, dst);
        else RowMaxima256(row, w, win, ow, dst);
    }

    /// <summary>The maximum of <paramref name="count"/> rows of row maxima, <paramref name="ow"/> apart (<see cref="MaxSeparableF32"/>'s second pass).</summary>
    internal static unsafe void ColumnMaximaF32(float* r0, int ow, int count, float* yr)
    {
        if (Wide) ColumnMaxima(r0, ow, count, yr);
        else ColumnMaxima256(r0, ow, count, yr);
    }

    /// <summary>Whether the separable form runs on 512-bit vectors (else on 256-bit ones).</summary>
    private static bool Wide => Avx512F.IsSupported && Vector512.IsHardwareAccelerated;

    /// <summary>
    /// Max pooling without indices as two passes per plane: the maximum over each input row's kw taps for every output
    /// column (into a scratch of h rows), then the maximum over kh of those rows for every output row. A 3x3 window reads
    /// each input row once instead of up to twice and combines 3 + 3 values per output instead of 9. The taps are read
    /// from the input rows in place; the groups that reach past either end of a row load with a mask and −∞ in the lanes
    /// outside it (padding as −∞), so every output column, the padded ones included, takes the vector path. (Copying
    /// each row between −∞ borders first cost a third of the time: ResNet-18's stem pooling, 64 planes of 112², 0.23 →
    /// 0.16 ms on one thread of a 2-core AMD EPYC, Zen 5: the unaligned loads of a row just written waited for its
    /// stores.) With AVX2 the groups are 8 columns wide and the masked loads blend −∞ in; against the one-pass loop on
    /// one Zen 3 core (blocks of 5 calls alternating in one process, medians of 50 blocks, two runs): the stem pooling
    /// 1.96 → 1.02 and 0.98 → 0.40 ms, a 3x3 stride-1 window over 64 planes of 56² 1.41 → 0.29 and 1.12 → 0.21 ms.
    /// <para>
    /// The same values as the one-pass loop, bit for bit: max(v, best) keeps the earlier of equal values, so the maximum
    /// of the row maxima in row order is the first maximal tap in row-major order, as before (−0 before +0 stays −0);
    /// a −∞ border tap changes nothing that a skipped tap would not. A NaN tap makes its row maximum NaN (all bits set),
    /// and any NaN row maximum makes the output NaN, as the one-pass vector path writes it.
    /// </para>
    /// </summary>
    private static unsafe void MaxSeparableF32(ReadOnlySpan<float> x, int planes, int h, int w, in Window2d win, int oh, int ow, Span<float> y)
    {
        int kh = win.KernelH, sh = win.StrideH, ph = win.PadH;
        bool wide = Wide;
        float[] scratch = System.Buffers.ArrayPool<float>.Shared.Rent(h * ow);
        fixed (float* px = x, py = y, rows = scratch)
        {
            for (int p = 0; p < planes; p++)
            {
                float* xp = px + (long)p * h * w, yp = py + (long)p * oh * ow;
                for (int iy = 0; iy < h; iy++)
                {
                    if (wide) RowMaxima(xp + (long)iy * w, w, win, ow, rows + (long)iy * ow);
                    else RowMaxima256(xp + (long)iy * w, w, win, ow, rows + (long)iy * ow);
                }
                for (int oy = 0; oy < oh; oy++)
                {
                    int i0 = Math.Max(0, ph - oy * sh), i1 = Math.Min(kh, h + ph - oy * sh);
                    float* yr = yp + (long)oy * ow;
                    if (i1 <= i0)
                    {
                        // No window row inside the input (ceil mode's last row can be all padding): −∞, as the scalar loop writes.
                        new Span<float>(yr, ow).Fill(float.NegativeInfinity);
                        continue;
                    }
                    float* r0 = rows + (long)(oy * sh - ph + i0) * ow;
                    if (wide) ColumnMaxima(r0, ow, i1 - i0, yr);
                    else ColumnMaxima256(r0, ow, i1 - i0, yr);
                }
            }
        }
        System.Buffers.ArrayPool<float>.Shared.Return(scratch);
    }

    /// <summary>
    /// y[ox] = the maximum of the <paramref name="count"/> row maxima at <paramref name="r0"/>, <paramref name="ow"/>
    /// apart, for every output column: groups of 16 from the left, the last one ending at the last column (it may
    /// overlap the one before it).
    /// </summary>
    private static unsafe void ColumnMaxima(float* r0, int ow, int count, float* yr)
    {
        for (int ox = 0; ; ox += 16)
        {
            int at = Math.Min(ox, ow - 16);
            var best = Avx512F.LoadVector512(r0 + at);
            var nan = Avx512F.CompareUnordered(best, best);
            for (int i = 1; i < count; i++)
            {
                var v = Avx512F.LoadVector512(r0 + (long)i * ow + at);
                best = Avx512F.Max(v, best);
                nan |= Avx512F.CompareUnordered(v, v);
            }
            Avx512F.Store(yr + at, best | nan);
            if (at == ow - 16) break;
        }
    }

    /// <summary><see cref="ColumnMaxima"/> in groups of 8 (AVX2).</summary>
    private static unsafe void ColumnMaxima256(float* r0, int ow, int count, float* yr)
    {
        for (int ox = 0; ; ox += 8)
        {
            int at = Math.Min(ox, ow - 8);
            var best = Avx.LoadVector256(r0 + at);
            var nan = Avx.CompareUnordered(best, best);
            for (int i = 1; i < count; i++)
            {
                var v = Avx.LoadVector256(r0 + (long)i * ow + at);
                best = Avx.Max(v, best);
                nan |= Avx.CompareUnordered(v, v);
            }
            Avx.Store(yr + at, best | nan);
            if (at == ow - 8) break;
        }
    }

    private static readonly Vector512<int> LaneIndex = Vector512.Create(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);

    /// <summary>
    /// The sixteen floats of <paramref name="row"/> from <paramref name="start"/> on, −∞ in the lanes outside [0, w). A
    /// group wholly inside the row (<paramref name="inside"/>) is a plain load; otherwise the load is masked, and a
    /// masked-off lane is never read, so the address may lie before the row or past the end of the data.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe Vector512<float> LoadRow(float* row, int start, int w, bool inside)
    {
        if (inside) return Avx512F.LoadVector512(row + start);
        var index = LaneIndex + Vector512.Create(start);
        var valid = Vector512.GreaterThanOrEqual(index, Vector512<int>.Zero) & Vector512.LessThan(index, Vector512.Create(w));
        return Avx512F.MaskLoad(row + start, valid.AsSingle(), Vector512.Create(float.NegativeInfinity));
    }

    /// <summary>
    /// For every output column, the maximum of one input row's taps (output ox's tap j at ox·sw − pw + j), sixteen
    /// columns to a group, the last group ending at the last column. At stride 2 a tap is the even lanes of the 32
    /// floats from its start, one two-source permute of two loads, and with dilation 1 the odd lanes of the same loads
    /// are the next tap.
    /// </summary>
    private static unsafe void RowMaxima(float* row, int w, in Window2d win, int ow, float* dst)
    {
        int sw = win.StrideW, kw = win.KernelW, pw = win.PadW;
        // How far a group's loads reach from its first tap: kw taps of 16 lanes, or of 32 at stride 2.
        int reach = (sw == 1 ? 16 : 32) + kw - 1;
        var evenLanes = Vector512.Create(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
        var oddLanes = evenLanes + Vector512<int>.One;
        for (int ox = 0; ; ox += 16)
        {
            int at = Math.Min(ox, ow - 16), c = at * sw - pw;
            bool inside = c >= 0 && c + reach <= w;
            Vector512<float> best, nan;
            if (sw == 1)
            {
                best = LoadRow(row, c, w, inside);
                nan = Avx512F.CompareUnordered(best, best);
                for (int j = 1; j < kw; j++)
                {
                    var v = LoadRow(row, c + j, w, inside);
                    best = Avx512F.Max(v, best);
                    nan |= Avx512F.CompareUnordered(v, v);
                }
            }
            else
            {
                // Stride 2: tap j is the even lanes of the 32 floats from c + j; tap j + 1 the odd ones.
                var lo = LoadRow(row, c, w, inside);
                var hi = LoadRow(row, c + 16, w, inside);
                best = Avx512F.PermuteVar16x32x2(lo, evenLanes, hi);
                var odd = Avx512F.PermuteVar16x32x2(lo, oddLanes, hi);
                nan = Avx512F.CompareUnordered(best, best);
                for (int j = 1; j < kw; j++)
                {
                    Vector512<float> v;
                    if ((j & 1) == 1) v = odd;
                    else
                    {
                        lo = LoadRow(row, c + j, w, inside);
                        hi = LoadRow(row, c + j + 16, w, inside);
                        v = Avx512F.PermuteVar16x32x2(lo, evenLanes, hi);
                        if (j + 1 < kw) odd = Avx512F.PermuteVar16x32x2(lo, oddLanes, hi);
                    }
                    best = Avx512F.Max(v, best);
                    nan |= Avx512F.CompareUnordered(v, v);
                }
            }
            Avx512F.Store(dst + at, best | nan);
            if (at == ow - 16) break;
        }
    }

    private static readonly Vector256<int> LaneIndex256 = Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7);

    /// <summary>
    /// <see cref="LoadRow"/> for 8 floats: AVX2's masked load gives 0 in the lanes it skips (and, like AVX-512's, never
    /// reads them), so −∞ is blended in.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe Vector256<float> LoadRow256(float* row, int start, int w, bool inside)
    {
        if (inside) return Avx.LoadVector256(row + start);
        var index = LaneIndex256 + Vector256.Create(start);
        var valid = (Vector256.GreaterThanOrEqual(index, Vector256<int>.Zero) & Vector256.LessThan(index, Vector256.Create(w))).AsSingle();
        return Avx.BlendVariable(Vector256.Create(float.NegativeInfinity), Avx.MaskLoad(row + start, valid), valid);
    }

    /// <summary>
    /// The even (or odd) lanes of the 16 floats <paramref name="lo"/>, <paramref name="hi"/>: a shuffle within each
    /// 128-bit half, then the 64-bit pairs put in order.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Deinterleave(Vector256<float> lo, Vector256<float> hi, bool odd)
    {
        var mixed = odd ? Avx.Shuffle(lo, hi, 0b11_01_11_01) : Avx.Shuffle(lo, hi, 0b10_00_10_00);
        return Avx2.Permute4x64(mixed.AsDouble(), 0b11_01_10_00).AsSingle();
    }

    /// <summary><see cref="RowMaxima"/> in groups of 8 (AVX2): at stride 2 a tap is the even lanes of 16 floats.</summary>
    private static unsafe void RowMaxima256(float* row, int w, in Window2d win, int ow, float* dst)
    {
        int sw = win.StrideW, kw = win.KernelW, pw = win.PadW;
        int reach = (sw == 1 ? 8 : 16) + kw - 1;
        for (int ox = 0; ; ox += 8)
        {
            int at = Math.Min(ox, ow - 8), c = at * sw - pw;
            bool inside = c >= 0 && c + reach <= w;
            Vector256<float> best, nan;
            if (sw == 1)
            {
                best = LoadRow256(row, c, w, inside);
                nan = Avx.CompareUnordered(best, best);
                for (int j = 1; j < kw; j++)
                {
                    var v = LoadRow256(row, c + j, w, inside);
                    best = Avx.Max(v, best);
                    nan |= Avx.CompareUnordered(v, v);
                }
            }
            else
            {
                var lo = LoadRow256(row, c, w, inside);
                var hi = LoadRow256(row, c + 8, w, inside);
                best = Deinterleave(lo, hi, odd: false);
                var odd = Deinterleave(lo, hi, odd: true);
                nan = Avx.CompareUnordered(best, best);
                for (int j = 1; j < kw; j++)
                {
                    Vector256<float> v;
                    if ((j & 1) == 1) v = odd;
                    else
                    {
                        lo = LoadRow256(row, c + j, w, inside);
                        hi = LoadRow256(row, c + j + 8, w, inside);
                        v = Deinterleave(lo, hi, odd: false);
                        if (j + 1 < kw) odd = Deinterleave(lo, hi, odd: true);
                    }
                    best = Avx.Max(v, best);
                    nan |= Avx.CompareUnordered(v, v);
                }
            }
            Avx.Store(dst + at, best | nan);
            if (at == ow - 8) break;
        }
    }

    /// <summary>
    /// Any window, one output row at a time. For float32 with AVX2 and stride 1 or 2, the outputs whose taps all lie
    /// inside the row go eight at a time (<see cref="MaxGroupF32"/>); the rest, and every other case, take the scalar
    /// loop (<see cref="MaxAt{T}"/>). Rows of the window outside the input are skipped on both paths, which is what
    /// padding as −∞ means, so border rows stay on the vector path.
    /// </summary>
    private static unsafe void MaxForwardRows<T>(ReadOnlySpan<T> x, int planes, int h, int w, in Window2d win, int oh, int ow, Span<T> y, Span<int> indices, bool withIndices)
        where T : unmanaged, INumber<T>
    {
        int inPlane = h * w, outPlane = oh * ow;
        var (vecFirst, vecLast) = typeof(T) == typeof(float) && Avx2.IsSupported ? VectorColumns(w, win, ow) : (0, -1);
        for (int p = 0; p < planes; p++)
        {
            var xp = x.Slice(p * inPlane, inPlane);
            var yp = y.Slice(p * outPlane, outPlane);
            var ip = withIndices ? indices.Slice(p * outPlane, outPlane) : default;
            for (int oy = 0; oy < oh; oy++)
            {
                int y0 = oy * win.StrideH - win.PadH;
                var yr = yp.Slice(oy * ow, ow);
                var ir = withIndices ? ip.Slice(oy * ow, ow) : default;
                if (vecLast < vecFirst)
                {
                    for (int ox = 0; ox < ow; ox++) MaxAt(xp, h, w, win, y0, ox, yr, ir, withIndices);
                    continue;
                }
                for (int ox = 0; ox < vecFirst; ox++) MaxAt(xp, h, w, win, y0, ox, yr, ir, withIndices);
                fixed (T* px = xp, py = yr)
                fixed (int* pi = ir)
                {
                    for (int ox = vecFirst; ; ox += 8)
                    {
                        int at = Math.Min(ox, vecLast);
                        MaxGroupF32((float*)px, h, w, win, y0, at, (float*)py + at, pi + at, withIndices);
                        if (at == vecLast) break;
                    }
                }
                for (int ox = vecLast + 8; ox < ow; ox++) MaxAt(xp, h, w, win, y0, ox, yr, ir, withIndices);
            }
        }
    }

    /// <summary>
    /// The first and last start of an eight-output vector group along a row: every tap of its outputs inside the
    /// row, and every vector load too (eight floats per tap at stride 1, sixteen at stride 2, whose odd lanes are
    /// dropped). Groups run from the first start in steps of eight, the last one ending at the last start (it may
    /// overlap outputs already written, recomputed to the same values). (0, −1) when no group fits.
    /// </summary>
    private static (int First, int Last) VectorColumns(int w, in Window2d win, int ow, int lanes = 8)
    {
        int sw = win.StrideW;
        if (sw is not (1 or 2)) return (0, -1);
        int first = (win.PadW + sw - 1) / sw;
        int loadSpan = sw == 2 ? 2 * lanes - 1 : lanes - 1;
        int room = w - 1 - loadSpan - (win.KernelW - 1) * win.DilationW + win.PadW;
        if (room < 0) return (0, -1);
        int last = Math.Min(room / sw, ow - lanes);
        return last < first ? (0, -1) : (first, last);
    }

    /// <summary>
    /// Output (row of <paramref name="y0"/>, <paramref name="ox"/>) by the plain loop: taps in row-major order, the
    /// first maximum wins and a NaN is taken whenever met (as PyTorch does), so NaN propagates; −∞ if no tap is inside.
    /// </summary>
    private static void MaxAt<T>(ReadOnlySpan<T> xp, int h, int w, in Window2d win, int y0, int ox, Span<T> yr, Span<int> ir, bool withIndices)
        where T : unmanaged, INumber<T>
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
                if (bestAt < 0 || v > best || T.IsNaN(v))
                {
                    best = v;
                    bestAt = iy * w + ix;
                }
            }
        }
        yr[ox] = bestAt < 0 ? T.CreateTruncating(double.NegativeInfinity) : best;
        if (withIndices) ir[ox] = Math.Max(bestAt, 0);
    }

    /// <summary>
    /// Outputs ox .. ox + 7 of one row, every tap inside the row (see <see cref="VectorColumns"/>); window rows
    /// outside the input are skipped. Taps go in the scalar loop's row-major order. With indices, a tap is taken
    /// where it is greater or NaN, by blends (as <see cref="MaxGroup8"/>). Without, max(v, best) (x86 MAXPS returns
    /// its second operand unless the first is greater) keeps the earlier of equal values (so −0 before +0 stays −0)
    /// and a NaN already held; a NaN tap is recorded in a mask that turns the output into NaN at the end.
    /// At stride 2 the taps are the even lanes of 16 loaded floats; with dilation 1, tap j + 1 is the odd lanes
    /// of tap j's load, so one load pair and one deinterleave serve two taps.
    /// </summary>
    private static unsafe void MaxGroupF32(float* xp, int h, int w, in Window2d win, int y0, int ox, float* py, int* pi, bool withIndices)
    {
        int sw = win.StrideW, kw = win.KernelW, dw = win.DilationW;
        int c0 = ox * sw - win.PadW;
        var step = sw == 2 ? Vector256.Create(0, 2, 4, 6, 8, 10, 12, 14) : Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7);
        var best = Vector256<float>.Zero;
        var nan = Vector256<float>.Zero;
        var idx = Vector256<int>.Zero;
        bool first = true;
        for (int i = 0; i < win.KernelH; i++)
        {
            int iy = y0 + i * win.DilationH;
            if ((uint)iy >= (uint)h) continue;
            float* row = xp + (long)iy * w;
            for (int j = 0; j < kw; j++)
            {
                int c = c0 + j * dw;
                Vector256<float> v, next = default;
                bool pair = false;
                if (sw == 1)
                {
                    v = Avx.LoadVector256(row + c);
                }
                else if (dw == 1 && j + 1 < kw)
                {
                    (v, next) = Deinterleave(Avx.LoadVector256(row + c), Avx.LoadVector256(row + c + 8));
                    pair = true;
                }
                else
                {
                    v = Even(Avx.LoadVector256(row + c), Avx.LoadVector256(row + c + 8));
                }
                Take(ref best, ref idx, ref nan, ref first, v, iy * w + c, step, withIndices);
                if (pair)
                {
                    j++;
                    Take(ref best, ref idx, ref nan, ref first, next, iy * w + c + 1, step, withIndices);
                }
            }
        }
        if (first)
        {
            // No window row inside the input (possible only with dilation): −∞, index 0, as the scalar loop writes.
            best = Vector256.Create(float.NegativeInfinity);
        }
        if (withIndices)
        {
            Avx.Store(pi, idx);
            Avx.Store(py, best);
        }
        else
        {
            Avx.Store(py, Avx.Or(best, nan));
        }
    }

    /// <summary>One tap of <see cref="MaxGroupF32"/> (its first sets the running maximum).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Take(ref Vector256<float> best, ref Vector256<int> idx, ref Vector256<float> nan, ref bool first, Vector256<float> v, int at, Vector256<int> step, bool withIndices)
    {
        if (first)
        {
            best = v;
            if (withIndices) idx = Vector256.Create(at) + step;
            else nan = Avx.CompareUnordered(v, v);
            first = false;
            return;
        }
        if (withIndices)
        {
            var pick = Avx.Or(Avx.CompareGreaterThan(v, best), Avx.CompareUnordered(v, v));
            best = Avx.BlendVariable(best, v, pick);
            idx = Avx.BlendVariable(idx.AsSingle(), (Vector256.Create(at) + step).AsSingle(), pick).AsInt32();
        }
        else
        {
            best = Avx.Max(v, best);
            nan = Avx.Or(nan, Avx.CompareUnordered(v, v));
        }
    }

    /// <summary>
    /// The common 2x2, stride-2 window with every tap inside the input: no bounds tests, the four taps read in
    /// the general kernel's order (so ties and NaN resolve identically). Without indices each row's go to a scratch row.
    /// </summary>
    private static void MaxForward2x2<T>(ReadOnlySpan<T> x, int planes, int h, int w, int oh, int ow, Span<T> y, Span<int> indices, bool withIndices)
        where T : unmanaged, INumber<T>
    {
        int[]? scratch = withIndices ? null : System.Buffers.ArrayPool<int>.Shared.Rent(ow);
        for (int p = 0; p < planes; p++)
        {
            var xp = x.Slice(p * h * w, h * w);
            for (int oy = 0; oy < oh; oy++)
            {
                int r0 = 2 * oy * w, r1 = r0 + w;
                var row0 = xp.Slice(r0, 2 * ow);
                var row1 = xp.Slice(r1, 2 * ow);
                var yr = y.Slice((p * oh + oy) * ow, ow);
                var ir = withIndices ? indices.Slice((p * oh + oy) * ow, ow) : scratch.AsSpan(0, ow);
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
        if (scratch is not null) System.Buffers.ArrayPool<int>.Shared.Return(scratch);
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

    /// <summary>The even elements of 16 consecutive floats, in order.</summary>
    private static Vector256<float> Even(Vector256<float> lo, Vector256<float> hi) =>
        Avx2.Permute4x64(Avx.Shuffle(lo, hi, 0x88).AsDouble(), 0xD8).AsSingle();

    /// <summary>
    /// Max pooling backward: dx (cleared here) receives dy at each output's recorded index; an index outside its plane
    /// throws before it is used, checked in the scatter itself rather than in a pass of its own. (One clear of all of dx
    /// measured faster than clearing each plane just before its scatter: many short clears cost more than reading the
    /// cleared planes back from L2.)
    /// </summary>
    public static void MaxBackward<T>(ReadOnlySpan<T> dy, ReadOnlySpan<int> indices, int planes, int inPlane, int outPlane, Span<T> dx)
        where T : unmanaged, INumber<T>
    {
        if (dy.Length < (long)planes * outPlane || indices.Length < (long)planes * outPlane || dx.Length < (long)planes * inPlane)
            throw new ArgumentException($"max_pool2d backward: buffers too short for {planes} planes of {outPlane} outputs and {inPlane} inputs");
        ref T dyRef = ref MemoryMarshal.GetReference(dy);
        ref int ixRef = ref MemoryMarshal.GetReference(indices);
        ref T dxRef = ref MemoryMarshal.GetReference(dx);
        dx.Slice(0, planes * inPlane).Clear();
        for (int p = 0; p < planes; p++)
        {
            ref T dxp = ref Unsafe.Add(ref dxRef, (nint)p * inPlane);
            ref T dyp = ref Unsafe.Add(ref dyRef, (nint)p * outPlane);
            ref int ip = ref Unsafe.Add(ref ixRef, (nint)p * outPlane);
            for (int k = 0; k < outPlane; k++)
            {
                int i = Unsafe.Add(ref ip, k);
                if ((uint)i >= (uint)inPlane)
                    throw new ArgumentOutOfRangeException(nameof(indices), $"max_pool2d backward: index {i} is outside a plane of {inPlane} elements");
                Unsafe.Add(ref dxp, i) += Unsafe.Add(ref dyp, k);
            }
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

    /// <summary>
    /// Average pooling forward (dilation 1). For float32 with AVX2 and stride 1 or 2, the outputs whose taps all lie
    /// inside the row go eight at a time (<see cref="AvgGroupF32"/>), each lane summing its taps in the plain loop's
    /// order (window rows, then columns) and dividing by the same count, so the results are the plain loop's bit for
    /// bit; the rest take the plain loop.
    /// </summary>
    public static unsafe void AvgForward<T>(ReadOnlySpan<T> x, int planes, int h, int w, in Window2d win, bool countIncludePad, int oh, int ow, Span<T> y)
        where T : unmanaged, INumber<T>
    {
        int inPlane = h * w, outPlane = oh * ow;
        var (vecFirst, vecLast) = typeof(T) == typeof(float) && Avx2.IsSupported && win.DilationW == 1 && win.DilationH == 1 ? VectorColumns(w, win, ow) : (0, -1);
        for (int p = 0; p < planes; p++)
        {
            var xp = x.Slice(p * inPlane, inPlane);
            var yp = y.Slice(p * outPlane, outPlane);
            for (int oy = 0; oy < oh; oy++)
            {
                if (vecLast < vecFirst)
                {
                    for (int ox = 0; ox < ow; ox++) AvgAt(xp, h, w, win, countIncludePad, oy, ox, yp, ow);
                    continue;
                }
                for (int ox = 0; ox < vecFirst; ox++) AvgAt(xp, h, w, win, countIncludePad, oy, ox, yp, ow);
                // Every lane of a group has the same window rows, so the same count.
                int divisor = AvgWindow(oy, vecFirst, h, w, win, countIncludePad, out int y0, out int y1, out _, out _);
                fixed (T* px = xp, py = yp)
                {
                    for (int ox = vecFirst; ; ox += 8)
                    {
                        int at = Math.Min(ox, vecLast);
                        AvgGroupF32((float*)px, w, win, y0, y1, divisor, at, (float*)py + oy * ow + at);
                        if (at == vecLast) break;
                    }
                }
                for (int ox = vecLast + 8; ox < ow; ox++) AvgAt(xp, h, w, win, countIncludePad, oy, ox, yp, ow);
            }
        }
    }

    /// <summary>Average-pool output (oy, ox) by the plain loop: the clipped window's sum, row by row, over its count.</summary>
    private static void AvgAt<T>(ReadOnlySpan<T> xp, int h, int w, in Window2d win, bool countIncludePad, int oy, int ox, Span<T> yp, int ow)
        where T : unmanaged, INumber<T>
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

    /// <summary>
    /// Outputs ox .. ox + 7 of one row, every tap inside the row (see <see cref="VectorColumns"/>), window rows
    /// [<paramref name="y0"/>, <paramref name="y1"/>): per lane 0 + each tap in row-major order, then the division, as
    /// <see cref="AvgAt{T}"/> does. At stride 2 a tap is the even lanes of the sixteen floats from its start.
    /// </summary>
    private static unsafe void AvgGroupF32(float* xp, int w, in Window2d win, int y0, int y1, int divisor, int ox, float* dst)
    {
        int sw = win.StrideW, kw = win.KernelW, c = ox * sw - win.PadW;
        var sum = Vector256<float>.Zero;
        for (int iy = y0; iy < y1; iy++)
        {
            float* row = xp + (long)iy * w + c;
            for (int j = 0; j < kw; j++)
                sum += sw == 1 ? Avx.LoadVector256(row + j) : Even(Avx.LoadVector256(row + j), Avx.LoadVector256(row + j + 8));
        }
        (divisor == 0 ? Vector256<float>.Zero : sum / Vector256.Create((float)divisor)).Store(dst);
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
