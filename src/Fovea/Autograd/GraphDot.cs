using System.Globalization;
using System.Text;

namespace Fovea;

/// <summary>
/// Writes the computation graph behind a tensor as Graphviz DOT, the way the lecture notes draw it:
/// one box per op with its output shape, one ellipse per leaf with its value when small, and — after
/// <see cref="Tensor.Backward"/> — every edge labelled with the gradient that flowed along it.
/// </summary>
public static class GraphDot
{
    /// <summary>Gradients up to this many elements are kept on graph edges for drawing.</summary>
    internal const int MaxDrawnElements = 16;

    /// <summary>The DOT text of the graph that produced <paramref name="root"/>.</summary>
    public static string ToDot(Tensor root)
    {
        var sb = new StringBuilder();
        sb.AppendLine("digraph fovea {");
        sb.AppendLine("  rankdir=LR;");
        sb.AppendLine("  node [fontname=\"Helvetica\", fontsize=11];");
        var ids = new Dictionary<object, string>(ReferenceEqualityComparer.Instance);
        string Id(object o)
        {
            if (!ids.TryGetValue(o, out var id)) ids[o] = id = "n" + ids.Count.ToString(CultureInfo.InvariantCulture);
            return id;
        }

        var stack = new Stack<Function>();
        var seen = new HashSet<Function>(ReferenceEqualityComparer.Instance);
        var seenLeaves = new HashSet<Tensor>(ReferenceEqualityComparer.Instance);
        if (root.GradFn is { } top) { stack.Push(top); seen.Add(top); }
        else sb.AppendLine($"  {Id(root)} [shape=ellipse, label=\"{LeafLabel(root)}\"];");
        if (root.GradFn is not null)
        {
            sb.AppendLine($"  out [shape=plaintext, label=\"output {ShapeChecks.Format(root._shape)}{ValueSuffix(root)}\"];");
            sb.AppendLine($"  {Id(root.GradFn)} -> out;");
        }
        while (stack.Count > 0)
        {
            var node = stack.Pop();
            string shape = node.Output is { } o ? ShapeChecks.Format(o._shape) : "";
            sb.AppendLine($"  {Id(node)} [shape=box, style=rounded, label=\"{node.Name}\\n{shape}\"];");
            for (int i = 0; i < node.Inputs.Count; i++)
            {
                var input = node.Inputs[i];
                string from;
                if (input.GradFn is { } child)
                {
                    from = Id(child);
                    if (seen.Add(child)) stack.Push(child);
                }
                else
                {
                    from = Id(input);
                    if (seenLeaves.Add(input))
                        sb.AppendLine($"  {from} [shape=ellipse, label=\"{LeafLabel(input)}\"];");
                }
                string label = node.EdgeGradients is { } eg && eg[i] is { } g ? $" [label=\"grad {Values(g)}\", fontcolor=red]" : "";
                sb.AppendLine($"  {from} -> {Id(node)}{label};");
            }
        }
        sb.AppendLine("}");
        return sb.ToString();
    }

    private static string LeafLabel(Tensor t)
    {
        var sb = new StringBuilder(t.RequiresGrad ? "leaf" : "constant");
        sb.Append(' ').Append(ShapeChecks.Format(t._shape));
        if (t.Numel <= 4) sb.Append("\\n").Append(Values(t));
        if (t.Grad is { } g && g.Numel <= MaxDrawnElements) sb.Append("\\ngrad ").Append(Values(g));
        return sb.ToString();
    }

    private static string ValueSuffix(Tensor t) => t.Numel <= 4 ? " = " + Values(t) : "";

    /// <summary>Values as "0.731" or "[1, 2.5]", at most 4 significant digits.</summary>
    internal static string Values(Tensor t)
    {
        var v = t.Detach().To(DType.Float64).Contiguous().AsSpan<double>().ToArray();
        var parts = v.Select(x => x.ToString("G4", CultureInfo.InvariantCulture));
        return v.Length == 1 && t.Rank == 0 ? parts.First() : "[" + string.Join(", ", parts) + "]";
    }
}
