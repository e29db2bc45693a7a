using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Numerics.Tensors;
using Fovea.Kernels;

namespace Fovea.Backends.Cpu;

internal sealed partial class CpuBackend
{
    /// <summary>Float32 sums are accumulated in blocks of this many elements, block sums in float64.</summary>
    private const int SumBlock = 1024;

    public Tensor Reduce(ReduceOp op, Tensor x, int[] dims, bool keepDim)
    {
        EnsureAllowed();
        int rank = x.Rank;
        var reduced = new bool[rank];
        foreach (int d in dims) reduced[d] = true;
        var outShape = new List<int>();
        var keptShape = new List<int>();
        var perm = new List<int>();
        for (int d = 0; d < rank; d++)
        {
            if (!reduced[d]) { outShape.Add(x._shape[d]); keptShape.Add(x._shape[d]); perm.Add(d); }
            else if (keepDim) outShape.Add(1);
        }
        int outer = 1;
        foreach (int s in keptShape) outer *= s;
        int r = 1;
        for (int d = 0; d < rank; d++) if (reduced[d]) { perm.Add(d); r *= x._shape[d]; }

        var y = Tensor.Allocate(x.DType, outShape.ToArray(), clear: false);
        if (y.Numel == 0) return y;
        switch (x.DType)
        {
            case DType.Float32: ReduceTyped<float>(op, x, reduced, perm.ToArray(), outer, r, y.Storage.As<float>()); break;
            case DType.Float64: ReduceTyped<double>(op, x, reduced, perm.ToArray(), outer, r, y.Storage.As<double>()); break;
            case DType.Int32: ReduceTyped<int>(op, x, reduced, perm.ToArray(), outer, r, y.Storage.As<int>()); break;
            default: throw new DTypeException(op.ToString().ToLowerInvariant(), $"not defined for {x.DType.Name()} tensors");
        }
        return y;
    }

    private static void ReduceTyped<T>(ReduceOp op, Tensor x, bool[] reduced, int[] perm, int outer, int r, T[] y)
        where T : unmanaged, INumber<T>, IMinMaxValue<T>
    {
        if (r == 0)
        {
            Array.Fill(y, op == ReduceOp.Prod ? T.One : T.Zero);
            return;
        }
        var data = x.Storage.As<T>();
        // Path B: contiguous input whose reduced dims are one consecutive block with something after it:
        // view as [outer, r, inner] and accumulate whole rows of length inner with SIMD.
        if (x.IsContiguous && TryConsecutive(reduced, out int first, out int last) && last < x.Rank - 1)
        {
            int inner = 1;
            for (int d = last + 1; d < x.Rank; d++) inner *= x._shape[d];
            int before = 1;
            for (int d = 0; d < first; d++) before *= x._shape[d];
            ReduceMiddle(op, data, x.Offset, before, r, inner, y);
            return;
        }
        // Path A: make the reduced elements of each output contiguous (a copy only when they are not).
        var p = x.PermuteRaw(perm);
        if (!TrailingContiguous(p, x.Rank - CountTrue(reduced)))
            p = p.ContiguousRaw();
        var keptShape = p._shape[..(p.Rank - CountTrue(reduced))];
        var keptStrides = p._strides[..keptShape.Length];
        var pdata = p.Storage.As<T>();
        int pOffset = p.Offset;
        ParallelFor.For(outer, ParallelFor.GrainForBytes((long)r * Unsafe.SizeOf<T>()), (start, end) =>
        {
            for (int o = start; o < end; o++)
            {
                int at = pOffset;
                int rem = o;
                for (int d = keptShape.Length - 1; d >= 0; d--)
                {
                    at += rem % keptShape[d] * keptStrides[d];
                    rem /= keptShape[d];
                }
                y[o] = ReduceSpan(op, new ReadOnlySpan<T>(pdata, at, r));
            }
        });
    }

    private static int CountTrue(bool[] flags)
    {
        int n = 0;
        foreach (bool f in flags) if (f) n++;
        return n;
    }

    private static bool TryConsecutive(bool[] reduced, out int first, out int last)
    {
        first = Array.IndexOf(reduced, true);
        last = Array.LastIndexOf(reduced, true);
        if (first < 0) return false; // nothing reduced (a 0-d tensor)
        for (int d = first; d <= last; d++) if (!reduced[d]) return false;
        return true;
    }

