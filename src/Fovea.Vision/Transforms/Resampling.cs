using Fovea.Vision.Imaging;

namespace Fovea.Vision.Transforms;

/// <summary>
/// Bilinear resampling with antialiasing, the separable scheme of Pillow's <c>ImagingResample</c> that torchvision's
/// <c>resize(..., antialias=True)</c> reproduces: output sample <c>i</c> of an axis scaled by <c>s = in / out</c>
/// is centred at source coordinate <c>c = (i + 0.5)·s</c> and averages the source samples <c>j</c> within
/// <c>support = max(s, 1)</c> of it with the triangle weights <c>w(j) = max(0, 1 − |j + 0.5 − c| / max(s, 1))</c>,
/// normalised to sum 1. Enlarging (<c>s ≤ 1</c>) this is ordinary bilinear interpolation with half-pixel centres;
/// shrinking, the triangle widens to cover every source pixel, so no detail aliases. Rows are resampled first,
/// then columns.
/// </summary>
internal static class Resampling
{
    /// <summary>The taps of one axis: output i reads <c>Count[i]</c> samples from <c>Start[i]</c> with weights at <c>i·Taps</c>.</summary>
    private readonly record struct Axis(int[] Start, int[] Count, float[] Weights, int Taps);

    /// <summary>Weights for resampling the source range [<paramref name="start"/>, start + <paramref name="length"/>) to <paramref name="outSize"/> samples.</summary>
    private static Axis Coefficients(int start, int length, int outSize)
    {
        double scale = (double)length / outSize;
        double filterScale = Math.Max(scale, 1.0);
        double support = filterScale; // the triangle's support is 1, widened by the scale when shrinking
        int taps = (int)Math.Ceiling(support) * 2 + 1;
        var starts = new int[outSize];
        var counts = new int[outSize];
        var weights = new float[outSize * taps];
        Span<double> k = stackalloc double[taps];
        for (int i = 0; i < outSize; i++)
        {
            double center = (i + 0.5) * scale;
            // Pillow truncates toward zero; the clamps keep the taps inside the source range.
            int lo = Math.Max(0, (int)(center - support + 0.5));
            int hi = Math.Min(length, (int)(center + support + 0.5));
            int n = hi - lo;
            double sum = 0;
            for (int j = 0; j < n; j++)
            {
                double x = (j + lo - center + 0.5) / filterScale;
                k[j] = Math.Max(0, 1 - Math.Abs(x));
                sum += k[j];
            }
            for (int j = 0; j < n; j++) weights[i * taps + j] = (float)(sum == 0 ? 0 : k[j] / sum);
            starts[i] = start + lo;
            counts[i] = n;
        }
        return new Axis(starts, counts, weights, taps);
    }

    /// <summary>
    /// The box (<paramref name="top"/>, <paramref name="left"/>, <paramref name="height"/>, <paramref name="width"/>)
    /// of <paramref name="image"/> (inside it) resampled to <paramref name="outHeight"/> x <paramref name="outWidth"/>:
    /// the same as cropping, then resizing.
    /// </summary>
    public static ImagePlanes Resize(ImagePlanes image, int top, int left, int height, int width, int outHeight, int outWidth)
    {
        if (outHeight < 1 || outWidth < 1) throw new ArgumentOutOfRangeException(nameof(outHeight), $"Resize: the output size must be at least 1x1, got {outHeight}x{outWidth}");
        if (top < 0 || left < 0 || height < 1 || width < 1 || top + height > image.Height || left + width > image.Width)
            throw new ArgumentOutOfRangeException(nameof(top), $"Resize: the box ({top}, {left}, {height}x{width}) is not inside the {image.Height}x{image.Width} image");
        var cols = Coefficients(left, width, outWidth);
        var rows = Coefficients(top, height, outHeight);
        int c = image.Channels, w = image.Width;
        var result = ImagePlanes.Zeros(c, outHeight, outWidth);
        // Horizontal pass over the rows of the box only, then the vertical pass.
        var temp = new float[height * outWidth];
        for (int ch = 0; ch < c; ch++)
        {
            ReadOnlySpan<float> src = image.Plane(ch);
            for (int y = 0; y < height; y++)
            {
                var row = src.Slice((top + y) * w, w);
                for (int x = 0; x < outWidth; x++)
                {
                    var k = cols.Weights.AsSpan(x * cols.Taps, cols.Count[x]);
                    var s = row.Slice(cols.Start[x], k.Length);
                    float sum = 0;
                    for (int j = 0; j < k.Length; j++) sum += k[j] * s[j];
                    temp[y * outWidth + x] = sum;
                }
            }
            Span<float> dst = result.Plane(ch);
            for (int y = 0; y < outHeight; y++)
            {
                var k = rows.Weights.AsSpan(y * rows.Taps, rows.Count[y]);
                int first = rows.Start[y] - top;
                var outRow = dst.Slice(y * outWidth, outWidth);
                for (int j = 0; j < k.Length; j++)
                {
                    float kj = k[j];
                    var tRow = temp.AsSpan((first + j) * outWidth, outWidth);
                    for (int x = 0; x < outWidth; x++) outRow[x] += kj * tRow[x];
                }
            }
        }
        return result;
    }

    /// <summary>
    /// The <paramref name="height"/> x <paramref name="width"/> window of <paramref name="image"/> at
    /// (<paramref name="top"/>, <paramref name="left"/>), zeros where it reaches outside the image.
    /// </summary>
    public static ImagePlanes Crop(ImagePlanes image, int top, int left, int height, int width)
    {
        var result = ImagePlanes.Zeros(image.Channels, height, width);
        int y0 = Math.Max(0, -top), y1 = Math.Min(height, image.Height - top);
        int x0 = Math.Max(0, -left), x1 = Math.Min(width, image.Width - left);
        if (y0 >= y1 || x0 >= x1) return result;
        for (int ch = 0; ch < image.Channels; ch++)
        {
            ReadOnlySpan<float> src = image.Plane(ch);
            Span<float> dst = result.Plane(ch);
            for (int y = y0; y < y1; y++)
                src.Slice((top + y) * image.Width + left + x0, x1 - x0).CopyTo(dst.Slice(y * width + x0, x1 - x0));
        }
        return result;
    }
}
