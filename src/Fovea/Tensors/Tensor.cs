using System.Runtime.CompilerServices;

namespace Fovea;

/// <summary>
/// An n-dimensional array: a <see cref="Storage"/> seen through a shape, element strides and an offset.
/// Views (reshape, permute, slice, expand, ...) share the storage and copy nothing.
/// </summary>
public sealed partial class Tensor
{
    internal readonly int[] _shape;
    internal readonly int[] _strides;

    /// <summary>The shared buffer this tensor reads and writes.</summary>
    public Storage Storage { get; }

    /// <summary>Offset of element [0, 0, ...] in <see cref="Storage"/>.</summary>
    public int Offset { get; }

    /// <summary>Element type.</summary>
    public DType DType => Storage.DType;

    /// <summary>Number of elements.</summary>
    public int Numel { get; }

    internal Tensor(Storage storage, int[] shape, int[] strides, int offset)
    {
        Storage = storage;
        _shape = shape;
        _strides = strides;
        Offset = offset;
        long n = 1;
        foreach (int d in shape) n *= d;
        Numel = (int)n;
    }

    /// <summary>A new contiguous tensor owning <paramref name="storage"/>.</summary>
    internal Tensor(Storage storage, int[] shape) : this(storage, shape, ContiguousStrides(shape), 0) { }

    /// <summary>Allocates a zero-filled contiguous tensor.</summary>
    internal static Tensor Allocate(DType dtype, int[] shape, bool clear = true)
    {
        int n = ShapeChecks.Numel("tensor", shape);
        var storage = clear ? Storage.Allocate(dtype, n) : Storage.AllocateUninitialized(dtype, n);
        return new Tensor(storage, shape);
    }

    /// <summary>A copy of the shape.</summary>
    public int[] Shape => (int[])_shape.Clone();

    /// <summary>A copy of the element strides.</summary>
    public int[] Strides => (int[])_strides.Clone();

    /// <summary>Number of dimensions.</summary>
    public int Rank => _shape.Length;

    /// <summary>Size of dimension <paramref name="dim"/> (negative counts from the end).</summary>
    public int Size(int dim) => _shape[ShapeChecks.NormalizeExistingDim("size", dim, _shape)];

    /// <summary>True when the elements lie in row-major order without gaps.</summary>
    public bool IsContiguous
    {
        get
        {
            // An empty tensor has no elements out of order (PyTorch calls it contiguous); without this,
            // a freshly allocated [3, 0, 2] tensor could not even be read with AsSpan or ToArray.
            if (Numel == 0) return true;
            int expected = 1;
            for (int i = _shape.Length - 1; i >= 0; i--)
            {
                if (_shape[i] == 1) continue;
                if (_strides[i] != expected) return false;
                expected *= _shape[i];
            }
            return true;
        }
    }

    /// <summary>Row-major strides of <paramref name="shape"/>.</summary>
    public static int[] ContiguousStrides(ReadOnlySpan<int> shape)
    {
        var strides = new int[shape.Length];
        int s = 1;
        for (int i = shape.Length - 1; i >= 0; i--)
        {
            strides[i] = s;
            s *= Math.Max(shape[i], 1);
        }
        return strides;
    }

    /// <summary>
    /// The elements as a span when the tensor is contiguous; throws otherwise
    /// (call <see cref="Contiguous"/> first). Writing through it bypasses autograd's version check.
    /// </summary>
    public Span<T> AsSpan<T>() where T : unmanaged
    {
        CheckDType<T>("AsSpan");
        if (!IsContiguous)
            throw new InvalidOperationException($"AsSpan: the tensor {ShapeChecks.Format(_shape)} with strides {ShapeChecks.Format(_strides)} is not contiguous; call Contiguous() first.");
        // An empty view may start past the end of its storage (a slice of an empty tensor at a nonzero offset).
        if (Numel == 0) return [];
        return new Span<T>(Storage.As<T>(), Offset, Numel);
    }

    internal void CheckDType<T>(string op) where T : unmanaged
    {
        if (DTypeInfo.Of<T>() != DType)
            throw new DTypeException(op, $"the tensor holds {DType.Name()}, not {DTypeInfo.Of<T>().Name()}; convert with .To(DType.{DTypeInfo.Of<T>()})");
    }

    /// <summary>Copies the elements, in row-major order, into a new flat array.</summary>
    public T[] ToArray<T>() where T : unmanaged
    {
        CheckDType<T>("ToArray");
        return Contiguous().AsSpan<T>().ToArray();
    }

    /// <summary>The single value of a one-element tensor.</summary>
    public T Item<T>() where T : unmanaged
    {
        if (Numel != 1)
            throw new ShapeException("item", $"only one-element tensors can be converted to a scalar, got {ShapeChecks.Format(_shape)}");
        CheckDType<T>("item");
        return Storage.As<T>()[Offset];
    }

    /// <summary>The single value of a one-element floating or integer tensor, as a double.</summary>
    public double ToScalar()
    {
        if (Numel != 1)
            throw new ShapeException("item", $"only one-element tensors can be converted to a scalar, got {ShapeChecks.Format(_shape)}");
        return GetAsDouble(Offset);
    }

    /// <summary>The element at <paramref name="index"/>, as a double (any dtype; bool reads 0 or 1).</summary>
    [IndexerName("At")]
    public double this[params int[] index]
    {
        get => GetAsDouble(FlatOffset(index));
        set
        {
            int at = FlatOffset(index);
            switch (DType)
            {
                case DType.Float32: Storage.As<float>()[at] = (float)value; break;
                case DType.Float64: Storage.As<double>()[at] = value; break;
                case DType.Int32: Storage.As<int>()[at] = checked((int)value); break;
                case DType.Bool: Storage.As<bool>()[at] = value != 0; break;
            }
            Storage.BumpVersion();
        }
    }

    private int FlatOffset(ReadOnlySpan<int> index)
    {
        if (index.Length != Rank)
            throw new ShapeException("index", $"expected {Rank} indices for a tensor of shape {ShapeChecks.Format(_shape)}, got {index.Length}");
        int at = Offset;
        for (int i = 0; i < index.Length; i++)
        {
            int k = index[i] < 0 ? index[i] + _shape[i] : index[i];
            ShapeChecks.IndexInRange("index", k, _shape[i], i);
            at += k * _strides[i];
        }
        return at;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal double GetAsDouble(int storageIndex) => DType switch
    {
        DType.Float32 => Storage.As<float>()[storageIndex],
        DType.Float64 => Storage.As<double>()[storageIndex],
        DType.Int32 => Storage.As<int>()[storageIndex],
        _ => Storage.As<bool>()[storageIndex] ? 1.0 : 0.0,
    };

    /// <summary>Storage index of the element with row-major flat position <paramref name="flat"/>.</summary>
    internal int StorageIndexOf(int flat)
    {
        int at = Offset;
        for (int d = _shape.Length - 1; d >= 0; d--)
        {
            int size = _shape[d];
            int i = flat % size;
            flat /= size;
            at += i * _strides[d];
        }
        return at;
    }
}
