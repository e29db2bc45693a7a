namespace Fovea.Backends.Reference;

/// <summary>
/// Plain loops over float64 values, element by element, with no SIMD, no threads and no fast paths:
/// slow on purpose and easy to read. Tests hold the CPU backend against it.
/// </summary>
internal sealed partial class ReferenceBackend : IBackend
{
    public string Name => "reference";

    /// <summary>Reads <paramref name="t"/> broadcast to <paramref name="shape"/> as float64, row-major.</summary>
    internal static double[] Read(Tensor t, int[] shape)
    {
        int n = ShapeChecks.Numel("reference", shape);
        var result = new double[n];
        var pos = new int[shape.Length];
        int lead = shape.Length - t.Rank;
        for (int flat = 0; flat < n; flat++)
        {
            int at = t.Offset;
            for (int d = 0; d < t.Rank; d++)
                if (t._shape[d] != 1) at += pos[lead + d] * t._strides[d];
            result[flat] = t.GetAsDouble(at);
            Odometer.Advance(pos, shape);
        }
        return result;
    }

    /// <summary>A new contiguous tensor of <paramref name="dtype"/> from float64 values (float to int truncates).</summary>
    internal static Tensor Write(double[] values, int[] shape, DType dtype)
    {
        var y = Tensor.Allocate(dtype, shape);
        for (int i = 0; i < values.Length; i++) SetFromDouble(y, i, values[i]);
        return y;
    }

    private static void SetFromDouble(Tensor y, int storageIndex, double v)
    {
        switch (y.DType)
        {
            case DType.Float32: y.Storage.As<float>()[storageIndex] = (float)v; break;
            case DType.Float64: y.Storage.As<double>()[storageIndex] = v; break;
            case DType.Int32: y.Storage.As<int>()[storageIndex] = double.IsNaN(v) ? 0 : (int)Math.Truncate(v); break;
            case DType.Bool: y.Storage.As<bool>()[storageIndex] = v != 0; break;
        }
    }

    public void Assign(Tensor dst, Tensor src)
    {
        var values = Read(src, dst._shape);
        for (int flat = 0; flat < values.Length; flat++) SetFromDouble(dst, dst.StorageIndexOf(flat), values[flat]);
    }

    public Tensor Cast(Tensor x, DType dtype) => Write(Read(x, x._shape), x.Shape, dtype);

    public Tensor Unary(UnaryOp op, Tensor x)
    {
        if (x.DType == DType.Bool || (x.DType == DType.Int32 && op is not (UnaryOp.Neg or UnaryOp.Abs or UnaryOp.Sign or UnaryOp.Relu)))
            throw new DTypeException(op.ToString().ToLowerInvariant(), $"not defined for {x.DType.Name()} tensors");
        var v = Read(x, x._shape);
        for (int i = 0; i < v.Length; i++)
        {
            double a = v[i];
            v[i] = op switch
            {
                UnaryOp.Neg => -a,
                UnaryOp.Abs => Math.Abs(a),
                UnaryOp.Sign => double.IsNaN(a) ? a : Math.Sign(a),
                UnaryOp.Exp => Math.Exp(a),
                UnaryOp.Log => Math.Log(a),
                UnaryOp.Sqrt => Math.Sqrt(a),
                UnaryOp.Rsqrt => 1.0 / Math.Sqrt(a),
                UnaryOp.Sin => Math.Sin(a),
                UnaryOp.Cos => Math.Cos(a),
                UnaryOp.Tanh => Math.Tanh(a),
                UnaryOp.Sigmoid => 1.0 / (1.0 + Math.Exp(-a)),
                UnaryOp.Relu => double.IsNaN(a) ? a : Math.Max(a, 0),
                UnaryOp.Erf => SpecialFunctions.Erf(a),
                _ => throw new ArgumentOutOfRangeException(nameof(op)),
            };
        }
        return Write(v, x.Shape, x.DType);
    }

