using Fovea.NN;
using Fovea.Onnx.Protobuf;

namespace Fovea.Onnx.Import;

internal static partial class OnnxOperators
{
    /// <summary>Flatten: [∏ dims before axis, ∏ dims from axis] (axis default 1; 0 gives [1, all]).</summary>
    private static OnnxKernel Flatten(OnnxNode n)
    {
        long axisAttr = n.Int("axis", 1);
        return (run, i) =>
        {
            var x = T(run, i[0], n, 0);
            long a = axisAttr < 0 ? axisAttr + x.Rank : axisAttr;
            if (a < 0 || a > x.Rank) throw n.Error($"axis {axisAttr} is out of range for a rank-{x.Rank} input");
            int rows = 1;
            for (int d = 0; d < a; d++) rows *= x.Size(d);
            return One(x.Reshape(rows, rows == 0 ? 0 : x.Numel / rows));
        };
    }

    /// <summary>Reshape to the shape input: 0 copies the input's dim (unless allowzero), −1 is inferred.</summary>
    private static OnnxKernel Reshape(OnnxNode n)
    {
        bool allowZero = n.Opset >= 14 && n.Int("allowzero", 0) != 0;
        return (run, i) =>
        {
            var v = i[0] ?? throw n.Error("input 0 is required");
            var shape = (i.Length > 1 ? i[1] : null)?.AsIntegers($"{n.Where}: shape") ?? throw n.Error("input 1 (shape) is required");
            var target = new int[shape.Length];
            for (int d = 0; d < shape.Length; d++)
            {
                long s = shape[d] == 0 && !allowZero ? (d < v.Rank ? v.Shape[d] : throw n.Error($"shape {Fmt([.. shape.Select(x => (int)x)])} copies dim {d} of a rank-{v.Rank} input")) : shape[d];
                if (s < -1 || s > int.MaxValue) throw n.Error($"shape value {s} is invalid");
                target[d] = (int)s;
            }
            if (v.IsHost) return [HostReshape(n, v, target)];
            return One(T(run, v, n, 0).Reshape(target));
        };
    }

    private static OnnxValue HostReshape(OnnxNode n, OnnxValue v, int[] target)
    {
        int count = v.Integers?.Length ?? v.Reals!.Length;
        int known = 1, infer = -1;
        for (int d = 0; d < target.Length; d++)
            if (target[d] == -1) infer = d;
            else known *= target[d];
        if (infer >= 0) target[infer] = known == 0 ? 0 : count / known;
        if (OnnxReader.Count(target) != count) throw n.Error($"cannot reshape {Fmt(v.Shape)} to {Fmt(target)}");
        return v.Integers is not null ? OnnxValue.OfIntegers(v.Integers, target) : OnnxValue.OfReals(v.Reals!, target);
    }

    /// <summary>Transpose by perm (default: the dims reversed).</summary>
    private static OnnxKernel Transpose(OnnxNode n)
    {
        var perm = n.Ints("perm");
        return (run, i) =>
        {
            var x = T(run, i[0], n, 0);
            int[] p = perm is null ? [.. Enumerable.Range(0, x.Rank).Reverse()] : [.. perm.Select(d => Axis(n, d, x.Rank, "perm"))];
            return One(x.Permute(p));
        };
    }

    /// <summary>Concat along axis; host integer vectors (shape arithmetic) concatenate on the host.</summary>
    private static OnnxKernel Concat(OnnxNode n)
    {
        if (!n.Has("axis") && n.Opset >= 4) throw n.Error("attribute 'axis' is required");
        long axisAttr = n.Int("axis", 1);
        return (run, i) =>
        {
            var parts = i.Select((v, k) => v ?? throw n.Error($"input {k} is required")).ToArray();
            if (parts.Length == 0) throw n.Error("needs at least one input");
            if (parts.All(p => p.Integers is not null))
            {
                if (parts.Any(p => p.Rank != 1)) throw n.Error("integer constants are concatenated only as vectors");
                return [OnnxValue.OfIntegers([.. parts.SelectMany(p => p.Integers!)])];
            }
            var tensors = parts.Select((p, k) => T(run, p, n, k)).ToArray();
            return One(Tensor.Cat(tensors, Axis(n, axisAttr, tensors[0].Rank)));
        };
    }

