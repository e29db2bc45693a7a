using System.Globalization;
using System.Text;

namespace Fovea.NN;

/// <summary>
/// One row of <see cref="ModelSummary"/>: a layer, its output shape, its parameters, its multiply-adds (those of
/// convolutions, linear layers and matrix products, as torchvision's FLOP figures count them; normalisation,
/// activations and pooling count 0; a block with children is counted through its recorded graph), the bytes of its output, and the receptive field of one output element
/// on the input: its size in input pixels and the stride (jump) between neighbouring outputs. A null field size
/// means unknown; <see cref="ReceptiveFieldGlobal"/> means every output sees the whole input (after a Linear).
/// </summary>
public sealed record SummaryRow(string Name, string Layer, int[] OutputShape, long Parameters, long? MultiplyAdds, long ActivationBytes,
    int? ReceptiveFieldSize, int? ReceptiveFieldStride, bool ReceptiveFieldGlobal);

/// <summary>The table produced by <see cref="SummaryExtensions.Summary"/>, with totals; <see cref="ToString"/> draws it.</summary>
public sealed class ModelSummary
{
    internal ModelSummary(int[] inputShape, DType dtype, IReadOnlyList<SummaryRow> rows, long totalParameters, long trainableParameters)
    {
        InputShape = inputShape;
        DType = dtype;
        Rows = rows;
        TotalParameters = totalParameters;
        TrainableParameters = trainableParameters;
    }

    /// <summary>The input shape the model was run on.</summary>
    public int[] InputShape { get; }

    /// <summary>The dtype of the dummy input (the model's parameter dtype).</summary>
    public DType DType { get; }

    /// <summary>The rows, in execution order.</summary>
    public IReadOnlyList<SummaryRow> Rows { get; }

    /// <summary>All parameter elements of the model.</summary>
    public long TotalParameters { get; }

    /// <summary>Parameter elements that require grad.</summary>
    public long TrainableParameters { get; }

    /// <summary>Sum of the known multiply-adds.</summary>
    public long TotalMultiplyAdds => Rows.Sum(r => r.MultiplyAdds ?? 0);

    /// <summary>Floating-point operations of one forward pass: 2 × <see cref="TotalMultiplyAdds"/> (a multiply-add is a multiply and an add).</summary>
    public long TotalFlops => 2 * TotalMultiplyAdds;

    /// <summary>Rows whose multiply-adds are unknown (not in <see cref="TotalMultiplyAdds"/>).</summary>
    public int UnknownMultiplyAddRows => Rows.Count(r => r.MultiplyAdds is null);

    /// <summary>Bytes of every layer's output together (what a forward pass keeps for backward, roughly).</summary>
    public long TotalActivationBytes => Rows.Sum(r => r.ActivationBytes);

    /// <summary>The table with a totals footer.</summary>
    public override string ToString()
    {
        string[] header = ["Layer", "Output shape", "Params", "Mult-adds", "Activations", "RF size / stride"];
        var cells = Rows.Select(r => new[]
        {
            r.Name.Length == 0 ? r.Layer : $"{r.Name}: {r.Layer}",
            ShapeChecks.Format(r.OutputShape),
            Count(r.Parameters),
            r.MultiplyAdds is { } m ? Count(m) : "-",
            Bytes(r.ActivationBytes),
            r.ReceptiveFieldGlobal ? "all" : r.ReceptiveFieldSize is { } s ? $"{s} / {r.ReceptiveFieldStride}" : "?",
        }).ToList();
        var widths = header.Select((h, i) => Math.Max(h.Length, cells.Count == 0 ? 0 : cells.Max(c => c[i].Length))).ToArray();
        var sb = new StringBuilder();
        void Line(string[] row)
        {
            for (int i = 0; i < row.Length; i++)
            {
                if (i > 0) sb.Append("  ");
                // Text columns left-aligned, numbers right-aligned.
                sb.Append(i < 2 ? row[i].PadRight(widths[i]) : row[i].PadLeft(widths[i]));
            }
            sb.Append('\n');
        }
        int total = widths.Sum() + 2 * (widths.Length - 1);
        sb.Append($"Input {ShapeChecks.Format(InputShape)} {DType.Name()}\n");
        Line(header);
        sb.Append(new string('-', total)).Append('\n');
        foreach (var c in cells) Line(c);
        sb.Append(new string('-', total)).Append('\n');
        sb.Append($"Total params: {Count(TotalParameters)} ({Count(TrainableParameters)} trainable, {Bytes(TotalParameters * DType.SizeOf())})\n");
        string unknown = UnknownMultiplyAddRows > 0 ? $" (excluding {UnknownMultiplyAddRows} rows marked -)" : "";
        sb.Append($"Total mult-adds: {Count(TotalMultiplyAdds)}{unknown}\n");
        sb.Append($"Total FLOPs: {Count(TotalFlops)} (2 per mult-add)\n");
        sb.Append($"Total activations: {Bytes(TotalActivationBytes)}\n");
        return sb.ToString();
    }

