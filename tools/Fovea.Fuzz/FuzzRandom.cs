namespace Fovea.Fuzz;

/// <summary>
/// SplitMix64: a small generator whose sequence depends only on its seed (not on the runtime version or the
/// platform, unlike <see cref="System.Random"/>'s unspecified algorithm), so a seed and an input index name one
/// mutant forever.
/// </summary>
public sealed class FuzzRandom(ulong seed)
{
    private ulong _state = seed;

    /// <summary>The generator for input <paramref name="index"/> of <paramref name="target"/> under run seed <paramref name="seed"/>.</summary>
    public static FuzzRandom ForInput(ulong seed, string target, long index) =>
        new(Mix(Mix(seed ^ Fnv1a(target)) + (ulong)index));

    /// <summary>The next 64 random bits.</summary>
    public ulong NextUInt64()
    {
        _state += 0x9E3779B97F4A7C15UL;
        return Mix(_state);
    }

    /// <summary>A uniform integer in [0, <paramref name="bound"/>); <paramref name="bound"/> must be positive.</summary>
    public int Next(int bound)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bound);
        return (int)((NextUInt64() >> 33) % (ulong)bound);
    }

    /// <summary>A uniform integer in [<paramref name="min"/>, <paramref name="max"/>).</summary>
    public int Next(int min, int max) => min + Next(max - min);

    /// <summary>True with probability <paramref name="p"/>.</summary>
    public bool Chance(double p) => (NextUInt64() >> 11) * (1.0 / (1UL << 53)) < p;

    /// <summary>One element of <paramref name="items"/>.</summary>
    public T Pick<T>(IReadOnlyList<T> items) => items[Next(items.Count)];

    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    // string.GetHashCode is randomised per process; the target name must hash the same in every run.
    private static ulong Fnv1a(string text)
    {
        ulong h = 0xCBF29CE484222325UL;
        foreach (char c in text) h = (h ^ c) * 0x100000001B3UL;
        return h;
    }
}
