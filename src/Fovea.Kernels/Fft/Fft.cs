using System.Buffers;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;

namespace Fovea.Kernels.Fft;

/// <summary>
/// Complex discrete Fourier transforms of any length, in double precision, on split real/imaginary spans.
/// Forward: <c>X[k] = Σ_j x[j] e^{−2πi jk/n}</c>; inverse: <c>x[j] = (1/n) Σ_k X[k] e^{+2πi jk/n}</c>.
/// Powers of two run radix-2; other lengths run Bluestein's algorithm (O(n log n) for every n, primes included).
/// </summary>
public static unsafe class Fft
{
    /// <summary>In-place forward DFT of the complex signal <c>re + i·im</c>.</summary>
    public static void Forward(Span<double> re, Span<double> im) => Transform1D(re, im, inverse: false);

    /// <summary>In-place inverse DFT (scaled by <c>1/n</c>) of the complex signal <c>re + i·im</c>.</summary>
    public static void Inverse(Span<double> re, Span<double> im) => Transform1D(re, im, inverse: true);

    /// <summary>In-place forward DFT of <paramref name="data"/>.</summary>
    public static void Forward(Span<Complex> data) => TransformComplex(data, inverse: false);

    /// <summary>In-place inverse DFT (scaled by <c>1/n</c>) of <paramref name="data"/>.</summary>
    public static void Inverse(Span<Complex> data) => TransformComplex(data, inverse: true);

    /// <summary>
    /// In-place forward 2-D DFT of a row-major <c>[height, width]</c> complex plane:
    /// <c>X[v, u] = Σ_{y,x} x[y, x] e^{−2πi (vy/height + ux/width)}</c>.
    /// </summary>
    public static void Forward2D(Span<double> re, Span<double> im, int width, int height) => Transform2D(re, im, width, height, inverse: false);

    /// <summary>In-place inverse 2-D DFT (scaled by <c>1/(width·height)</c>) of a row-major <c>[height, width]</c> complex plane.</summary>
    public static void Inverse2D(Span<double> re, Span<double> im, int width, int height) => Transform2D(re, im, width, height, inverse: true);

    private static void Transform1D(Span<double> re, Span<double> im, bool inverse)
    {
        if (re.Length != im.Length)
            throw new ArgumentException($"Fft: real and imaginary parts must have the same length, got {re.Length} and {im.Length}.", nameof(im));
        int n = re.Length;
        if (n == 0) return;
        fixed (double* r = re, i = im)
        {
            FftPlan.Get(n).Columns(r, i, 1, 1, inverse);
        }
        if (inverse) Scale(re, im, 1.0 / n);
    }

    private static void TransformComplex(Span<Complex> data, bool inverse)
    {
        int n = data.Length;
        if (n == 0) return;
        double[] re = ArrayPool<double>.Shared.Rent(n), im = ArrayPool<double>.Shared.Rent(n);
        try
        {
            for (int k = 0; k < n; k++) { re[k] = data[k].Real; im[k] = data[k].Imaginary; }
            Transform1D(re.AsSpan(0, n), im.AsSpan(0, n), inverse);
            for (int k = 0; k < n; k++) data[k] = new Complex(re[k], im[k]);
        }
        finally
        {
            ArrayPool<double>.Shared.Return(re);
            ArrayPool<double>.Shared.Return(im);
        }
    }

    private static void Transform2D(Span<double> re, Span<double> im, int width, int height, bool inverse)
    {
        if (width < 1 || height < 1)
            throw new ArgumentException($"Fft: plane size must be at least 1x1, got {width}x{height}.", nameof(width));
        long n = (long)width * height;
        if (re.Length < n || im.Length < n)
            throw new ArgumentException($"Fft: a {width}x{height} plane needs {n} values per part, got {re.Length} and {im.Length}.", nameof(re));
        double[] tr = ArrayPool<double>.Shared.Rent((int)n), ti = ArrayPool<double>.Shared.Rent((int)n);
        try
        {
            fixed (double* r = re, i = im, sr = tr, si = ti)
            {
                // Along y for all columns at once, then transpose so x becomes the column index, transform, transpose back.
                ColumnsParallel(r, i, height, width, inverse);
                Transpose(r, sr, height, width);
                Transpose(i, si, height, width);
                ColumnsParallel(sr, si, width, height, inverse);
                Transpose(sr, r, width, height);
                Transpose(si, i, width, height);
            }
        }
        finally
        {
            ArrayPool<double>.Shared.Return(tr);
            ArrayPool<double>.Shared.Return(ti);
        }
        if (inverse) Scale(re.Slice(0, (int)n), im.Slice(0, (int)n), 1.0 / n);
    }

