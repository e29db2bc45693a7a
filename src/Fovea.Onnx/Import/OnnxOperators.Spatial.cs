using Fovea.NN;

namespace Fovea.Onnx.Import;

internal static partial class OnnxOperators
{
    /// <summary>The 2-d window attributes shared by Conv, ConvTranspose, MaxPool and AveragePool.</summary>
    private sealed record Window2d(int[]? Kernel, int[] Strides, int[] Dilations, int[] Pads, string AutoPad);

    /// <summary>Reads kernel_shape, strides, dilations, pads and auto_pad; only 2-d windows (inputs [N, C, H, W]) are supported.</summary>
    private static Window2d ReadWindow(OnnxNode n, bool kernelRequired, bool dilations = true)
    {
        var kernel = n.Ints("kernel_shape");
        if (kernel is null && kernelRequired) throw n.Error("attribute 'kernel_shape' is required");
        if (kernel is not null && kernel.Length != 2)
            throw n.Unsupported("kernel_shape", kernel, "only 2-d windows (inputs [N, C, H, W]) are supported");
        var strides = n.Ints("strides") ?? [1, 1];
        var dil = dilations ? n.Ints("dilations") ?? [1, 1] : [1, 1];
        var pads = n.Ints("pads") ?? [0, 0, 0, 0];
        string autoPad = n.String("auto_pad", "NOTSET");
        if (strides.Length != 2) throw n.Unsupported("strides", strides, "two strides are needed");
        if (dil.Length != 2) throw n.Unsupported("dilations", dil, "two dilations are needed");
        if (pads.Length != 4) throw n.Unsupported("pads", pads, "four pads [top, left, bottom, right] are needed");
        if (autoPad is not ("NOTSET" or "VALID" or "SAME_UPPER" or "SAME_LOWER"))
            throw n.Unsupported("auto_pad", autoPad, "expected NOTSET, VALID, SAME_UPPER or SAME_LOWER");
        return new Window2d(kernel is null ? null : n.InRange("kernel_shape", kernel, 1, MaxWindow), n.InRange("strides", strides, 1, MaxWindow),
            n.InRange("dilations", dil, 1, MaxWindow), n.InRange("pads", pads, 0, MaxWindow), autoPad);
    }

    /// <summary>The largest kernel, stride, dilation or pad accepted: far beyond any real network, small enough that sizes cannot overflow.</summary>
    private const int MaxWindow = 1 << 16;


    /// <summary>
    /// The pads (top, left, bottom, right) for an input of size (h, w) and kernel (kh, kw). auto_pad SAME_* keeps
    /// ⌈in/stride⌉ outputs: total = max((out − 1)·s + (k − 1)·d + 1 − in, 0), the odd one at the end (UPPER) or the
    /// beginning (LOWER); VALID pads nothing; NOTSET uses the pads attribute.
    /// </summary>
    private static int[] ResolvePads(Window2d w, int h, int wd, int kh, int kw)
    {
        if (w.AutoPad == "NOTSET") return w.Pads;
        if (w.AutoPad == "VALID") return [0, 0, 0, 0];
        int[] size = [h, wd], k = [kh, kw];
        var pads = new int[4];
        for (int d = 0; d < 2; d++)
        {
            int output = (size[d] + w.Strides[d] - 1) / w.Strides[d];
            int total = Math.Max((output - 1) * w.Strides[d] + (k[d] - 1) * w.Dilations[d] + 1 - size[d], 0);
            int small = total / 2, large = total - small;
            (pads[d], pads[d + 2]) = w.AutoPad == "SAME_UPPER" ? (small, large) : (large, small);
        }
        return pads;
    }

    private static Tensor Spatial(OnnxRun run, OnnxValue?[] i, OnnxNode n)
    {
        var x = T(run, i[0], n, 0);
        if (x.Rank != 4) throw n.Error($"expected an input [N, C, H, W], got {Fmt(x.Shape)} (only 2-d windows are supported)");
        return x;
    }

    /// <summary>
    /// Conv: y = b + Σ w ⋆ x over groups. Symmetric pads go to the convolution, and so do asymmetric ones (and auto_pad
    /// SAME with an odd total) as the start's pads at both ends where that gives as many outputs; other asymmetric pads
    /// zero-pad the input first, which is the same sum.
    /// </summary>
    private static OnnxKernel Conv(OnnxNode n) => Conv(n, relu: false);