    public Tensor Binary(BinaryOp op, Tensor a, Tensor b, int[] shape)
    {
        if (a.DType == DType.Bool || (a.DType == DType.Int32 && op is BinaryOp.Div or BinaryOp.Pow))
            throw new DTypeException(op.ToString().ToLowerInvariant(), $"not defined for {a.DType.Name()} tensors");
        var x = Read(a, shape);
        var y = Read(b, shape);
        var r = new double[x.Length];
        for (int i = 0; i < r.Length; i++)
        {
            r[i] = op switch
            {
                BinaryOp.Add => x[i] + y[i],
                BinaryOp.Sub => x[i] - y[i],
                BinaryOp.Mul => x[i] * y[i],
                BinaryOp.Div => x[i] / y[i],
                BinaryOp.Pow => Math.Pow(x[i], y[i]),
                BinaryOp.Maximum => double.IsNaN(x[i]) || double.IsNaN(y[i]) ? double.NaN : Math.Max(x[i], y[i]),
                BinaryOp.Minimum => double.IsNaN(x[i]) || double.IsNaN(y[i]) ? double.NaN : Math.Min(x[i], y[i]),
                BinaryOp.MaskPositive => y[i] > 0 ? x[i] : 0,
                _ => throw new ArgumentOutOfRangeException(nameof(op)),
            };
        }
        return Write(r, shape, a.DType);
    }

    public void AddRelu(Tensor dst, Tensor a, Tensor? b)
    {
        if (!dst.DType.IsFloating())
            throw new DTypeException("add_relu", $"expected a floating dtype, got {dst.DType.Name()}; convert with .To(DType.Float32)");
        // Both operands are read before anything is written, so dst may be either of them.
        var x = Read(a, dst._shape);
        var y = b is null ? null : Read(b, dst._shape);
        for (int i = 0; i < x.Length; i++)
        {
            double v = y is null ? x[i] : x[i] + y[i];
            SetFromDouble(dst, dst.StorageIndexOf(i), double.IsNaN(v) ? v : Math.Max(v, 0));
        }
    }

    public Tensor Compare(CompareOp op, Tensor a, Tensor b, int[] shape)
    {
        var x = Read(a, shape);
        var y = Read(b, shape);
        var r = new double[x.Length];
        for (int i = 0; i < r.Length; i++)
        {
            bool v = op switch
            {
                CompareOp.Eq => x[i] == y[i],
                CompareOp.Ne => x[i] != y[i],
                CompareOp.Lt => x[i] < y[i],
                CompareOp.Le => x[i] <= y[i],
                CompareOp.Gt => x[i] > y[i],
                CompareOp.Ge => x[i] >= y[i],
                CompareOp.And => x[i] != 0 && y[i] != 0,
                CompareOp.Or => x[i] != 0 || y[i] != 0,
                CompareOp.Xor => (x[i] != 0) ^ (y[i] != 0),
                _ => throw new ArgumentOutOfRangeException(nameof(op)),
            };
            r[i] = v ? 1 : 0;
        }
        return Write(r, shape, DType.Bool);
    }

    public Tensor Where(Tensor cond, Tensor a, Tensor b, int[] shape)
    {
        var c = Read(cond, shape);
        var x = Read(a, shape);
        var y = Read(b, shape);
        for (int i = 0; i < c.Length; i++) x[i] = c[i] != 0 ? x[i] : y[i];
        return Write(x, shape, a.DType);
    }

    public Tensor Softmax(Tensor x, int dim, bool log)
    {
        var (outer, n, inner) = SoftmaxChecks.Slices("softmax", x, dim);
        var v = ReadAll(x);
        var y = new double[v.Length];
        for (int o = 0; o < outer; o++)
            for (int i = 0; i < inner; i++)
            {
                int at = o * n * inner + i;
                double m = double.NegativeInfinity, sum = 0;
                for (int j = 0; j < n; j++) m = double.IsNaN(v[at + j * inner]) ? double.NaN : Math.Max(m, v[at + j * inner]);
                for (int j = 0; j < n; j++) sum += Math.Exp(v[at + j * inner] - m);
                for (int j = 0; j < n; j++)
                    y[at + j * inner] = log ? v[at + j * inner] - m - Math.Log(sum) : Math.Exp(v[at + j * inner] - m) / sum;
            }
        return Write(y, x.Shape, x.DType);
    }

