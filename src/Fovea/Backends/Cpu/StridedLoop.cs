using Fovea.Kernels;

namespace Fovea.Backends.Cpu;

/// <summary>
/// A row kernel: processes <c>len</c> elements of the innermost dimension for every operand, given each
/// operand's storage offset and element stride along that dimension (operand 0 is the output).
/// </summary>
internal interface IRowKernel
{
    /// <summary>Bytes one element moves, summed over the operands (for the work-size rule of <see cref="ParallelFor.ThreadsForBytes"/>).</summary>
    static abstract int BytesPerElement { get; }

    void Row(ReadOnlySpan<int> offsets, ReadOnlySpan<int> strides, int len);
}

/// <summary>
/// The strided iteration engine behind every elementwise primitive. It coalesces dimensions that are
/// contiguous for all operands (so contiguous tensors become one long row that the SIMD span
/// kernels see whole), then walks the outer dimensions with an odometer and hands each innermost
/// row to the kernel. The work is split over threads by the memory-bound rule, <see cref="ParallelFor.ThreadsForBytes"/>
/// of the bytes all operands move: a contiguous pass is cut into ranges of whole 64-element blocks (every element but
/// the last vector's then goes through the same vector code whatever the split), a strided one into ranges of rows.
/// </summary>
internal static class StridedLoop
{
    /// <summary>Contiguous passes are cut at multiples of this many elements (a whole number of 512-bit vectors of any type).</summary>
    private const int SplitAlign = 64;

    /// <summary>
    /// Runs <paramref name="kernel"/> over <paramref name="shape"/> for operands with the given strides
    /// (one array per operand, each the length of the shape; 0 for broadcast dims) and base offsets.
    /// </summary>
    public static void Run<TKernel>(int[] shape, int[][] strides, int[] offsets, TKernel kernel)
        where TKernel : struct, IRowKernel
    {
        int operands = strides.Length;
        long numel = 1;
        foreach (int d in shape) numel *= d;
        if (numel == 0) return;
        int threads = ParallelFor.ThreadsForBytes(numel * TKernel.BytesPerElement);
        if (numel == 1 || AllContiguous(shape, strides))
        {
            // The common case needs no coalescing: one row over the whole buffer.
            RunRow(threads, kernel, offsets, UnitStrides(operands), (int)numel);
            return;
        }

        Coalesce(shape, strides, out int[] cShape, out int[][] cStrides);
        int rank = cShape.Length;
        int rowLen = rank == 0 ? 1 : cShape[rank - 1];
        var innerStrides = new int[operands];
        for (int k = 0; k < operands; k++) innerStrides[k] = rank == 0 ? 1 : cStrides[k][rank - 1];
        int rows = (int)(numel / rowLen);

        if (rows == 1)
        {
            RunRow(threads, kernel, offsets, innerStrides, rowLen);
            return;
        }

        if (threads <= 1)
        {
            RowRange(0, rows, rank, cShape, cStrides, offsets, innerStrides, rowLen, kernel);
            return;
        }
        ParallelFor.For(rows, Math.Max(1, rows / threads), (start, end) => RowRange(start, end, rank, cShape, cStrides, offsets, innerStrides, rowLen, kernel));
    }

    /// <summary>Rows [start, end) of the coalesced loop, the outer dimensions walked by an odometer.</summary>
    private static void RowRange<TKernel>(int start, int end, int rank, int[] cShape, int[][] cStrides, int[] offsets, int[] innerStrides, int rowLen, TKernel kernel)
        where TKernel : struct, IRowKernel
    {
        int operands = offsets.Length;
        var k = kernel;
        Span<int> idx = stackalloc int[Math.Max(rank - 1, 1)];
        Span<int> off = stackalloc int[operands];
        // Decompose the first row index into the outer odometer.
        int r = start;
        for (int d = rank - 2; d >= 0; d--)
        {
            idx[d] = r % cShape[d];
            r /= cShape[d];
        }
        for (int op = 0; op < operands; op++)
        {
            int o = offsets[op];
            for (int d = 0; d < rank - 1; d++) o += idx[d] * cStrides[op][d];
            off[op] = o;
        }
        for (int row = start; row < end; row++)
        {
            k.Row(off, innerStrides, rowLen);
            // Advance the odometer by one row.
            for (int d = rank - 2; d >= 0; d--)
            {
                if (++idx[d] < cShape[d])
                {
                    for (int op = 0; op < operands; op++) off[op] += cStrides[op][d];
                    break;
                }
                idx[d] = 0;
                for (int op = 0; op < operands; op++) off[op] -= cStrides[op][d] * (cShape[d] - 1);
            }
        }
    }

