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
        // The graph holds no results; the captured non-leaves are reached from their nodes through this map.
        Dictionary<Function, Tensor>? captured = null;
        if (capture is not null)
            foreach (var t in capture.Keys)
                if (t.GradFn is { } producer) (captured ??= new(ReferenceEqualityComparer.Instance))[producer] = t;
        var pending = new Dictionary<Function, Tensor>(ReferenceEqualityComparer.Instance);
        var hooked = HookedLeaves.Find(outputs, order);
        // Recycling is only sound when no graph of the backward is built (it would hold the gradients), when no node
        // keeps its state for another pass, without anomaly mode's checks holding on to results, and when the
        // gradients are not being captured for the caller (Autograd.Grad).
        var recycler = createGraph || retainGraph || capture is not null || Anomaly.Enabled || !StoragePool.Enabled ? null : new Recycler();
        // Disowned activations (and max pooling's indices) are no gradients: what decides whether they may go to the
        // pool is only that no node of this pass or of a graph built by it still saves them, so a capture does not
        // keep them out (a saliency map's Autograd.Grad, the bench's forward + backward cases).
        bool recycleSaved = !createGraph && !Anomaly.Enabled && StoragePool.Enabled;
        using var mode = GradMode.Set(createGraph);
        long releasedBytes = 0;

        for (int i = 0; i < outputs.Count; i++)
        {
            var t = outputs[i];
            if (!t.RequiresGrad)
                throw new InvalidOperationException($"backward: output {i} (shape {ShapeChecks.Format(t._shape)}) does not require grad and has no grad_fn; did you forget RequiresGrad = true on an input, or run under GradMode.Disable()?");
            ShapeChecks.Same("backward", gradOutputs[i]._shape, t._shape);
            if (t.GradFn is null)
            {
                Deliver(t, gradOutputs[i], capture, hooked, recycler);
                hooked?.EdgeDone(t, capture);
            }
            else Accumulate(pending, t.GradFn, gradOutputs[i], recycler);
        }

        foreach (var node in order)
        {
            if (!pending.Remove(node, out var grad))
            {
                // No gradient reached this node, so none will reach its inputs through it.
                hooked?.NodeDone(node, capture);
                continue;
            }
            if (node.Released)
                throw new InvalidOperationException($"{node.Name}.Backward: trying to backward through the graph a second time; the saved tensors were freed after the first backward. Pass retainGraph: true to the first Backward call.");
            var owner = node.PinnedOutput;
            if (captured is not null && captured.TryGetValue(node, out var capturedOutput)) owner = capturedOutput;
            if (owner is not null)
            {
                // A hook may keep what it is given or what it returns; a retained gradient is the user's.
                bool kept = owner.HasGradHooks || owner.RetainsGrad;
                if (kept) recycler?.Escape(grad);
                grad = owner.RunGradHooks(grad);
                if (kept) recycler?.Escape(grad);
                if (owner.RetainsGrad && capture is null) owner.Grad = owner.Grad is null ? grad : owner.Grad.Add(grad);
                if (capture is not null && capture.ContainsKey(owner)) capture[owner] = capture[owner] is { } c ? c.Add(grad) : grad;
            }
            // A user's Function may keep the gradient it is given, or one it returns.
            bool ours = node.GetType().Assembly == typeof(Function).Assembly;
            if (!ours) recycler?.Escape(grad);
            Tensor?[] grads;
            var outerBackward = Anomaly.RunningBackward;
            Anomaly.RunningBackward = node;
            try { grads = node.RunBackward(grad); }
            finally { Anomaly.RunningBackward = outerBackward; }
            if (Anomaly.Enabled) Anomaly.CheckBackward(node, grads);
            if (!retainGraph)
            {
                // Disowned activations this node was the last to hold go to the pool (no graph of the backward could
                // still reach them); the collector need not sweep what the pool took.
                releasedBytes += node.SavedResultBytes();
                releasedBytes -= node.Release(recycle: recycleSaved);
            }
            if (recycler is not null)
            {
                // The node's results are held before its incoming gradient is let go: a result may be that very buffer.
                for (int i = 0; i < grads.Length; i++)
                    if (grads[i] is { } g && node.NeedsInputGrad(i))
                    {
                        if (ours) recycler.Hold(g);
                        else recycler.Escape(g);
                    }
                recycler.Drop(grad);
            }
            for (int i = 0; i < grads.Length; i++)
            {
                var g = grads[i];
                if (g is null || !node.NeedsInputGrad(i)) continue;
                if (node.NextFunction(i) is { } producer) Accumulate(pending, producer, g, recycler);
                else Deliver(node.LeafInput(i)!, g, capture, hooked, recycler);
            }
            hooked?.NodeDone(node, capture);
        }
        CollectReleased(releasedBytes);
    }

    /// <summary>
    /// Starts a background full collection when the pass let go of at least <see cref="Autograd.CollectAfterBackwardBytes"/>
    /// of saved results (why: see there). Non-blocking: it sweeps while the caller goes on to the next step.
    /// </summary>
    private static void CollectReleased(long releasedBytes)
    {
        long threshold = Autograd.CollectAfterBackwardBytes;
        if (threshold <= 0 || releasedBytes < threshold) return;
        Interlocked.Increment(ref _collectionsStarted);
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: false, compacting: false);
    }

    private static long _collectionsStarted;

    /// <summary>How many collections <see cref="CollectReleased"/> has started in this process.</summary>
    internal static long CollectionsStarted => Interlocked.Read(ref _collectionsStarted);

    private static void Accumulate(Dictionary<Function, Tensor> pending, Function node, Tensor g, Recycler? recycler)
    {
        if (!pending.TryGetValue(node, out var existing))
        {
            pending[node] = g;
            return;
        }
        var sum = existing.Add(g);
        pending[node] = sum;
        if (recycler is null) return;
        recycler.Hold(sum);
        recycler.Drop(existing);
        recycler.Drop(g);
    }

    /// <summary>
    /// A leaf receives a gradient contribution: a leaf with hooks collects it until the pass has delivered all of its
    /// contributions (<see cref="HookedLeaves"/>); any other leaf gets it at once.
    /// </summary>
    private static void Deliver(Tensor leaf, Tensor g, Dictionary<Tensor, Tensor?>? capture, HookedLeaves? hooked, Recycler? recycler)
    {
        // Kept by the leaf (its Grad is g itself when it had none) or by a hook's collection; only a gradient added
        // into an existing Grad is free afterwards (no recycler runs while gradients are captured).
        if (hooked is not null && hooked.Collect(leaf, g))
        {
            recycler?.Escape(g);
            return;
        }
        bool added = leaf.GradUnexposed is not null;
        Store(leaf, g, capture, recycler);
        if (recycler is null) return;
        if (added) recycler.Drop(g);
        else recycler.Escape(g);
    }

    /// <summary>
    /// Adds a leaf's gradient into <see cref="Tensor.Grad"/>, or into the capture map. A pass that recycles
    /// (<paramref name="recycler"/> not null: it builds no graph) marks a gradient whose buffer the leaf alone holds
    /// (<see cref="Tensor.GradAlone"/>): a buffer of the pass that nothing else holds, or a new sum.
    /// </summary>
    private static void Store(Tensor leaf, Tensor g, Dictionary<Tensor, Tensor?>? capture, Recycler? recycler = null)
    {
        if (capture is not null)
        {
            if (capture.TryGetValue(leaf, out var existing)) capture[leaf] = existing is null ? g : existing.Add(g);
            return;
        }
        var grad = leaf.GradUnexposed;
        if (grad is null)
        {
            leaf.Grad = GradMode.IsEnabled ? g : g.Detach();
            if (recycler is not null && recycler.HeldOnlyHere(g)) leaf.MarkGradAlone();
        }
        else if (AddsInPlace(leaf, g)) AddInto(grad, g);
        else
        {
            leaf.Grad = grad.Add(g);
            if (recycler is not null) leaf.MarkGradAlone();
        }
    }

    /// <summary>
    /// Whether a contribution goes into the existing gradient tensor itself, as PyTorch's AccumulateGrad does
    /// (<c>grad += new_grad</c>) when the pass builds no graph: the leaf owns its gradient's storage (zeros that
    /// <see cref="Tensor.ZeroGrad"/> made or cleared, so no other tensor shares it), a plain contiguous tensor of the
    /// contribution's shape and type. (A pass that builds a graph, or any other gradient, gets a new tensor holding the sum.)
    /// </summary>
    private static bool AddsInPlace(Tensor leaf, Tensor g) =>
        !GradMode.IsEnabled && (leaf.GradOwned || leaf.GradAlone) && leaf.GradUnexposed is { GradFn: null, RequiresGrad: false, IsContiguous: true } grad
        && grad.DType == g.DType && grad._shape.AsSpan().SequenceEqual(g._shape);

    /// <summary>grad += g in place, one pass, its storage version bumped (a graph that saved it notices).</summary>
    private static void AddInto(Tensor grad, Tensor g)
    {
        Backends.Backend.Current.AccumulateGrad(grad, g);
        grad.Storage.BumpVersion();
    }

    /// <summary>
    /// The leaves of this pass that carry hooks. A hook on a leaf sees the sum of all of the pass's contributions
    /// (PyTorch runs it once, before AccumulateGrad), and a post-accumulate hook must run only when the gradient is
    /// final, so each such leaf counts its incoming graph edges; when the last edge's node is done (whether or not a
    /// gradient flowed along it), the collected sum goes through the hooks into <see cref="Tensor.Grad"/> and the
    /// post-accumulate hooks run.
    /// </summary>
    private sealed class HookedLeaves
    {
        private readonly Dictionary<Tensor, int> _edgesLeft = new(ReferenceEqualityComparer.Instance);
        private readonly Dictionary<Tensor, Tensor> _collected = new(ReferenceEqualityComparer.Instance);

        /// <summary>The hooked leaves among <paramref name="outputs"/> and the nodes' inputs, or null when there are none.</summary>
        public static HookedLeaves? Find(IReadOnlyList<Tensor> outputs, List<Function> order)
        {
            HookedLeaves? found = null;
            foreach (var t in outputs)
                if (t.GradFn is null) Count(ref found, t);
            foreach (var node in order)
                for (int i = 0; i < node.InputCount; i++)
                    if (node.LeafInput(i) is { } leaf) Count(ref found, leaf);
            return found;
        }

        private static void Count(ref HookedLeaves? found, Tensor leaf)
        {
            if (!leaf.RequiresGrad || !leaf.HasGradHooks) return;
            found ??= new HookedLeaves();
            found._edgesLeft[leaf] = found._edgesLeft.GetValueOrDefault(leaf) + 1;
        }

        /// <summary>Holds back a contribution to a hooked leaf; false for a leaf without hooks.</summary>
        public bool Collect(Tensor leaf, Tensor g)
        {
            if (!_edgesLeft.ContainsKey(leaf)) return false;
            _collected[leaf] = _collected.TryGetValue(leaf, out var sum) ? sum.Add(g) : g;
            return true;
        }

        /// <summary>Marks every leaf edge of <paramref name="node"/> as delivered.</summary>
        public void NodeDone(Function node, Dictionary<Tensor, Tensor?>? capture)
        {
            for (int i = 0; i < node.InputCount; i++)
                if (node.LeafInput(i) is { } leaf) EdgeDone(leaf, capture);
        }

        /// <summary>One edge into <paramref name="leaf"/> is delivered; after the last, the leaf's gradient is final.</summary>
        public void EdgeDone(Tensor leaf, Dictionary<Tensor, Tensor?>? capture)
        {
            if (!_edgesLeft.TryGetValue(leaf, out int left)) return;
            if (left > 1) { _edgesLeft[leaf] = left - 1; return; }
            _edgesLeft.Remove(leaf);
            if (!_collected.Remove(leaf, out var sum)) return;
            Store(leaf, leaf.RunGradHooks(sum), capture);
            if (capture is null) leaf.RunPostAccumulateGradHooks();
        }
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
                if (next < node.InputCount)
                {
                    stack.Push((node, next + 1));
                    var child = node.NextFunction(next);
                    if (child is not null && visited.Add(child)) stack.Push((child, 0));
                }
                else postOrder.Add(node);
            }
        }
        postOrder.Reverse();
        return postOrder;
    }

    /// <summary>
    /// Which gradient buffers only this pass holds, and when they die. A buffer allocated during the pass is counted
    /// once per place that holds it (a pending sum, a node's result on its way to a consumer; views of one buffer share
    /// one count, since they share its array); when the count reaches zero and the buffer never escaped (to a leaf's
    /// Grad, a retained or captured gradient, a hook, a user's Function), it goes to <see cref="StoragePool"/>.
    /// Buffers from before the pass (the seed, saved activations, parameters) are never counted.
    /// </summary>
    private sealed class Recycler
    {
        private readonly long _firstSerial = Storage.NextSerial;
        private readonly Dictionary<Array, int> _holds = new(ReferenceEqualityComparer.Instance);
        private readonly HashSet<Array> _escaped = new(ReferenceEqualityComparer.Instance);

        /// <summary>One more holder of <paramref name="g"/>'s buffer.</summary>
        public void Hold(Tensor g)
        {
            var s = g.Storage;
            if (s.Serial < _firstSerial || s.Length < StoragePool.MinLength) return;
            _holds[s.Data] = _holds.GetValueOrDefault(s.Data) + 1;
        }

        /// <summary>
        /// Whether <paramref name="g"/> covers a buffer of this pass that it alone holds: held once (by the result on its
        /// way to the leaf), never escaped, and no other view of it.
        /// </summary>
        public bool HeldOnlyHere(Tensor g)
        {
            var s = g.Storage;
            return g.GradFn is null && g.Offset == 0 && g.Numel == s.Length && g.IsContiguous
                && _holds.TryGetValue(s.Data, out int n) && n == 1 && !_escaped.Contains(s.Data);
        }

        /// <summary><paramref name="g"/>'s buffer is kept beyond the pass: never recycle it.</summary>
        public void Escape(Tensor g) => _escaped.Add(g.Storage.Data);

        /// <summary>One holder fewer; the last one hands a buffer that never escaped to the pool.</summary>
        public void Drop(Tensor g)
        {
            var s = g.Storage;
            if (!_holds.TryGetValue(s.Data, out int n)) return;
            if (n > 1)
            {
                _holds[s.Data] = n - 1;
                return;
            }
            _holds.Remove(s.Data);
            if (!_escaped.Contains(s.Data)) StoragePool.Return(s);
        }
    }
}