    /// <summary>
    /// Split along axis into the node's outputs: sizes from the split attribute (before opset 13) or input (13+), else
    /// equal parts (num_outputs at 18+; the last part may be smaller).
    /// </summary>
    private static OnnxKernel Split(OnnxNode n)
    {
        long axisAttr = n.Int("axis", 0);
        long[]? attrSplit = n.Opset < 13 ? n.Ints("split") : null;
        long numOutputs = n.Opset >= 18 ? n.Int("num_outputs", 0) : 0;
        int outputs = n.Proto.Output.Count;
        if (numOutputs != 0 && numOutputs != outputs) throw n.Unsupported("num_outputs", numOutputs, $"the node has {outputs} outputs");
        return (run, i) =>
        {
            var x = T(run, i[0], n, 0);
            int axis = Axis(n, axisAttr, x.Rank);
            int total = x.Size(axis);
            long[]? split = n.Opset < 13 ? attrSplit : i.Length > 1 && i[1] is { } s ? s.AsIntegers($"{n.Where}: split") : null;
            if (split is null)
            {
                int chunk = (total + outputs - 1) / outputs;
                split = [.. Enumerable.Range(0, outputs).Select(k => (long)Math.Max(Math.Min(chunk, total - k * chunk), 0))];
            }
            if (split.Length != outputs || split.Any(v => v < 0) || split.Sum() != total)
                throw n.Error($"split sizes [{string.Join(", ", split)}] do not divide dim {axis} ({total}) into {outputs} outputs");
            var result = new OnnxValue[outputs];
            int start = 0;
            for (int k = 0; k < outputs; k++)
            {
                result[k] = OnnxValue.Of(x.Narrow(axis, start, (int)split[k]));
                start += (int)split[k];
            }
            return result;
        };
    }

    /// <summary>Squeeze the given axes (attribute before opset 13, input from 13), or every dim of size 1.</summary>
    private static OnnxKernel Squeeze(OnnxNode n)
    {
        long[]? attrAxes = n.Opset < 13 ? n.Ints("axes") : null;
        return (run, i) =>
        {
            var v = i[0] ?? throw n.Error("input 0 is required");
            long[]? axes = n.Opset < 13 ? attrAxes : i.Length > 1 && i[1] is { } a ? a.AsIntegers($"{n.Where}: axes") : null;
            var dims = axes is null
                ? Enumerable.Range(0, v.Rank).Where(d => v.Shape[d] == 1).ToHashSet()
                : axes.Select(a => Axis(n, a, v.Rank, "axes")).ToHashSet();
            foreach (int d in dims)
                if (v.Shape[d] != 1) throw n.Error($"cannot squeeze dim {d} of size {v.Shape[d]} in {Fmt(v.Shape)}");
            var shape = v.Shape.Where((_, d) => !dims.Contains(d)).ToArray();
            return v.IsHost ? [HostReshape(n, v, shape)] : One(T(run, v, n, 0).Reshape(shape));
        };
    }

    /// <summary>Unsqueeze: insert size-1 dims at the given axes of the output (attribute before opset 13, input from 13).</summary>
    private static OnnxKernel Unsqueeze(OnnxNode n)
    {
        long[]? attrAxes = n.Opset < 13 ? n.Ints("axes") : null;
        if (n.Opset < 13 && attrAxes is null) throw n.Error("attribute 'axes' is required");
        return (run, i) =>
        {
            var v = i[0] ?? throw n.Error("input 0 is required");
            var axes = n.Opset < 13 ? attrAxes! : (i.Length > 1 ? i[1] : null)?.AsIntegers($"{n.Where}: axes") ?? throw n.Error("input 1 (axes) is required");
            int rank = v.Rank + axes.Length;
            var inserted = axes.Select(a => Axis(n, a, rank, "axes")).ToHashSet();
            if (inserted.Count != axes.Length) throw n.Error($"axes [{string.Join(", ", axes)}] repeat a dim");
            var shape = new int[rank];
            for (int d = 0, k = 0; d < rank; d++) shape[d] = inserted.Contains(d) ? 1 : v.Shape[k++];
            return v.IsHost ? [HostReshape(n, v, shape)] : One(T(run, v, n, 0).Reshape(shape));
        };
    }

