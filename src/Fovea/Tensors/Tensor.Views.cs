using Fovea.Backends;

namespace Fovea;

public sealed partial class Tensor
{
    /// <summary>A view with a new shape (one dim may be -1). Copies only when the strides make a view impossible.</summary>
    public Tensor Reshape(params int[] shape) => new Ops.ReshapeFunction(ShapeChecks.Reshape("reshape", _shape, shape)).Apply(this);

    /// <summary>Reshape without recording: a view when the strides allow, else a contiguous copy.</summary>
    internal Tensor ReshapeRaw(int[] target)
    {
        var strides = ViewStrides(target);
        return strides is null ? ContiguousRaw().ReshapeRaw(target) : new Tensor(Storage, target, strides, Offset);
    }

    /// <summary>A view with a new shape; throws when the strides do not allow one (PyTorch's <c>view</c>).</summary>
    public Tensor View(params int[] shape)
    {
        var target = ShapeChecks.Reshape("view", _shape, shape);
        if (ViewStrides(target) is null)
            throw new ShapeException("view", $"size {ShapeChecks.Format(target)} is not compatible with the strides {ShapeChecks.Format(_strides)} of a {ShapeChecks.Format(_shape)} tensor; use Reshape (which copies) or Contiguous() first");
        return new Ops.ReshapeFunction(target).Apply(this);
    }

    /// <summary>
    /// Strides that express <paramref name="target"/> over this tensor's memory, or null if none exist.
    /// Old dims are grouped into chunks that are contiguous among themselves; each chunk must map onto
    /// a run of new dims with the same element count (the rule PyTorch's view follows).
    /// </summary>
    private int[]? ViewStrides(int[] target)
    {
        if (IsContiguous || Numel == 0) return ContiguousStrides(target);
        var result = new int[target.Length];
        int viewDim = target.Length - 1;
        long chunkBaseStride = _strides[^1];
        long tensorNumel = 1, viewNumel = 1;
        for (int d = _shape.Length - 1; d >= 0; d--)
        {
            tensorNumel *= _shape[d];
            bool chunkEnds = d == 0 || (_shape[d - 1] != 1 && _strides[d - 1] != tensorNumel * chunkBaseStride);
            if (!chunkEnds) continue;
            while (viewDim >= 0 && (viewNumel < tensorNumel || target[viewDim] == 1))
            {
                result[viewDim] = (int)(viewNumel * chunkBaseStride);
                viewNumel *= target[viewDim];
                viewDim--;
            }
            if (viewNumel != tensorNumel) return null;
            if (d > 0)
            {
                chunkBaseStride = _strides[d - 1];
                tensorNumel = 1;
                viewNumel = 1;
            }
        }
        return viewDim == -1 ? result : null;
    }

    /// <summary>Reorders the dims: result dim i is this tensor's dim <c>dims[i]</c>.</summary>
    public Tensor Permute(params int[] dims) => new Ops.PermuteFunction(ShapeChecks.Permutation("permute", _shape, dims)).Apply(this);

    internal Tensor PermuteRaw(int[] p)
    {
        var shape = new int[p.Length];
        var strides = new int[p.Length];
        for (int i = 0; i < p.Length; i++) { shape[i] = _shape[p[i]]; strides[i] = _strides[p[i]]; }
        return new Tensor(Storage, shape, strides, Offset);
    }

    /// <summary>Swaps two dims.</summary>
    public Tensor Transpose(int dim0, int dim1)
    {
        int a = ShapeChecks.NormalizeDim("transpose", dim0, Rank), b = ShapeChecks.NormalizeDim("transpose", dim1, Rank);
        if (Rank == 0) return this; // transpose(0, 0) of a 0-d tensor, as in PyTorch
        var perm = new int[Rank];
        for (int i = 0; i < Rank; i++) perm[i] = i;
        (perm[a], perm[b]) = (perm[b], perm[a]);
        return Permute(perm);
    }

    /// <summary>The matrix transpose of a 2-d tensor (a 0-d or 1-d tensor is returned as is, like PyTorch's <c>.T</c>... for rank ≤ 2).</summary>
    public Tensor T
    {
        get
        {
            if (Rank > 2)
                throw new ShapeException("T", $"expects a tensor of rank <= 2, got {ShapeChecks.Format(_shape)}; use Transpose(dim0, dim1) or Permute");
            return Rank < 2 ? this : Transpose(0, 1);
        }
    }