    /// <summary>
    /// One row of <paramref name="len"/> elements (the whole of a contiguous pass, or a coalesced loop that a broadcast
    /// operand keeps strided), cut into ranges of whole <see cref="SplitAlign"/> blocks when the bytes rule gives it more
    /// than one thread: every element is computed alone, and every element but the last vector's goes through the same
    /// vector code whatever the cut, so it does not change any result.
    /// </summary>
    private static void RunRow<TKernel>(int threads, TKernel kernel, int[] offsets, int[] strides, int len)
        where TKernel : struct, IRowKernel
    {
        if (threads <= 1)
        {
            kernel.Row(offsets, strides, len);
            return;
        }
        int blocks = (len + SplitAlign - 1) / SplitAlign;
        ParallelFor.For(blocks, Math.Max(1, blocks / threads), (b0, b1) =>
        {
            var k = kernel;
            int start = b0 * SplitAlign, end = Math.Min(len, b1 * SplitAlign);
            Span<int> off = stackalloc int[offsets.Length];
            for (int op = 0; op < off.Length; op++) off[op] = offsets[op] + start * strides[op];
            k.Row(off, strides, end - start);
        });
    }

    /// <summary>Stride 1 for each of <paramref name="operands"/> operands; shared (kernels read strides, never write them).</summary>
    private static int[] UnitStrides(int operands) => operands < Units.Length ? Units[operands] : Enumerable.Repeat(1, operands).ToArray();

    private static readonly int[][] Units = [[], [1], [1, 1], [1, 1, 1], [1, 1, 1, 1], [1, 1, 1, 1, 1]];

    private static bool AllContiguous(int[] shape, int[][] strides)
    {
        foreach (var st in strides)
        {
            int expected = 1;
            for (int d = shape.Length - 1; d >= 0; d--)
            {
                if (shape[d] != 1 && st[d] != expected) return false;
                expected *= shape[d];
            }
        }
        return true;
    }

    /// <summary>
    /// Drops size-1 dims and merges dim i into i+1 wherever, for every operand,
    /// stride[i] == stride[i+1] * shape[i+1].
    /// </summary>
    internal static void Coalesce(int[] shape, int[][] strides, out int[] outShape, out int[][] outStrides)
    {
        int operands = strides.Length;
        var s = new List<int>(shape.Length);
        var st = new List<int>[operands];
        for (int k = 0; k < operands; k++) st[k] = new List<int>(shape.Length);
        for (int d = 0; d < shape.Length; d++)
        {
            if (shape[d] == 1) continue;
            if (s.Count > 0)
            {
                int last = s.Count - 1;
                bool merge = true;
                for (int k = 0; k < operands && merge; k++)
                    merge = st[k][last] == strides[k][d] * shape[d];
                if (merge)
                {
                    s[last] *= shape[d];
                    for (int k = 0; k < operands; k++) st[k][last] = strides[k][d];
                    continue;
                }
            }
            s.Add(shape[d]);
            for (int k = 0; k < operands; k++) st[k].Add(strides[k][d]);
        }
        if (s.Count == 0)
        {
            s.Add(1);
            for (int k = 0; k < operands; k++) st[k].Add(1);
        }
        outShape = s.ToArray();
        outStrides = new int[operands][];
        for (int k = 0; k < operands; k++) outStrides[k] = st[k].ToArray();
    }

    /// <summary>Strides of <paramref name="t"/> seen as broadcast to <paramref name="shape"/> (0 on broadcast dims).</summary>
    public static int[] BroadcastStrides(Tensor t, int[] shape)
    {
        var result = new int[shape.Length];
        int lead = shape.Length - t._shape.Length;
        for (int i = 0; i < t._shape.Length; i++)
            result[lead + i] = t._shape[i] == 1 && shape[lead + i] != 1 ? 0 : t._strides[i];
        return result;
    }
}