    /// <summary>Shape: the input's dims as a host integer vector (start and end slice it, opset 15+).</summary>
    private static OnnxKernel Shape(OnnxNode n)
    {
        long? start = n.Opset >= 15 && n.Has("start") ? n.Int("start", 0) : null;
        long? end = n.Opset >= 15 && n.Has("end") ? n.Int("end", 0) : null;
        return (run, i) =>
        {
            var v = i[0] ?? throw n.Error("input 0 is required");
            int r = v.Rank;
            int s = (int)Math.Clamp(start is { } a ? (a < 0 ? a + r : a) : 0, 0, r);
            int e = (int)Math.Clamp(end is { } b ? (b < 0 ? b + r : b) : r, 0, r);
            return [OnnxValue.OfIntegers([.. v.Shape.Skip(s).Take(Math.Max(e - s, 0)).Select(d => (long)d)])];
        };
    }

    /// <summary>Gather along axis with constant indices: on host integers (shape arithmetic) or a tensor (index select).</summary>
    private static OnnxKernel Gather(OnnxNode n)
    {
        long axisAttr = n.Int("axis", 0);
        return (run, i) =>
        {
            var v = i[0] ?? throw n.Error("input 0 is required");
            var indexValue = (i.Length > 1 ? i[1] : null) ?? throw n.Error("input 1 (indices) is required");
            var indices = indexValue.AsIntegers($"{n.Where}: indices");
            if (v.Rank == 0) throw n.Error("cannot gather from a scalar");
            int axis = Axis(n, axisAttr, v.Rank);
            int size = v.Shape[axis];
            var normalized = new int[indices.Length];
            for (int k = 0; k < indices.Length; k++)
            {
                long idx = indices[k] < 0 ? indices[k] + size : indices[k];
                if (idx < 0 || idx >= size) throw n.Error($"index {indices[k]} is out of range for dim {axis} of size {size}");
                normalized[k] = (int)idx;
            }
            int[] outShape = [.. v.Shape.Take(axis), .. indexValue.Shape, .. v.Shape.Skip(axis + 1)];
            if (v.Integers is not null && v.Rank == 1)
                return [OnnxValue.OfIntegers([.. normalized.Select(k => v.Integers[k])], outShape)];
            var x = T(run, v, n, 0);
            return One(x.IndexSelect(axis, Tensor.From(normalized)).Reshape(outShape));
        };
    }

    /// <summary>Slice with starts, ends, axes and steps as inputs (opset 10+) or attributes (before 10).</summary>
    private static OnnxKernel Slice(OnnxNode n)
    {
        bool attributes = n.Opset < 10;
        long[]? attrStarts = attributes ? n.Ints("starts") : null, attrEnds = attributes ? n.Ints("ends") : null, attrAxes = attributes ? n.Ints("axes") : null;
        return (run, i) =>
        {
            var v = i[0] ?? throw n.Error("input 0 is required");
            long[] starts = attributes ? attrStarts ?? throw n.Error("attribute 'starts' is required") : (i.Length > 1 ? i[1] : null)?.AsIntegers($"{n.Where}: starts") ?? throw n.Error("input 1 (starts) is required");
            long[] ends = attributes ? attrEnds ?? throw n.Error("attribute 'ends' is required") : (i.Length > 2 ? i[2] : null)?.AsIntegers($"{n.Where}: ends") ?? throw n.Error("input 2 (ends) is required");
            long[]? axes = attributes ? attrAxes : i.Length > 3 && i[3] is { } a ? a.AsIntegers($"{n.Where}: axes") : null;
            long[]? steps = !attributes && i.Length > 4 && i[4] is { } s ? s.AsIntegers($"{n.Where}: steps") : null;
            axes ??= [.. Enumerable.Range(0, starts.Length).Select(d => (long)d)];
            if (ends.Length != starts.Length || axes.Length != starts.Length || (steps is not null && steps.Length != starts.Length))
                throw n.Error("starts, ends, axes and steps must have the same length");
            if (v.Integers is not null && v.Rank == 1)
            {
                if (steps is not null && steps.Any(st => st != 1)) throw n.Error("steps other than 1 are supported on tensors only");
                int len = v.Shape[0];
                int b = (int)Math.Clamp(starts[0] < 0 ? starts[0] + len : starts[0], 0, len);
                int e = (int)Math.Clamp(ends[0] < 0 ? ends[0] + len : ends[0], 0, len);
                return [OnnxValue.OfIntegers([.. v.Integers.Skip(b).Take(Math.Max(e - b, 0))])];
            }
            var x = T(run, v, n, 0);
            for (int k = 0; k < starts.Length; k++)
            {
                int axis = Axis(n, axes[k], x.Rank, "axes");
                long step = steps?[k] ?? 1;
                if (step <= 0) throw n.Error($"step {step} is not supported (negative steps reverse, which Fovea's slice does not)");
                int size = x.Size(axis);
                int b = (int)Math.Clamp(starts[k] < 0 ? starts[k] + size : starts[k], 0, size);
                int e = (int)Math.Clamp(ends[k] < 0 ? ends[k] + size : ends[k], 0, size);
                x = x.Slice(axis, b, e, (int)step);
            }
            return One(x);
        };
    }

