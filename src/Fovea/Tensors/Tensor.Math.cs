using Fovea.Backends;

namespace Fovea;

public sealed partial class Tensor
{
    private static void SameDType(string op, Tensor a, Tensor b)
    {
        if (a.DType != b.DType)
            throw new DTypeException(op, $"dtypes must match, got {a.DType.Name()} and {b.DType.Name()}; convert one with .To(DType.{a.DType})");
    }

    private Tensor ScalarLike(double value) => Full([], value, DType);

    private static Tensor BinaryOp(string op, Function function, Tensor a, Tensor b)
    {
        SameDType(op, a, b);
        return function.Apply(a, b);
    }

    private static Tensor CompareOp(string op, Backends.CompareOp kind, Tensor a, Tensor b)
    {
        SameDType(op, a, b);
        var shape = ShapeChecks.Broadcast(op, a._shape, b._shape);
        return Backend.Current.Compare(kind, a, b, shape);
    }

    // ---- Elementwise unary ----

    /// <summary>-x.</summary>
    public Tensor Neg() => new Ops.NegFunction().Apply(this);
    /// <summary>|x|.</summary>
    public Tensor Abs() => new Ops.AbsFunction().Apply(this);
    /// <summary>sign(x) in {-1, 0, 1} (NaN stays NaN).</summary>
    public Tensor Sign() => new Ops.SignFunction().Apply(this);
    /// <summary>e^x.</summary>
    public Tensor Exp() => new Ops.ExpFunction().Apply(this);
    /// <summary>Natural logarithm.</summary>
    public Tensor Log() => new Ops.LogFunction().Apply(this);
    /// <summary>√x.</summary>
    public Tensor Sqrt() => new Ops.SqrtFunction().Apply(this);
    /// <summary>1/√x.</summary>
    public Tensor Rsqrt() => new Ops.RsqrtFunction().Apply(this);
    /// <summary>sin x.</summary>
    public Tensor Sin() => new Ops.SinFunction().Apply(this);
    /// <summary>cos x.</summary>
    public Tensor Cos() => new Ops.CosFunction().Apply(this);
    /// <summary>tanh x.</summary>
    public Tensor Tanh() => new Ops.TanhFunction().Apply(this);
    /// <summary>σ(x) = 1 / (1 + e^-x).</summary>
    public Tensor Sigmoid() => new Ops.SigmoidFunction().Apply(this);
    /// <summary>max(x, 0).</summary>
    public Tensor Relu() => new Ops.ReluFunction().Apply(this);
    /// <summary>x².</summary>
    public Tensor Square() => Mul(this);
    /// <summary>1/x.</summary>
    public Tensor Reciprocal() => ScalarLike(1).Div(this);

    // ---- Elementwise binary (NumPy broadcasting) ----

    /// <summary>a + b.</summary>
    public Tensor Add(Tensor other) => BinaryOp("add", new Ops.AddFunction(), this, other);
    /// <summary>a + alpha·b (PyTorch's <c>add(other, alpha=...)</c>).</summary>
    public Tensor Add(Tensor other, double alpha) => alpha == 1 ? Add(other) : Add(other.Mul(alpha));
    /// <summary>a + s.</summary>
    public Tensor Add(double scalar) => Add(ScalarLike(scalar));
    /// <summary>a − b.</summary>
    public Tensor Sub(Tensor other) => BinaryOp("sub", new Ops.SubFunction(), this, other);
    /// <summary>a − s.</summary>
    public Tensor Sub(double scalar) => Sub(ScalarLike(scalar));
    /// <summary>a·b.</summary>
    public Tensor Mul(Tensor other) => BinaryOp("mul", new Ops.MulFunction(), this, other);
    /// <summary>a·s.</summary>
    public Tensor Mul(double scalar) => Mul(ScalarLike(scalar));
    /// <summary>a / b.</summary>
    public Tensor Div(Tensor other) => BinaryOp("div", new Ops.DivFunction(), this, other);
    /// <summary>a / s.</summary>
    public Tensor Div(double scalar) => Div(ScalarLike(scalar));
    /// <summary>a^b.</summary>
    public Tensor Pow(Tensor exponent) => BinaryOp("pow", new Ops.PowFunction(), this, exponent);
    /// <summary>a^s.</summary>
    public Tensor Pow(double exponent) => exponent == 2 ? Square() : Pow(ScalarLike(exponent));
    /// <summary>Elementwise max (NaN propagates).</summary>
    public Tensor Maximum(Tensor other) => BinaryOp("maximum", new Ops.ExtremumFunction(Ops.Extremum.Maximum), this, other);
    /// <summary>Elementwise min (NaN propagates).</summary>
    public Tensor Minimum(Tensor other) => BinaryOp("minimum", new Ops.ExtremumFunction(Ops.Extremum.Minimum), this, other);

