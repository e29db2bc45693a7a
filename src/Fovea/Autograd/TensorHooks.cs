namespace Fovea;

public sealed partial class Tensor
{
    // Copy-on-write arrays: a hook that removes itself (or registers another) while the engine runs the hooks
    // changes the field, never the array being walked.
    private Func<Tensor, Tensor?>[] _gradHooks = [];
    private Action<Tensor>[] _postAccumulateGradHooks = [];
    private static readonly Lock HookLock = new();

    /// <summary>
    /// Registers <paramref name="hook"/> to run on the gradient of this tensor during every backward pass (PyTorch's
    /// <c>Tensor.register_hook</c>). It receives dL/d(this tensor) — for a leaf the sum of all contributions of the pass,
    /// before it is added to <see cref="Grad"/>; for a non-leaf the gradient entering its <see cref="GradFn"/> — and may
    /// return a replacement of the same shape, or null to keep it. Hooks run in registration order, each on the
    /// previous one's result, in <see cref="Backward"/> and in <see cref="Autograd.Grad(IReadOnlyList{Tensor}, IReadOnlyList{Tensor}, IReadOnlyList{Tensor}?, bool, bool, bool)"/>.
    /// </summary>
    /// <returns>A handle that removes the hook.</returns>
    public RemovableHandle RegisterHook(Func<Tensor, Tensor?> hook)
    {
        ArgumentNullException.ThrowIfNull(hook);
        if (!RequiresGrad)
            throw new InvalidOperationException($"register_hook: the tensor of shape {ShapeChecks.Format(_shape)} does not require grad, so no gradient will ever reach a hook on it");
        lock (HookLock) _gradHooks = [.. _gradHooks, hook];
        // The graph holds no intermediate results: the node must hold this one to run its hooks.
        GradFn?.PinOutput(this);
        return new RemovableHandle(() => { lock (HookLock) _gradHooks = Without(_gradHooks, hook); });
    }

    /// <summary>
    /// Registers <paramref name="hook"/> to run once this leaf's <see cref="Grad"/> holds its final value for a backward
    /// pass, i.e. after the last contribution of the pass has been accumulated (PyTorch's
    /// <c>Tensor.register_post_accumulate_grad_hook</c>). It receives this tensor. Parameters become final in roughly the
    /// reverse order of their use in the forward pass, which is what lets data-parallel training start averaging a
    /// bucket of gradients while the rest of the backward pass still runs. Not called by <see cref="Autograd.Grad(IReadOnlyList{Tensor}, IReadOnlyList{Tensor}, IReadOnlyList{Tensor}?, bool, bool, bool)"/>,
    /// which accumulates nothing.
    /// </summary>
    /// <returns>A handle that removes the hook.</returns>
    public RemovableHandle RegisterPostAccumulateGradHook(Action<Tensor> hook)
    {
        ArgumentNullException.ThrowIfNull(hook);
        if (!IsLeaf)
            throw new InvalidOperationException($"register_post_accumulate_grad_hook: the tensor of shape {ShapeChecks.Format(_shape)} is not a leaf (it was made by {GradFn!.Name}); only leaves accumulate a gradient");
        if (!RequiresGrad)
            throw new InvalidOperationException($"register_post_accumulate_grad_hook: the tensor of shape {ShapeChecks.Format(_shape)} does not require grad, so it never accumulates a gradient");
        lock (HookLock) _postAccumulateGradHooks = [.. _postAccumulateGradHooks, hook];
        return new RemovableHandle(() => { lock (HookLock) _postAccumulateGradHooks = Without(_postAccumulateGradHooks, hook); });
    }

    /// <summary>Whether the engine must hold this leaf's contributions until the pass has delivered them all.</summary>
    internal bool HasGradHooks => _gradHooks.Length > 0 || _postAccumulateGradHooks.Length > 0;

    /// <summary>Runs the <see cref="RegisterHook"/> hooks on <paramref name="grad"/>, in order.</summary>
    internal Tensor RunGradHooks(Tensor grad)
    {
        foreach (var hook in _gradHooks)
        {
            if (hook(grad) is not { } replaced) continue;
            ShapeChecks.Same("gradient hook", replaced._shape, _shape);
            if (replaced.DType != DType)
                throw new DTypeException("gradient hook", $"returned a {replaced.DType.Name()} gradient for a {DType.Name()} tensor");
            grad = replaced;
        }
        return grad;
    }

    /// <summary>Runs the <see cref="RegisterPostAccumulateGradHook"/> hooks.</summary>
    internal void RunPostAccumulateGradHooks()
    {
        foreach (var hook in _postAccumulateGradHooks) hook(this);
    }

    private static T[] Without<T>(T[] hooks, T hook) where T : class
    {
        int at = Array.FindIndex(hooks, h => ReferenceEquals(h, hook));
        return at < 0 ? hooks : [.. hooks[..at], .. hooks[(at + 1)..]];
    }
}
