using System.Globalization;
using Fovea.NN;
using Fovea.Vision.Models;
using static Fovea.Onnx.Export.OnnxGraphWriter;

namespace Fovea.Onnx.Export;

/// <summary>
/// One value of the graph being exported: its ONNX name and a Fovea tensor computed alongside (the same
/// computation on one sample of the input), which gives every shape the nodes need and lets the exporter check
/// at the end that the graph it wrote is the module's forward.
/// </summary>
internal readonly record struct TracedValue(string Name, Tensor Sample)
{
    /// <summary>The sample's shape (batch 1).</summary>
    public int[] Shape => Sample.Shape;
}

/// <summary>
/// Walks a module tree and writes each known module's ONNX nodes: containers recurse (a <see cref="Sequential"/>
/// chains its layers, a residual block adds its shortcut, an inception block concatenates its branches), layers
/// become their operators with their attributes, parameters and buffers become initializers under their
/// state-dict names. Inference semantics: dropout is the identity and batch norm uses the running statistics.
/// Anything else is a <see cref="NotSupportedException"/> naming the module's path and type.
/// </summary>
internal sealed class ModuleExporter(OnnxGraphWriter writer)
{
    private readonly OnnxGraphWriter _w = writer;

    /// <summary>Writes <paramref name="module"/> (at state-dict prefix <paramref name="path"/>) applied to <paramref name="x"/>.</summary>
    public TracedValue Emit(Module module, string path, TracedValue x)
    {
        switch (module)
        {
            case Sequential seq:
            {
                var layers = new HashSet<Module>(seq.Layers, ReferenceEqualityComparer.Instance);
                foreach (var (name, child) in seq.NamedChildren())
                    if (layers.Contains(child)) x = Emit(child, Join(path, name), x);
                return x;
            }
            case Identity or Dropout:
                return x;
            case Conv2d conv: return Conv(conv, path, x);
            case ConvTranspose2d deconv: return ConvTranspose(deconv, path, x);
            case Linear linear: return Linear(linear, path, x);
            case BatchNorm bn: return BatchNorm(bn, path, x);
            case LayerNorm ln: return LayerNorm(ln, path, x);
            case MaxPool2d pool: return MaxPool(pool, path, x);
            case AvgPool2d pool: return AvgPool(pool, path, x);
            case AdaptiveAvgPool2d pool: return AdaptiveAvgPool(pool, path, x);
            case Flatten flatten: return Flatten(flatten, path, x);
            case Upsample up: return Upsample(up, path, x);
            case ReLU: return Unary(module, "Relu", path, x);
            case Sigmoid: return Unary(module, "Sigmoid", path, x);
            case Tanh: return Unary(module, "Tanh", path, x);
            case LeakyReLU leaky: return Unary(module, "LeakyRelu", path, x, Attr("alpha", leaky.NegativeSlope));
            case ELU elu: return Unary(module, "Elu", path, x, Attr("alpha", elu.Alpha));
            case Softmax softmax: return Unary(module, "Softmax", path, x, Attr("axis", (long)softmax.Dim));
            case LogSoftmax logSoftmax: return Unary(module, "LogSoftmax", path, x, Attr("axis", (long)logSoftmax.Dim));
            case PReLU prelu: return PRelu(prelu, path, x);
            case LocalResponseNorm lrn: return Lrn(lrn, path, x);
            case GELU gelu: return Gelu(gelu, path, x);
            case Softplus softplus: return Softplus(softplus, path, x);
            case Maxout maxout: return Maxout(maxout, path, x);
            case BasicBlock or Bottleneck: return Residual((ResidualBlock)module, path, x);
            case Inception inception: return Inception(inception, path, x);
            case OnnxModule imported: return Imported(imported, path, x);
            case PretrainedClassifier classifier: return Pretrained(classifier, path, x);
            default:
                throw Unsupported(module, path, "the exporter has no ONNX form for this module type");
        }
    }

