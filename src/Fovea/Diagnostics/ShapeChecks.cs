using System.Text;

namespace Fovea;

/// <summary>
/// Every shape rule of Fovea in one place. Each check throws <see cref="ShapeException"/> naming the
/// op, the rule, both shapes and the offending dimension.
/// </summary>
public static partial class ShapeChecks
{
    /// <summary>Formats a shape as <c>[2, 3]</c>.</summary>
    public static string Format(ReadOnlySpan<int> shape)
    {
        var sb = new StringBuilder("[");
        for (int i = 0; i < shape.Length; i++)
        {
            if (i > 0) sb.Append(", ");
            sb.Append(shape[i]);
        }
        return sb.Append(']').ToString();
    }

    /// <summary>Product of the dimensions, checked against int overflow.</summary>
    public static int Numel(string op, ReadOnlySpan<int> shape)
    {
        long n = 1;
        for (int i = 0; i < shape.Length; i++)
        {
            if (shape[i] < 0)
                throw new ShapeException(op, $"dimensions must be non-negative, got {Format(shape)} (dim {i} is {shape[i]})");
            n *= shape[i];
            if (n > int.MaxValue)
                throw new ShapeException(op, $"tensor of shape {Format(shape)} has more than {int.MaxValue} elements");
        }
        return (int)n;
    }

    /// <summary>Resolves a possibly negative dimension index against <paramref name="rank"/>.</summary>
    public static int NormalizeDim(string op, int dim, int rank)
    {
        int r = Math.Max(rank, 1);
        if (dim < -r || dim >= r)
            throw new ShapeException(op, $"dimension out of range: expected in [{-r}, {r - 1}], got {dim} for a tensor of rank {rank}");
        return dim < 0 ? dim + r : dim;
    }

    /// <summary>
    /// Resolves a dim that must exist because the op indexes the shape with it (select, narrow, split, ...).
    /// Unlike <see cref="NormalizeDim"/>, a 0-d tensor has no such dim.
    /// </summary>
    public static int NormalizeExistingDim(string op, int dim, ReadOnlySpan<int> shape)
    {
        if (shape.Length == 0)
            throw new ShapeException(op, $"a 0-d tensor (shape []) has no dimension {dim}; use Reshape(1) or Unsqueeze(0) first");
        return NormalizeDim(op, dim, shape.Length);
    }

    /// <summary>Resolves a set of dims; duplicates are an error.</summary>
    public static int[] NormalizeDims(string op, ReadOnlySpan<int> dims, int rank)
    {
        var result = new int[dims.Length];
        for (int i = 0; i < dims.Length; i++)
        {
            int d = NormalizeDim(op, dims[i], rank);
            for (int j = 0; j < i; j++)
                if (result[j] == d)
                    throw new ShapeException(op, $"dimension {d} appears more than once in the list of dims");
            result[i] = d;
        }
        return result;
    }

    /// <summary>NumPy broadcasting: align trailing dims; each pair must be equal or contain a 1.</summary>
    public static int[] Broadcast(string op, ReadOnlySpan<int> a, ReadOnlySpan<int> b)
    {
        int rank = Math.Max(a.Length, b.Length);
        var result = new int[rank];
        for (int i = 0; i < rank; i++)
        {
            int da = i < rank - a.Length ? 1 : a[i - (rank - a.Length)];
            int db = i < rank - b.Length ? 1 : b[i - (rank - b.Length)];
            if (da != db && da != 1 && db != 1)
                throw new ShapeException(op, $"shapes cannot be broadcast together, got {Format(a)} and {Format(b)} (dim {i - rank}: {da} vs {db})");
            result[i] = da == 1 ? db : da;
        }
        return result;
    }

    /// <summary>Checks that <paramref name="from"/> can be expanded to <paramref name="to"/>.</summary>
    public static void Expand(string op, ReadOnlySpan<int> from, ReadOnlySpan<int> to)
    {
        if (to.Length < from.Length)
            throw new ShapeException(op, $"cannot expand {Format(from)} to {Format(to)}: the target has fewer dimensions ({to.Length} < {from.Length})");
        int lead = to.Length - from.Length;
        for (int i = 0; i < from.Length; i++)
            if (from[i] != 1 && from[i] != to[lead + i])
                throw new ShapeException(op, $"cannot expand {Format(from)} to {Format(to)}: dim {i} has size {from[i]}, which is not 1 and differs from {to[lead + i]}");
    }

    /// <summary>Resolves a reshape target with at most one -1 and checks the element count.</summary>
    public static int[] Reshape(string op, ReadOnlySpan<int> from, ReadOnlySpan<int> to)
    {
        int numel = Numel(op, from);
        var result = to.ToArray();
        int infer = -1;
        long known = 1;
        for (int i = 0; i < result.Length; i++)
        {
            if (result[i] == -1)
            {
                if (infer >= 0)
                    throw new ShapeException(op, $"only one dimension can be -1, got {Format(to)}");
                infer = i;
            }
            else if (result[i] < 0)
                throw new ShapeException(op, $"invalid size {result[i]} at dim {i} in {Format(to)}");
            else known *= result[i];
        }
        if (infer >= 0)
        {
            if (known == 0 || numel % known != 0)
                throw new ShapeException(op, $"shape {Format(to)} is invalid for input of shape {Format(from)} ({numel} elements)");
            result[infer] = (int)(numel / known);
        }
        else if (known != numel)
            throw new ShapeException(op, $"shape {Format(to)} is invalid for input of shape {Format(from)} ({numel} elements != {known})");
        return result;
    }

