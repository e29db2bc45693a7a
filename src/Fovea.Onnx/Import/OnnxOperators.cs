using Fovea.NN;

namespace Fovea.Onnx.Import;

/// <summary>
/// The ONNX operators Fovea imports, each compiled from its node into an <see cref="OnnxKernel"/> built from Fovea
/// ops (so an imported network trains and gradient-checks like one written in Fovea). Semantics follow the ONNX
/// operator specification (onnx/docs/Operators.md) at opsets 7–21, including the changes between versions (Softmax
/// at 13, the attribute-to-input moves of Squeeze, Unsqueeze, Split, Clip, Pad, ReduceMean and Dropout).
/// </summary>
internal static partial class OnnxOperators
{
    /// <summary>Every operator type this importer compiles, for messages and the README's table.</summary>
    public static readonly string[] Supported =
    [
        "Add", "AveragePool", "BatchNormalization", "Cast", "Clip", "Concat", "Constant", "ConstantOfShape", "Conv",
        "ConvTranspose", "Div", "Dropout", "Elu", "Flatten", "Gather", "Gemm", "GlobalAveragePool", "GlobalMaxPool",
        "Identity", "LRN", "LeakyRelu", "LogSoftmax", "MatMul", "MaxPool", "Mul", "PRelu", "Pad", "ReduceMean", "Relu",
        "Reshape", "Resize", "Shape", "Sigmoid", "Slice", "Softmax", "Split", "Squeeze", "Sub", "Sum", "Tanh",
        "Transpose", "Unsqueeze", "Upsample",
    ];

    /// <summary>
    /// The inputs of each operator that are read as host values (shapes, axes, pads, scales, bounds, ratios): a float
    /// initializer used only there stays a constant instead of becoming a trainable parameter.
    /// </summary>
    public static int[] HostInputs(string opType) => opType switch
    {
        "Reshape" or "Squeeze" or "Unsqueeze" or "Split" or "ReduceMean" or "Upsample" or "Gather" => [1],
        "Clip" => [1, 2],
        "Pad" => [1, 2, 3],
        "Resize" => [1, 2, 3],
        "Dropout" => [1, 2],
        "Slice" => [1, 2, 3, 4],
        "ConstantOfShape" => [0],
        _ => [],
    };

    /// <summary>Compiles one node, reading and checking all of its attributes; any unread attribute is refused.</summary>
    public static OnnxKernel Compile(OnnxNode n)
    {
        OnnxKernel kernel = n.OpType switch
        {
            "Relu" => Unary(n, x => x.Relu()),
            "Sigmoid" => Unary(n, x => x.Sigmoid()),
            "Tanh" => Unary(n, x => x.Tanh()),
            "LeakyRelu" => LeakyRelu(n),
            "Elu" => Elu(n),
            "PRelu" => PRelu(n),
            "Softmax" => Softmax(n, log: false),
            "LogSoftmax" => Softmax(n, log: true),
            "Add" or "Sub" or "Mul" or "Div" => Binary(n),
            "Sum" => Sum(n),
            "Gemm" => Gemm(n),
            "MatMul" => MatMul(n),
            "Identity" => Identity(n),
            "Dropout" => Dropout(n),
            "Clip" => Clip(n),
            "ReduceMean" => ReduceMean(n),
            "Conv" => Conv(n),
            "ConvTranspose" => ConvTranspose(n),
            "BatchNormalization" => BatchNormalization(n),
            "MaxPool" => MaxPool(n),
            "AveragePool" => AveragePool(n),
            "GlobalAveragePool" => GlobalPool(n, max: false),
            "GlobalMaxPool" => GlobalPool(n, max: true),
            "LRN" => Lrn(n),
            "Flatten" => Flatten(n),
            "Reshape" => Reshape(n),
            "Transpose" => Transpose(n),
            "Concat" => Concat(n),
            "Split" => Split(n),
            "Squeeze" => Squeeze(n),
            "Unsqueeze" => Unsqueeze(n),
            "Shape" => Shape(n),
            "Gather" => Gather(n),
            "Slice" => Slice(n),
            "Cast" => Cast(n),
            "Constant" => Constant(n),
            "ConstantOfShape" => ConstantOfShape(n),
            "Pad" => Pad(n),
            "Resize" => Resize(n),
            "Upsample" => Upsample(n),
            _ => throw new OnnxImportException($"{n.Where}: the operator {n.OpType} is not supported (Fovea imports {string.Join(", ", Supported)})"),
        };
        n.RefuseUnreadAttributes();
        return kernel;
    }

    // ---- Helpers shared by the operators ----

    /// <summary>The input as a tensor of the run's dtype (host constants become constant tensors).</summary>
    private static Tensor T(OnnxRun run, OnnxValue? v, OnnxNode n, int index)
    {
        if (v is null) throw n.Error($"input {index} is required");
        var t = v.AsTensor(run.DType);
        return t.DType == run.DType || !t.DType.IsFloating() ? t : t.To(run.DType);
    }

    private static OnnxValue[] One(Tensor t) => [OnnxValue.Of(t)];

