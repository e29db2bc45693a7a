namespace Fovea.Kernels.Matching;

/// <summary>
/// Integral images (summed-area tables) with double accumulation, OpenCV's layout: for a <c>[height, width]</c> plane
/// the tables are <c>[height + 1, width + 1]</c> with a zero first row and column, and
/// <c>sum(y, x) = Σ_{y' &lt; y, x' &lt; x} src(y', x')</c>. Any window sum is then four lookups.
/// </summary>
public static class IntegralImage
{
    /// <summary>Fills <paramref name="sum"/> (and <paramref name="sumSquares"/> unless empty) for <paramref name="src"/>.</summary>
    public static void Compute(ReadOnlySpan<float> src, int width, int height, Span<double> sum, Span<double> sumSquares)
    {
        Filtering.PyrKernels.CheckPlane(src.Length, width, height, nameof(src), "IntegralImage");
        int stride = width + 1;
        long need = (long)stride * (height + 1);
        bool squares = !sumSquares.IsEmpty;
        if (sum.Length < need || (squares && sumSquares.Length < need))
            throw new ArgumentException($"IntegralImage: tables for {width}x{height} need {need} values, got {sum.Length} and {sumSquares.Length}.");
        sum.Slice(0, stride).Clear();
        if (squares) sumSquares.Slice(0, stride).Clear();
        for (int y = 0; y < height; y++)
        {
            ReadOnlySpan<float> row = src.Slice(y * width, width);
            Span<double> above = sum.Slice(y * stride, stride), cur = sum.Slice((y + 1) * stride, stride);
            double run = 0;
            cur[0] = 0;
            for (int x = 0; x < width; x++)
            {
                run += row[x];
                cur[x + 1] = above[x + 1] + run;
            }
            if (!squares) continue;
            above = sumSquares.Slice(y * stride, stride);
            cur = sumSquares.Slice((y + 1) * stride, stride);
            run = 0;
            cur[0] = 0;
            for (int x = 0; x < width; x++)
            {
                run += (double)row[x] * row[x];
                cur[x + 1] = above[x + 1] + run;
            }
        }
    }

    /// <summary>Sum over the window with top-left <c>(x, y)</c> and size <c>w x h</c> from a table of row stride <paramref name="stride"/>.</summary>
    public static double WindowSum(ReadOnlySpan<double> table, int stride, int x, int y, int w, int h)
        => table[(y + h) * stride + x + w] - table[y * stride + x + w] - table[(y + h) * stride + x] + table[y * stride + x];
}