    /// <summary>Limits values to [min, max]; either bound may be omitted. NaN stays NaN.</summary>
    public Tensor Clamp(double? min = null, double? max = null)
    {
        if (min is null && max is null) throw new ArgumentException("clamp: give at least one of min and max");
        // Where-based so the gradient flows at the bounds themselves, like PyTorch's clamp.
        var y = this;
        if (min is { } lo) y = Where(y.Lt(lo), ScalarLike(lo), y);
        if (max is { } hi) y = Where(y.Gt(hi), ScalarLike(hi), y);
        return y;
    }

    // ---- Comparisons (Bool results) ----

    /// <summary>a == b.</summary>
    public Tensor Eq(Tensor other) => CompareOp("eq", Backends.CompareOp.Eq, this, other);
    /// <summary>a == s.</summary>
    public Tensor Eq(double scalar) => Eq(ScalarLike(scalar));
    /// <summary>a != b.</summary>
    public Tensor Ne(Tensor other) => CompareOp("ne", Backends.CompareOp.Ne, this, other);
    /// <summary>a != s.</summary>
    public Tensor Ne(double scalar) => Ne(ScalarLike(scalar));
    /// <summary>a &lt; b.</summary>
    public Tensor Lt(Tensor other) => CompareOp("lt", Backends.CompareOp.Lt, this, other);
    /// <summary>a &lt; s.</summary>
    public Tensor Lt(double scalar) => Lt(ScalarLike(scalar));
    /// <summary>a &lt;= b.</summary>
    public Tensor Le(Tensor other) => CompareOp("le", Backends.CompareOp.Le, this, other);
    /// <summary>a &lt;= s.</summary>
    public Tensor Le(double scalar) => Le(ScalarLike(scalar));
    /// <summary>a &gt; b.</summary>
    public Tensor Gt(Tensor other) => CompareOp("gt", Backends.CompareOp.Gt, this, other);
    /// <summary>a &gt; s.</summary>
    public Tensor Gt(double scalar) => Gt(ScalarLike(scalar));
    /// <summary>a &gt;= b.</summary>
    public Tensor Ge(Tensor other) => CompareOp("ge", Backends.CompareOp.Ge, this, other);
    /// <summary>a &gt;= s.</summary>
    public Tensor Ge(double scalar) => Ge(ScalarLike(scalar));
    /// <summary>Logical and of two bool tensors.</summary>
    public Tensor LogicalAnd(Tensor other) => CompareOp("logical_and", Backends.CompareOp.And, this, other);
    /// <summary>Logical or of two bool tensors.</summary>
    public Tensor LogicalOr(Tensor other) => CompareOp("logical_or", Backends.CompareOp.Or, this, other);
    /// <summary>Logical xor of two bool tensors.</summary>
    public Tensor LogicalXor(Tensor other) => CompareOp("logical_xor", Backends.CompareOp.Xor, this, other);
    /// <summary>Logical not of a bool tensor.</summary>
    public Tensor LogicalNot()
    {
        if (DType != DType.Bool) throw new DTypeException("logical_not", $"expected a bool tensor, got {DType.Name()}");
        return LogicalXor(Full([], 1, DType.Bool));
    }

    /// <summary>cond ? a : b with broadcasting (PyTorch's <c>torch.where</c>).</summary>
    public static Tensor Where(Tensor condition, Tensor a, Tensor b)
    {
        if (condition.DType != DType.Bool)
            throw new DTypeException("where", $"condition must be bool, got {condition.DType.Name()}");
        SameDType("where", a, b);
        return new Ops.WhereFunction(condition).Apply(a, b);
    }

    /// <summary>A copy with <paramref name="value"/> wherever <paramref name="mask"/> is true.</summary>
    public Tensor MaskedFill(Tensor mask, double value) => Where(mask, ScalarLike(value), this);