    /// <summary>
    /// Conv followed by a ReLU, or by an Add of the value given as a fourth input (after the bias slot, which may be
    /// empty) and a ReLU: relu(conv + residual) through <see cref="Functional.Conv2dRelu"/>, whose kernels add and
    /// rectify each output as they write it. The module fuses a Conv (and a folded BatchNormalization) with the Relu or
    /// the Add and Relu after it into this when nothing else reads the convolution's output.
    /// </summary>
    internal static OnnxKernel ConvRelu(OnnxNode n) => Conv(n, relu: true);

    private static OnnxKernel Conv(OnnxNode n, bool relu)
    {
        var win = ReadWindow(n, kernelRequired: false);
        int group = n.Int("group", 1, 1, MaxWindow);
        return (run, i) =>
        {
            var x = Spatial(run, i, n);
            var w = T(run, i[1], n, 1);
            var b = i.Length > 2 && i[2] is not null ? T(run, i[2], n, 2) : null;
            if (w.Rank != 4) throw n.Error($"expected a weight [O, C/group, kH, kW], got {Fmt(w.Shape)}");
            if (win.Kernel is { } k && (k[0] != w.Size(2) || k[1] != w.Size(3)))
                throw n.Error($"kernel_shape [{k[0]}, {k[1]}] disagrees with the weight {Fmt(w.Shape)}");
            var p = ResolvePads(win, x.Size(2), x.Size(3), w.Size(2), w.Size(3));
            Size2d stride = (win.Strides[0], win.Strides[1]), dilation = (win.Dilations[0], win.Dilations[1]);
            var residual = relu && i.Length > 3 && i[3] is not null ? T(run, i[3], n, 3) : null;
            Tensor Convolve(Tensor input, Size2d pad) => relu
                ? Functional.Conv2dRelu(input, w, b, stride, pad, dilation, group, residual)
                : Functional.Conv2d(input, w, b, stride, pad, dilation, group);
            if (ConvTakesPads((x.Size(2), x.Size(3)), (w.Size(2), w.Size(3)), stride, p, dilation))
                return One(Convolve(x, (p[0], p[1])));
            // Elsewhere the input is zero-padded first, which is the same sum.
            return One(OnPadded(x, (p[1], p[3], p[0], p[2]), 0, padded => Convolve(padded, 0)));
        };
    }

    /// <summary>
    /// Whether a convolution over an input of <paramref name="size"/> takes the pads <paramref name="p"/> (top, left,
    /// bottom, right) as the start's pads at both ends: even pads, or uneven ones where that gives as many windows. The
    /// windows start where the start's pads put them, and a zero pad only adds taps that add nothing, so the start's
    /// pads at both ends give the same windows wherever they give as many (CNTK's ResNet-18: pads 3, 3, 2, 2 on its stem
    /// and 1, 1, 0, 0 on its stride-2 layers, which then read their input in place: no padded copy, 0.04–0.07 ms each at
    /// batch 1, and the stem's 224² image is the shape its kernels are tuned for).
    /// </summary>
    private static bool ConvTakesPads(Size2d size, Size2d kernel, Size2d stride, int[] p, Size2d dilation) =>
        (p[0] == p[2] && p[1] == p[3]) || StartPadsGiveTheSameWindows(size, kernel, stride, p, dilation, ceil: false, startCeil: false);

    /// <summary>
    /// The ceil mode under which a max pooling over an input of <paramref name="size"/> takes the pads <paramref name="p"/>
    /// as the start's pads at both ends, with the same windows as the pads as given under <paramref name="ceil"/>; null
    /// where none does, or where a pad exceeds half the kernel (the pooling's bound). A −∞ pad only adds taps that lose,
    /// so the start's pads give the same windows wherever they give as many of them, rounding the size down or else up
    /// (CNTK's stem: pads 1, 1, 0, 0, pooled without a padded copy, 1.6 → 0.3 ms).
    /// </summary>
    private static bool? PoolCeilModeForPads(Size2d size, Size2d kernel, Size2d stride, int[] p, Size2d dilation, bool ceil)
    {
        if (2 * p[0] > kernel.H || 2 * p[1] > kernel.W) return null;
        if (p[0] == p[2] && p[1] == p[3]) return ceil;
        foreach (bool ceilMode in (ReadOnlySpan<bool>)[false, true])
            if (StartPadsGiveTheSameWindows(size, kernel, stride, p, dilation, ceil, ceilMode)) return ceilMode;
        return null;
    }

