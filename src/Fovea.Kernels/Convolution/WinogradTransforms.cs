using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Fovea.Kernels;

/// <summary>
/// The three transforms of Winograd's minimal filtering F(4x4, 3x3) (Lavin and Gray, "Fast Algorithms for Convolutional
/// Neural Networks", 2016), for cross-correlation as deep-learning libraries define convolution:
/// <c>Y = Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A</c>, with d a 6x6 input tile, g the 3x3 kernel and Y the 4x4 output tile.
/// <code>
/// Bᵀ = [4  0 -5  0 1 0]   G = [ 1/4     0    0]   Aᵀ = [1 1  1 1  1 0]
///      [0 -4 -4  1 1 0]       [-1/6 -1/6 -1/6]        [0 1 -1 2 -2 0]
///      [0  4 -4 -1 1 0]       [-1/6  1/6 -1/6]        [0 1  1 4  4 0]
///      [0 -2 -1  2 1 0]       [1/24 1/12  1/6]        [0 1 -1 8 -8 1]
///      [0  2 -1 -2 1 0]       [1/24 -1/12 1/6]
///      [0  4  0 -5 0 1]       [   0    0    1]
/// </code>
/// The input and output transforms work on 8 tiles at once, one per lane: element e of the 6x6 tile of lane l is
/// <c>src[e·stride + l]</c>. The 1-d transforms are factored as in the paper's reference code (shared sums, FMAs).
/// </summary>
internal static unsafe class WinogradTransforms
{
    /// <summary>G of F(4, 3), row-major 6x3: the kernel transform is U = G g Gᵀ.</summary>
    private static readonly double[] G =
    [
        1.0 / 4, 0, 0,
        -1.0 / 6, -1.0 / 6, -1.0 / 6,
        -1.0 / 6, 1.0 / 6, -1.0 / 6,
        1.0 / 24, 1.0 / 12, 1.0 / 6,
        1.0 / 24, -1.0 / 12, 1.0 / 6,
        0, 0, 1,
    ];

    /// <summary>
    /// U = G g Gᵀ for one 3x3 kernel, computed in float64 and rounded once: <paramref name="g"/>(u, v) gives the kernel
    /// element, <paramref name="u"/> receives the 36 values row-major.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Kernel(ReadOnlySpan<double> g, Span<double> u)
    {
        Span<double> t = stackalloc double[18]; // G g: 6x3
        for (int i = 0; i < 6; i++)
            for (int j = 0; j < 3; j++)
                t[i * 3 + j] = G[i * 3] * g[j] + G[i * 3 + 1] * g[3 + j] + G[i * 3 + 2] * g[6 + j];
        for (int i = 0; i < 6; i++)
            for (int j = 0; j < 6; j++)
                u[i * 6 + j] = t[i * 3] * G[j * 3] + t[i * 3 + 1] * G[j * 3 + 1] + t[i * 3 + 2] * G[j * 3 + 2];
    }

    /// <summary>Lanes <see cref="KernelLanes"/> reads and writes per row: up to 8 input channels x 8 output channels.</summary>
    public const int KernelLaneStride = 64;