    /// <summary>A dim index in [0, rank): ONNX allows negative axes counting from the end.</summary>
    private static int Axis(OnnxNode n, long axis, int rank, string what = "axis")
    {
        long a = axis < 0 ? axis + rank : axis;
        if (a < 0 || a >= rank) throw n.Error($"{what} {axis} is out of range for a rank-{rank} input");
        return (int)a;
    }

    /// <summary>The node's output 0 only: extra outputs (masks, indices, saved statistics) are refused by name.</summary>
    private static void OnlyFirstOutput(OnnxNode n, string what)
    {
        for (int i = 1; i < n.Proto.Output.Count; i++)
            if (n.HasOutput(i)) throw n.Error($"output {i} ({what}) is not supported; only output 0 is computed");
    }

    private static OnnxKernel Unary(OnnxNode n, Func<Tensor, Tensor> f) => (run, i) => One(f(T(run, i[0], n, 0)));

    private static OnnxKernel Identity(OnnxNode n) => (run, i) => [i[0] ?? throw n.Error("input 0 is required")];

    // ---- Activations ----

    private static OnnxKernel LeakyRelu(OnnxNode n)
    {
        double alpha = n.Float("alpha", 0.01f);
        return (run, i) => One(Functional.LeakyRelu(T(run, i[0], n, 0), alpha));
    }

    private static OnnxKernel Elu(OnnxNode n)
    {
        double alpha = n.Float("alpha", 1f);
        return (run, i) => One(Functional.Elu(T(run, i[0], n, 0), alpha));
    }

    /// <summary>PRelu: y = x for x ≥ 0, slope·x otherwise, slope broadcast to x (unidirectionally, e.g. [C, 1, 1]).</summary>
    private static OnnxKernel PRelu(OnnxNode n) => (run, i) =>
    {
        var x = T(run, i[0], n, 0);
        var slope = T(run, i[1], n, 1);
        return One(Tensor.Where(x.Lt(0), x.Mul(slope), x));
    };

    /// <summary>
    /// Softmax and LogSoftmax. Opset 13 normalises along one axis (default −1). Before 13 the input is coerced to 2-d,
    /// [∏ dims before axis, ∏ dims from axis] (axis default 1), and normalised along the second dim.
    /// </summary>
    private static OnnxKernel Softmax(OnnxNode n, bool log)
    {
        bool perAxis = n.Opset >= 13;
        long axisAttr = n.Int("axis", perAxis ? -1 : 1);
        return (run, i) =>
        {
            var x = T(run, i[0], n, 0);
            if (x.Rank == 0) throw n.Error("input must have at least one dim");
            int axis = Axis(n, axisAttr, x.Rank);
            if (perAxis) return One(log ? Functional.LogSoftmax(x, axis) : Functional.Softmax(x, axis));
            var shape = x.Shape;
            int rows = 1;
            for (int d = 0; d < axis; d++) rows *= shape[d];
            var flat = x.Reshape(rows, -1);
            var y = log ? Functional.LogSoftmax(flat, 1) : Functional.Softmax(flat, 1);
            return One(y.Reshape(shape));
        };
    }

    // ---- Arithmetic ----

    /// <summary>Add, Sub, Mul, Div with NumPy broadcasting; on host integers (shape arithmetic) they stay on the host.</summary>
    private static OnnxKernel Binary(OnnxNode n)
    {
        string op = n.OpType;
        return (run, i) =>
        {
            var a = i[0] ?? throw n.Error("input 0 is required");
            var b = i[1] ?? throw n.Error("input 1 is required");
            if (a.Integers is not null && b.Integers is not null) return [HostBinary(n, op, a, b)];
            var x = T(run, a, n, 0);
            var y = T(run, b, n, 1);
            return One(op switch
            {
                "Add" => x.Add(y),
                "Sub" => x.Sub(y),
                "Mul" => x.Mul(y),
                _ => x.Div(y),
            });
        };
    }

    private static OnnxValue HostBinary(OnnxNode n, string op, OnnxValue a, OnnxValue b)
    {
        var x = a.Integers!;
        var y = b.Integers!;
        if (x.Length != y.Length && x.Length != 1 && y.Length != 1)
            throw n.Error($"integer operands of {x.Length} and {y.Length} values do not broadcast");
        int count = Math.Max(x.Length, y.Length);
        var r = new long[count];
        for (int k = 0; k < count; k++)
        {
            long p = x[x.Length == 1 ? 0 : k], q = y[y.Length == 1 ? 0 : k];
            r[k] = op switch
            {
                "Add" => p + q,
                "Sub" => p - q,
                "Mul" => p * q,
                _ => q == 0 ? throw n.Error("integer division by zero") : (long)Math.Floor((double)p / q),
            };
        }
        return OnnxValue.OfIntegers(r, a.Rank >= b.Rank ? a.Shape : b.Shape);
    }

    private static OnnxKernel Sum(OnnxNode n) => (run, i) =>
    {
        if (i.Length == 0) throw n.Error("needs at least one input");
        var s = T(run, i[0], n, 0);
        for (int k = 1; k < i.Length; k++) s = s.Add(T(run, i[k], n, k));
        return One(s);
    };

