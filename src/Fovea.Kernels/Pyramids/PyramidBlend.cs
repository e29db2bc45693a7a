using System.Buffers;
using System.Numerics.Tensors;

namespace Fovea.Kernels.Pyramids;

/// <summary>
/// Multiresolution spline (Burt &amp; Adelson 1983): blend two images with a soft mask band by band, so each
/// spatial frequency is mixed over a transition width that matches it and no seam shows.
/// </summary>
public static class PyramidBlend
{
    /// <summary>
    /// Blends planes <paramref name="a"/> and <paramref name="b"/> (each <c>[height, width]</c>): with <c>LA</c>, <c>LB</c>
    /// their Laplacian pyramids and <c>G</c> the Gaussian pyramid of <paramref name="mask"/>,
    /// <c>L_i = G_i·LA_i + (1 − G_i)·LB_i</c>, collapsed into <paramref name="output"/>. <paramref name="levels"/> counts
    /// every level including the low-pass residual, so 1 is a plain alpha blend <c>m·a + (1 − m)·b</c>.
    /// </summary>
    public static void Blend(ReadOnlySpan<float> a, ReadOnlySpan<float> b, ReadOnlySpan<float> mask,
        int width, int height, int levels, Span<float> output)
        => BlendPlanes(a, b, mask, 1, width, height, levels, output);

    /// <summary>
    /// Blends <paramref name="channels"/> planes stored <c>[C, H, W]</c> plane by plane. <paramref name="mask"/> is one
    /// <c>[H, W]</c> plane shared by all channels, or <c>[C, H, W]</c> with one mask per channel.
    /// </summary>
    public static void BlendPlanes(ReadOnlySpan<float> a, ReadOnlySpan<float> b, ReadOnlySpan<float> mask,
        int channels, int width, int height, int levels, Span<float> output)
    {
        if (channels < 1) throw new ArgumentOutOfRangeException(nameof(channels), channels, "Blend: channels must be at least 1.");
        var layout = PyramidLayout.Create(width, height, levels);
        int plane = width * height;
        long need = (long)channels * plane;
        if (a.Length < need || b.Length < need || output.Length < need)
            throw new ArgumentException($"Blend: a, b and output must hold {channels}x{height}x{width} = {need} floats, got {a.Length}, {b.Length}, {output.Length}.");
        bool maskPerChannel = mask.Length >= need && channels > 1;
        if (mask.Length < plane)
            throw new ArgumentException($"Blend: mask must be [{height}, {width}] (or [{channels}, {height}, {width}]), got {mask.Length} floats.", nameof(mask));

        int total = layout.TotalLength;
        float[] buffer = ArrayPool<float>.Shared.Rent(3 * total + total);
        try
        {
            Span<float> la = buffer.AsSpan(0, total), lb = buffer.AsSpan(total, total), gm = buffer.AsSpan(2 * total, total);
            Span<float> diff = buffer.AsSpan(3 * total, total);
            for (int c = 0; c < channels; c++)
            {
                if (c == 0 || maskPerChannel)
                    GaussianPyramid.Build(mask.Slice(maskPerChannel ? c * plane : 0, plane), layout, gm);
                LaplacianPyramid.Build(a.Slice(c * plane, plane), layout, la);
                LaplacianPyramid.Build(b.Slice(c * plane, plane), layout, lb);
                // G·LA + (1 − G)·LB = LB + G·(LA − LB), one multiply per sample.
                TensorPrimitives.Subtract(la, lb, diff);
                TensorPrimitives.MultiplyAdd(diff, gm, lb, la);
                LaplacianPyramid.Reconstruct(la, layout, output.Slice(c * plane, plane));
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(buffer);
        }
    }
}