    /// <summary>
    /// <see cref="Kernel"/> for many kernels at once, one per lane: kernel element e of lane l is
    /// <paramref name="g"/>[e·<see cref="KernelLaneStride"/> + l], element ξ of its U goes to
    /// <paramref name="u"/>[ξ·<see cref="KernelLaneStride"/> + l], for l &lt; <paramref name="lanes"/> (a multiple of 8).
    /// The same float64 products and sums in the same order as <see cref="Kernel"/>, eight lanes a vector, so each U is
    /// equal to the bit.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void KernelLanes(double* g, double* u, int lanes)
    {
        const int ls = KernelLaneStride;
        // Eight lanes a vector; without 512-bit hardware the vector runs as two 256-bit halves.
        Vector512<double>* t = stackalloc Vector512<double>[18];
        for (int l = 0; l < lanes; l += 8)
        {
            for (int i = 0; i < 6; i++)
            {
                var g0 = Vector512.Create(G[i * 3]);
                var g1 = Vector512.Create(G[i * 3 + 1]);
                var g2 = Vector512.Create(G[i * 3 + 2]);
                for (int j = 0; j < 3; j++)
                    t[i * 3 + j] = g0 * Vector512.Load(g + j * ls + l) + g1 * Vector512.Load(g + (3 + j) * ls + l) + g2 * Vector512.Load(g + (6 + j) * ls + l);
            }
            for (int i = 0; i < 6; i++)
                for (int j = 0; j < 6; j++)
                    (t[i * 3] * Vector512.Create(G[j * 3]) + t[i * 3 + 1] * Vector512.Create(G[j * 3 + 1]) + t[i * 3 + 2] * Vector512.Create(G[j * 3 + 2]))
                        .Store(u + (i * 6 + j) * ls + l);
        }
    }

    /// <summary>
    /// V = Bᵀ d B for 8 tiles: element (i, j) of the 6x6 tile d of lane l is src[<paramref name="index"/>[l] + i·<paramref name="rowStride"/> + j]
    /// (with 2 readable floats after each tile row); element ξ = 6a + b of V goes to dst[ξ·<paramref name="dstStride"/> + l].
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    [SkipLocalsInit] // every stackalloc below is written in full before it is read; zeroing it cost as much as the loads
    public static void Input(float* src, int* index, nint rowStride, float* dst, nint dstStride)
    {
        Vector256<float>* d = stackalloc Vector256<float>[36];
        // The tiles' rows, turned so that lanes are tiles: d[6i + j] = element (i, j) of the 8 tiles.
        for (int i = 0; i < 6; i++)
            Rows(src + i * rowStride, index, d + 6 * i);
        Vector256<float>* t = stackalloc Vector256<float>[36];
        // Columns: t[a][j] = Σ_i Bᵀ[a][i] d[i][j].
        for (int j = 0; j < 6; j++)
            Input1d(d[j], d[6 + j], d[12 + j], d[18 + j], d[24 + j], d[30 + j],
                out t[j], out t[6 + j], out t[12 + j], out t[18 + j], out t[24 + j], out t[30 + j]);
        // Rows: V[a][b] = Σ_j t[a][j] B[j][b].
        for (int a = 0; a < 6; a++)
        {
            Vector256<float>* r = t + 6 * a;
            Input1d(r[0], r[1], r[2], r[3], r[4], r[5], out var v0, out var v1, out var v2, out var v3, out var v4, out var v5);
            float* o = dst + 6 * a * dstStride;
            v0.Store(o);
            v1.Store(o + dstStride);
            v2.Store(o + 2 * dstStride);
            v3.Store(o + 3 * dstStride);
            v4.Store(o + 4 * dstStride);
            v5.Store(o + 5 * dstStride);
        }
    }

