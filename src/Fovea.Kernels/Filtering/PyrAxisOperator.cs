using System.Numerics;

namespace Fovea.Kernels.Filtering;

/// <summary>
/// One axis of a pyramid resampling as a sparse matrix <c>A</c> (<see cref="OutLength"/> x <see cref="InLength"/>), rows
/// stored back to back. PyrDown and PyrUp are separable, so on a plane <c>X</c> they are <c>A_y · X · A_xᵀ</c>, and
/// their adjoints are <c>A_yᵀ · G · A_x</c>: the same entries read the other way. Holding both directions in one table
/// is what makes the backward exactly the transpose of the forward, at every size and border.
/// This is the float64 path of the forward (the SIMD kernels are float32 only) and the path of both adjoints.
/// </summary>
public sealed class PyrAxisOperator
{
    private static readonly double[] Binomial = [1, 4, 6, 4, 1];
    private readonly int[] _out, _in;
    private readonly double[] _w;

    private PyrAxisOperator(int inLength, int outLength, List<(int Out, int In, double W)> entries)
    {
        InLength = inLength;
        OutLength = outLength;
        _out = entries.Select(e => e.Out).ToArray();
        _in = entries.Select(e => e.In).ToArray();
        _w = entries.Select(e => e.W).ToArray();
    }

    /// <summary>Length of the axis the forward operator reads.</summary>
    public int InLength { get; }

    /// <summary>Length of the axis the forward operator writes.</summary>
    public int OutLength { get; }

    /// <summary>PyrDown along one axis: <c>out[i] = Σ_k b_k / 16 · in[r(2i + k − 2)]</c>, r = BORDER_REFLECT_101.</summary>
    public static PyrAxisOperator Down(int n)
    {
        int m = PyrKernels.DownSize(n);
        var e = new List<(int, int, double)>(5 * m);
        for (int i = 0; i < m; i++)
            for (int k = 0; k < 5; k++) e.Add((i, BorderReflect101.Index(2 * i + k - 2, n), Binomial[k] / 16));
        return new PyrAxisOperator(n, m, e);
    }

    /// <summary>
    /// PyrUp along one axis to <paramref name="m"/> samples: <c>out[y] = Σ_k b_k / 8 · u(r(y + k − 2))</c> with the zero-inserted
    /// <c>u(2s) = in[s]</c> reflected over <c>2n</c> samples (the two axis factors give OpenCV's 4·b bᵀ / 256 = b bᵀ / 64).
    /// OpenCV's extra sample of a <c>2n + 1</c> output copies sample <c>2n − 1</c> along x (<paramref name="rows"/> false) and
    /// sample <c>2n − 2</c> along y (the kernel documents the same asymmetry).
    /// </summary>
    public static PyrAxisOperator Up(int n, int m, bool rows)
    {
        var e = new List<(int Out, int In, double W)>(3 * m);
        for (int y = 0; y < Math.Min(m, 2 * n); y++)
            for (int k = 0; k < 5; k++)
            {
                int p = BorderReflect101.Index(y + k - 2, 2 * n);
                if ((p & 1) == 0) e.Add((y, p / 2, Binomial[k] / 8));
            }
        if (m == 2 * n + 1)
        {
            int copy = rows ? 2 * n - 2 : 2 * n - 1;
            foreach (var x in e.Where(x => x.Out == copy).ToArray()) e.Add((2 * n, x.In, x.W));
        }
        return new PyrAxisOperator(n, m, e);
    }

    /// <summary>
    /// <c>dst = A·src</c> (or <c>Aᵀ·src</c> when <paramref name="transpose"/>) along one axis of each of <paramref name="lines"/>
    /// lines; element <c>j</c> of line <c>l</c> sits at <c>l·lineStride + j·step</c>.
    /// </summary>
    private void ApplyLines<T>(ReadOnlySpan<T> src, Span<T> dst, bool transpose, int lines, int srcLineStride, int dstLineStride, int step)
        where T : unmanaged, IFloatingPoint<T>
    {
        int[] to = transpose ? _in : _out, from = transpose ? _out : _in;
        for (int l = 0; l < lines; l++)
        {
            int s0 = l * srcLineStride, d0 = l * dstLineStride;
            for (int e = 0; e < _w.Length; e++)
                dst[d0 + to[e] * step] += T.CreateTruncating(_w[e]) * src[s0 + from[e] * step];
        }
    }

    /// <summary>
    /// Applies <c>A_y · X · A_xᵀ</c> (or the adjoint <c>A_yᵀ · X · A_x</c>) to each of <paramref name="planes"/> planes of
    /// <paramref name="src"/> into <paramref name="dst"/>, in <typeparamref name="T"/> arithmetic.
    /// </summary>
    public static void ApplyPlanes<T>(ReadOnlySpan<T> src, Span<T> dst, int planes, PyrAxisOperator opY, PyrAxisOperator opX, bool transpose)
        where T : unmanaged, IFloatingPoint<T>
    {
        int rowsIn = transpose ? opY.OutLength : opY.InLength, colsIn = transpose ? opX.OutLength : opX.InLength;
        int rowsOut = transpose ? opY.InLength : opY.OutLength, colsOut = transpose ? opX.InLength : opX.OutLength;
        var tmp = new T[rowsIn * colsOut];
        dst.Slice(0, planes * rowsOut * colsOut).Clear();
        for (int p = 0; p < planes; p++)
        {
            Array.Clear(tmp);
            // Along x: each row is a line of step 1. Then along y: each column is a line of step colsOut.
            opX.ApplyLines(src.Slice(p * rowsIn * colsIn, rowsIn * colsIn), tmp, transpose, rowsIn, colsIn, colsOut, 1);
            opY.ApplyLines<T>(tmp, dst.Slice(p * rowsOut * colsOut, rowsOut * colsOut), transpose, colsOut, 1, 1, colsOut);
        }
    }
}