    public Tensor SoftmaxBackward(Tensor gradOutput, Tensor output, int dim, bool log)
    {
        var (outer, n, inner) = SoftmaxChecks.Slices("softmax backward", output, dim, gradOutput);
        var y = ReadAll(output);
        var g = ReadAll(gradOutput);
        var dx = new double[y.Length];
        for (int o = 0; o < outer; o++)
            for (int i = 0; i < inner; i++)
            {
                int at = o * n * inner + i;
                double s = 0;
                for (int j = 0; j < n; j++) s += log ? g[at + j * inner] : g[at + j * inner] * y[at + j * inner];
                for (int j = 0; j < n; j++)
                {
                    int k = at + j * inner;
                    dx[k] = log ? g[k] - Math.Exp(y[k]) * s : y[k] * (g[k] - s);
                }
            }
        return Write(dx, output.Shape, output.DType);
    }

    public Tensor Reduce(ReduceOp op, Tensor x, int[] dims, bool keepDim)
    {
        if (x.DType == DType.Bool)
            throw new DTypeException(op.ToString().ToLowerInvariant(), "not defined for bool tensors");
        var v = Read(x, x._shape);
        var reduced = new bool[x.Rank];
        foreach (int d in dims) reduced[d] = true;
        var outShape = new List<int>();
        var keptShape = new List<int>();
        for (int d = 0; d < x.Rank; d++)
        {
            if (!reduced[d]) { outShape.Add(x._shape[d]); keptShape.Add(x._shape[d]); }
            else if (keepDim) outShape.Add(1);
        }
        int outN = 1;
        foreach (int s in keptShape) outN *= s;
        var acc = new double[outN];
        var seen = new bool[outN];
        Array.Fill(acc, op == ReduceOp.Prod ? 1.0 : 0.0);
        var pos = new int[x.Rank];
        for (int flat = 0; flat < v.Length; flat++)
        {
            int o = 0;
            for (int d = 0; d < x.Rank; d++) if (!reduced[d]) o = o * x._shape[d] + pos[d];
            double a = v[flat];
            switch (op)
            {
                case ReduceOp.Sum: acc[o] += a; break;
                case ReduceOp.Prod: acc[o] *= a; break;
                // NaN wins and then stays (PyTorch's max/min propagate NaN).
                case ReduceOp.Max:
                    if (!seen[o] || (!double.IsNaN(acc[o]) && (double.IsNaN(a) || a > acc[o]))) acc[o] = a;
                    break;
                case ReduceOp.Min:
                    if (!seen[o] || (!double.IsNaN(acc[o]) && (double.IsNaN(a) || a < acc[o]))) acc[o] = a;
                    break;
            }
            seen[o] = true;
            Odometer.Advance(pos, x._shape);
        }
        return Write(acc, outShape.ToArray(), x.DType);
    }

    public (Tensor Values, Tensor Indices) ArgReduce(bool max, Tensor x, int dim, bool keepDim)
    {
        var v = Read(x, x._shape);
        int n = x._shape[dim];
        int inner = Product(x._shape, dim + 1, x.Rank), outer = Product(x._shape, 0, dim);
        var values = new double[outer * inner];
        var indices = new double[outer * inner];
        for (int o = 0; o < outer; o++)
            for (int i = 0; i < inner; i++)
            {
                int best = 0;
                double bv = v[o * n * inner + i];
                for (int k = 1; k < n && !double.IsNaN(bv); k++)
                {
                    double a = v[(o * n + k) * inner + i];
                    if (double.IsNaN(a) || (max ? a > bv : a < bv)) { best = k; bv = a; }
                }
                values[o * inner + i] = bv;
                indices[o * inner + i] = best;
            }
        var shape = new List<int>(x._shape);
        if (keepDim) shape[dim] = 1; else shape.RemoveAt(dim);
        return (Write(values, shape.ToArray(), x.DType), Write(indices, shape.ToArray(), DType.Int32));
    }