    /// <summary>
    /// Conv, its Relu and the MaxPool after it (a network's stem) through <see cref="Functional.Conv2dReluMaxPool2d"/>,
    /// whose kernels on the stem's shapes pool the convolution's rows as they compute them and never write its output.
    /// Where the pads of either window are uneven in a way the start's pads cannot stand for, or the shapes are wrong,
    /// the Conv with its Relu and then the MaxPool, as their own nodes run them (and report).
    /// </summary>
    internal static OnnxKernel ConvReluMaxPool(OnnxNode conv, OnnxNode pool)
    {
        var convRelu = ConvRelu(conv);
        var maxPool = MaxPool(pool);
        var win = ReadWindow(conv, kernelRequired: false);
        int group = conv.Int("group", 1, 1, MaxWindow);
        var poolWin = ReadWindow(pool, kernelRequired: true, dilations: pool.Opset >= 10);
        bool ceil = pool.Opset >= 10 && pool.Int("ceil_mode", 0) != 0;
        var k = poolWin.Kernel!;
        return (run, i) =>
        {
            if (i[0]?.Tensor is { Rank: 4 } x && i[1]?.Tensor is { Rank: 4 } w && x.DType == run.DType && w.DType == x.DType && x.Size(1) == w.Size(1) * group && w.Size(0) % group == 0
                && (win.Kernel is not { } kc || (kc[0] == w.Size(2) && kc[1] == w.Size(3)))
                && (i.Length < 3 || i[2] is null || i[2]!.Tensor is { Rank: 1 } b0 && b0.Size(0) == w.Size(0) && b0.DType == x.DType))
            {
                var b = i.Length > 2 ? i[2]?.Tensor : null;
                var p = ResolvePads(win, x.Size(2), x.Size(3), w.Size(2), w.Size(3));
                Size2d stride = (win.Strides[0], win.Strides[1]), dilation = (win.Dilations[0], win.Dilations[1]), kernel = (w.Size(2), w.Size(3));
                if (ConvTakesPads((x.Size(2), x.Size(3)), kernel, stride, p, dilation))
                {
                    Size2d size = (WindowOutput(x.Size(2), kernel.H, stride.H, p[0], p[0], dilation.H, ceil: false), WindowOutput(x.Size(3), kernel.W, stride.W, p[1], p[1], dilation.W, ceil: false));
                    var q = ResolvePads(poolWin, size.H, size.W, k[0], k[1]);
                    Size2d poolKernel = (k[0], k[1]), poolStride = (poolWin.Strides[0], poolWin.Strides[1]), poolDilation = (poolWin.Dilations[0], poolWin.Dilations[1]);
                    if (size.H > 0 && size.W > 0 && PoolCeilModeForPads(size, poolKernel, poolStride, q, poolDilation, ceil) is { } ceilMode)
                        return One(Functional.Conv2dReluMaxPool2d(x, w, b, stride, (p[0], p[1]), dilation, group, poolKernel, poolStride, (q[0], q[1]), poolDilation, ceilMode));
                }
            }
            return maxPool(run, convRelu(run, i));
        };
    }