    /// <summary>True when the last <c>rank - kept</c> dims of <paramref name="p"/> are row-major with unit inner stride.</summary>
    private static bool TrailingContiguous(Tensor p, int kept)
    {
        int expected = 1;
        for (int d = p.Rank - 1; d >= kept; d--)
        {
            if (p._shape[d] == 1) continue;
            if (p._strides[d] != expected) return false;
            expected *= p._shape[d];
        }
        return true;
    }

    /// <summary>Reduces one contiguous span. Float32 sums are blocked with float64 block accumulation.</summary>
    internal static T ReduceSpan<T>(ReduceOp op, ReadOnlySpan<T> span) where T : unmanaged, INumber<T>, IMinMaxValue<T>
    {
        switch (op)
        {
            case ReduceOp.Sum:
                if (typeof(T) == typeof(float) && !Vector128.IsHardwareAccelerated)
                {
                    // Without SIMD, TensorPrimitives sums one element at a time in float; accumulate in float64 instead.
                    double acc = 0;
                    foreach (var v in span) acc += double.CreateTruncating(v);
                    return T.CreateTruncating(acc);
                }
                // A block's float32 sum runs one chain per SIMD lane; without 256-bit vectors those chains are
                // long enough (up to 1024 adds) to lose ~1e-5 relative, so the blocks shrink instead.
                int block = Vector256.IsHardwareAccelerated ? SumBlock : 32;
                if (typeof(T) == typeof(float) && span.Length < ShortSum && Vector256.IsHardwareAccelerated)
                    return T.CreateTruncating(SumShort(System.Runtime.InteropServices.MemoryMarshal.Cast<T, float>(span)));
                if (typeof(T) == typeof(float) && span.Length > block)
                {
                    double acc = 0;
                    for (int i = 0; i < span.Length; i += block)
                        acc += double.CreateTruncating(TensorPrimitives.Sum(span.Slice(i, Math.Min(block, span.Length - i))));
                    return T.CreateTruncating(acc);
                }
                return TensorPrimitives.Sum(span);
            case ReduceOp.Prod: return TensorPrimitives.Product(span);
            case ReduceOp.Max: return TensorPrimitives.Max(span);
            case ReduceOp.Min: return TensorPrimitives.Min(span);
            default: throw new ArgumentOutOfRangeException(nameof(op));
        }
    }

    /// <summary>Rows shorter than this are summed by <see cref="SumShort"/>.</summary>
    private const int ShortSum = 128;

    /// <summary>
    /// The float32 sum of a short row (a 7x7 plane in global average pooling): eight lanes, then the lanes, then the tail.
    /// TensorPrimitives' 512-bit path spends about 100 ns on the alignment and remainder handling of a
    /// 49-element row, which made ResNet's global average pool (512 such rows) 0.1 ms.
    /// </summary>
    private static float SumShort(ReadOnlySpan<float> span)
    {
        ref float x = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(span);
        var acc = Vector256<float>.Zero;
        int i = 0;
        for (; i + 8 <= span.Length; i += 8) acc += Vector256.LoadUnsafe(ref x, (nuint)i);
        float sum = Vector256.Sum(acc);
        for (; i < span.Length; i++) sum += Unsafe.Add(ref x, i);
        return sum;
    }

