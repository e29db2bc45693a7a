using Fovea.Kernels.Filtering;

namespace Fovea.Kernels.Pyramids;

/// <summary>
/// Gaussian pyramid of one float plane: <c>G_0</c> = the image, <c>G_{i+1} = PyrDown(G_i)</c>
/// (OpenCV's <c>buildPyramid</c>).
/// </summary>
public static class GaussianPyramid
{
    /// <summary>
    /// Fills <paramref name="storage"/> (laid out by <paramref name="layout"/>) with <c>G_0 … G_{L−1}</c>.
    /// </summary>
    public static void Build(ReadOnlySpan<float> image, PyramidLayout layout, Span<float> storage)
    {
        ArgumentNullException.ThrowIfNull(layout);
        layout.CheckImage(image.Length, nameof(image), "GaussianPyramid.Build");
        layout.CheckStorage(storage.Length, nameof(storage), "GaussianPyramid.Build");
        image.Slice(0, layout.LevelLength(0)).CopyTo(layout.Level(storage, 0));
        BuildFrom(image, layout, storage, 1);
    }

    /// <summary>
    /// Fills levels <paramref name="firstLevel"/>.. of <paramref name="storage"/>, computing level
    /// <paramref name="firstLevel"/> from <paramref name="image"/> directly (so level 0 never needs a copy).
    /// </summary>
    internal static void BuildFrom(ReadOnlySpan<float> image, PyramidLayout layout, Span<float> storage, int firstLevel)
    {
        for (int i = firstLevel; i < layout.Levels; i++)
        {
            ReadOnlySpan<float> src = i == 1 ? image.Slice(0, layout.LevelLength(0)) : layout.Level(storage, i - 1);
            PyrKernels.PyrDown(src, layout.LevelWidth(i - 1), layout.LevelHeight(i - 1), layout.Level(storage, i));
        }
    }
}