    /// <summary>
    /// ConvTranspose: the transposed convolution without padding (full size (in − 1)·s + (k − 1)·d + 1), extended by
    /// output_padding at the end and cropped by the pads, then the bias. output_shape (or auto_pad SAME_*) sets the pads:
    /// total = s·(in − 1) + output_padding + (k − 1)·d + 1 − out, split as the ONNX specification says.
    /// </summary>
    private static OnnxKernel ConvTranspose(OnnxNode n)
    {
        var win = ReadWindow(n, kernelRequired: false);
        int group = n.Int("group", 1, 1, MaxWindow);
        var outputPadding = n.Ints("output_padding") ?? [0, 0];
        if (outputPadding.Length != 2) throw n.Unsupported("output_padding", outputPadding, "two values are needed");
        n.InRange("output_padding", outputPadding, 0, MaxWindow);
        var outputShape = n.Ints("output_shape");
        if (outputShape is not null && outputShape.Length is not (2 or 4))
            throw n.Unsupported("output_shape", outputShape, "give the 2 spatial sizes");
        if (outputShape is not null) n.InRange("output_shape", outputShape, 1, 1 << 24);
        return (run, i) =>
        {
            var x = Spatial(run, i, n);
            var w = T(run, i[1], n, 1);
            var b = i.Length > 2 && i[2] is not null ? T(run, i[2], n, 2) : null;
            if (w.Rank != 4) throw n.Error($"expected a weight [C, O/group, kH, kW], got {Fmt(w.Shape)}");
            var pads = (int[])win.Pads.Clone();
            bool fromTotal = outputShape is not null || win.AutoPad is "SAME_UPPER" or "SAME_LOWER";
            for (int d = 0; d < 2 && fromTotal; d++)
            {
                int input = x.Size(2 + d), k = w.Size(2 + d);
                int output = outputShape is not null ? (int)outputShape[^(2 - d)] : input * win.Strides[d];
                int total = win.Strides[d] * (input - 1) + (int)outputPadding[d] + (k - 1) * win.Dilations[d] + 1 - output;
                if (total < 0) throw n.Error($"output size {output} is larger than the transposed convolution can give ({output + total})");
                (pads[d], pads[d + 2]) = win.AutoPad == "SAME_UPPER" ? (total / 2, total - total / 2) : (total - total / 2, total / 2);
            }
            if (win.AutoPad == "VALID" && outputShape is null) pads = [0, 0, 0, 0];
            var full = Functional.ConvTranspose2d(x, w, null, (win.Strides[0], win.Strides[1]), 0, 0, (win.Dilations[0], win.Dilations[1]), group);
            if (outputPadding[0] > 0 || outputPadding[1] > 0)
                full = Functional.Pad(full, (0, (int)outputPadding[1], 0, (int)outputPadding[0]));
            int h = full.Size(2) - pads[0] - pads[2], wd = full.Size(3) - pads[1] - pads[3];
            if (h < 1 || wd < 1) throw n.Error($"the pads [{string.Join(", ", pads)}] remove the whole output {Fmt(full.Shape)}");
            var y = full.Narrow(2, pads[0], h).Narrow(3, pads[1], wd);
            if (b is not null) y = y.Add(b.Reshape(1, -1, 1, 1));
            return One(y);
        };
    }

    /// <summary>
    /// BatchNormalization with scale, bias and running mean and variance. Evaluation normalises with the running
    /// statistics; training (module in training mode) uses the batch's and updates the running ones with ONNX's
    /// momentum m: r ← m·r + (1 − m)·s (PyTorch's momentum is 1 − m).
    /// </summary>
    private static OnnxKernel BatchNormalization(OnnxNode n)
    {
        double eps = n.Float("epsilon", 1e-5f);
        double momentum = n.Float("momentum", 0.9f);
        if (n.Opset < 9 && n.Int("spatial", 1) != 1) throw n.Unsupported("spatial", 0L, "only per-channel (spatial = 1) statistics are supported");
        if (n.Opset < 7 && n.Has("is_test")) n.Int("is_test", 1);
        if (n.Opset >= 14 && n.Int("training_mode", 0) != 0)
            throw n.Unsupported("training_mode", 1L, "import the inference graph; the module's Train() mode computes batch statistics");
        OnlyFirstOutput(n, "running or saved statistics");
        return (run, i) =>
        {
            var x = T(run, i[0], n, 0);
            return One(Functional.BatchNorm(x, T(run, i[3], n, 3), T(run, i[4], n, 4), T(run, i[1], n, 1), T(run, i[2], n, 2),
                training: run.Training, momentum: 1 - momentum, eps: eps));
        };
    }

    /// <summary>
    /// MaxPool (default stride 1, ONNX's). Pads within half the kernel go to the pooling; larger or asymmetric pads
    /// pad the input with −∞ first. ceil_mode rounds the output size up.
    /// </summary>
    private static OnnxKernel MaxPool(OnnxNode n)
    {
        var win = ReadWindow(n, kernelRequired: true, dilations: n.Opset >= 10);
        bool ceil = n.Opset >= 10 && n.Int("ceil_mode", 0) != 0;
        if (n.Int("storage_order", 0) != 0 && n.HasOutput(1)) throw n.Unsupported("storage_order", 1L, "indices are not computed");
        OnlyFirstOutput(n, "indices");
        var k = win.Kernel!;
        return (run, i) =>
        {
            var x = Spatial(run, i, n);
            var p = ResolvePads(win, x.Size(2), x.Size(3), k[0], k[1]);
            Size2d kernel = (k[0], k[1]), stride = (win.Strides[0], win.Strides[1]), dilation = (win.Dilations[0], win.Dilations[1]);
            if (PoolCeilModeForPads((x.Size(2), x.Size(3)), kernel, stride, p, dilation, ceil) is { } ceilMode)
                return One(Functional.MaxPool2d(x, kernel, stride, (p[0], p[1]), dilation, ceilMode));
            int oh = WindowOutput(x.Size(2), k[0], stride.H, p[0], p[2], dilation.H, ceil);
            int ow = WindowOutput(x.Size(3), k[1], stride.W, p[1], p[3], dilation.W, ceil);
            // In ceil mode a window starting in the end's padding is dropped (the padded input no longer says where it begins).
            var pooled = OnPadded(x, (p[1], p[3], p[0], p[2]), double.NegativeInfinity, padded => Functional.MaxPool2d(padded, kernel, stride, 0, dilation, ceil));
            return One(pooled.Size(2) > oh || pooled.Size(3) > ow ? pooled.Narrow(2, 0, oh).Narrow(3, 0, ow) : pooled);
        };
    }