    /// <summary>Cast: host values change type on the host; a tensor may only be cast to a floating type (kept in the run's dtype).</summary>
    private static OnnxKernel Cast(OnnxNode n)
    {
        if (!n.Has("to")) throw n.Error("attribute 'to' is required");
        int to = (int)n.Int("to", 0);
        if (n.Opset >= 19) n.Int("saturate", 1);
        bool toInteger = OnnxReader.IsInteger(to), toFloat = OnnxReader.IsFloating(to);
        if (!toInteger && !toFloat) throw n.Unsupported("to", OnnxReader.TypeName(to), "Fovea casts to floating and integer types only");
        return (run, i) =>
        {
            var v = i[0] ?? throw n.Error("input 0 is required");
            if (v.IsHost)
                return toInteger ? [OnnxValue.OfIntegers(v.AsIntegers(n.Where), v.Shape)] : [OnnxValue.OfReals(v.AsReals(), v.Shape)];
            if (toInteger) throw n.Error($"casting a computed tensor to {OnnxReader.TypeName(to)} is not supported");
            return [v];
        };
    }

    /// <summary>Constant: a tensor (float values become a tensor, integers a host constant) or one of the value_* forms.</summary>
    private static OnnxKernel Constant(OnnxNode n)
    {
        OnnxValue value;
        if (n.Tensor("value") is { } t) value = FromTensorProto(t, n.Source);
        else if (n.Opset >= 12 && n.Has("value_float")) value = OnnxValue.OfReals([n.Float("value_float", 0)], []);
        else if (n.Opset >= 12 && n.Has("value_floats")) { var f = n.Floats("value_floats")!; value = OnnxValue.OfReals([.. f.Select(x => (double)x)], [f.Length]); }
        else if (n.Opset >= 12 && n.Has("value_int")) value = OnnxValue.OfIntegers([n.Int("value_int", 0)], []);
        else if (n.Opset >= 12 && n.Has("value_ints")) { var l = n.Ints("value_ints")!; value = OnnxValue.OfIntegers(l, [l.Length]); }
        else if (n.Has("sparse_value") || n.Has("value_string") || n.Has("value_strings"))
            throw new OnnxImportException($"{n.Where}: sparse and string constants are not supported");
        else throw n.Error("has no value attribute");
        return (run, i) => [value];
    }

    /// <summary>A constant tensor: floating values stay host reals (made a tensor where a tensor is used), integers host integers.</summary>
    internal static OnnxValue FromTensorProto(TensorProto t, string source)
    {
        var dims = OnnxReader.Dims(t, source);
        if (OnnxReader.IsFloating(t.DataType)) return OnnxValue.OfReals(OnnxReader.ReadReals(t, source), dims);
        if (OnnxReader.IsInteger(t.DataType)) return OnnxValue.OfIntegers(OnnxReader.ReadIntegers(t, source), dims);
        throw new OnnxImportException($"{source}: tensor '{t.Name}' has element type {OnnxReader.TypeName(t.DataType)}, which Fovea does not read");
    }

    /// <summary>ConstantOfShape: a tensor of the given shape filled with the value attribute's one element (default 0.0).</summary>
    private static OnnxKernel ConstantOfShape(OnnxNode n)
    {
        var fill = n.Tensor("value") is { } t ? FromTensorProto(t, n.Source) : OnnxValue.OfReals([0.0], [1]);
        return (run, i) =>
        {
            var shape = ((i.Length > 0 ? i[0] : null) ?? throw n.Error("input 0 (shape) is required")).AsIntegers($"{n.Where}: shape");
            if (shape.Any(d => d < 0 || d > int.MaxValue)) throw n.Error($"shape [{string.Join(", ", shape)}] is invalid");
            int[] dims = [.. shape.Select(d => (int)d)];
            long count = dims.Aggregate(1L, (a, d) => a * d);
            if (fill.Integers is not null)
            {
                if (count > 1 << 20) throw n.Error($"an integer constant of {count} elements is too large");
                return [OnnxValue.OfIntegers(Enumerable.Repeat(fill.Integers[0], (int)count).ToArray(), dims)];
            }
            return One(Tensor.Full(dims, fill.AsReals()[0], run.DType));
        };
    }