    /// <summary>
    /// out[j] (j &lt; 6) = (p[index[0] + j], …, p[index[7] + j]): with AVX, eight row loads and an 8x8 transpose in registers;
    /// without it, scalar loads.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Rows(float* p, int* index, Vector256<float>* output)
    {
        if (Avx.IsSupported)
        {
            Vector256<float> r0 = Avx.LoadVector256(p + index[0]), r1 = Avx.LoadVector256(p + index[1]);
            Vector256<float> r2 = Avx.LoadVector256(p + index[2]), r3 = Avx.LoadVector256(p + index[3]);
            Vector256<float> r4 = Avx.LoadVector256(p + index[4]), r5 = Avx.LoadVector256(p + index[5]);
            Vector256<float> r6 = Avx.LoadVector256(p + index[6]), r7 = Avx.LoadVector256(p + index[7]);
            // Standard 8x8 transpose: interleave pairs, then quads, then swap 128-bit halves.
            Vector256<float> t0 = Avx.UnpackLow(r0, r1), t1 = Avx.UnpackHigh(r0, r1), t2 = Avx.UnpackLow(r2, r3), t3 = Avx.UnpackHigh(r2, r3);
            Vector256<float> t4 = Avx.UnpackLow(r4, r5), t5 = Avx.UnpackHigh(r4, r5), t6 = Avx.UnpackLow(r6, r7), t7 = Avx.UnpackHigh(r6, r7);
            Vector256<float> s0 = Avx.Shuffle(t0, t2, 0x44), s1 = Avx.Shuffle(t0, t2, 0xEE), s2 = Avx.Shuffle(t1, t3, 0x44), s3 = Avx.Shuffle(t1, t3, 0xEE);
            Vector256<float> s4 = Avx.Shuffle(t4, t6, 0x44), s5 = Avx.Shuffle(t4, t6, 0xEE), s6 = Avx.Shuffle(t5, t7, 0x44), s7 = Avx.Shuffle(t5, t7, 0xEE);
            output[0] = Avx.Permute2x128(s0, s4, 0x20);
            output[1] = Avx.Permute2x128(s1, s5, 0x20);
            output[2] = Avx.Permute2x128(s2, s6, 0x20);
            output[3] = Avx.Permute2x128(s3, s7, 0x20);
            output[4] = Avx.Permute2x128(s0, s4, 0x31);
            output[5] = Avx.Permute2x128(s1, s5, 0x31);
            return;
        }
        for (int j = 0; j < 6; j++)
            output[j] = Vector256.Create(p[index[0] + j], p[index[1] + j], p[index[2] + j], p[index[3] + j], p[index[4] + j], p[index[5] + j], p[index[6] + j], p[index[7] + j]);
    }