    /// <summary>
    /// <paramref name="op"/> on <paramref name="x"/> padded by (left, right, top, bottom) elements of
    /// <paramref name="value"/> (a convolution or pooling with uneven pads that the start's pads cannot stand for), its
    /// padded copy then handed back to the pool (<see cref="StoragePool.Recycle"/>): only <paramref name="op"/> read it,
    /// so its buffer serves the next one of its size, in training once the backward is done with it. Left to the
    /// collector, the pretrained ResNet-18's copies (CNTK's export, before its layers took their pads in place) came to
    /// 2.1 MB a forward.
    /// <paramref name="op"/>'s result must not be a view of the copy.
    /// </summary>
    private static Tensor OnPadded(Tensor x, (int Left, int Right, int Top, int Bottom) pad, double value, Func<Tensor, Tensor> op)
    {
        var padded = Functional.Pad(x, pad, PaddingMode.Zeros, value);
        var y = op(padded);
        if (!ReferenceEquals(padded, x)) StoragePool.Recycle(padded);
        return y;
    }

    /// <summary>
    /// Whether the start's pads at both ends (top at the bottom, left at the right), rounding the output size up where
    /// <paramref name="startCeil"/>, give as many windows over an input of <paramref name="size"/> as pads <paramref name="p"/> (top,
    /// left, bottom, right) with <paramref name="ceil"/>. The windows start where the start's pads put them either way,
    /// so with as many of them they are the same windows; a zero or −∞ pad then only adds taps that change nothing, and
    /// the convolution or pooling takes its pads in place instead of from a padded copy.
    /// </summary>
    private static bool StartPadsGiveTheSameWindows(Size2d size, Size2d kernel, Size2d stride, int[] p, Size2d dilation, bool ceil, bool startCeil) =>
        WindowOutput(size.H, kernel.H, stride.H, p[0], p[0], dilation.H, startCeil) == WindowOutput(size.H, kernel.H, stride.H, p[0], p[2], dilation.H, ceil)
        && WindowOutput(size.W, kernel.W, stride.W, p[1], p[1], dilation.W, startCeil) == WindowOutput(size.W, kernel.W, stride.W, p[1], p[3], dilation.W, ceil);

    /// <summary>
    /// The output length of a pooling window over <paramref name="size"/> with <paramref name="padStart"/> and
    /// <paramref name="padEnd"/>; in ceil mode the last window must start inside the input or the start's padding
    /// (PyTorch's rule, which ONNX Runtime follows). <see cref="Fovea.Kernels.Window2d.OutputLength"/> with unequal
    /// pads: that one pads both ends alike.
    /// </summary>
    private static int WindowOutput(int size, int kernel, int stride, int padStart, int padEnd, int dilation, bool ceil)
    {
        long span = (long)size + padStart + padEnd - ((long)(kernel - 1) * dilation + 1);
        if (span < 0) return 0;
        long outputs = (ceil ? (span + stride - 1) / stride : span / stride) + 1;
        if (ceil && (outputs - 1) * stride >= size + padStart) outputs--;
        return (int)outputs;
    }