    /// <summary>y[b, i] = reduce over k of x[b, k, i], for x viewed as [before, r, inner].</summary>
    private static void ReduceMiddle<T>(ReduceOp op, T[] x, int offset, int before, int r, int inner, T[] y)
        where T : unmanaged, INumber<T>, IMinMaxValue<T>
    {
        // Split columns into chunks so that a single batch (before == 1) still uses every thread.
        const int ColumnChunk = 512;
        int chunksPerRow = (inner + ColumnChunk - 1) / ColumnChunk;
        int tasks = before * chunksPerRow;
        long work = (long)r * Math.Min(inner, ColumnChunk);
        ParallelFor.For(tasks, ParallelFor.GrainForBytes(work * Unsafe.SizeOf<T>()), (start, end) =>
        {
            // Float32 sums accumulate blocks of rows in a scratch row, then add the block into y,
            // so rounding error grows with r / block + block rather than with r.
            bool blocked = op == ReduceOp.Sum && typeof(T) == typeof(float) && r > 64;
            Span<T> scratch = blocked ? stackalloc T[ColumnChunk] : default;
            for (int t = start; t < end; t++)
            {
                int b = t / chunksPerRow;
                int c0 = t % chunksPerRow * ColumnChunk;
                int len = Math.Min(ColumnChunk, inner - c0);
                var acc = y.AsSpan(b * inner + c0, len);
                int baseAt = offset + b * r * inner + c0;
                if (!blocked)
                {
                    x.AsSpan(baseAt, len).CopyTo(acc);
                    for (int k = 1; k < r; k++) Combine(op, acc, x.AsSpan(baseAt + k * inner, len));
                }
                else
                {
                    acc.Clear();
                    var block = scratch[..len];
                    for (int k0 = 0; k0 < r; k0 += 64)
                    {
                        x.AsSpan(baseAt + k0 * inner, len).CopyTo(block);
                        int k1 = Math.Min(r, k0 + 64);
                        for (int k = k0 + 1; k < k1; k++) TensorPrimitives.Add(block, x.AsSpan(baseAt + k * inner, len), block);
                        TensorPrimitives.Add(acc, block, acc);
                    }
                }
            }
        });
    }

    private static void Combine<T>(ReduceOp op, Span<T> acc, ReadOnlySpan<T> row) where T : unmanaged, INumber<T>
    {
        switch (op)
        {
            case ReduceOp.Sum: TensorPrimitives.Add(acc, row, acc); break;
            case ReduceOp.Prod: TensorPrimitives.Multiply(acc, row, acc); break;
            case ReduceOp.Max: TensorPrimitives.Max(acc, row, acc); break;
            case ReduceOp.Min: TensorPrimitives.Min(acc, row, acc); break;
        }
    }

    public (Tensor Values, Tensor Indices) ArgReduce(bool max, Tensor x, int dim, bool keepDim)
    {
        EnsureAllowed();
        var perm = new int[x.Rank];
        int j = 0;
        for (int d = 0; d < x.Rank; d++) if (d != dim) perm[j++] = d;
        perm[^1] = dim;
        var p = x.PermuteRaw(perm).ContiguousRaw();
        int n = x._shape[dim];
        int outer = n == 0 ? 0 : p.Numel / n;
        var outShape = new List<int>(x._shape);
        if (keepDim) outShape[dim] = 1; else outShape.RemoveAt(dim);
        var values = Tensor.Allocate(x.DType, outShape.ToArray(), clear: false);
        var indices = Tensor.Allocate(DType.Int32, outShape.ToArray(), clear: false);
        var idx = indices.Storage.As<int>();
        switch (x.DType)
        {
            case DType.Float32: ArgRows(max, p.Storage.As<float>(), p.Offset, outer, n, values.Storage.As<float>(), idx); break;
            case DType.Float64: ArgRows(max, p.Storage.As<double>(), p.Offset, outer, n, values.Storage.As<double>(), idx); break;
            case DType.Int32: ArgRows(max, p.Storage.As<int>(), p.Offset, outer, n, values.Storage.As<int>(), idx); break;
            default: throw new DTypeException(max ? "max" : "min", $"not defined for {x.DType.Name()} tensors");
        }
        return (values, indices);
    }

    private static void ArgRows<T>(bool max, T[] x, int offset, int outer, int n, T[] values, int[] indices)
        where T : unmanaged, INumber<T>
    {
        ParallelFor.For(outer, ParallelFor.GrainForBytes((long)n * Unsafe.SizeOf<T>()), (start, end) =>
        {
            for (int o = start; o < end; o++)
            {
                var row = new ReadOnlySpan<T>(x, offset + o * n, n);
                int i = max ? TensorPrimitives.IndexOfMax(row) : TensorPrimitives.IndexOfMin(row);
                // TensorPrimitives ranks +0 above -0; PyTorch treats them as a tie, which the first index wins.
                if (T.IsZero(row[i]))
                    for (int j = 0; j < i; j++)
                        if (T.IsZero(row[j])) { i = j; break; }
                indices[o] = i;
                values[o] = row[i];
            }
        });
    }
}