    /// <summary>One row of Bᵀ applied to (d0 … d5).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Input1d(Vector256<float> d0, Vector256<float> d1, Vector256<float> d2, Vector256<float> d3, Vector256<float> d4, Vector256<float> d5,
        out Vector256<float> t0, out Vector256<float> t1, out Vector256<float> t2, out Vector256<float> t3, out Vector256<float> t4, out Vector256<float> t5)
    {
        Vector256<float> four = Vector256.Create(4f), minusFour = Vector256.Create(-4f), minusFive = Vector256.Create(-5f), two = Vector256.Create(2f);
        // t1, t2 = (d4 − 4 d2) ± (d3 − 4 d1); t3, t4 = (d4 − d2) ± 2 (d3 − d1).
        Vector256<float> p = Vector256.FusedMultiplyAdd(minusFour, d2, d4), q = Vector256.FusedMultiplyAdd(minusFour, d1, d3);
        Vector256<float> r = d4 - d2, s = two * (d3 - d1);
        t0 = Vector256.FusedMultiplyAdd(four, d0, Vector256.FusedMultiplyAdd(minusFive, d2, d4));
        t1 = p + q;
        t2 = p - q;
        t3 = r + s;
        t4 = r - s;
        t5 = Vector256.FusedMultiplyAdd(four, d1, Vector256.FusedMultiplyAdd(minusFive, d3, d5));
    }

    /// <summary>
    /// Y = Aᵀ m A (+ bias) for 8 tiles: element ξ of the 6x6 product m of lane l is src[ξ·<paramref name="srcStride"/> + l];
    /// output (i, j) of lane l goes to dst[(4i + j)·8 + l].
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    [SkipLocalsInit] // every stackalloc below is written in full before it is read; zeroing it cost as much as the loads
    public static void Output(float* src, nint srcStride, Vector256<float> bias, float* dst)
    {
        Vector256<float>* t = stackalloc Vector256<float>[24];
        // Columns: t[i][b] = Σ_a Aᵀ[i][a] m[a][b].
        for (int b = 0; b < 6; b++)
        {
            float* s = src + b * srcStride;
            nint row = 6 * srcStride;
            Output1d(Vector256.Load(s), Vector256.Load(s + row), Vector256.Load(s + 2 * row), Vector256.Load(s + 3 * row),
                Vector256.Load(s + 4 * row), Vector256.Load(s + 5 * row), out t[b], out t[6 + b], out t[12 + b], out t[18 + b]);
        }
        // Rows: Y[i][j] = Σ_b t[i][b] A[b][j].
        for (int i = 0; i < 4; i++)
        {
            Vector256<float>* r = t + 6 * i;
            Output1d(r[0], r[1], r[2], r[3], r[4], r[5], out var y0, out var y1, out var y2, out var y3);
            float* d = dst + 32 * i;
            (y0 + bias).Store(d);
            (y1 + bias).Store(d + 8);
            (y2 + bias).Store(d + 16);
            (y3 + bias).Store(d + 24);
        }
    }

    /// <summary>
    /// <see cref="Output"/> for 8 whole tiles written in place: output (i, j) of lane l goes to
    /// y[<paramref name="offsets"/>[l] + i·<paramref name="rowStride"/> + j]. With AVX the four vectors of each output row
    /// are turned into the 8 tiles' 4-float rows in registers (a 4x8 transpose); without it, scalar stores. Each row
    /// then takes the <paramref name="epilogue"/> (whose output is <paramref name="y"/>) in the registers it is stored from.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    [SkipLocalsInit] // every stackalloc below is written in full before it is read; zeroing it cost as much as the loads
    public static void OutputTo(float* src, nint srcStride, Vector256<float> bias, float* y, long* offsets, nint rowStride, ConvEpilogue epilogue = default)
    {
        if (!Avx.IsSupported)
        {
            float* tile = stackalloc float[128];
            Output(src, srcStride, bias, tile);
            for (int l = 0; l < 8; l++)
                for (int i = 0; i < 4; i++)
                {
                    for (int j = 0; j < 4; j++) y[offsets[l] + i * rowStride + j] = tile[32 * i + 8 * j + l];
                    epilogue.Run(y + offsets[l] + i * rowStride, 4);
                }
            return;
        }
        float* residual = epilogue.ResidualAt(y);
        bool relu = epilogue.Relu;
        Vector256<float>* t = stackalloc Vector256<float>[24];
        for (int b = 0; b < 6; b++)
        {
            float* s = src + b * srcStride;
            nint row = 6 * srcStride;
            Output1d(Vector256.Load(s), Vector256.Load(s + row), Vector256.Load(s + 2 * row), Vector256.Load(s + 3 * row),
                Vector256.Load(s + 4 * row), Vector256.Load(s + 5 * row), out t[b], out t[6 + b], out t[12 + b], out t[18 + b]);
        }
        for (int i = 0; i < 4; i++)
        {
            Vector256<float>* r = t + 6 * i;
            Output1d(r[0], r[1], r[2], r[3], r[4], r[5], out var y0, out var y1, out var y2, out var y3);
            y0 += bias;
            y1 += bias;
            y2 += bias;
            y3 += bias;
            Vector256<float> t0 = Avx.UnpackLow(y0, y1), t1 = Avx.UnpackHigh(y0, y1), t2 = Avx.UnpackLow(y2, y3), t3 = Avx.UnpackHigh(y2, y3);
            Vector256<float> u0 = Avx.Shuffle(t0, t2, 0x44), u1 = Avx.Shuffle(t0, t2, 0xEE), u2 = Avx.Shuffle(t1, t3, 0x44), u3 = Avx.Shuffle(t1, t3, 0xEE);
            nint ri = i * rowStride;
            if (residual == null)
            {
                if (relu)
                {
                    u0 = Avx.Max(Vector256<float>.Zero, u0) + Vector256<float>.Zero;
                    u1 = Avx.Max(Vector256<float>.Zero, u1) + Vector256<float>.Zero;
                    u2 = Avx.Max(Vector256<float>.Zero, u2) + Vector256<float>.Zero;
                    u3 = Avx.Max(Vector256<float>.Zero, u3) + Vector256<float>.Zero;
                }
                u0.GetLower().Store(y + offsets[0] + ri);
                u1.GetLower().Store(y + offsets[1] + ri);
                u2.GetLower().Store(y + offsets[2] + ri);
                u3.GetLower().Store(y + offsets[3] + ri);
                u0.GetUpper().Store(y + offsets[4] + ri);
                u1.GetUpper().Store(y + offsets[5] + ri);
                u2.GetUpper().Store(y + offsets[6] + ri);
                u3.GetUpper().Store(y + offsets[7] + ri);
                continue;
            }
            ConvEpilogue.StoreQuad(u0.GetLower(), residual == null ? null : residual + offsets[0] + ri, relu, y + offsets[0] + ri);
            ConvEpilogue.StoreQuad(u1.GetLower(), residual == null ? null : residual + offsets[1] + ri, relu, y + offsets[1] + ri);
            ConvEpilogue.StoreQuad(u2.GetLower(), residual == null ? null : residual + offsets[2] + ri, relu, y + offsets[2] + ri);
            ConvEpilogue.StoreQuad(u3.GetLower(), residual == null ? null : residual + offsets[3] + ri, relu, y + offsets[3] + ri);
            ConvEpilogue.StoreQuad(u0.GetUpper(), residual == null ? null : residual + offsets[4] + ri, relu, y + offsets[4] + ri);
            ConvEpilogue.StoreQuad(u1.GetUpper(), residual == null ? null : residual + offsets[5] + ri, relu, y + offsets[5] + ri);
            ConvEpilogue.StoreQuad(u2.GetUpper(), residual == null ? null : residual + offsets[6] + ri, relu, y + offsets[6] + ri);
            ConvEpilogue.StoreQuad(u3.GetUpper(), residual == null ? null : residual + offsets[7] + ri, relu, y + offsets[7] + ri);
        }
    }


    /// <summary>One row of Aᵀ applied to (m0 … m5).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Output1d(Vector256<float> m0, Vector256<float> m1, Vector256<float> m2, Vector256<float> m3, Vector256<float> m4, Vector256<float> m5,
        out Vector256<float> o0, out Vector256<float> o1, out Vector256<float> o2, out Vector256<float> o3)
    {
        Vector256<float> s12 = m1 + m2, d12 = m1 - m2, s34 = m3 + m4, d34 = m3 - m4;
        o0 = m0 + s12 + s34;
        o1 = Vector256.FusedMultiplyAdd(Vector256.Create(2f), d34, d12);
        o2 = Vector256.FusedMultiplyAdd(Vector256.Create(4f), s34, s12);
        o3 = Vector256.FusedMultiplyAdd(Vector256.Create(8f), d34, d12) + m5;
    }

    /// <summary>
    /// Copies an <paramref name="h"/> x <paramref name="w"/> plane into the zero-padded <paramref name="hp"/> x
    /// <paramref name="wp"/> layout the tiles read: the image at row <paramref name="ph"/> and column
    /// <paramref name="pw"/>, zeros around it up to the last tile's sixth row and column.
    /// </summary>
    internal static void PadPlane(float* src, int h, int w, int ph, int pw, float* dst, int hp, int wp) =>
        PadRows(src, h, w, ph, pw, dst, wp, 0, hp);

    /// <summary>
    /// Rows [<paramref name="first"/>, first + <paramref name="rows"/>) of that zero-padded layout, written one after
    /// another from <paramref name="dst"/> (a band of the padded plane: padded row r is image row r − ph, or zeros).
    /// </summary>
    internal static void PadRows(float* src, int h, int w, int ph, int pw, float* dst, int wp, int first, int rows)
    {
        for (int pr = first; pr < first + rows; pr++, dst += wp)
        {
            int r = pr - ph;
            if ((uint)r >= (uint)h)
            {
                new Span<float>(dst, wp).Clear();
                continue;
            }
            new Span<float>(dst, pw).Clear();
            new ReadOnlySpan<float>(src + (long)r * w, w).CopyTo(new Span<float>(dst + pw, w));
            new Span<float>(dst + pw + w, wp - pw - w).Clear();
        }
    }
}