    /// <summary>True when shapes are equal and every |a − b| &lt;= atol + rtol·|b| (NaN equal to NaN only if <paramref name="equalNan"/>).</summary>
    public bool AllClose(Tensor other, double rtol = 1e-5, double atol = 1e-8, bool equalNan = false)
    {
        if (!_shape.AsSpan().SequenceEqual(other._shape)) return false;
        var a = To(DType.Float64).Contiguous().AsSpan<double>();
        var b = other.To(DType.Float64).Contiguous().AsSpan<double>();
        for (int i = 0; i < a.Length; i++)
        {
            if (double.IsNaN(a[i]) || double.IsNaN(b[i]))
            {
                if (equalNan && double.IsNaN(a[i]) && double.IsNaN(b[i])) continue;
                return false;
            }
            if (a[i] == b[i]) continue;
            if (!(Math.Abs(a[i] - b[i]) <= atol + rtol * Math.Abs(b[i]))) return false;
        }
        return true;
    }

    /// <summary>True when shape, dtype and every value are equal.</summary>
    public bool Equal(Tensor other) =>
        DType == other.DType && _shape.AsSpan().SequenceEqual(other._shape) && (Numel == 0 || Eq(other).All());

    /// <summary>True when every element is nonzero (true for an empty tensor).</summary>
    public bool All() => To(DType.Bool).Contiguous().AsSpan<bool>().IndexOf(false) < 0;

    /// <summary>True when some element is nonzero.</summary>
    public bool Any() => To(DType.Bool).Contiguous().AsSpan<bool>().IndexOf(true) >= 0;

    // ---- Matrix product ----

    /// <summary>
    /// Matrix product with PyTorch's rules: 1-d·1-d is a dot product; a 1-d operand is promoted to a
    /// matrix and the added dim removed; leading (batch) dims broadcast.
    /// </summary>
    public Tensor MatMul(Tensor other)
    {
        SameDType("matmul", this, other);
        var outShape = ShapeChecks.MatMul(_shape, other._shape);
        var a = Rank == 1 ? Unsqueeze(0) : this;
        var b = other.Rank == 1 ? other.Unsqueeze(1) : other;
        int m = a._shape[^2], k = a._shape[^1], n = b._shape[^1];
        Tensor y;
        if (b.Rank == 2 && a.Rank > 2 && a.IsContiguous && k > 0)
        {
            // A stack of matrices times one matrix is one tall GEMM: fold the batch into the rows.
            int rows = a.Numel / k;
            y = new Ops.BatchedMatMulFunction().Apply(a.Reshape(1, rows, k), b.Unsqueeze(0));
        }
        else
        {
            var batch = ShapeChecks.Broadcast("matmul", a._shape[..^2], b._shape[..^2]);
            int count = 1;
            foreach (int s in batch) count *= s;
            var a3 = a.Expand([.. batch, m, k]).Reshape(count, m, k);
            var b3 = b.Expand([.. batch, k, n]).Reshape(count, k, n);
            y = new Ops.BatchedMatMulFunction().Apply(a3, b3);
        }
        return y.Reshape(outShape);
    }

    // ---- Indexing ----

    /// <summary>Entries <paramref name="index"/> (int32, 1-d) along <paramref name="dim"/>.</summary>
    public Tensor IndexSelect(int dim, Tensor index)
    {
        int d = ShapeChecks.NormalizeDim("index_select", dim, Rank);
        if (index.DType != DType.Int32) throw new DTypeException("index_select", $"index must be int32, got {index.DType.Name()}");
        if (index.Rank > 1) throw new ShapeException("index_select", $"index must be 0-d or 1-d, got {ShapeChecks.Format(index._shape)}");
        return new Ops.IndexSelectFunction(d, index.Reshape(-1)).Apply(this);
    }

    /// <summary>out[i][j] = x[i][index[i][j]] for dim 1 (and likewise for other dims).</summary>
    public Tensor Gather(int dim, Tensor index)
    {
        int d = ShapeChecks.NormalizeDim("gather", dim, Rank);
        if (index.DType != DType.Int32) throw new DTypeException("gather", $"index must be int32, got {index.DType.Name()}");
        ShapeChecks.Gather("gather", _shape, d, index._shape);
        return new Ops.GatherFunction(d, index).Apply(this);
    }