    /// <summary>The error for a module (or a setting of one) that has no ONNX form.</summary>
    public static NotSupportedException Unsupported(Module module, string path, string why) =>
        new($"ONNX export: module '{(path.Length == 0 ? "(root)" : path)}' ({module.GetType().Name}: {module.Describe()}) cannot be exported: {why}");

    private static string Join(string prefix, string name) => prefix.Length == 0 ? name : prefix + "." + name;

    private static string Hint(string path, string op) => path.Length == 0 ? op.ToLowerInvariant() : path;

    private TracedValue Unary(Module module, string op, string path, TracedValue x, params Fovea.Onnx.Protobuf.AttributeProto[] attributes) =>
        new(_w.Add(op, Hint(path, op), [x.Name], attributes), ((Module<Tensor, Tensor>)module).Forward(x.Sample));

    /// <summary>
    /// ONNX's LRN is PyTorch's for an odd window (both divide alpha by size and centre the window); for an even one ONNX
    /// puts the extra channel after c, PyTorch before it, so an even window has no ONNX form.
    /// </summary>
    private TracedValue Lrn(LocalResponseNorm lrn, string path, TracedValue x)
    {
        if (lrn.Size % 2 == 0)
            throw Unsupported(lrn, path, $"an even window ({lrn.Size}) covers other channels in ONNX's LRN than in this layer");
        return Unary(lrn, "LRN", path, x, Attr("alpha", lrn.Alpha), Attr("beta", lrn.Beta), Attr("bias", lrn.K), Attr("size", (long)lrn.Size));
    }

    private string Param(string path, string name, Tensor tensor) => _w.Initializer(Join(path, name), tensor);

    private static void RequireRank(Module module, string path, TracedValue x, int rank, string layout)
    {
        if (x.Sample.Rank != rank)
            throw Unsupported(module, path, $"ONNX needs its input as {layout}, got {ShapeChecks.Format(x.Shape)}");
    }

    private TracedValue Conv(Conv2d conv, string path, TracedValue x)
    {
        RequireRank(conv, path, x, 4, "[N, C, H, W]");
        string input = x.Name;
        long[] pads = [conv.PaddingSize.H, conv.PaddingSize.W, conv.PaddingSize.H, conv.PaddingSize.W];
        if (conv.PaddingMode != PaddingMode.Zeros && (conv.PaddingSize.H > 0 || conv.PaddingSize.W > 0))
        {
            // PyTorch pads first with the mode, then convolves unpadded: ONNX Pad (reflect/edge/wrap) then Conv.
            string mode = conv.PaddingMode switch
            {
                PaddingMode.Reflect => "reflect",
                PaddingMode.Replicate => "edge",
                _ when _w.Opset >= 19 => "wrap",
                _ => throw Unsupported(conv, path, $"circular padding is Pad mode 'wrap', which needs opset 19 or later (asked for {_w.Opset})"),
            };
            string padSizes = _w.Int64Constant(path + ".pads", 0, 0, pads[0], pads[1], 0, 0, pads[2], pads[3]);
            input = _w.Add("Pad", path + ".pad", [input, padSizes], Attr("mode", mode));
            pads = [0, 0, 0, 0];
        }
        var inputs = new List<string> { input, Param(path, "weight", conv.Weight) };
        if (conv.Bias is { } b) inputs.Add(Param(path, "bias", b));
        string y = _w.Add("Conv", path, [.. inputs],
            Attr("kernel_shape", conv.KernelSize.H, conv.KernelSize.W),
            Attr("strides", conv.StrideSize.H, conv.StrideSize.W),
            Attr("pads", pads),
            Attr("dilations", conv.DilationSize.H, conv.DilationSize.W),
            Attr("group", (long)conv.Groups));
        return new(y, conv.Forward(x.Sample));
    }

