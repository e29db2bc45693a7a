namespace Fovea.Cli;

/// <summary><c>fovea graph</c>: builds one of the lecture notes' example graphs, runs backward, writes its DOT.</summary>
public static class GraphCommand
{
    /// <summary>The command.</summary>
    public static Command Command { get; } = new("graph", "[--example neuron|add-mul] [-o FILE]", "Write an example computation graph as Graphviz DOT, edges labelled with gradients", (a, o) =>
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
        Tensor S(double v) => Tensor.Scalar(v, DType.Float64).RequiresGrad_();
        Tensor result;
        switch (example)
        {
            case "neuron":
                // f = σ(w0·x0 + w1·x1 + w2) at w = (2, -3, -3), x = (-1, -2).
                var (w0, x0, w1, x1, w2) = (S(2), S(-1), S(-3), S(-2), S(-3));
                result = (w0 * x0 + w1 * x1 + w2).Sigmoid();
                break;
            case "add-mul":
                // f = (x + y)·z at x = -2, y = 5, z = -4.
                result = (S(-2) + S(5)) * S(-4);
                break;
            default:
                throw new UsageException($"graph: unknown example '{example}' (choose neuron or add-mul)");
        }
        result.Backward(retainGraph: true);
        string dot = Autograd.ToDot(result);
        if (output is null) o.Write(dot);
        else
        {
            Fovea.IO.AtomicFile.WriteAllText(output, dot);
            o.WriteLine($"wrote {output} (render with: dot -Tpng {output} -o graph.png)");
        }
        return 0;
    }
}
