using Fovea.Backends;

namespace Fovea;

public sealed partial class Tensor
{
    private int[] AllDims()
    {
        var dims = new int[Rank];
        for (int i = 0; i < dims.Length; i++) dims[i] = i;
        return dims;
    }

    private Tensor ReduceOp(string op, Backends.ReduceOp kind, int[]? dims, bool keepDim)
    {
        var d = dims is null || dims.Length == 0 ? AllDims() : ShapeChecks.NormalizeDims(op, dims, Rank);
        if (Rank == 0) d = []; // dim 0 or -1 of a 0-d tensor is the tensor itself, as in PyTorch
        if (kind is Backends.ReduceOp.Max or Backends.ReduceOp.Min)
            foreach (int k in d)
                if (_shape[k] == 0)
                    throw new ShapeException(op, $"cannot reduce over dim {k} of size 0 in {ShapeChecks.Format(_shape)}: there is no identity for {op}");
        if (DType == DType.Bool && kind is Backends.ReduceOp.Sum or Backends.ReduceOp.Prod)
            return To(DType.Int32).ReduceOp(op, kind, d, keepDim);
        Function f = kind switch
        {
            Backends.ReduceOp.Sum => new Ops.SumFunction(d, keepDim),
            Backends.ReduceOp.Prod => new Ops.ProdFunction(d, keepDim),
            Backends.ReduceOp.Max => new Ops.AmaxFunction(true, d, keepDim),
            _ => new Ops.AmaxFunction(false, d, keepDim),
        };
        return f.Apply(this);
    }

    private int ReducedCount(int[]? dims)
    {
        var d = dims is null || dims.Length == 0 ? AllDims() : ShapeChecks.NormalizeDims("mean", dims, Rank);
        if (Rank == 0) return 1;
        int n = 1;
        foreach (int k in d) n *= _shape[k];
        return n;
    }

    /// <summary>Sum of all elements (a 0-d tensor). Float32 sums are blocked with float64 block accumulation.</summary>
    public Tensor Sum() => ReduceOp("sum", Backends.ReduceOp.Sum, null, false);
    /// <summary>Sum over <paramref name="dim"/>.</summary>
    public Tensor Sum(int dim, bool keepDim = false) => ReduceOp("sum", Backends.ReduceOp.Sum, [dim], keepDim);
    /// <summary>Sum over <paramref name="dims"/> (all dims when empty).</summary>
    public Tensor Sum(int[] dims, bool keepDim = false) => ReduceOp("sum", Backends.ReduceOp.Sum, dims, keepDim);

    /// <summary>Product of all elements.</summary>
    public Tensor Prod() => ReduceOp("prod", Backends.ReduceOp.Prod, null, false);
    /// <summary>Product over <paramref name="dim"/>.</summary>
    public Tensor Prod(int dim, bool keepDim = false) => ReduceOp("prod", Backends.ReduceOp.Prod, [dim], keepDim);

    /// <summary>Mean of all elements.</summary>
    public Tensor Mean() => Mean([], false);
    /// <summary>Mean over <paramref name="dim"/>.</summary>
    public Tensor Mean(int dim, bool keepDim = false) => Mean([dim], keepDim);
    /// <summary>Mean over <paramref name="dims"/> (all dims when empty).</summary>
    public Tensor Mean(int[] dims, bool keepDim = false)
    {
        if (!DType.IsFloating())
            throw new DTypeException("mean", $"expected a floating dtype, got {DType.Name()}; convert with .To(DType.Float32)");
        return Sum(dims, keepDim).Div(ReducedCount(dims));
    }

    /// <summary>
    /// Variance over <paramref name="dims"/> with Bessel's <paramref name="correction"/> (1 = unbiased, like PyTorch's
    /// default). Two-pass (subtract the mean first) so it stays accurate when the mean is large.
    /// </summary>
    public Tensor Var(int[] dims, int correction = 1, bool keepDim = false)
    {
        var mean = Mean(dims, keepDim: true);
        var centered = Sub(mean);
        int n = ReducedCount(dims);
        return centered.Mul(centered).Sum(dims, keepDim).Div(Math.Max(0, n - correction));
    }

    /// <summary>Variance of all elements.</summary>
    public Tensor Var() => Var([], 1);
    /// <summary>Variance over <paramref name="dim"/>.</summary>
    public Tensor Var(int dim, int correction = 1, bool keepDim = false) => Var([dim], correction, keepDim);

