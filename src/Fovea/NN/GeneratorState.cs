namespace Fovea.NN;

/// <summary>
/// A <see cref="Generator"/>'s seed and position as a state-dict tensor: int32 [4] holding the low and high 32 bits
/// of the seed, then of the position (the tensor dtypes have no 64-bit integer). Layers that draw random numbers
/// while training register it with <c>RegisterState</c>, so a checkpoint carries where their generator stands.
/// </summary>
public static class GeneratorState
{
    /// <summary>The state of <paramref name="generator"/> as int32 [seed low, seed high, position low, position high].</summary>
    public static Tensor ToTensor(Generator generator)
    {
        var (seed, position) = generator.State;
        ulong pos = (ulong)position;
        return Tensor.FromArray(new[] { (int)(uint)seed, (int)(uint)(seed >> 32), (int)(uint)pos, (int)(uint)(pos >> 32) }, 4);
    }

    /// <summary>Sets <paramref name="generator"/> to the state <paramref name="state"/> holds (written by <see cref="ToTensor"/>).</summary>
    /// <exception cref="ArgumentException"><paramref name="state"/> is not an int32 tensor of 4 elements, or holds a negative position.</exception>
    public static void Load(Generator generator, Tensor state)
    {
        if (state.DType != DType.Int32 || state.Rank != 1 || state.Size(0) != 4)
            throw new ArgumentException($"a generator state is int32 [4], got {state.DType.Name()} {ShapeChecks.Format(state.Shape)}");
        var v = state.Contiguous().ToArray<int>();
        ulong seed = (uint)v[0] | ((ulong)(uint)v[1] << 32);
        long position = (long)((uint)v[2] | ((ulong)(uint)v[3] << 32));
        if (position < 0) throw new ArgumentException($"a generator position must be non-negative, got {position}");
        generator.SetState(seed, position);
    }
}
