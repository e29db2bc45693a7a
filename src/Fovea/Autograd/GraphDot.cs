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
    public static string ToDot(Tensor root) => ToDot(root, null, localDerivatives: false);

    /// <summary>
    /// The DOT text of the graph that produced <paramref name="root"/>, leaves and op outputs labelled with the given
    /// <paramref name="names"/> (matched by reference) and, with <paramref name="localDerivatives"/>, every edge of a
    /// scalar node labelled with its local derivative ∂(node)/∂(input) beside the gradient that flowed along it:
    /// after <c>root.Backward()</c> (seed 1) the edge carries ∂L/∂(input) = ∂L/∂(node) · ∂(node)/∂(input), so the local
    /// derivative is the edge's gradient divided by the node's upstream gradient ∂L/∂(node) (the sum over the
    /// node's consumers). Where that upstream gradient is 0 the local derivative cannot be recovered and is left out.
    /// </summary>
    public static string ToDot(Tensor root, IReadOnlyDictionary<Tensor, string>? names, bool localDerivatives)
    {
        var leafNames = new Dictionary<Tensor, string>(ReferenceEqualityComparer.Instance);
        // The graph holds no results: a named op output is found through the node that produced it.
        var outputNames = new Dictionary<Function, Tensor>(ReferenceEqualityComparer.Instance);
        if (names is not null)
            foreach (var (t, n) in names)
            {
                leafNames[t] = n;
                if (t.GradFn is { } producer) outputNames[producer] = t;
            }
        var upstream = localDerivatives ? UpstreamGradients(root) : null;
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
        else sb.AppendLine($"  {Id(root)} [shape=ellipse, label=\"{LeafLabel(root, leafNames)}\"];");
        if (root.GradFn is not null)
        {
            sb.AppendLine($"  out [shape=plaintext, label=\"output {ShapeChecks.Format(root._shape)}{ValueSuffix(root)}\"];");
            sb.AppendLine($"  {Id(root.GradFn)} -> out;");
        }
        while (stack.Count > 0)
        {
            var node = stack.Pop();
            string shape = ShapeChecks.Format(node.OutputShape);
            string nodeLabel = outputNames.TryGetValue(node, out var named)
                ? $"{node.Name}\\n{leafNames[named]}{ValueSuffix(named)}" : $"{node.Name}\\n{shape}";
            sb.AppendLine($"  {Id(node)} [shape=box, style=rounded, label=\"{nodeLabel}\"];");
            for (int i = 0; i < node.InputCount; i++)
            {
                string from;
                if (node.NextFunction(i) is { } child)
                {
                    from = Id(child);
                    if (seen.Add(child)) stack.Push(child);
                }
                else if ((node.LeafInput(i) ?? node.ConstantInput(i)) is { } input)
                {
                    from = Id(input);
                    if (seenLeaves.Add(input))
                        sb.AppendLine($"  {from} [shape=ellipse, label=\"{LeafLabel(input, leafNames)}\"];");
                }
                else
                {
                    // A large constant is not kept by the graph: drawn from its shape, one ellipse per edge.
                    from = Id(new object());
                    sb.AppendLine($"  {from} [shape=ellipse, label=\"constant {ShapeChecks.Format(node.InputShapes[i])}\"];");
                }
                string label = "";
                if (node.EdgeGradients is { } eg && eg[i] is { } g)
                {
                    string local = upstream is not null && LocalDerivative(upstream, node, g) is { } d
                        ? "local " + d.ToString("G4", CultureInfo.InvariantCulture) + "\\n" : "";
                    label = $" [label=\"{local}grad {Values(g)}\", fontcolor=red]";
                }
                sb.AppendLine($"  {from} -> {Id(node)}{label};");
            }
        }
        sb.AppendLine("}");
        return sb.ToString();
    }

    /// <summary>
    /// ∂L/∂(node output) for every node of a graph of scalars, summed over each node's consumers from the edge
    /// gradients the last backward kept (the root's is the seed 1). Nodes with a non-scalar output are left out.
    /// </summary>
    private static Dictionary<Function, double> UpstreamGradients(Tensor root)
    {
        var upstream = new Dictionary<Function, double>(ReferenceEqualityComparer.Instance);
        if (root.GradFn is not { } top || root.Numel != 1) return upstream;
        upstream[top] = 1;
        // Consumers before producers: a node's upstream gradient is complete once every consumer has been visited.
        foreach (var node in TopologicalOrder(top))
        {
            if (node.EdgeGradients is not { } eg) continue;
            for (int i = 0; i < node.InputCount; i++)
                if (node.NextFunction(i) is { } child && eg[i] is { Numel: 1 } g)
                    upstream[child] = upstream.GetValueOrDefault(child) + g.Detach().To(DType.Float64).ToScalar();
        }
        return upstream;
    }

    /// <summary>The nodes reachable from <paramref name="top"/>, each after all of its consumers.</summary>
    private static List<Function> TopologicalOrder(Function top)
    {
        var postOrder = new List<Function>();
        var visited = new HashSet<Function>(ReferenceEqualityComparer.Instance) { top };
        var stack = new Stack<(Function Node, int Next)>();
        stack.Push((top, 0));
        while (stack.Count > 0)
        {
            var (node, next) = stack.Pop();
            if (next < node.InputCount)
            {
                stack.Push((node, next + 1));
                if (node.NextFunction(next) is { } child && visited.Add(child)) stack.Push((child, 0));
            }
            else postOrder.Add(node);
        }
        postOrder.Reverse();
        return postOrder;
    }

    /// <summary>∂(node)/∂(input) = (edge gradient) / ∂L/∂(node), for scalar edges of a node whose upstream gradient is known and nonzero.</summary>
    private static double? LocalDerivative(Dictionary<Function, double> upstream, Function node, Tensor edgeGradient) =>
        edgeGradient.Numel == 1 && upstream.TryGetValue(node, out double up) && up != 0
            ? edgeGradient.Detach().To(DType.Float64).ToScalar() / up
            : null;

    private static string LeafLabel(Tensor t, Dictionary<Tensor, string> names)
    {
        if (names.TryGetValue(t, out var name))
        {
            var named = new StringBuilder(name);
            if (t.Numel <= 4) named.Append(" = ").Append(Values(t));
            if (t.Grad is { } ng && ng.Numel <= MaxDrawnElements) named.Append("\\ngrad ").Append(Values(ng));
            return named.ToString();
        }
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