    public Tensor BatchedMatMul(Tensor a, Tensor b)
    {
        int batch = a._shape[0], m = a._shape[1], k = a._shape[2], n = b._shape[2];
        var x = Read(a, a._shape);
        var y = Read(b, b._shape);
        var r = new double[batch * m * n];
        for (int s = 0; s < batch; s++)
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++)
                {
                    double acc = 0;
                    for (int p = 0; p < k; p++) acc += x[(s * m + i) * k + p] * y[(s * k + p) * n + j];
                    r[(s * m + i) * n + j] = acc;
                }
        return Write(r, [batch, m, n], a.DType);
    }

    public Tensor IndexSelect(Tensor x, int dim, Tensor index)
    {
        var idx = Read(index, index._shape);
        var shape = x.Shape;
        shape[dim] = idx.Length;
        var v = Read(x, x._shape);
        int n = x._shape[dim];
        int inner = Product(x._shape, dim + 1, x.Rank), outer = Product(x._shape, 0, dim);
        var r = new double[outer * idx.Length * inner];
        for (int o = 0; o < outer; o++)
            for (int j = 0; j < idx.Length; j++)
            {
                int k = (int)idx[j];
                ShapeChecks.IndexInRange("index_select", k, n, dim);
                for (int i = 0; i < inner; i++) r[(o * idx.Length + j) * inner + i] = v[(o * n + k) * inner + i];
            }
        return Write(r, shape, x.DType);
    }

    /// <summary>The number of elements in dims [<paramref name="from"/>, <paramref name="to"/>) of <paramref name="shape"/>.</summary>
    private static int Product(int[] shape, int from, int to)
    {
        int n = 1;
        for (int d = from; d < to; d++) n *= shape[d];
        return n;
    }

    public Tensor Gather(Tensor x, int dim, Tensor index)
    {
        var idx = Read(index, index._shape);
        var r = new double[idx.Length];
        var pos = new int[x.Rank];
        for (int flat = 0; flat < idx.Length; flat++)
        {
            var p = (int[])pos.Clone();
            p[dim] = (int)idx[flat];
            ShapeChecks.IndexInRange("gather", p[dim], x._shape[dim], dim);
            r[flat] = x[p];
            Odometer.Advance(pos, index._shape);
        }
        return Write(r, index.Shape, x.DType);
    }

    public Tensor ScatterAdd(Tensor x, int dim, Tensor index, Tensor src)
    {
        var y = Write(Read(x, x._shape), x.Shape, x.DType);
        var idx = Read(index, index._shape);
        var pos = new int[x.Rank];
        for (int flat = 0; flat < idx.Length; flat++)
        {
            var p = (int[])pos.Clone();
            p[dim] = (int)idx[flat];
            ShapeChecks.IndexInRange("scatter_add", p[dim], x._shape[dim], dim);
            y[p] = y[p] + src[pos];
            Odometer.Advance(pos, index._shape);
        }
        return y;
    }

    /// <summary>
    /// Output element y[pos] is element pos of the input that covers pos[dim] along <paramref name="dim"/>, with
    /// pos[dim] less the lengths of the inputs before it; no views, no slices.
    /// </summary>
    public Tensor Cat(IReadOnlyList<Tensor> tensors, int dim, int[] shape)
    {
        var y = new double[ShapeChecks.Numel("cat", shape)];
        var pos = new int[shape.Length];
        for (int flat = 0; flat < y.Length; flat++)
        {
            int k = 0, along = pos[dim];
            while (along >= tensors[k]._shape[dim]) along -= tensors[k++]._shape[dim];
            var source = (int[])pos.Clone();
            source[dim] = along;
            y[flat] = tensors[k][source];
            Odometer.Advance(pos, shape);
        }
        return Write(y, shape, tensors[0].DType);
    }
}