    private TracedValue ConvTranspose(ConvTranspose2d deconv, string path, TracedValue x)
    {
        RequireRank(deconv, path, x, 4, "[N, C, H, W]");
        var inputs = new List<string> { x.Name, Param(path, "weight", deconv.Weight) };
        if (deconv.Bias is { } b) inputs.Add(Param(path, "bias", b));
        string y = _w.Add("ConvTranspose", path, [.. inputs],
            Attr("kernel_shape", deconv.KernelSize.H, deconv.KernelSize.W),
            Attr("strides", deconv.StrideSize.H, deconv.StrideSize.W),
            Attr("pads", deconv.PaddingSize.H, deconv.PaddingSize.W, deconv.PaddingSize.H, deconv.PaddingSize.W),
            Attr("output_padding", deconv.OutputPadding.H, deconv.OutputPadding.W),
            Attr("dilations", deconv.DilationSize.H, deconv.DilationSize.W),
            Attr("group", (long)deconv.Groups));
        return new(y, deconv.Forward(x.Sample));
    }

    private TracedValue Linear(Linear linear, string path, TracedValue x)
    {
        string w = Param(path, "weight", linear.Weight);
        string? b = linear.Bias is { } bias ? Param(path, "bias", bias) : null;
        string y;
        if (x.Sample.Rank == 2)
        {
            // y = x·Wᵀ + b is Gemm with transB = 1, which keeps W in its [out, in] layout under its own name.
            y = _w.Add("Gemm", path, b is null ? [x.Name, w] : [x.Name, w, b], Attr("transB", 1L));
        }
        else
        {
            string wt = _w.Add("Transpose", path + ".weight_t", [w], Attr("perm", 1L, 0L));
            y = _w.Add("MatMul", b is null ? path : path + ".matmul", [x.Name, wt]);
            if (b is not null) y = _w.Add("Add", path, [y, b]);
        }
        return new(y, linear.Forward(x.Sample));
    }

    private TracedValue BatchNorm(BatchNorm bn, string path, TracedValue x)
    {
        if (bn.RunningMean is not { } mean || bn.RunningVar is not { } variance)
            throw Unsupported(bn, path, "without running statistics it normalises with the batch's own, which ONNX inference does not do");
        if (x.Sample.Rank < 2)
            throw Unsupported(bn, path, $"ONNX needs its input as [N, C, ...], got {ShapeChecks.Format(x.Shape)}");
        string scale = bn.Weight is { } g ? Param(path, "weight", g) : _w.Constant(path + ".ones", Tensor.Ones([bn.NumFeatures]));
        string shift = bn.Bias is { } b ? Param(path, "bias", b) : _w.Constant(path + ".zeros", Tensor.Zeros([bn.NumFeatures]));
        string y = _w.Add("BatchNormalization", path,
            [x.Name, scale, shift, Param(path, "running_mean", mean), Param(path, "running_var", variance)],
            Attr("epsilon", bn.Eps));
        return new(y, bn.Forward(x.Sample));
    }

    private TracedValue LayerNorm(LayerNorm ln, string path, TracedValue x)
    {
        if (_w.Opset < 17)
            throw Unsupported(ln, path, $"ONNX LayerNormalization needs opset 17 or later (asked for {_w.Opset})");
        int[] shape = ln.NormalizedShape;
        string scale = ln.Weight is { } g ? Param(path, "weight", g) : _w.Constant(path + ".ones", Tensor.Ones(shape));
        string shift = ln.Bias is { } b ? Param(path, "bias", b) : _w.Constant(path + ".zeros", Tensor.Zeros(shape));
        string y = _w.Add("LayerNormalization", path, [x.Name, scale, shift], Attr("axis", (long)-shape.Length), Attr("epsilon", ln.Eps));
        return new(y, ln.Forward(x.Sample));
    }

