namespace Fovea;

/// <summary>
/// Reverse-mode engine. Orders the graph with an iterative depth-first search (no recursion, so a chain
/// of any length cannot overflow the stack), seeds the root gradient, walks the nodes in reverse
/// topological order, and accumulates where a value fans out (the seeds' "add distributes, mul
/// switches, max routes" gates, and the sum at every branch).
/// </summary>
internal static class Engine
{
    /// <summary>
    /// Back-propagates <paramref name="gradOutputs"/> from <paramref name="outputs"/>. When
    /// <paramref name="capture"/> is given, the gradients of those tensors are returned in it instead of being
    /// accumulated into leaves' <see cref="Tensor.Grad"/>.
    /// </summary>
    public static void Run(IReadOnlyList<Tensor> outputs, IReadOnlyList<Tensor> gradOutputs, bool retainGraph, bool createGraph,
        Dictionary<Tensor, Tensor?>? capture = null)
    {
        var order = TopologicalOrder(outputs);
        var pending = new Dictionary<Function, Tensor>(ReferenceEqualityComparer.Instance);
        using var mode = GradMode.Set(createGraph);

        for (int i = 0; i < outputs.Count; i++)
        {
            var t = outputs[i];
            if (!t.RequiresGrad)
                throw new InvalidOperationException($"backward: output {i} (shape {ShapeChecks.Format(t._shape)}) does not require grad and has no grad_fn; did you forget RequiresGrad = true on an input, or run under GradMode.Disable()?");
            ShapeChecks.Same("backward", gradOutputs[i]._shape, t._shape);
            if (t.GradFn is null) Deliver(t, gradOutputs[i], capture);
            else Accumulate(pending, t.GradFn, gradOutputs[i]);
        }

        foreach (var node in order)
        {
            if (!pending.Remove(node, out var grad)) continue;
            if (node.Released)
                throw new InvalidOperationException($"{node.Name}.Backward: trying to backward through the graph a second time; the saved tensors were freed after the first backward. Pass retainGraph: true to the first Backward call.");
            var owner = node.Output;
            if (owner is not null)
            {
                if (owner.RetainsGrad && capture is null) owner.Grad = owner.Grad is null ? grad : owner.Grad.Add(grad);
                if (capture is not null && capture.ContainsKey(owner)) capture[owner] = capture[owner] is { } c ? c.Add(grad) : grad;
            }
            Tensor?[] grads;
            var outerBackward = Anomaly.RunningBackward;
            Anomaly.RunningBackward = node;
            try { grads = node.RunBackward(grad); }
            finally { Anomaly.RunningBackward = outerBackward; }
            if (Anomaly.Enabled) Anomaly.CheckBackward(node, grads);
            if (!retainGraph) node.Release();
            var inputs = node.Inputs;
            for (int i = 0; i < grads.Length; i++)
            {
                var g = grads[i];
                var input = inputs[i];
                if (g is null || !input.RequiresGrad) continue;
                if (input.GradFn is null) Deliver(input, g, capture);
                else Accumulate(pending, input.GradFn, g);
            }
        }
    }

    private static void Accumulate(Dictionary<Function, Tensor> pending, Function node, Tensor g) =>
        pending[node] = pending.TryGetValue(node, out var existing) ? existing.Add(g) : g;

    /// <summary>A leaf receives its gradient: into <see cref="Tensor.Grad"/>, or into the capture map.</summary>
    private static void Deliver(Tensor leaf, Tensor g, Dictionary<Tensor, Tensor?>? capture)
    {
        if (capture is not null)
        {
            if (capture.TryGetValue(leaf, out var existing)) capture[leaf] = existing is null ? g : existing.Add(g);
            return;
        }
        leaf.Grad = leaf.Grad is null ? (GradMode.IsEnabled ? g : g.Detach()) : leaf.Grad.Add(g);
    }

    /// <summary>Nodes reachable from the outputs, each after every node that consumes its output.</summary>
    private static List<Function> TopologicalOrder(IReadOnlyList<Tensor> outputs)
    {
        var postOrder = new List<Function>();
        var visited = new HashSet<Function>(ReferenceEqualityComparer.Instance);
        var stack = new Stack<(Function Node, int NextInput)>();
        foreach (var o in outputs)
        {
            if (o.GradFn is null || !visited.Add(o.GradFn)) continue;
            stack.Push((o.GradFn, 0));
            while (stack.Count > 0)
            {
                var (node, next) = stack.Pop();
                var inputs = node.Inputs;
                if (next < inputs.Count)
                {
                    stack.Push((node, next + 1));
                    var child = inputs[next].GradFn;
                    if (child is not null && visited.Add(child)) stack.Push((child, 0));
                }
                else postOrder.Add(node);
            }
        }
        postOrder.Reverse();
        return postOrder;
    }
}