    /// <summary>Checks a permutation of <c>0..rank-1</c>.</summary>
    public static int[] Permutation(string op, ReadOnlySpan<int> shape, ReadOnlySpan<int> dims)
    {
        if (dims.Length != shape.Length)
            throw new ShapeException(op, $"permutation {Format(dims)} has {dims.Length} entries but the tensor {Format(shape)} has rank {shape.Length}");
        return NormalizeDims(op, dims, shape.Length);
    }

    /// <summary>Checks a narrow/slice range along one dim.</summary>
    public static void Narrow(string op, ReadOnlySpan<int> shape, int dim, int start, int length)
    {
        if (start < 0 || length < 0 || start + (long)length > shape[dim])
            throw new ShapeException(op, $"range [{start}, {start + (long)length}) is outside dim {dim} of size {shape[dim]} in {Format(shape)}");
    }

    /// <summary>Shapes that must be identical (elementwise ops without broadcasting, in-place copies).</summary>
    public static void Same(string op, ReadOnlySpan<int> a, ReadOnlySpan<int> b)
    {
        if (!a.SequenceEqual(b))
        {
            string dim = a.Length != b.Length ? $"rank {a.Length} != {b.Length}" : FirstDifference(a, b);
            throw new ShapeException(op, $"shapes must match, got {Format(a)} and {Format(b)} ({dim})");
        }
    }

    private static string FirstDifference(ReadOnlySpan<int> a, ReadOnlySpan<int> b)
    {
        for (int i = 0; i < a.Length; i++)
            if (a[i] != b[i]) return $"dim {i}: {a[i]} != {b[i]}";
        return "equal";
    }

    /// <summary>
    /// Shape rule of matmul (PyTorch semantics): 1-d operands are promoted and the added dim removed,
    /// batch dims broadcast. Returns the output shape.
    /// </summary>
    public static int[] MatMul(ReadOnlySpan<int> a, ReadOnlySpan<int> b)
    {
        const string op = "matmul";
        if (a.Length == 0 || b.Length == 0)
            throw new ShapeException(op, $"both operands need at least one dimension, got {Format(a)} @ {Format(b)}");
        int ka = a[^1];
        int kb = b.Length == 1 ? b[0] : b[^2];
        if (ka != kb)
            throw new ShapeException(op, $"inner dimensions must match, got {Format(a)} @ {Format(b)} ({ka} != {kb})");
        var batchA = a.Length > 2 ? a[..^2] : ReadOnlySpan<int>.Empty;
        var batchB = b.Length > 2 ? b[..^2] : ReadOnlySpan<int>.Empty;
        int[] batch;
        try { batch = Broadcast(op, batchA, batchB); }
        catch (ShapeException)
        {
            throw new ShapeException(op, $"batch dimensions cannot be broadcast, got {Format(a)} @ {Format(b)}");
        }
        var result = new List<int>(batch);
        if (a.Length >= 2) result.Add(a[^2]);
        if (b.Length >= 2) result.Add(b[^1]);
        return result.ToArray();
    }

    /// <summary>Shape rule of cat: same rank, all dims equal except <paramref name="dim"/>.</summary>
    public static int[] Cat(string op, IReadOnlyList<int[]> shapes, int dim)
    {
        if (shapes.Count == 0)
            throw new ShapeException(op, "expected a non-empty list of tensors");
        var first = shapes[0];
        if (first.Length == 0)
            throw new ShapeException(op, "zero-dimensional tensors (shape []) cannot be concatenated; use Stack");
        int total = 0;
        for (int t = 0; t < shapes.Count; t++)
        {
            var s = shapes[t];
            if (s.Length != first.Length)
                throw new ShapeException(op, $"tensors must have the same rank, got {Format(first)} and {Format(s)} (tensor {t})");
            for (int i = 0; i < s.Length; i++)
                if (i != dim && s[i] != first[i])
                    throw new ShapeException(op, $"sizes must match except in dim {dim}, got {Format(first)} and {Format(s)} (tensor {t}, dim {i}: {s[i]} != {first[i]})");
            total += s[dim];
        }
        var result = (int[])first.Clone();
        result[dim] = total;
        return result;
    }

    /// <summary>Index tensors for gather: same rank as input, index.size(d) &lt;= input.size(d) for d != dim.</summary>
    public static void Gather(string op, ReadOnlySpan<int> input, int dim, ReadOnlySpan<int> index)
    {
        if (index.Length != input.Length)
            throw new ShapeException(op, $"index must have the same rank as input, got input {Format(input)} and index {Format(index)}");
        for (int i = 0; i < input.Length; i++)
            if (i != dim && index[i] > input[i])
                throw new ShapeException(op, $"index {Format(index)} is larger than input {Format(input)} at dim {i} ({index[i]} > {input[i]})");
    }

    /// <summary>Source of scatter_add: index.size(d) &lt;= src.size(d) for every d, the scatter dim included.</summary>
    public static void ScatterSource(string op, ReadOnlySpan<int> src, ReadOnlySpan<int> index)
    {
        if (index.Length != src.Length)
            throw new ShapeException(op, $"index must have the same rank as src, got src {Format(src)} and index {Format(index)}");
        for (int i = 0; i < src.Length; i++)
            if (index[i] > src[i])
                throw new ShapeException(op, $"index {Format(index)} is larger than src {Format(src)} at dim {i} ({index[i]} > {src[i]})");
    }

    /// <summary>Index value bounds: 0 &lt;= i &lt; size (negative values are not wrapped).</summary>
    public static void IndexInRange(string op, int index, int size, int dim)
    {
        if ((uint)index >= (uint)size)
            throw new ShapeException(op, $"index {index} is out of bounds for dim {dim} with size {size}");
    }
}