    /// <summary>Transforms the <paramref name="count"/> columns (length <paramref name="n"/>, stride <paramref name="count"/>) split over threads.</summary>
    internal static void ColumnsParallel(double* re, double* im, int n, int count, bool inverse)
    {
        var plan = FftPlan.Get(n);
        // Column blocks of at least 16 keep the vector loops long; a task should hold ~64K butterflies of work.
        int grain = Math.Max(16, (1 << 16) / Math.Max(1, n));
        if (ParallelFor.ChunkCount(count, grain) <= 1)
        {
            plan.Columns(re, im, count, count, inverse);
            return;
        }
        nint pr = (nint)re, pi = (nint)im;
        ParallelFor.For(count, grain, (c0, c1) => plan.Columns((double*)pr + c0, (double*)pi + c0, count, c1 - c0, inverse));
    }

    /// <summary>dst[c, r] = src[r, c] for a rows x cols source, in cache-sized tiles of 4x4 register transposes.</summary>
    internal static void Transpose(double* src, double* dst, int rows, int cols) => Transpose(src, cols, dst, rows, rows, cols);

    /// <summary>
    /// dst[c·dstStride + r] = src[r·srcStride + c] for <paramref name="rows"/> x <paramref name="cols"/> elements: the strided form,
    /// for blocks of larger planes.
    /// </summary>
    internal static void Transpose(double* src, int srcStride, double* dst, int dstStride, int rows, int cols)
    {
        const int tile = 32;
        bool avx = Avx.IsSupported && (Simd.SimdWidth.Use256 || Simd.SimdWidth.Use512);
        for (int r0 = 0; r0 < rows; r0 += tile)
            for (int c0 = 0; c0 < cols; c0 += tile)
            {
                int r1 = Math.Min(rows, r0 + tile), c1 = Math.Min(cols, c0 + tile);
                int r = r0;
                if (avx)
                {
                    for (; r <= r1 - 4; r += 4)
                    {
                        int c = c0;
                        for (; c <= c1 - 4; c += 4) Transpose4x4(src + (long)r * srcStride + c, srcStride, dst + (long)c * dstStride + r, dstStride);
                        for (; c < c1; c++)
                            for (int k = 0; k < 4; k++) dst[(long)c * dstStride + r + k] = src[(long)(r + k) * srcStride + c];
                    }
                }
                for (; r < r1; r++)
                    for (int c = c0; c < c1; c++) dst[(long)c * dstStride + r] = src[(long)r * srcStride + c];
            }
    }

    // Four rows a..d of four doubles become four columns: unpack pairs within 128-bit lanes, then swap lane halves.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose4x4(double* src, int srcStride, double* dst, int dstStride)
    {
        var a = Avx.LoadVector256(src);
        var b = Avx.LoadVector256(src + srcStride);
        var c = Avx.LoadVector256(src + 2 * srcStride);
        var d = Avx.LoadVector256(src + 3 * srcStride);
        var ab0 = Avx.UnpackLow(a, b);   // a0 b0 a2 b2
        var ab1 = Avx.UnpackHigh(a, b);  // a1 b1 a3 b3
        var cd0 = Avx.UnpackLow(c, d);   // c0 d0 c2 d2
        var cd1 = Avx.UnpackHigh(c, d);  // c1 d1 c3 d3
        Avx.Store(dst, Avx.Permute2x128(ab0, cd0, 0x20));                 // a0 b0 c0 d0
        Avx.Store(dst + dstStride, Avx.Permute2x128(ab1, cd1, 0x20));     // a1 b1 c1 d1
        Avx.Store(dst + 2 * dstStride, Avx.Permute2x128(ab0, cd0, 0x31)); // a2 b2 c2 d2
        Avx.Store(dst + 3 * dstStride, Avx.Permute2x128(ab1, cd1, 0x31)); // a3 b3 c3 d3
    }

    private static void Scale(Span<double> re, Span<double> im, double s)
    {
        System.Numerics.Tensors.TensorPrimitives.Multiply(re, s, re);
        System.Numerics.Tensors.TensorPrimitives.Multiply(im, s, im);
    }
}
