namespace Fovea.Vision;

/// <summary>A location in a score map and its score.</summary>
/// <param name="X">Column (for a match: the template's left edge).</param>
/// <param name="Y">Row (for a match: the template's top edge).</param>
/// <param name="Score">The map value there.</param>
public readonly record struct Peak(int X, int Y, float Score);

/// <summary>Best-k peak picking with non-maximum suppression on a score map (the engine of <see cref="Matching.FindPeaks"/>).</summary>
internal static class PeakFinder
{
    /// <summary>
    /// Returns up to <paramref name="k"/> peaks of <paramref name="map"/> (<c>[height, width]</c>), best first. Candidates are
    /// local extrema (no 8-neighbour better); they are taken greedily by score, and a candidate closer than
    /// <paramref name="minDistance"/> (Chebyshev distance, i.e. inside the <c>(2·minDistance − 1)</c>-wide square) to an accepted
    /// peak is dropped. Ties go to the earlier row-major position, so the result does not depend on timing. NaNs are skipped.
    /// With <paramref name="lowerIsBetter"/> (SQDIFF maps) minima are found instead.
    /// </summary>
    public static Peak[] FindPeaks(ReadOnlySpan<float> map, int width, int height, int k, int minDistance, bool lowerIsBetter = false)
    {
        if (width < 1 || height < 1 || map.Length < (long)width * height)
            throw new ArgumentException($"FindPeaks: a {width}x{height} map needs {(long)width * height} values, got {map.Length}.", nameof(map));
        if (k < 0) throw new ArgumentOutOfRangeException(nameof(k), k, "FindPeaks: k must not be negative.");
        if (minDistance < 0) throw new ArgumentOutOfRangeException(nameof(minDistance), minDistance, "FindPeaks: minDistance must not be negative.");
        if (k == 0) return [];
        float sign = lowerIsBetter ? -1f : 1f;

        var candidates = new List<(float Score, int Index)>();
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                float v = sign * map[y * width + x];
                if (float.IsNaN(v)) continue;
                bool best = true;
                for (int dy = -1; dy <= 1 && best; dy++)
                    for (int dx = -1; dx <= 1; dx++)
                    {
                        int yy = y + dy, xx = x + dx;
                        if ((dx == 0 && dy == 0) || yy < 0 || yy >= height || xx < 0 || xx >= width) continue;
                        if (sign * map[yy * width + xx] > v) { best = false; break; }
                    }
                if (best) candidates.Add((v, y * width + x));
            }
        candidates.Sort(static (a, b) => a.Score != b.Score ? b.Score.CompareTo(a.Score) : a.Index.CompareTo(b.Index));

        var peaks = new List<Peak>(Math.Min(k, candidates.Count));
        foreach (var (score, index) in candidates)
        {
            int x = index % width, y = index / width;
            bool suppressed = false;
            foreach (var p in peaks)
            {
                if (Math.Max(Math.Abs(p.X - x), Math.Abs(p.Y - y)) < minDistance) { suppressed = true; break; }
            }
            if (suppressed) continue;
            peaks.Add(new Peak(x, y, sign * score));
            if (peaks.Count == k) break;
        }
        return peaks.ToArray();
    }
}
