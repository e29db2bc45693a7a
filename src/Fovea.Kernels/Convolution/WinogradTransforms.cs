using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

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

    /// <summary>
    /// V = Bᵀ d B for 8 tiles: element (i, j) of the 6x6 tile d of lane l is src[<paramref name="index"/>[l] + i·<paramref name="rowStride"/> + j]
    /// (eight scalar loads per vector: hardware gathers measured slower here);
    /// element ξ = 6a + b of V goes to dst[ξ·<paramref name="dstStride"/> + l].
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Input(float* src, int* index, nint rowStride, float* dst, nint dstStride)
    {
        Vector256<float>* t = stackalloc Vector256<float>[36];
        // Columns: t[a][j] = Σ_i Bᵀ[a][i] d[i][j].
        for (int j = 0; j < 6; j++)
        {
            float* s = src + j;
            Input1d(Gather(s, index), Gather(s + rowStride, index), Gather(s + 2 * rowStride, index), Gather(s + 3 * rowStride, index),
                Gather(s + 4 * rowStride, index), Gather(s + 5 * rowStride, index),
                out t[j], out t[6 + j], out t[12 + j], out t[18 + j], out t[24 + j], out t[30 + j]);
        }
        // Rows: V[a][b] = Σ_j t[a][j] B[j][b].
        for (int a = 0; a < 6; a++)
        {
            Vector256<float>* r = t + 6 * a;
            Input1d(r[0], r[1], r[2], r[3], r[4], r[5], out var v0, out var v1, out var v2, out var v3, out var v4, out var v5);
            float* d = dst + 6 * a * dstStride;
            v0.Store(d);
            v1.Store(d + dstStride);
            v2.Store(d + 2 * dstStride);
            v3.Store(d + 3 * dstStride);
            v4.Store(d + 4 * dstStride);
            v5.Store(d + 5 * dstStride);
        }
    }

    /// <summary>p[index[l]] for the 8 lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Gather(float* p, int* index) =>
        Vector256.Create(p[index[0]], p[index[1]], p[index[2]], p[index[3]], p[index[4]], p[index[5]], p[index[6]], p[index[7]]);

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
}