    /// <summary>
    /// AveragePool. count_include_pad = 1 divides by the window clipped to the padded input; 0 by its part inside the
    /// input. Asymmetric pads zero-pad first; without counting the pads the divisor is then the pooled mask of ones:
    /// avg(pad₀(x)) / avg(pad₀(1)) = Σx / #inside.
    /// </summary>
    private static OnnxKernel AveragePool(OnnxNode n)
    {
        var win = ReadWindow(n, kernelRequired: true, dilations: n.Opset >= 19);
        if (win.Dilations.Any(d => d != 1)) throw n.Unsupported("dilations", win.Dilations.Select(d => (long)d).ToArray(), "average pooling is not dilated in Fovea");
        bool ceil = n.Opset >= 10 && n.Int("ceil_mode", 0) != 0;
        bool countPad = n.Int("count_include_pad", 0) != 0;
        var k = win.Kernel!;
        return (run, i) =>
        {
            var x = Spatial(run, i, n);
            var p = ResolvePads(win, x.Size(2), x.Size(3), k[0], k[1]);
            Size2d kernel = (k[0], k[1]), stride = (win.Strides[0], win.Strides[1]);
            if (p[0] == p[2] && p[1] == p[3] && 2 * p[0] <= k[0] && 2 * p[1] <= k[1])
                return One(Functional.AvgPool2d(x, kernel, stride, (p[0], p[1]), ceil, countPad));
            var pad = (p[1], p[3], p[0], p[2]);
            // In ceil mode a window starting in the end's padding is dropped (the padded input no longer says where it begins).
            int oh = WindowOutput(x.Size(2), k[0], stride.H, p[0], p[2], 1, ceil), ow = WindowOutput(x.Size(3), k[1], stride.W, p[1], p[3], 1, ceil);
            Tensor Crop(Tensor t) => t.Size(2) > oh || t.Size(3) > ow ? t.Narrow(2, 0, oh).Narrow(3, 0, ow) : t;
            var sum = Crop(OnPadded(x, pad, 0, padded => Functional.AvgPool2d(padded, kernel, stride, 0, ceil, countIncludePad: true)));
            if (countPad) return One(sum);
            var ones = Tensor.Ones([1, 1, x.Size(2), x.Size(3)], x.DType);
            var inside = Crop(OnPadded(ones, pad, 0, padded => Functional.AvgPool2d(padded, kernel, stride, 0, ceil, countIncludePad: true)));
            return One(sum.Div(inside));
        };
    }

    /// <summary>GlobalAveragePool / GlobalMaxPool: mean or max over every dim after [N, C], kept as size 1.</summary>
    private static OnnxKernel GlobalPool(OnnxNode n, bool max) => (run, i) =>
    {
        var x = T(run, i[0], n, 0);
        if (x.Rank < 3) throw n.Error($"expected an input [N, C, D1, ...], got {Fmt(x.Shape)}");
        var dims = Enumerable.Range(2, x.Rank - 2).ToArray();
        return One(max ? x.Amax(dims, keepDim: true) : x.Mean(dims, keepDim: true));
    };

    /// <summary>
    /// LRN (Krizhevsky et al. 2012, as ONNX defines it): y = x / (bias + α/size · Σ x²)^β, the sum over channels
    /// [c − ⌊(size − 1)/2⌋, c + ⌈(size − 1)/2⌉]. An odd window is PyTorch's, which
    /// <see cref="Functional.LocalResponseNorm"/> runs as one fused op (AlexNet's and GoogLeNet's size 5). An even one
    /// puts its extra channel after c where PyTorch puts it before, and is composed of existing ops: x² viewed as
    /// [N, 1, C, rest], zero-padded along C, average-pooled with a (size × 1) window (which gives Σ/size). Both are
    /// differentiable to any order.
    /// </summary>
    private static OnnxKernel Lrn(OnnxNode n)
    {
        if (!n.Has("size")) throw n.Error("attribute 'size' is required");
        int size = n.Int("size", 1, 1, MaxWindow);
        double alpha = n.Float("alpha", 1e-4f), beta = n.Float("beta", 0.75f), bias = n.Float("bias", 1f);
        return (run, i) =>
        {
            var x = T(run, i[0], n, 0);
            if (x.Rank < 3) throw n.Error($"expected an input [N, C, D1, ...], got {Fmt(x.Shape)}");
            if (size % 2 == 1 && x.DType.IsFloating() && double.IsFinite(alpha) && double.IsFinite(beta) && double.IsFinite(bias))
                return One(Functional.LocalResponseNorm(x, size, alpha, beta, bias));
            var shape = x.Shape;
            var squares = x.Square().Reshape(shape[0], 1, shape[1], -1);
            int before = (size - 1) / 2, after = size - 1 - before;
            var mean = Functional.AvgPool2d(Functional.Pad(squares, (0, 0, before, after)), (size, 1), 1, 0, false, countIncludePad: true);
            return One(x.Div(mean.Mul(alpha).Add(bias).Pow(beta).Reshape(shape)));
        };
    }
}