    private static string Count(long n) => n.ToString("N0", CultureInfo.InvariantCulture);

    private static string Bytes(long b) => b switch
    {
        < 1024 => $"{b} B",
        < 1024 * 1024 => (b / 1024.0).ToString("0.0", CultureInfo.InvariantCulture) + " KB",
        _ => (b / (1024.0 * 1024)).ToString("0.0", CultureInfo.InvariantCulture) + " MB",
    };
}

/// <summary>Adds <c>model.Summary(inputShape)</c>.</summary>
public static class SummaryExtensions
{
    /// <summary>
    /// Runs <paramref name="model"/> once on zeros of <paramref name="inputShape"/> (batch dim included; evaluation
    /// mode and no grad, so running statistics are untouched and the training flags are restored) and tabulates
    /// each layer. <see cref="Sequential"/> models (nested ones too) get one row per layer; any other module with
    /// children is one row. Receptive fields grow through layers that implement <see cref="IReceptiveField"/>:
    /// with jump j (the input distance between neighbouring outputs), a layer of kernel k, dilation d and stride s
    /// gives size r + (d(k − 1))·j and jump j·s.
    /// </summary>
    public static ModelSummary Summary(this Module<Tensor, Tensor> model, params int[] inputShape)
    {
        var dtype = model.Parameters().Select(p => p.DType).FirstOrDefault(d => d.IsFloating(), DType.Float32);
        var modes = model.NamedModules().Select(m => (m.Module, m.Module.Training)).ToList();
        var rows = new List<SummaryRow>();
        try
        {
            model.Eval();
            using var _ = GradMode.Disable();
            var state = new FieldState(1, 1, Known: true, Global: false);
            var x = Tensor.Zeros(inputShape, dtype);
            if (model is Sequential)
                Walk(model, "", x, ref state, rows);
            else
                Row(model, "", x, ref state, rows);
        }
        finally
        {
            // Parents first, so each module's own flag is what remains.
            foreach (var (m, training) in modes) m.Train(training);
        }
        return new ModelSummary((int[])inputShape.Clone(), dtype, rows, model.ParameterCount(), model.ParameterCount(trainableOnly: true));
    }

    private record struct FieldState(int Size, int Jump, bool Known, bool Global);

    private static Tensor Walk(Module<Tensor, Tensor> seq, string prefix, Tensor x, ref FieldState state, List<SummaryRow> rows)
    {
        foreach (var (name, child) in seq.NamedChildren())
        {
            string full = prefix.Length == 0 ? name : prefix + "." + name;
            if (child is not Module<Tensor, Tensor> layer)
                throw new ArgumentException($"Summary: child '{full}' ({child.GetType().Name}) is not a Module<Tensor, Tensor>");
            x = layer is Sequential ? Walk(layer, full, x, ref state, rows) : Row(layer, full, x, ref state, rows);
        }
        return x;
    }

    private static Tensor Row(Module<Tensor, Tensor> layer, string name, Tensor x, ref FieldState state, List<SummaryRow> rows)
    {
        var inShape = x.Shape;
        Tensor y;
        try { y = layer.Forward(x); }
        catch (ArgumentException e)
        {
            throw new ArgumentException($"Summary: layer '{name}' ({layer.Describe()}) failed on input {ShapeChecks.Format(inShape)}: {e.Message}", e);
        }
        state = Advance(layer, inShape, state);
        long? macs = MultiplyAdds(layer, inShape, y);
        if (macs is null && layer.NamedChildren().Any()) macs = GraphMultiplyAdds(layer, x);
        rows.Add(new SummaryRow(name, layer.Describe(), y.Shape, layer.ParameterCount(), macs,
            (long)y.Numel * y.DType.SizeOf(), state.Known ? state.Size : null, state.Known ? state.Jump : null, state.Known && state.Global));
        return y;
    }