    /// <summary>Removes all size-1 dims.</summary>
    public Tensor Squeeze()
    {
        var shape = new List<int>();
        for (int i = 0; i < Rank; i++)
            if (_shape[i] != 1) shape.Add(_shape[i]);
        return Reshape(shape.ToArray());
    }

    /// <summary>Removes dim <paramref name="dim"/> if its size is 1 (otherwise returns the same view, like PyTorch).</summary>
    public Tensor Squeeze(int dim)
    {
        int d = ShapeChecks.NormalizeDim("squeeze", dim, Rank);
        if (Rank == 0 || _shape[d] != 1) return this;
        return Reshape(RemoveAt(_shape, d));
    }

    /// <summary>Inserts a size-1 dim at <paramref name="dim"/> (in [-rank-1, rank]).</summary>
    public Tensor Unsqueeze(int dim)
    {
        int d = ShapeChecks.NormalizeDim("unsqueeze", dim, Rank + 1);
        var shape = new List<int>(_shape);
        shape.Insert(d, 1);
        return Reshape(shape.ToArray());
    }

    private static int[] RemoveAt(int[] a, int i)
    {
        var l = new List<int>(a);
        l.RemoveAt(i);
        return l.ToArray();
    }

    /// <summary>The view of <paramref name="length"/> entries starting at <paramref name="start"/> along <paramref name="dim"/>.</summary>
    public Tensor Narrow(int dim, int start, int length)
    {
        int d = ShapeChecks.NormalizeExistingDim("narrow", dim, _shape);
        if (start < 0) start += _shape[d];
        ShapeChecks.Narrow("narrow", _shape, d, start, length);
        return new Ops.SliceFunction(d, start, 1, length).Apply(this);
    }

    /// <summary>
    /// Python-style slice <c>start:end:step</c> along <paramref name="dim"/> as a view. Negative start/end count
    /// from the end; out-of-range bounds are clamped, as in Python.
    /// </summary>
    public Tensor Slice(int dim, int? start = null, int? end = null, int step = 1)
    {
        int d = ShapeChecks.NormalizeExistingDim("slice", dim, _shape);
        if (step <= 0)
            throw new ShapeException("slice", $"step must be positive, got {step}");
        int n = _shape[d];
        int s = Clamp(start ?? 0, n), e = Clamp(end ?? n, n);
        int len = e > s ? (e - s + step - 1) / step : 0;
        return new Ops.SliceFunction(d, s, step, len).Apply(this);

        static int Clamp(int i, int n) => Math.Clamp(i < 0 ? i + n : i, 0, n);
    }

    /// <summary>The strided view <c>start:start+step·length:step</c> along <paramref name="dim"/>, without recording.</summary>
    internal Tensor SliceRaw(int dim, int start, int step, int length)
    {
        var shape = Shape;
        var strides = Strides;
        shape[dim] = length;
        strides[dim] = _strides[dim] * step;
        return new Tensor(Storage, shape, strides, Offset + (length == 0 ? 0 : start * _strides[dim]));
    }

    /// <summary>The sub-tensor at <paramref name="index"/> along <paramref name="dim"/>, with that dim removed.</summary>
    public Tensor Select(int dim, int index)
    {
        int d = ShapeChecks.NormalizeExistingDim("select", dim, _shape);
        int i = index < 0 ? index + _shape[d] : index;
        ShapeChecks.IndexInRange("select", i, _shape[d], d);
        return Narrow(d, i, 1).Reshape(RemoveAt(_shape, d));
    }

    /// <summary>A view broadcast to <paramref name="shape"/> (stride 0 on expanded dims; -1 keeps a size).</summary>
    public Tensor Expand(params int[] shape)
    {
        var target = (int[])shape.Clone();
        int lead = target.Length - Rank;
        for (int i = 0; i < target.Length; i++)
            if (target[i] == -1)
            {
                if (i < lead) throw new ShapeException("expand", $"-1 is not allowed for a new leading dim, got {ShapeChecks.Format(shape)}");
                target[i] = _shape[i - lead];
            }
        ShapeChecks.Expand("expand", _shape, target);
        return new Ops.ExpandFunction(target).Apply(this);
    }