    /// <summary>
    /// Pad: pads [x1_begin, x2_begin, ..., x1_end, x2_end] (attribute before opset 11, input from 11, optionally on
    /// the listed axes from 18) in constant, reflect or edge mode (wrap from 19); negative pads crop. Constant padding
    /// of every axis is one <see cref="Functional.Pad(Tensor, int[], int[], double)"/>, one new tensor (a CNTK export pads
    /// its stride-2 convolutions' inputs this way: four of them in the pretrained ResNet-18); in the other modes each
    /// padded dim is moved last and padded by <see cref="Functional.Pad(Tensor, ValueTuple{int, int, int, int}, PaddingMode, double)"/>.
    /// </summary>
    private static OnnxKernel Pad(OnnxNode n)
    {
        string mode = n.String("mode", "constant");
        var padMode = mode switch
        {
            "constant" => PaddingMode.Zeros,
            "reflect" => PaddingMode.Reflect,
            "edge" => PaddingMode.Replicate,
            "wrap" when n.Opset >= 19 => PaddingMode.Circular,
            _ => throw n.Unsupported("mode", mode, "expected constant, reflect, edge or (opset 19+) wrap"),
        };
        bool attributes = n.Opset < 11;
        long[]? attrPads = attributes ? n.Ints(n.Opset < 2 ? "paddings" : "pads") : null;
        double attrValue = attributes ? n.Float("value", 0) : 0;
        if (attributes && attrPads is null) throw n.Error("attribute 'pads' is required");
        return (run, i) =>
        {
            var x = T(run, i[0], n, 0);
            long[] pads = attributes ? attrPads! : (i.Length > 1 ? i[1] : null)?.AsIntegers($"{n.Where}: pads") ?? throw n.Error("input 1 (pads) is required");
            double value = attributes ? attrValue : i.Length > 2 && i[2] is { } c ? Scalar(n, c, "constant_value") : 0;
            long[]? axesInput = !attributes && i.Length > 3 && i[3] is { } a ? a.AsIntegers($"{n.Where}: axes") : null;
            int[] axes = axesInput is null ? [.. Enumerable.Range(0, x.Rank)] : [.. axesInput.Select(d => Axis(n, d, x.Rank, "axes"))];
            if (pads.Length != 2 * axes.Length) throw n.Error($"{pads.Length} pads for {axes.Length} axes (need two per axis)");
            // Constant padding of every axis at once (one new tensor); the edge modes axis by axis.
            int[] constBefore = new int[x.Rank], constAfter = new int[x.Rank];
            for (int k = 0; k < axes.Length; k++)
            {
                int d = axes[k];
                long before = pads[k], after = pads[k + axes.Length];
                if (before < 0) { x = x.Narrow(d, (int)-before, x.Size(d) + (int)before); before = 0; }
                if (after < 0) { x = x.Narrow(d, 0, x.Size(d) + (int)after); after = 0; }
                if (before == 0 && after == 0) continue;
                if (padMode == PaddingMode.Zeros)
                {
                    if (before > int.MaxValue || after > int.MaxValue) throw n.Error($"pads ({before}, {after}) of axis {d} are too large");
                    (constBefore[d], constAfter[d]) = ((int)before, (int)after);
                    continue;
                }
                int last = x.Rank - 1;
                var moved = d == last ? x : x.Transpose(d, last);
                var padded = Functional.Pad(moved.Rank >= 2 ? moved : moved.Unsqueeze(0), ((int)before, (int)after, 0, 0), padMode, value);
                if (moved.Rank < 2) padded = padded.Squeeze(0);
                x = d == last ? padded : padded.Transpose(d, last);
            }
            return One(padMode == PaddingMode.Zeros ? Functional.Pad(x, constBefore, constAfter, value) : x);
        };
    }
}
