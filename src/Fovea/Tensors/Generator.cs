using Fovea.Backends;

namespace Fovea;

/// <summary>
/// A seeded, counter-based random generator: element i of a draw is a hash of (seed, position), so the
/// same seed gives the same numbers whatever the thread count, and draws can be filled in parallel.
/// Each draw advances the position by the number of values it used.
/// </summary>
public sealed class Generator
{
    private ulong _seed;
    private long _position;

    /// <summary>Creates a generator with <paramref name="seed"/>.</summary>
    public Generator(ulong seed = 0) => _seed = seed;

    /// <summary>The generator used when none is passed (seed 0 until <see cref="ManualSeed"/>).</summary>
    public static Generator Default { get; } = new();

    /// <summary>Restarts the sequence from <paramref name="seed"/>.</summary>
    public Generator ManualSeed(ulong seed)
    {
        _seed = seed;
        _position = 0;
        return this;
    }

    /// <summary>
    /// Jumps to the start of independent stream <paramref name="stream"/> (2^32 values each), e.g. one per epoch,
    /// so a run resumed at epoch k draws what an uninterrupted run would have.
    /// </summary>
    public Generator SelectStream(long stream)
    {
        _position = stream << 32;
        return this;
    }

    /// <summary>The seed and position, for checkpoints (restore with <see cref="SetState"/>).</summary>
    public (ulong Seed, long Position) State => (_seed, _position);

    /// <summary>Restores a state from <see cref="State"/>.</summary>
    public void SetState(ulong seed, long position)
    {
        _seed = seed;
        _position = position;
    }

    /// <summary>SplitMix64 finaliser of (seed, counter): a well-mixed 64-bit value.</summary>
    public static ulong Hash(ulong seed, ulong counter)
    {
        ulong z = seed * 0xD1B54A32D192ED03UL + counter * 0x9E3779B97F4A7C15UL + 0x632BE59BD9B4E019UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    private long Reserve(long count)
    {
        long start = _position;
        _position += count;
        return start;
    }

    /// <summary>
    /// Takes the next <paramref name="count"/> values of the sequence for a fill: the backend's fill primitive draws
    /// value i from counter start + i, so the numbers do not depend on the backend or its threads.
    /// </summary>
    public RandomStream Take(long count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        return new RandomStream(_seed, Reserve(count));
    }

    /// <summary>A uniform integer in [0, n): for shuffles and sampling.</summary>
    public int NextInt(int n)
    {
        if (n <= 0) throw new ArgumentOutOfRangeException(nameof(n), n, "NextInt needs n > 0");
        ulong h = Hash(_seed, (ulong)Reserve(1));
        return (int)((h >> 33) % (ulong)n);
    }

    /// <summary>A uniform double in [0, 1).</summary>
    public double NextDouble() => (Hash(_seed, (ulong)Reserve(1)) >> 11) * (1.0 / (1UL << 53));

    /// <summary>A random permutation of 0..n-1 (Fisher–Yates).</summary>
    public int[] Permutation(int n)
    {
        var p = new int[n];
        for (int i = 0; i < n; i++) p[i] = i;
        for (int i = n - 1; i > 0; i--)
        {
            int j = NextInt(i + 1);
            (p[i], p[j]) = (p[j], p[i]);
        }
        return p;
    }
}