    /// <summary>Standard deviation over <paramref name="dims"/>.</summary>
    public Tensor Std(int[] dims, int correction = 1, bool keepDim = false) => Var(dims, correction, keepDim).Sqrt();

    /// <summary>Standard deviation of all elements (unbiased).</summary>
    public Tensor Std() => Std([]);

    /// <summary>Standard deviation over <paramref name="dim"/>.</summary>
    public Tensor Std(int dim, int correction = 1, bool keepDim = false) => Std([dim], correction, keepDim);

    /// <summary>Largest element (NaN if any element is NaN).</summary>
    public Tensor Max() => ReduceOp("max", Backends.ReduceOp.Max, null, false);
    /// <summary>Smallest element (NaN if any element is NaN).</summary>
    public Tensor Min() => ReduceOp("min", Backends.ReduceOp.Min, null, false);
    /// <summary>Maximum over <paramref name="dims"/> (PyTorch's <c>amax</c>).</summary>
    public Tensor Amax(int[] dims, bool keepDim = false) => ReduceOp("amax", Backends.ReduceOp.Max, dims, keepDim);
    /// <summary>Minimum over <paramref name="dims"/> (PyTorch's <c>amin</c>).</summary>
    public Tensor Amin(int[] dims, bool keepDim = false) => ReduceOp("amin", Backends.ReduceOp.Min, dims, keepDim);

    /// <summary>Maximum along <paramref name="dim"/> with the index of its first occurrence.</summary>
    public (Tensor Values, Tensor Indices) Max(int dim, bool keepDim = false) => ArgReduce("max", true, dim, keepDim);
    /// <summary>Minimum along <paramref name="dim"/> with the index of its first occurrence.</summary>
    public (Tensor Values, Tensor Indices) Min(int dim, bool keepDim = false) => ArgReduce("min", false, dim, keepDim);

    private (Tensor Values, Tensor Indices) ArgReduce(string op, bool max, int dim, bool keepDim)
    {
        var t = Rank == 0 ? Reshape(1) : this;
        int d = ShapeChecks.NormalizeDim(op, dim, t.Rank);
        if (t._shape[d] == 0)
            throw new ShapeException(op, $"cannot reduce over dim {d} of size 0 in {ShapeChecks.Format(_shape)}");
        var f = new Ops.MaxDimFunction(max, d, keepDim || Rank == 0);
        var values = f.Apply(t);
        var indices = f.Indices!;
        return Rank == 0 ? (values.Reshape(), indices.Reshape()) : (values, indices);
    }

    /// <summary>Flat index of the largest element (first occurrence).</summary>
    public Tensor Argmax() => Reshape(-1).Max(0).Indices;
    /// <summary>Index of the largest element along <paramref name="dim"/>.</summary>
    public Tensor Argmax(int dim, bool keepDim = false) => Max(dim, keepDim).Indices;
    /// <summary>Flat index of the smallest element (first occurrence).</summary>
    public Tensor Argmin() => Reshape(-1).Min(0).Indices;
    /// <summary>Index of the smallest element along <paramref name="dim"/>.</summary>
    public Tensor Argmin(int dim, bool keepDim = false) => Min(dim, keepDim).Indices;

    /// <summary>
    /// log Σ exp(x) over <paramref name="dims"/>, computed as m + log Σ exp(x − m) with m the max, so large
    /// values do not overflow (an all −∞ slice gives −∞).
    /// </summary>
    public Tensor LogSumExp(int[] dims, bool keepDim = false)
    {
        var m = Amax(dims, keepDim: true);
        // Where the max is infinite, shift by 0 instead so exp(x - m) is not NaN.
        var shift = Where(m.Abs().Eq(double.PositiveInfinity), ZerosLike(m), m);
        var result = Sub(shift).Exp().Sum(dims, keepDim: true).Log().Add(shift);
        return keepDim ? result : result.Squeeze(dims);
    }

    /// <summary>log Σ exp(x) over <paramref name="dim"/>.</summary>
    public Tensor LogSumExp(int dim, bool keepDim = false) => LogSumExp([dim], keepDim);

    private Tensor Squeeze(int[] dims)
    {
        var d = dims.Length == 0 ? AllDims() : ShapeChecks.NormalizeDims("squeeze", dims, Rank);
        Array.Sort(d);
        var y = this;
        for (int i = d.Length - 1; i >= 0; i--) y = y.Squeeze(d[i]);
        return y;
    }
}