    private TracedValue MaxPool(MaxPool2d pool, string path, TracedValue x)
    {
        RequireRank(pool, path, x, 4, "[N, C, H, W]");
        var y = pool.Forward(x.Sample);
        long[] pads = [pool.PaddingSize.H, pool.PaddingSize.W, pool.PaddingSize.H, pool.PaddingSize.W];
        long ceil = 0;
        if (pool.CeilMode)
        {
            // ceil_mode's rounding differs between frameworks at the edge (PyTorch drops a last window that would
            // start in the right padding). The padding value of a max-pool, −∞, never wins, so the same output is
            // floor mode with the end padding each dim needs: pad_end = (out − 1)·s + d·(k − 1) + 1 − n − pad_begin.
            // ONNX Runtime requires pads below the kernel; otherwise ceil_mode stays on.
            long endH = EndPad(y.Shape[2], pool.StrideSize.H, pool.DilationSize.H, pool.KernelSize.H, x.Shape[2], pool.PaddingSize.H);
            long endW = EndPad(y.Shape[3], pool.StrideSize.W, pool.DilationSize.W, pool.KernelSize.W, x.Shape[3], pool.PaddingSize.W);
            if (endH < pool.KernelSize.H && endW < pool.KernelSize.W)
                pads = [pool.PaddingSize.H, pool.PaddingSize.W, Math.Max(endH, 0), Math.Max(endW, 0)];
            else ceil = 1;
        }
        string name = _w.Add("MaxPool", path.Length == 0 ? "maxpool" : path, [x.Name],
            Attr("kernel_shape", pool.KernelSize.H, pool.KernelSize.W),
            Attr("strides", pool.StrideSize.H, pool.StrideSize.W),
            Attr("pads", pads),
            Attr("dilations", pool.DilationSize.H, pool.DilationSize.W),
            Attr("ceil_mode", ceil));
        return new(name, y);
    }

    private static long EndPad(int outSize, int stride, int dilation, int kernel, int inSize, int padBegin) =>
        (long)(outSize - 1) * stride + (long)dilation * (kernel - 1) + 1 - inSize - padBegin;

    private TracedValue AvgPool(AvgPool2d pool, string path, TracedValue x)
    {
        RequireRank(pool, path, x, 4, "[N, C, H, W]");
        string y = _w.Add("AveragePool", Hint(path, "AveragePool"), [x.Name],
            Attr("kernel_shape", pool.KernelSize.H, pool.KernelSize.W),
            Attr("strides", pool.StrideSize.H, pool.StrideSize.W),
            Attr("pads", pool.PaddingSize.H, pool.PaddingSize.W, pool.PaddingSize.H, pool.PaddingSize.W),
            Attr("ceil_mode", pool.CeilMode ? 1L : 0L),
            Attr("count_include_pad", pool.CountIncludePad ? 1L : 0L));
        return new(y, pool.Forward(x.Sample));
    }

    private TracedValue AdaptiveAvgPool(AdaptiveAvgPool2d pool, string path, TracedValue x)
    {
        RequireRank(pool, path, x, 4, "[N, C, H, W]");
        int h = x.Shape[2], w = x.Shape[3], oh = pool.OutputSize.H, ow = pool.OutputSize.W;
        var y = pool.Forward(x.Sample);
        string hint = Hint(path, "avgpool");
        if (oh == h && ow == w) return new(x.Name, y);
        if (oh == 1 && ow == 1) return new(_w.Add("GlobalAveragePool", hint, [x.Name]), y);
        if (h % oh == 0 && w % ow == 0)
        {
            // Bins of equal size that tile the input: a plain average pool with kernel = stride = in/out.
            return new(_w.Add("AveragePool", hint, [x.Name],
                Attr("kernel_shape", h / oh, w / ow), Attr("strides", h / oh, w / ow)), y);
        }
        // Unequal or overlapping bins (an input smaller than the output, as AlexNet's 6x6 pool after a 28x28 stem):
        // the pool is linear and separable, y = A_h·x·A_wᵀ, so it is two MatMuls with the matrices Fovea itself
        // applies, read off by pooling one-hot inputs.
        var ah = LinearMapAlongRows(e => Functional.AdaptiveAvgPool2d(e, (oh, 1)), h);
        var awT = LinearMapAlongColumns(e => Functional.AdaptiveAvgPool2d(e, (1, ow)), w);
        string rows = _w.Add("MatMul", hint + ".rows", [_w.Constant(path + ".pool_h", ah), x.Name]);
        return new(_w.Add("MatMul", hint, [rows, _w.Constant(path + ".pool_w_t", awT)]), y);
    }

