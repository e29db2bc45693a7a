namespace Fovea.Cli;

/// <summary><c>fovea graph</c>: builds one of the lecture notes' example graphs, runs backward, writes its DOT.</summary>
public static class GraphCommand
{
    /// <summary>The examples, in the order the usage line lists them.</summary>
    public static IReadOnlyList<string> Examples { get; } = ["neuron", "add-mul", "max-router", "svm", "autodiff"];

    /// <summary>The command.</summary>
    public static Command Command { get; } = new("graph", $"[--example {string.Join('|', Examples)}] [-o FILE]",
        "Write an example computation graph as Graphviz DOT, edges labelled with gradients (and local derivatives)", (a, o) =>
    {
        string example = a.Option("--example") ?? "neuron";
        string? output = a.Option("-o", "--out");
        a.Done();
        PathArgs.OutputFile(output);
        return Run(example, output, o);
    });

    /// <summary>Writes the DOT of <paramref name="example"/> to <paramref name="output"/> (stdout when null).</summary>
    public static int Run(string example, string? output, TextWriter o)
    {
        var (result, names) = Build(example);
        result.Backward(retainGraph: true);
        // Named examples are the notes' scalar walk-throughs: their edges also carry the local derivative.
        string dot = names.Count == 0 ? Autograd.ToDot(result) : GraphDot.ToDot(result, names, localDerivatives: true);
        if (output is null) o.Write(dot);
        else
        {
            Fovea.IO.AtomicFile.WriteAllText(output, dot);
            o.WriteLine($"wrote {output} (render with: dot -Tpng {output} -o graph.png)");
        }
        return 0;
    }

    /// <summary>The example's output (before backward) and the names of its leaves and intermediate values.</summary>
    public static (Tensor Output, IReadOnlyDictionary<Tensor, string> Names) Build(string example)
    {
        var names = new Dictionary<Tensor, string>(ReferenceEqualityComparer.Instance);
        Tensor S(double v, string? name = null, bool grad = true)
        {
            var t = Tensor.Scalar(v, DType.Float64);
            if (grad) t.RequiresGrad_();
            if (name is not null) names[t] = name;
            return t;
        }
        Tensor Named(Tensor t, string name)
        {
            names[t] = name;
            return t;
        }
        switch (example)
        {
            case "neuron":
                // f = σ(w0·x0 + w1·x1 + w2) at w = (2, -3, -3), x = (-1, -2).
                var (w0, x0, w1, x1, w2) = (S(2), S(-1), S(-3), S(-2), S(-3));
                return ((w0 * x0 + w1 * x1 + w2).Sigmoid(), names);
            case "add-mul":
                // f = (x + y)·z at x = -2, y = 5, z = -4.
                return ((S(-2) + S(5)) * S(-4), names);
            case "max-router":
            {
                // The three gates of the notes: add distributes, multiply switches, max routes.
                // f = 2·(x·y + max(z, w)) at x = 3, y = -4, z = 2, w = -1: ∂f/∂x = 2y = -8, ∂f/∂y = 2x = 6, and max
                // sends all of its upstream 2 to z (the larger input) and 0 to w.
                var (x, y, z, w) = (S(3, "x"), S(-4, "y"), S(2, "z"), S(-1, "w"));
                var product = Named(x * y, "x·y");
                var max = Named(z.Maximum(w), "max(z, w)");
                return (Named((product + max) * 2, "f"), names);
            }
            case "svm":
            {
                // The notes' SVM graph: scores s = W·x, hinge loss Σ_{j≠y} max(0, s_j − s_y + 1), plus R(W) = λ·Σ W²,
                // with W chosen so that s = (3.2, 5.1, -1.7) for x = (1, 2) and class y = 0: hinge 2.9, R 0.874, L 3.774.
                var weights = Tensor.FromArray(new[] { 1.2, 1.0, 1.1, 2.0, 0.3, -1.0 }, 3, 2).RequiresGrad_();
                names[weights] = "W";
                var xs = Named(Tensor.From(1.0, 2.0), "x");
                var scores = Named(weights.MatMul(xs), "s = W·x");
                const int label = 0;
                var notLabel = Tensor.From(0.0, 1.0, 1.0); // the sum runs over j ≠ y
                var margins = scores.Sub(scores.Narrow(0, label, 1)).Add(1).Relu().Mul(notLabel);
                var hinge = Named(margins.Sum(), "hinge");
                var regulariser = Named(weights.Square().Sum().Mul(0.1), "R(W)");
                return (Named(hinge + regulariser, "L"), names);
            }
            case "autodiff":
            {
                // Note 002's worked example: f = w₁x, g = max(0, f), ŷ = w₂g, L = ½(ŷ − y)² at x = 5, w₁ = 1, w₂ = 2,
                // y = 2. Local derivatives ∂f/∂w₁ = x = 5, ∂g/∂f = 1, ∂ŷ/∂g = w₂ = 2, ∂L/∂ŷ = ŷ − y = 8; chained,
                // ∂L/∂g = ∂L/∂f = 16 and ∂L/∂w₁ = 80 (and ∂L/∂w₂ = g·8 = 40).
                var (weight1, x, weight2, y) = (S(1, "w₁"), S(5, "x", grad: false), S(2, "w₂"), S(2, "y", grad: false));
                var f = Named(weight1 * x, "f");
                var g = Named(f.Relu(), "g");
                var yHat = Named(weight2 * g, "ŷ");
                return (Named(new HalfSquaredErrorFunction().Apply(yHat, y), "L"), names);
            }
            default:
                throw new UsageException($"graph: unknown example '{example}' (choose {string.Join(", ", Examples)})");
        }
    }

    /// <summary>L = ½(ŷ − y)² as one node, as the note draws it: ∂L/∂ŷ = ŷ − y, ∂L/∂y = −(ŷ − y).</summary>
    private sealed class HalfSquaredErrorFunction : Function
    {
        public override string Name => "½(ŷ − y)²";

        protected override Tensor Forward(Tensor[] inputs)
        {
            SaveForBackward(inputs[0], inputs[1]);
            return inputs[0].Sub(inputs[1]).Square().Mul(0.5);
        }

        protected override Tensor?[] Backward(Tensor gradOutput)
        {
            var residual = Saved[0].Sub(Saved[1]);
            return [gradOutput.Mul(residual), gradOutput.Mul(residual).Neg()];
        }

        protected override Tensor? Jvp(Tensor[] inputs, Tensor output, Tensor?[] tangents)
        {
            var residual = inputs[0].Sub(inputs[1]);
            var dy = tangents[0] is { } t0 ? t0.Mul(residual) : null;
            if (tangents[1] is { } t1) dy = dy is null ? t1.Mul(residual).Neg() : dy.Sub(t1.Mul(residual));
            return dy;
        }
    }
}
