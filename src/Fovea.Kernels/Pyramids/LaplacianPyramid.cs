using System.Buffers;
using Fovea.Kernels.Filtering;

namespace Fovea.Kernels.Pyramids;

/// <summary>
/// Laplacian pyramid of one float plane (Burt &amp; Adelson): <c>L_i = G_i − PyrUp(G_{i+1}, size of G_i)</c> for
/// <c>i &lt; L − 1</c> and the low-pass residual <c>L_{L−1} = G_{L−1}</c>. Collapsing runs the same PyrUp
/// backwards, <c>R_i = L_i + PyrUp(R_{i+1})</c>, so the image comes back exactly up to float rounding at any size.
/// </summary>
public static class LaplacianPyramid
{
    /// <summary>Fills <paramref name="storage"/> (laid out by <paramref name="layout"/>) with the Laplacian bands and the residual.</summary>
    public static void Build(ReadOnlySpan<float> image, PyramidLayout layout, Span<float> storage)
    {
        ArgumentNullException.ThrowIfNull(layout);
        layout.CheckImage(image.Length, nameof(image), "LaplacianPyramid.Build");
        layout.CheckStorage(storage.Length, nameof(storage), "LaplacianPyramid.Build");
        if (layout.Levels == 1)
        {
            image.Slice(0, layout.LevelLength(0)).CopyTo(storage);
            return;
        }
        // Gaussian levels 1.. first (level 1 straight from the image), then each band in one fused pass,
        // finest first: band i overwrites G_i only after G_i was used to make G_{i+1}, and reads G_{i+1} intact.
        GaussianPyramid.BuildFrom(image, layout, storage, 1);
        for (int i = 0; i < layout.Levels - 1; i++)
        {
            ReadOnlySpan<float> g = i == 0 ? image.Slice(0, layout.LevelLength(0)) : layout.Level(storage, i);
            PyrKernels.PyrUp(layout.Level(storage, i + 1), layout.LevelWidth(i + 1), layout.LevelHeight(i + 1),
                layout.Level(storage, i), layout.LevelWidth(i), layout.LevelHeight(i), g, PyrUpCombine.Subtract);
        }
    }

    /// <summary>Collapses a Laplacian pyramid into <paramref name="output"/> (the size of level 0).</summary>
    public static void Reconstruct(ReadOnlySpan<float> storage, PyramidLayout layout, Span<float> output)
    {
        ArgumentNullException.ThrowIfNull(layout);
        layout.CheckStorage(storage.Length, nameof(storage), "LaplacianPyramid.Reconstruct");
        layout.CheckImage(output.Length, nameof(output), "LaplacianPyramid.Reconstruct");
        int n = layout.Levels;
        if (n == 1)
        {
            layout.Level(storage, 0).CopyTo(output);
            return;
        }
        // Partial reconstructions of levels 1 .. n-2 go to pooled scratch laid out like the pyramid; level 0 goes
        // straight to the output; the residual is read in place.
        float[] scratch = ArrayPool<float>.Shared.Rent(Math.Max(1, layout.TotalLength - layout.LevelLength(0)));
        try
        {
            int baseOffset = layout.LevelLength(0);
            ReadOnlySpan<float> coarser = layout.Level(storage, n - 1);
            for (int i = n - 2; i >= 0; i--)
            {
                Span<float> target = i == 0
                    ? output.Slice(0, layout.LevelLength(0))
                    : scratch.AsSpan(layout.Offset(i) - baseOffset, layout.LevelLength(i));
                PyrKernels.PyrUp(coarser, layout.LevelWidth(i + 1), layout.LevelHeight(i + 1),
                    target, layout.LevelWidth(i), layout.LevelHeight(i), layout.Level(storage, i), PyrUpCombine.Add);
                coarser = target;
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(scratch);
        }
    }
}