    /// <summary>The [out, n] matrix A of a linear map along H: <paramref name="map"/> applied to the one-hot columns e_k of [n, 1, n, 1].</summary>
    private static Tensor LinearMapAlongRows(Func<Tensor, Tensor> map, int n)
    {
        var columns = map(Tensor.Eye(n).Reshape(n, 1, n, 1)); // [n, 1, out, 1]: column k of A
        return columns.Reshape(n, columns.Shape[2]).T.Contiguous();
    }

    /// <summary>The [n, out] matrix Aᵀ of a linear map along W, from the one-hot rows of [n, 1, 1, n].</summary>
    private static Tensor LinearMapAlongColumns(Func<Tensor, Tensor> map, int n)
    {
        var rows = map(Tensor.Eye(n).Reshape(n, 1, 1, n)); // [n, 1, 1, out]: row k of Aᵀ
        return rows.Reshape(n, rows.Shape[3]).Contiguous();
    }

    private TracedValue Flatten(Flatten flatten, string path, TracedValue x)
    {
        var y = flatten.Forward(x.Sample);
        int rank = x.Sample.Rank;
        int start = flatten.StartDim < 0 ? flatten.StartDim + rank : flatten.StartDim;
        int end = flatten.EndDim < 0 ? flatten.EndDim + rank : flatten.EndDim;
        string hint = Hint(path, "flatten");
        if (start == end) return new(x.Name, y);
        if (start == 1 && end == rank - 1) return new(_w.Add("Flatten", hint, [x.Name], Attr("axis", 1L)), y);
        // Otherwise Reshape: 0 keeps a dim as it is (the batch among them), −1 is the merged run.
        var target = new List<long>();
        for (int d = 0; d < start; d++) target.Add(0);
        target.Add(-1);
        for (int d = end + 1; d < rank; d++) target.Add(x.Shape[d]);
        return new(_w.Add("Reshape", hint, [x.Name, _w.Int64Constant(hint + ".shape", [.. target])]), y);
    }

    private TracedValue Upsample(Upsample up, string path, TracedValue x)
    {
        RequireRank(up, path, x, 4, "[N, C, H, W]");
        var y = up.Forward(x.Sample);
        string hint = Hint(path, "upsample");
        var attributes = up.Mode == InterpolationMode.Nearest
            // PyTorch's legacy nearest: source ⌊dst·in/out⌋, i.e. asymmetric coordinates rounded down.
            ? new[] { Attr("mode", "nearest"), Attr("coordinate_transformation_mode", "asymmetric"), Attr("nearest_mode", "floor") }
            : [Attr("mode", "linear"), Attr("coordinate_transformation_mode", up.AlignCorners == true ? "align_corners" : "pytorch_half_pixel")];
        string[] inputs;
        if (up.ScaleFactor is { } s)
            inputs = [x.Name, "", _w.Constant(hint + ".scales", Tensor.FromArray([1f, 1f, (float)s, (float)s], 4))];
        else
        {
            // Sizes must name every dim, the batch too: take N and C from the input's shape at run time.
            string shape = _w.Add("Shape", hint + ".shape", [x.Name]);
            string nc = _w.Add("Slice", hint + ".nc", [shape, _w.Int64Constant(hint + ".start", 0), _w.Int64Constant(hint + ".end", 2)]);
            string sizes = _w.Add("Concat", hint + ".sizes", [nc, _w.Int64Constant(hint + ".hw", y.Shape[2], y.Shape[3])], Attr("axis", 0L));
            inputs = [x.Name, "", "", sizes];
        }
        return new(_w.Add("Resize", hint, inputs, attributes), y);
    }