    /// <summary>Gemm: Y = α·A'·B' + β·C, A' = transA ? Aᵀ : A, B' likewise, C broadcast to [M, N].</summary>
    private static OnnxKernel Gemm(OnnxNode n)
    {
        bool transA = n.Int("transA", 0) != 0, transB = n.Int("transB", 0) != 0;
        double alpha = n.Float("alpha", 1f), beta = n.Float("beta", 1f);
        if (n.Opset < 7 && n.Has("broadcast")) n.Int("broadcast", 1);
        return (run, i) =>
        {
            var a = T(run, i[0], n, 0);
            var b = T(run, i[1], n, 1);
            if (a.Rank != 2 || b.Rank != 2) throw n.Error($"A and B must be 2-d, got {Fmt(a.Shape)} and {Fmt(b.Shape)}");
            var c = i.Length > 2 && i[2] is not null ? T(run, i[2], n, 2) : null;
            // The layer's case, y = x·Wᵀ + b with W [out, in], is one fused linear.
            if (!transA && transB && alpha == 1 && beta == 1 && (c is null || (c.Rank == 1 && c.Size(0) == b.Size(0))))
                return One(Functional.Linear(a, b, c));
            var y = (transA ? a.T : a).MatMul(transB ? b.T : b);
            if (alpha != 1) y = y.Mul(alpha);
            if (c is not null && beta != 0) y = y.Add(beta == 1 ? c : c.Mul(beta));
            return One(y);
        };
    }

    private static OnnxKernel MatMul(OnnxNode n) => (run, i) => One(T(run, i[0], n, 0).MatMul(T(run, i[1], n, 1)));

    /// <summary>Clip to [min, max]: attributes before opset 11, optional inputs from 11 (an omitted bound is ±∞).</summary>
    private static OnnxKernel Clip(OnnxNode n)
    {
        bool attributes = n.Opset < 11;
        double? attrMin = attributes ? n.Float("min", float.NegativeInfinity) : null;
        double? attrMax = attributes ? n.Float("max", float.PositiveInfinity) : null;
        return (run, i) =>
        {
            var x = T(run, i[0], n, 0);
            double? lo = attributes ? attrMin : i.Length > 1 && i[1] is { } l ? Scalar(n, l, "min") : null;
            double? hi = attributes ? attrMax : i.Length > 2 && i[2] is { } h ? Scalar(n, h, "max") : null;
            if (lo is { } a && double.IsNegativeInfinity(a)) lo = null;
            if (hi is { } b && double.IsPositiveInfinity(b)) hi = null;
            return One(lo is null && hi is null ? x : x.Clamp(lo, hi));
        };
    }

    private static double Scalar(OnnxNode n, OnnxValue v, string what)
    {
        var r = v.AsReals();
        if (r.Length != 1) throw n.Error($"{what} must be a scalar, got {r.Length} values");
        return r[0];
    }

    /// <summary>ReduceMean over axes (attribute before opset 18, input from 18; none means all unless noop_with_empty_axes).</summary>
    private static OnnxKernel ReduceMean(OnnxNode n)
    {
        bool keep = n.Int("keepdims", 1) != 0;
        long[]? attrAxes = n.Opset < 18 ? n.Ints("axes") : null;
        bool noopWhenEmpty = n.Opset >= 18 && n.Int("noop_with_empty_axes", 0) != 0;
        return (run, i) =>
        {
            var x = T(run, i[0], n, 0);
            long[]? axes = n.Opset < 18 ? attrAxes : i.Length > 1 && i[1] is { } a ? a.AsIntegers($"{n.Where}: axes") : null;
            if (axes is null || axes.Length == 0)
            {
                if (noopWhenEmpty) return One(x);
                axes = [.. Enumerable.Range(0, x.Rank).Select(d => (long)d)];
            }
            var dims = axes.Select(a => Axis(n, a, x.Rank, "axes")).Distinct().ToArray();
            return One(x.Mean(dims, keep));
        };
    }

    /// <summary>Dropout: identity in evaluation; in training (or with training_mode true, opset 12+) drops with the ratio.</summary>
    private static OnnxKernel Dropout(OnnxNode n)
    {
        n.Ignore("seed");
        if (n.Opset < 7 && n.Has("is_test")) n.Int("is_test", 0);
        double attrRatio = n.Opset < 12 ? n.Float("ratio", 0.5f) : 0.5;
        OnlyFirstOutput(n, "mask");
        return (run, i) =>
        {
            var x = T(run, i[0], n, 0);
            double ratio = n.Opset < 12 ? attrRatio : i.Length > 1 && i[1] is { } r ? Scalar(n, r, "ratio") : 0.5;
            bool training = run.Training || (i.Length > 2 && i[2] is { } t && Scalar(n, t, "training_mode") != 0);
            return One(Functional.Dropout(x, ratio, training));
        };
    }

    internal static string Fmt(int[] shape) => "[" + string.Join(", ", shape) + "]";
}
