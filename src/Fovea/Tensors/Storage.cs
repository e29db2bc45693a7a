namespace Fovea;

/// <summary>
/// The flat buffer behind one or more tensors. Views share a storage; <see cref="Version"/> counts
/// in-place writes so that autograd can tell when a tensor it saved was modified afterwards.
/// </summary>
public sealed class Storage
{
    /// <summary>The backing array: float[], double[], int[] or bool[], matching <see cref="DType"/>.</summary>
    public Array Data { get; }

    /// <summary>Element type of <see cref="Data"/>.</summary>
    public DType DType { get; }

    /// <summary>Number of elements in the buffer.</summary>
    public int Length => Data.Length;

    /// <summary>Bumped by every in-place write through any view of this storage.</summary>
    public int Version { get; private set; }

    internal Storage(Array data, DType dtype)
    {
        Data = data;
        DType = dtype;
    }

    /// <summary>Allocates a zeroed storage of <paramref name="length"/> elements (counted against an open <see cref="StorageBudget"/>).</summary>
    public static Storage Allocate(DType dtype, int length)
    {
        StorageBudget.Charge(dtype, length);
        return dtype switch
        {
            DType.Float32 => new Storage(new float[length], dtype),
            DType.Float64 => new Storage(new double[length], dtype),
            DType.Int32 => new Storage(new int[length], dtype),
            DType.Bool => new Storage(new bool[length], dtype),
            _ => throw new ArgumentOutOfRangeException(nameof(dtype)),
        };
    }

    /// <summary>Allocates without clearing: for outputs that every element of is about to be written.</summary>
    internal static Storage AllocateUninitialized(DType dtype, int length)
    {
        StorageBudget.Charge(dtype, length);
        return dtype switch
        {
            DType.Float32 => new Storage(GC.AllocateUninitializedArray<float>(length), dtype),
            DType.Float64 => new Storage(GC.AllocateUninitializedArray<double>(length), dtype),
            DType.Int32 => new Storage(GC.AllocateUninitializedArray<int>(length), dtype),
            DType.Bool => new Storage(new bool[length], dtype),
            _ => throw new ArgumentOutOfRangeException(nameof(dtype)),
        };
    }

    /// <summary>A storage holding a copy of <paramref name="data"/> (counted against an open <see cref="StorageBudget"/>).</summary>
    internal static Storage Copy<T>(ReadOnlySpan<T> data) where T : unmanaged
    {
        var dtype = DTypeInfo.Of<T>();
        StorageBudget.Charge(dtype, data.Length);
        return new Storage(data.ToArray(), dtype);
    }

    /// <summary>Records an in-place modification.</summary>
    internal void BumpVersion() => Version++;

    /// <summary>The typed backing array.</summary>
    internal T[] As<T>() => (T[])Data;
}