    private TracedValue PRelu(PReLU prelu, string path, TracedValue x)
    {
        string slope = Param(path, "weight", prelu.Weight);
        int rank = x.Sample.Rank;
        if (prelu.Weight.Numel > 1 && rank > 2)
        {
            // One slope per channel (dim 1): [C] → [C, 1, …] so that it broadcasts over the trailing dims.
            long[] axes = [.. Enumerable.Range(1, rank - 2).Select(a => (long)a)];
            slope = _w.Add("Unsqueeze", path + ".slope", [slope, _w.Int64Constant(path + ".axes", axes)]);
        }
        return new(_w.Add("PRelu", Hint(path, "prelu"), [x.Name, slope]), prelu.Forward(x.Sample));
    }

    private TracedValue Gelu(GELU gelu, string path, TracedValue x)
    {
        var y = gelu.Forward(x.Sample);
        string hint = Hint(path, "gelu");
        bool tanh = gelu.Approximate != GeluApproximation.None;
        if (_w.Opset >= 20)
            return new(_w.Add("Gelu", hint, [x.Name], Attr("approximate", tanh ? "tanh" : "none")), y);
        string inner;
        if (!tanh)
        {
            // GELU(x) = ½·x·(1 + erf(x/√2)).
            inner = _w.Add("Erf", hint + ".erf", [_w.Add("Div", hint + ".scaled", [x.Name, _w.Scalar(hint + ".sqrt2", Math.Sqrt(2))])]);
        }
        else
        {
            // The tanh form: ½·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
            string cube = _w.Add("Mul", hint + ".cube", [x.Name, _w.Add("Mul", hint + ".square", [x.Name, x.Name])]);
            string poly = _w.Add("Add", hint + ".poly", [x.Name, _w.Add("Mul", hint + ".cubic", [cube, _w.Scalar(hint + ".c", 0.044715)])]);
            inner = _w.Add("Tanh", hint + ".tanh", [_w.Add("Mul", hint + ".arg", [poly, _w.Scalar(hint + ".k", Math.Sqrt(2 / Math.PI))])]);
        }
        string onePlus = _w.Add("Add", hint + ".one_plus", [inner, _w.Scalar(hint + ".one", 1)]);
        string half = _w.Add("Mul", hint + ".half_x", [x.Name, _w.Scalar(hint + ".half", 0.5)]);
        return new(_w.Add("Mul", hint, [half, onePlus]), y);
    }

    private TracedValue Softplus(Softplus softplus, string path, TracedValue x)
    {
        // (1/β)·log(1 + e^(βx)), and x itself where βx exceeds the threshold (as PyTorch, for stability).
        string hint = Hint(path, "softplus");
        string bx = _w.Add("Mul", hint + ".beta_x", [x.Name, _w.Scalar(hint + ".beta", softplus.Beta)]);
        string soft = _w.Add("Div", hint + ".smooth", [_w.Add("Softplus", hint + ".sp", [bx]), _w.Scalar(hint + ".beta_div", softplus.Beta)]);
        string linear = _w.Add("Greater", hint + ".linear", [bx, _w.Scalar(hint + ".threshold", softplus.Threshold)]);
        return new(_w.Add("Where", hint, [linear, x.Name, soft]), softplus.Forward(x.Sample));
    }

    private TracedValue Maxout(Maxout maxout, string path, TracedValue x)
    {
        RequireRank(maxout, path, x, 2, "[N, features]");
        // z = Gemm(x, W) as [N, out·pieces], viewed as [N, out, pieces], max over the pieces.
        string z = _w.Add("Gemm", path + ".affine", [x.Name, Param(path, "weight", maxout.Weight), Param(path, "bias", maxout.Bias)], Attr("transB", 1L));
        string pieces = _w.Add("Reshape", path + ".pieces", [z, _w.Int64Constant(path + ".shape", 0, maxout.OutFeatures, maxout.Pieces)]);
        string hint = Hint(path, "maxout");
        string y = _w.Opset >= 18
            ? _w.Add("ReduceMax", hint, [pieces, _w.Int64Constant(hint + ".axes", 2)], Attr("keepdims", 0L))
            : _w.Add("ReduceMax", hint, [pieces], Attr("axes", new long[] { 2 }), Attr("keepdims", 0L));
        return new(y, maxout.Forward(x.Sample));
    }

