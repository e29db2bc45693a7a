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

    /// <summary>
    /// Allocation order of the storages that Fovea allocated itself (<see cref="Allocate"/>, <see cref="AllocateUninitialized"/>,
    /// <see cref="Copy{T}"/>), from 1; 0 for one that wraps an array from elsewhere, which is never pooled. The engine
    /// recycles only gradient buffers allocated during its own pass.
    /// </summary>
    internal long Serial { get; private init; }

    private static long _lastSerial;
    private int _returned;
    private int _savers;
    private int _disowned;

    /// <summary>The serial the next allocated storage will have at least.</summary>
    internal static long NextSerial => Interlocked.Read(ref _lastSerial) + 1;

    internal Storage(Array data, DType dtype)
    {
        Data = data;
        DType = dtype;
    }

    private static Storage Allocated(Array data, DType dtype) => new(data, dtype) { Serial = Interlocked.Increment(ref _lastSerial) };

    /// <summary>Marks the array as handed to <see cref="StoragePool"/>; false if it already was.</summary>
    internal bool MarkReturned() => Interlocked.Exchange(ref _returned, 1) == 0;

    /// <summary>A recorded graph node saved a tensor over this storage for its backward (<see cref="Function"/>).</summary>
    internal void AddSaver() => Interlocked.Increment(ref _savers);

    /// <summary>
    /// A node that saved a tensor over this storage let go of it; true when that was the last such node and the owner
    /// has disowned the storage (<see cref="Disown"/>), so that nothing reads it any more.
    /// </summary>
    internal bool RemoveSaver() => Interlocked.Decrement(ref _savers) == 0 && Volatile.Read(ref _disowned) == 1;

    /// <summary>
    /// The code that made this storage holds it no more (<see cref="StoragePool.Recycle"/>); true when no graph node
    /// holds it either, so it is dead now. Otherwise the last node to let go of it hands it to the pool.
    /// </summary>
    internal bool Disown()
    {
        Volatile.Write(ref _disowned, 1);
        return Volatile.Read(ref _savers) == 0;
    }

    /// <summary>
    /// Allocates a zeroed storage of <paramref name="length"/> elements (counted against an open <see cref="StorageBudget"/>),
    /// reusing a dead gradient buffer of that length from <see cref="StoragePool"/> when there is one.
    /// </summary>
    public static Storage Allocate(DType dtype, int length)
    {
        StorageBudget.Charge(dtype, length);
        if (StoragePool.TryTake(dtype, length) is { } pooled)
        {
            Array.Clear(pooled);
            return Allocated(pooled, dtype);
        }
        return Allocated(dtype switch
        {
            DType.Float32 => new float[length],
            DType.Float64 => new double[length],
            DType.Int32 => new int[length],
            DType.Bool => new bool[length],
            _ => throw new ArgumentOutOfRangeException(nameof(dtype)),
        }, dtype);
    }

    /// <summary>Allocates without clearing: for outputs that every element of is about to be written.</summary>
    internal static Storage AllocateUninitialized(DType dtype, int length)
    {
        StorageBudget.Charge(dtype, length);
        return Allocated(StoragePool.TryTake(dtype, length) ?? dtype switch
        {
            DType.Float32 => GC.AllocateUninitializedArray<float>(length),
            DType.Float64 => GC.AllocateUninitializedArray<double>(length),
            DType.Int32 => GC.AllocateUninitializedArray<int>(length),
            DType.Bool => new bool[length],
            _ => throw new ArgumentOutOfRangeException(nameof(dtype)),
        }, dtype);
    }

    /// <summary>A storage holding a copy of <paramref name="data"/> (counted against an open <see cref="StorageBudget"/>).</summary>
    internal static Storage Copy<T>(ReadOnlySpan<T> data) where T : unmanaged
    {
        var dtype = DTypeInfo.Of<T>();
        StorageBudget.Charge(dtype, data.Length);
        return Allocated(data.ToArray(), dtype);
    }

    /// <summary>Records an in-place modification.</summary>
    internal void BumpVersion() => Version++;

    /// <summary>The typed backing array.</summary>
    internal T[] As<T>() => (T[])Data;
}