    /// <summary>A copy with out[i][index[i][j]] += src[i][j] for dim 1 (and likewise for other dims).</summary>
    public Tensor ScatterAdd(int dim, Tensor index, Tensor src)
    {
        int d = ShapeChecks.NormalizeDim("scatter_add", dim, Rank);
        if (index.DType != DType.Int32) throw new DTypeException("scatter_add", $"index must be int32, got {index.DType.Name()}");
        SameDType("scatter_add", this, src);
        ShapeChecks.Gather("scatter_add", _shape, d, index._shape);
        ShapeChecks.ScatterSource("scatter_add", src._shape, index._shape);
        return new Ops.ScatterAddFunction(d, index).Apply(this, src);
    }

    /// <summary>Concatenates along an existing dim.</summary>
    public static Tensor Cat(IReadOnlyList<Tensor> tensors, int dim = 0)
    {
        if (tensors.Count == 0) throw new ShapeException("cat", "expected a non-empty list of tensors");
        for (int i = 1; i < tensors.Count; i++) SameDType("cat", tensors[0], tensors[i]);
        int d = ShapeChecks.NormalizeDim("cat", dim, tensors[0].Rank);
        var shapes = new List<int[]>(tensors.Count);
        foreach (var t in tensors) shapes.Add(t._shape);
        var shape = ShapeChecks.Cat("cat", shapes, d);
        return new Ops.CatFunction(d, shape).Apply([.. tensors]);
    }

    /// <summary>Stacks equal-shaped tensors along a new dim.</summary>
    public static Tensor Stack(IReadOnlyList<Tensor> tensors, int dim = 0)
    {
        if (tensors.Count == 0) throw new ShapeException("stack", "expected a non-empty list of tensors");
        for (int i = 1; i < tensors.Count; i++)
            if (!tensors[i]._shape.AsSpan().SequenceEqual(tensors[0]._shape))
                throw new ShapeException("stack", $"all tensors must have the same shape, got {ShapeChecks.Format(tensors[0]._shape)} and {ShapeChecks.Format(tensors[i]._shape)} (tensor {i})");
        int d = ShapeChecks.NormalizeDim("stack", dim, tensors[0].Rank + 1);
        var parts = new Tensor[tensors.Count];
        for (int i = 0; i < parts.Length; i++) parts[i] = tensors[i].Unsqueeze(d);
        return Cat(parts, d);
    }

    // ---- In-place writes (bump the storage version) ----

    /// <summary>Copies <paramref name="src"/> (broadcast to this shape) into this tensor or view.</summary>
    public Tensor CopyFrom(Tensor src)
    {
        SameDType("copy", this, src);
        ShapeChecks.Expand("copy", src._shape, _shape);
        if (RequiresGrad && GradMode.IsEnabled)
            throw new InvalidOperationException($"copy: a tensor that requires grad (shape {ShapeChecks.Format(_shape)}) cannot be modified in place while grad mode is on; wrap the update in GradMode.Disable()");
        Backend.Current.Assign(this, src);
        Storage.BumpVersion();
        return this;
    }

    /// <summary>Sets every element of this tensor or view to <paramref name="value"/>.</summary>
    public Tensor FillInPlace(double value) => CopyFrom(ScalarLike(value));

    /// <summary>this += alpha·other.</summary>
    public Tensor AddInPlace(Tensor other, double alpha = 1) => CopyFrom(Add(other, alpha));

    /// <summary>this *= s.</summary>
    public Tensor MulInPlace(double scalar) => CopyFrom(Mul(scalar));

    // ---- Operators ----

    public static Tensor operator +(Tensor a, Tensor b) => a.Add(b);
    public static Tensor operator +(Tensor a, double s) => a.Add(s);
    public static Tensor operator +(double s, Tensor a) => a.ScalarLike(s).Add(a);
    public static Tensor operator -(Tensor a, Tensor b) => a.Sub(b);
    public static Tensor operator -(Tensor a, double s) => a.Sub(s);
    public static Tensor operator -(double s, Tensor a) => a.ScalarLike(s).Sub(a);
    public static Tensor operator *(Tensor a, Tensor b) => a.Mul(b);
    public static Tensor operator *(Tensor a, double s) => a.Mul(s);
    public static Tensor operator *(double s, Tensor a) => a.ScalarLike(s).Mul(a);
    public static Tensor operator /(Tensor a, Tensor b) => a.Div(b);
    public static Tensor operator /(Tensor a, double s) => a.Div(s);
    public static Tensor operator /(double s, Tensor a) => a.ScalarLike(s).Div(a);
    public static Tensor operator -(Tensor a) => a.Neg();
}