    private static FieldState Advance(Module layer, int[] inShape, FieldState s)
    {
        if (!s.Known || s.Global) return s;
        switch (layer)
        {
            case IReceptiveField rf:
                int span = rf.Dilation * (rf.Kernel - 1);
                return s with { Size = s.Size + span * s.Jump, Jump = s.Jump * rf.Stride };
            case Linear or Maxout:
                return s with { Global = true };
            case LayerNorm ln when inShape.Length > 2 && ln.NormalizedShape.Length >= inShape.Length - 2:
                return s with { Global = true }; // normalises over the spatial dims: every output depends on all of them
            default:
                // A block with children (a residual block, an inception module) changes the field in ways this table cannot see.
                return layer.NamedChildren().Any() ? s with { Known = false } : s;
        }
    }

    /// <summary>
    /// Multiply-adds of one layer on the given input: Linear and Maxout one per weight per output row; layers
    /// with a weight [out, in, k...] (convolutions) one per weight element per output position (per input
    /// position for a transposed convolution, whose weight is [in, out, k...]); normalisation, activations,
    /// pooling and reshapes none; null for blocks with children and other parameterised layers.
    /// </summary>
    private static long? MultiplyAdds(Module layer, int[] inShape, Tensor y)
    {
        switch (layer)
        {
            case Linear l: return (long)y.Numel * l.InFeatures;
            case Maxout m: return (long)y.Numel * m.Pieces * m.InFeatures;
            case BatchNorm or LayerNorm or PReLU: return 0;
        }
        if (layer.NamedChildren().Any()) return null;
        var weight = layer.NamedParameters().FirstOrDefault(p => p.Name == "weight").Parameter;
        if (weight is null) return layer.ParameterCount() == 0 ? 0 : null;
        if (layer is IReceptiveField && weight.Rank >= 3 && inShape.Length == weight.Rank)
        {
            long perPosition = weight.Numel;
            bool transposed = layer.GetType().Name.Contains("Transpose", StringComparison.Ordinal);
            long positions = transposed ? Numel(inShape) / inShape[1] : y.Numel / Math.Max(1, y.Size(1));
            return positions * perPosition;
        }
        return null;
    }

    /// <summary>
    /// Multiply-adds of a block with children (a residual block, an inception module), which the table shows as one
    /// row: the block runs once more with gradients recorded, and the recorded graph is walked from the output. Each
    /// convolution node counts (output elements)·(its weight's elements per output channel), a transposed convolution
    /// (input elements)·(the same), a linear node (output elements)·(input features) and a matrix product (output
    /// elements)·(the shared dimension), the rule of the single layers. Null when nothing was recorded (every
    /// parameter frozen).
    /// </summary>
    private static long? GraphMultiplyAdds(Module<Tensor, Tensor> layer, Tensor x)
    {
        Tensor y;
        using (GradMode.Enable()) y = layer.Forward(x);
        if (y.GradFn is not { } root) return null;
        var nodes = new HashSet<Function>(ReferenceEqualityComparer.Instance) { root };
        var pending = new Stack<Function>([root]);
        while (pending.Count > 0)
        {
            var node = pending.Pop();
            for (int i = 0; i < node.InputCount; i++)
                if (node.NextFunction(i) is { } child && nodes.Add(child)) pending.Push(child);
        }
        long total = 0;
        foreach (var node in nodes)
        {
            var (shape, inputs) = (node.OutputShape, node.InputShapes);
            total += node switch
            {
                Ops.Conv2dFunction => Numel(shape) * PerOutputChannel(inputs[1]),
                Ops.Conv2dBackwardInputFunction => Numel(inputs[0]) * PerOutputChannel(inputs[1]),
                Ops.LinearFunction => Numel(shape) * inputs[1][1],
                Ops.BatchedMatMulFunction => Numel(shape) * inputs[0][^1],
                _ => 0,
            };
        }
        return total;
    }

    private static long PerOutputChannel(int[] weightShape) => Numel(weightShape) / Math.Max(1, weightShape[0]);

    private static long Numel(int[] shape)
    {
        long n = 1;
        foreach (int s in shape) n *= s;
        return n;
    }
}