    internal Tensor ExpandRaw(int[] target)
    {
        int lead = target.Length - Rank;
        var strides = new int[target.Length];
        for (int i = lead; i < target.Length; i++)
            strides[i] = _shape[i - lead] == target[i] ? _strides[i - lead] : 0;
        return new Tensor(Storage, target, strides, Offset);
    }

    /// <summary>Expands to the shape of <paramref name="other"/>.</summary>
    public Tensor ExpandAs(Tensor other) => Expand(other._shape);

    /// <summary>Flattens dims <paramref name="startDim"/>..<paramref name="endDim"/> into one.</summary>
    public Tensor Flatten(int startDim = 0, int endDim = -1)
    {
        if (Rank == 0) return Reshape(1);
        int s = ShapeChecks.NormalizeDim("flatten", startDim, Rank), e = ShapeChecks.NormalizeDim("flatten", endDim, Rank);
        if (s > e) throw new ShapeException("flatten", $"start dim {startDim} comes after end dim {endDim}");
        var shape = new List<int>();
        for (int i = 0; i < s; i++) shape.Add(_shape[i]);
        int m = 1;
        for (int i = s; i <= e; i++) m *= _shape[i];
        shape.Add(m);
        for (int i = e + 1; i < Rank; i++) shape.Add(_shape[i]);
        return Reshape(shape.ToArray());
    }

    /// <summary>This tensor if contiguous, otherwise a contiguous copy.</summary>
    public Tensor Contiguous() => IsContiguous ? this : Clone();

    /// <summary>A contiguous copy with its own storage.</summary>
    public Tensor Clone() => new Ops.CloneFunction().Apply(this);

    /// <summary><see cref="Contiguous"/> without recording (for backends).</summary>
    internal Tensor ContiguousRaw()
    {
        if (IsContiguous) return this;
        var y = Allocate(DType, Shape, clear: false);
        Backend.Current.Assign(y, this);
        return y;
    }

    /// <summary>
    /// Splits into chunks of <paramref name="splitSize"/> along <paramref name="dim"/> (the last may be smaller); views.
    /// </summary>
    public Tensor[] Split(int splitSize, int dim = 0)
    {
        int d = ShapeChecks.NormalizeExistingDim("split", dim, _shape);
        if (splitSize <= 0) throw new ShapeException("split", $"split size must be positive, got {splitSize}");
        var parts = new List<Tensor>();
        for (int s = 0; s < _shape[d]; s += splitSize) parts.Add(Narrow(d, s, Math.Min(splitSize, _shape[d] - s)));
        if (parts.Count == 0) parts.Add(Narrow(d, 0, 0));
        return parts.ToArray();
    }

    /// <summary>Splits into pieces of the given sizes along <paramref name="dim"/>; the sizes must add up to the dim.</summary>
    public Tensor[] Split(int[] sizes, int dim = 0)
    {
        int d = ShapeChecks.NormalizeExistingDim("split", dim, _shape);
        int total = 0;
        foreach (int s in sizes) total += s;
        if (total != _shape[d])
            throw new ShapeException("split", $"sizes {ShapeChecks.Format(sizes)} add up to {total}, but dim {d} of {ShapeChecks.Format(_shape)} has size {_shape[d]}");
        var parts = new Tensor[sizes.Length];
        int at = 0;
        for (int i = 0; i < sizes.Length; i++) { parts[i] = Narrow(d, at, sizes[i]); at += sizes[i]; }
        return parts;
    }

    /// <summary>Splits into <paramref name="chunks"/> nearly equal pieces along <paramref name="dim"/> (PyTorch's <c>chunk</c>).</summary>
    public Tensor[] Chunk(int chunks, int dim = 0)
    {
        int d = ShapeChecks.NormalizeExistingDim("chunk", dim, _shape);
        if (chunks <= 0) throw new ShapeException("chunk", $"chunks must be positive, got {chunks}");
        return Split(Math.Max(1, (_shape[d] + chunks - 1) / chunks), d);
    }

    /// <summary>Removes <paramref name="dim"/> and returns each slice along it (views).</summary>
    public Tensor[] Unbind(int dim = 0)
    {
        int d = ShapeChecks.NormalizeExistingDim("unbind", dim, _shape);
        var parts = new Tensor[_shape[d]];
        for (int i = 0; i < parts.Length; i++) parts[i] = Select(d, i);
        return parts;
    }
}
