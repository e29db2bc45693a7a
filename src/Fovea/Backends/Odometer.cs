namespace Fovea.Backends;

/// <summary>Steps a multi-index through a shape in row-major order (the last dim fastest).</summary>
internal static class Odometer
{
    /// <summary>Advances <paramref name="pos"/> by one element of <paramref name="shape"/>; returns false after the last.</summary>
    public static bool Advance(Span<int> pos, ReadOnlySpan<int> shape)
    {
        for (int d = shape.Length - 1; d >= 0; d--)
        {
            if (++pos[d] < shape[d]) return true;
            pos[d] = 0;
        }
        return false;
    }
}
