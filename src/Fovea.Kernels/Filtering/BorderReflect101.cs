using System.Runtime.CompilerServices;

namespace Fovea.Kernels.Filtering;

/// <summary>
/// OpenCV's BORDER_REFLECT_101 (the default border of <c>pyrDown</c>, <c>pyrUp</c> and <c>filter2D</c>):
/// the signal is mirrored about its first and last sample without repeating them,
/// <c>gfedcb|abcdefgh|gfedcba</c>. Filters precompute the mapping once per call (a border index map)
/// so the inner loops never branch on the border.
/// </summary>
public static class BorderReflect101
{
    /// <summary>
    /// Maps an index <paramref name="p"/> (possibly far outside) into <c>[0, length)</c> by repeated
    /// reflection about the end samples. A length of 1 maps everything to 0.
    /// </summary>
    public static int Index(int p, int length)
    {
        if (length <= 0) throw new ArgumentOutOfRangeException(nameof(length), length, "length must be positive.");
        if (length == 1) return 0;
        // One period of the reflected signal is 2 * (length - 1) samples long.
        int period = 2 * (length - 1);
        int q = p % period;
        if (q < 0) q += period;
        return q < length ? q : period - q;
    }

    /// <summary>
    /// <see cref="Index"/> for an index at most <c>length − 1</c> outside <c>[0, length)</c> (one reflection), without its
    /// division: for the border samples a row kernel computes on every row.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int IndexNear(int p, int length) => p < 0 ? -p : p < length ? p : 2 * length - 2 - p;

    /// <summary>
    /// Fills <paramref name="map"/> with the source index of every position of a row padded by
    /// <paramref name="padBefore"/> samples: <c>map[i] = Index(i - padBefore, length)</c>.
    /// </summary>
    public static void FillMap(Span<int> map, int length, int padBefore)
    {
        for (int i = 0; i < map.Length; i++) map[i] = Index(i - padBefore, length);
    }
}