    private TracedValue Residual(ResidualBlock block, string path, TracedValue x)
    {
        var children = block.NamedChildren().ToDictionary(c => c.Name, c => c.Module, StringComparer.Ordinal);
        string[] body = block is Bottleneck
            ? ["conv1", "bn1", "relu", "conv2", "bn2", "relu", "conv3", "bn3"]
            : ["conv1", "bn1", "relu", "conv2", "bn2"];
        var y = x;
        foreach (string name in body) y = Emit(children[name], Join(path, name), y);
        TracedValue shortcut = x;
        if (children.TryGetValue("downsample", out var downsample))
            shortcut = Emit(downsample, Join(path, "downsample"), x);
        else if (children.TryGetValue("shortcut", out var pad))
        {
            // The block's stride is its strided convolution's (conv1 in a basic block, conv2 in a bottleneck).
            int stride = ((Conv2d)children[block is Bottleneck ? "conv2" : "conv1"]).StrideSize.H;
            shortcut = PadShortcut((PadShortcut)pad, Join(path, "shortcut"), stride, x);
        }
        string sum = _w.Add("Add", Join(path, "add"), [y.Name, shortcut.Name]);
        return new(_w.Add("Relu", Join(path, "out"), [sum]), (y.Sample + shortcut.Sample).Relu());
    }

    private TracedValue PadShortcut(PadShortcut shortcut, string path, int stride, TracedValue x)
    {
        var y = shortcut.Forward(x.Sample);
        string value = x.Name;
        if (stride > 1)
        {
            // Every stride-th pixel: Slice over H and W from 0 to the end with step = stride.
            value = _w.Add("Slice", path + ".subsample", [value, _w.Int64Constant(path + ".starts", 0, 0),
                _w.Int64Constant(path + ".ends", long.MaxValue, long.MaxValue), _w.Int64Constant(path + ".axes", 2, 3),
                _w.Int64Constant(path + ".steps", stride, stride)]);
        }
        int added = y.Shape[1] - x.Shape[1], before = added / 2, after = added - before;
        if (added > 0)
            value = _w.Add("Pad", path, [value, _w.Int64Constant(path + ".pads", 0, before, 0, 0, 0, after, 0, 0)], Attr("mode", "constant"));
        return new(value, y);
    }

    private TracedValue Inception(Inception block, string path, TracedValue x)
    {
        var branches = block.NamedChildren().Select(c => Emit(c.Module, Join(path, c.Name), x)).ToList();
        string y = _w.Add("Concat", path, [.. branches.Select(b => b.Name)], Attr("axis", 1L));
        return new(y, Tensor.Cat([.. branches.Select(b => b.Sample)], 1));
    }

    private TracedValue Imported(OnnxModule imported, string path, TracedValue x)
    {
        // An imported graph is copied node by node (its operators are already ONNX at its opset), with its
        // initializers written from the module's current tensors (fine-tuned weights) under their Fovea names.
        if (imported.Opset > _w.Opset)
            throw Unsupported(imported, path, $"it is an imported ONNX graph at opset {imported.Opset}; its nodes are written at their own opset or upgraded, never downgraded, so export it at opset {imported.Opset} or later");
        if (imported.Opset < _w.Opset)
        {
            var stuck = imported.Proto.Graph.Node.FirstOrDefault(n => !OpsetUpgrade.Handles(n));
            if (stuck is not null)
                throw Unsupported(imported, path, $"it is an imported ONNX graph at opset {imported.Opset}, and its node '{stuck.Name}' ({stuck.OpType}) has no upgrade to opset {_w.Opset} in the exporter; export it at opset {imported.Opset} if that is {OnnxModel.MinExportOpset} or later");
        }
        if (imported.Inputs.Count != 1 || imported.OutputNames.Count < 1)
            throw Unsupported(imported, path, $"the exporter writes graphs with one input, this one has {imported.Inputs.Count}");
        var graph = imported.Proto.Graph;
        var tensors = imported.NamedParameters().Concat(imported.NamedBuffers()).ToDictionary(t => t.Name, t => t.Item2, StringComparer.Ordinal);
        var names = new Dictionary<string, string>(StringComparer.Ordinal) { [imported.Inputs[0].Name] = x.Name };
        foreach (var init in graph.Initializer)
        {
            names[init.Name] = imported.ParameterNames.TryGetValue(init.Name, out var foveaName)
                ? Param(path, foveaName, tensors[foveaName])
                : _w.Constant(Join(path, init.Name), init);
        }
        string Rename(string name)
        {
            if (!names.TryGetValue(name, out var renamed)) names[name] = renamed = _w.Fresh(path.Length == 0 ? name : path + "/" + name);
            return renamed;
        }
        foreach (var node in graph.Node)
        {
            string hint = path.Length == 0 ? node.Name : path + "/" + node.Name;
            var written = imported.Opset < _w.Opset ? OpsetUpgrade.Upgrade(node, _w, hint, names) : node;
            _w.Copy(written, Rename, hint);
        }
        return new(Rename(imported.OutputNames[0]), imported.Forward(x.Sample));
    }

