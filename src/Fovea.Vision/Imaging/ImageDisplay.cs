namespace Fovea.Vision.Imaging;

/// <summary>
/// Maps tensors that are not images in [0, 1] (Laplacian and steerable bands, filter responses, score maps) into [0, 1]
/// for viewing, and lays several images out in one mosaic.
/// </summary>
public static class ImageDisplay
{
    /// <summary>
    /// A signed band shown around mid-gray: <c>0.5 + v / (2·max|v|)</c> over the whole tensor, so 0 is 0.5 and the largest
    /// magnitude reaches 0 or 1 (an all-zero band is uniformly 0.5).
    /// </summary>
    public static Tensor Signed(Tensor band)
    {
        ArgumentNullException.ThrowIfNull(band);
        var f = band.Detach().To(DType.Float32).Contiguous();
        float max = 0;
        foreach (float v in f.AsSpan<float>()) max = Math.Max(max, Math.Abs(v));
        return max > 0 ? f.Mul(0.5 / max).Add(0.5) : Tensor.Full(f.Shape, 0.5, DType.Float32);
    }

    /// <summary>Linear stretch of the tensor's range to [0, 1] (a constant tensor becomes 0).</summary>
    public static Tensor MinMax(Tensor values)
    {
        ArgumentNullException.ThrowIfNull(values);
        var f = values.Detach().To(DType.Float32).Contiguous();
        float lo = float.PositiveInfinity, hi = float.NegativeInfinity;
        foreach (float v in f.AsSpan<float>())
        {
            if (float.IsNaN(v)) continue;
            lo = Math.Min(lo, v);
            hi = Math.Max(hi, v);
        }
        return hi > lo ? f.Sub(lo).Mul(1.0 / (hi - lo)) : Tensor.Zeros(f.Shape, DType.Float32);
    }

    /// <summary>
    /// Places <c>[C, h, w]</c> tiles (all with the same C) on a zero canvas <c>[C, height, width]</c> at the given top-left
    /// corners; tiles are clipped to the canvas.
    /// </summary>
    public static ImagePlanes Mosaic(int channels, int height, int width, IEnumerable<(Tensor Tile, int X, int Y)> tiles)
    {
        ArgumentNullException.ThrowIfNull(tiles);
        var canvas = ImagePlanes.Zeros(channels, height, width);
        foreach (var (tile, x0, y0) in tiles)
        {
            var img = ImagePlanes.FromTensor(tile);
            if (img.Channels != channels)
                throw new ArgumentException($"mosaic: every tile needs {channels} channels, got {img.Channels}.", nameof(tiles));
            for (int c = 0; c < channels; c++)
            {
                Span<float> dst = canvas.Plane(c), src = img.Plane(c);
                for (int y = 0; y < img.Height && y0 + y < height; y++)
                {
                    int n = Math.Min(img.Width, width - x0);
                    if (n > 0) src.Slice(y * img.Width, n).CopyTo(dst.Slice((y0 + y) * width + x0, n));
                }
            }
        }
        return canvas;
    }

    /// <summary>
    /// The classic pyramid mosaic: level 0 on the left, the coarser levels stacked top to bottom in a column to its right.
    /// </summary>
    public static ImagePlanes PyramidMosaic(IReadOnlyList<Tensor> levels)
    {
        ArgumentNullException.ThrowIfNull(levels);
        if (levels.Count == 0) throw new ArgumentException("mosaic: no levels.", nameof(levels));
        int c = levels[0].Rank == 3 ? levels[0].Size(0) : 1;
        int h0 = levels[0].Size(-2), w0 = levels[0].Size(-1);
        int column = 0, right = 0;
        var placed = new List<(Tensor, int, int)> { (levels[0], 0, 0) };
        for (int i = 1; i < levels.Count; i++)
        {
            placed.Add((levels[i], w0, column));
            column += levels[i].Size(-2);
            right = Math.Max(right, levels[i].Size(-1));
        }
        return Mosaic(c, Math.Max(h0, column), w0 + right, placed);
    }
}
