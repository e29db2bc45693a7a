using Fovea.Kernels.Filtering;

namespace Fovea.Kernels.Pyramids;

/// <summary>
/// Sizes and offsets of the levels of a Gaussian or Laplacian pyramid stored back to back in one float buffer,
/// finest level first. Level <c>i + 1</c> is <see cref="PyrKernels.DownSize"/> of level <c>i</c> in each axis,
/// as OpenCV's <c>buildPyramid</c>; a 1x1 level stays 1x1.
/// </summary>
public sealed class PyramidLayout
{
    private readonly int[] _widths, _heights, _offsets;

    private PyramidLayout(int[] widths, int[] heights, int[] offsets, int totalLength)
    {
        _widths = widths;
        _heights = heights;
        _offsets = offsets;
        TotalLength = totalLength;
    }

    /// <summary>Creates the layout of a <paramref name="levels"/>-level pyramid over a <paramref name="width"/> x <paramref name="height"/> plane.</summary>
    public static PyramidLayout Create(int width, int height, int levels)
    {
        if (width < 1 || height < 1)
            throw new ArgumentException($"pyramid: image size must be at least 1x1, got {width}x{height}.", nameof(width));
        if (levels < 1)
            throw new ArgumentOutOfRangeException(nameof(levels), levels, "pyramid: levels must be at least 1.");
        var w = new int[levels];
        var h = new int[levels];
        var o = new int[levels];
        long total = 0;
        for (int i = 0; i < levels; i++)
        {
            w[i] = i == 0 ? width : PyrKernels.DownSize(w[i - 1]);
            h[i] = i == 0 ? height : PyrKernels.DownSize(h[i - 1]);
            o[i] = (int)total;
            total += (long)w[i] * h[i];
            if (total > int.MaxValue)
                throw new ArgumentException($"pyramid: {width}x{height} with {levels} levels does not fit one buffer.", nameof(width));
        }
        return new PyramidLayout(w, h, o, (int)total);
    }

    /// <summary>Number of levels, including the coarsest (the low-pass residual of a Laplacian pyramid).</summary>
    public int Levels => _widths.Length;

    /// <summary>Width of the finest level (the image).</summary>
    public int Width => _widths[0];

    /// <summary>Height of the finest level (the image).</summary>
    public int Height => _heights[0];

    /// <summary>Floats needed to hold every level.</summary>
    public int TotalLength { get; }

    /// <summary>Width of level <paramref name="level"/>.</summary>
    public int LevelWidth(int level) => _widths[level];

    /// <summary>Height of level <paramref name="level"/>.</summary>
    public int LevelHeight(int level) => _heights[level];

    /// <summary>Offset of level <paramref name="level"/> in the pyramid buffer.</summary>
    public int Offset(int level) => _offsets[level];

    /// <summary>Number of floats of level <paramref name="level"/>.</summary>
    public int LevelLength(int level) => _widths[level] * _heights[level];

    /// <summary>The slice of <paramref name="storage"/> holding level <paramref name="level"/>.</summary>
    public Span<float> Level(Span<float> storage, int level) => storage.Slice(_offsets[level], LevelLength(level));

    /// <summary>The slice of <paramref name="storage"/> holding level <paramref name="level"/>.</summary>
    public ReadOnlySpan<float> Level(ReadOnlySpan<float> storage, int level) => storage.Slice(_offsets[level], LevelLength(level));

    internal void CheckStorage(int length, string name, string op)
    {
        if (length < TotalLength)
            throw new ArgumentException($"{op}: {name} holds {length} floats, the {Levels}-level pyramid of {Width}x{Height} needs {TotalLength}.", name);
    }

    internal void CheckImage(int length, string name, string op)
    {
        if (length < (long)Width * Height)
            throw new ArgumentException($"{op}: {name} holds {length} floats, a {Width}x{Height} image needs {(long)Width * Height}.", name);
    }
}