    /// <summary>
    /// The classifier's forward as graph nodes: bilinear <c>Resize</c> to its image size (when the input is another
    /// size; half-pixel centres as <see cref="Functional.Interpolate"/> without aligned corners), a gray image made
    /// three channels (<c>Concat</c> of it thrice, which Fovea's importer reads too), <c>Mul</c> by 255, the
    /// preprocessing and feature graphs, <c>Flatten</c> and the head's <c>Gemm</c> — the steps of
    /// <see cref="PretrainedClassifier.ExtractFeatures"/> in order.
    /// </summary>
    private TracedValue Pretrained(PretrainedClassifier classifier, string path, TracedValue x)
    {
        RequireRank(classifier, path, x, 4, "[N, 1 or 3, H, W]");
        int size = classifier.ImageSize;
        if (x.Sample.Size(1) is not (1 or 3))
            throw Unsupported(classifier, path, $"it takes 1 or 3 channels, the input has {x.Sample.Size(1)}");
        string hint = Hint(path, "pretrained");
        var value = x;
        if (x.Sample.Size(2) != size || x.Sample.Size(3) != size)
        {
            string shape = _w.Add("Shape", hint + ".shape", [x.Name]);
            string nc = _w.Add("Slice", hint + ".nc", [shape, _w.Int64Constant(hint + ".start", 0), _w.Int64Constant(hint + ".end", 2)]);
            string sizes = _w.Add("Concat", hint + ".sizes", [nc, _w.Int64Constant(hint + ".hw", size, size)], Attr("axis", 0L));
            string resized = _w.Add("Resize", hint + ".resize", [x.Name, "", "", sizes], Attr("mode", "linear"), Attr("coordinate_transformation_mode", "pytorch_half_pixel"));
            value = new(resized, Functional.Interpolate(x.Sample, (size, size), mode: InterpolationMode.Bilinear, alignCorners: false));
        }
        if (value.Sample.Size(1) == 1)
            value = new(_w.Add("Concat", hint + ".rgb", [value.Name, value.Name, value.Name], Attr("axis", 1L)),
                value.Sample.Expand(value.Sample.Size(0), 3, size, size));
        value = new(_w.Add("Mul", hint + ".scale", [value.Name, _w.Scalar(hint + ".255", 255)]), value.Sample.Mul(255.0));
        string Child(Module module) => Join(path, classifier.NamedChildren().First(c => ReferenceEquals(c.Module, module)).Name);
        value = Emit(classifier.Preprocess, Child(classifier.Preprocess), value);
        value = Emit(classifier.Features, Child(classifier.Features), value);
        value = new(_w.Add("Flatten", hint + ".flatten", [value.Name], Attr("axis", 1L)), value.Sample.Flatten(1));
        return Emit(classifier.Head, Child(classifier.Head), value);
    }
}
