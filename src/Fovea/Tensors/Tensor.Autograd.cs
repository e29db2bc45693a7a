namespace Fovea;

public sealed partial class Tensor
{
    private bool _requiresGrad;

    /// <summary>
    /// Whether gradients flow to this tensor. Set it on leaves (inputs, parameters); results of ops on such
    /// tensors require grad automatically. Only floating tensors can require grad.
    /// </summary>
    public bool RequiresGrad
    {
        get => _requiresGrad;
        set
        {
            if (value && !DType.IsFloating())
                throw new DTypeException("requires_grad", $"only floating tensors can require gradients, got {DType.Name()}");
            if (!value && GradFn is not null)
                throw new InvalidOperationException("requires_grad: cannot turn off gradients of a non-leaf tensor; use Detach() to get a tensor outside the graph");
            _requiresGrad = value;
        }
    }

    /// <summary>Sets <see cref="RequiresGrad"/> and returns this tensor (for chaining).</summary>
    public Tensor RequiresGrad_(bool requiresGrad = true)
    {
        RequiresGrad = requiresGrad;
        return this;
    }

    /// <summary>The accumulated gradient of a leaf after <see cref="Backward"/> (or of a non-leaf after <see cref="RetainGrad"/>).</summary>
    public Tensor? Grad
    {
        get
        {
            // Whoever reads it may keep it: its buffer is no longer this tensor's alone (see GradAlone).
            _gradAlone = false;
            return _grad;
        }
        set
        {
            _grad = value;
            _gradOwned = false;
            _gradAlone = false;
        }
    }

    private Tensor? _grad;

    /// <summary>
    /// <see cref="Grad"/> without handing it out: for Fovea's own code that reads or updates the gradient during a call
    /// and keeps no reference to it afterwards (the engine, its optimizers, gradient clipping).
    /// </summary>
    internal Tensor? GradUnexposed => _grad;

    /// <summary>
    /// Whether <see cref="Grad"/>'s buffer is known to be held by nothing but this tensor's gradient: a buffer the backward
    /// pass made during the pass and alone held when it stored it here, that no one has read through the public
    /// <see cref="Grad"/> since. Such a buffer goes back to <see cref="StoragePool"/> when <see cref="ZeroGrad"/> drops
    /// the gradient, so the next backward writes its gradient into it rather than into fresh memory (as PyTorch's
    /// caching allocator hands the next step the block <c>zero_grad(set_to_none=True)</c> freed).
    /// </summary>
    internal bool GradAlone => _gradAlone;

    private bool _gradAlone;

    /// <summary>The engine stored a gradient whose buffer only this tensor holds (see <see cref="GradAlone"/>).</summary>
    internal void MarkGradAlone() => _gradAlone = _grad is { GradFn: null } g && g.Offset == 0 && g.Numel == g.Storage.Length;

    /// <summary>
    /// Whether <see cref="Grad"/>'s storage belongs to this tensor's gradient alone: true only for the zeros
    /// <see cref="ZeroGrad"/> made or zeroed in place. A gradient the backward stored as it came may share its storage
    /// with another leaf's gradient (both operands of an add receive the same tensor) or with a tensor of the caller's,
    /// and so does one assigned from outside; a backward adds in place only into an owned one.
    /// </summary>
    internal bool GradOwned => _gradOwned;

    private bool _gradOwned;

    /// <summary>
    /// Clears <see cref="Grad"/>, as PyTorch's <c>zero_grad(set_to_none)</c>. With <paramref name="setToNone"/> (the
    /// default) the gradient becomes null and the next backward stores a new tensor. Otherwise the gradient becomes
    /// zeros that this tensor owns (the first time, a new tensor of zeros replaces one the backward stored as it came;
    /// after that the same tensor is zeroed in place), and the next backward that builds no graph adds into it: a
    /// training loop then writes each step's gradients into the buffers of the step before, where a new tensor a step
    /// would be fresh memory (on the 2-core virtual machine of the bench, ResNet-18's weight gradients, 47 MB, cost the
    /// kernel a page fault per 4 KiB, about 10 µs each, every step). Code that keeps a gradient tensor across steps
    /// sees it change, as in PyTorch.
    /// </summary>
    public void ZeroGrad(bool setToNone = true)
    {
        if (setToNone || _grad is null)
        {
            // Nothing else holds a buffer the engine left here alone: the next allocation of its size (most likely
            // this gradient in the next backward) reuses it.
            if (_gradAlone) StoragePool.Return(_grad!.Storage);
            Grad = null;
            return;
        }
        if (_gradOwned || _gradAlone)
        {
            using var _ = GradMode.Disable();
            _grad.FillInPlace(0);
            _gradOwned = true;
            _gradAlone = false;
            return;
        }
        _grad = Zeros(_grad._shape, _grad.DType);
        _gradOwned = true;
    }

    /// <summary>The node that produced this tensor, or null for a leaf.</summary>
    public Function? GradFn { get; private set; }

    /// <summary>True for tensors not produced by a recorded op.</summary>
    public bool IsLeaf => GradFn is null;

    internal bool RetainsGrad { get; private set; }

    /// <summary>The forward-mode tangent carried by a dual tensor (see <see cref="ForwardAD"/>).</summary>
    internal Tensor? Tangent { get; set; }

    internal void SetGradFn(Function node)
    {
        GradFn = node;
        _requiresGrad = true;
    }

    /// <summary>A new tensor object over the same storage, shape and strides, outside any graph.</summary>
    internal Tensor Alias() => new(Storage, _shape, _strides, Offset);

    /// <summary>The same data, cut from the graph: it does not require grad and has no history.</summary>
    public Tensor Detach() => Alias();

    /// <summary>Keeps the gradient of this non-leaf tensor in <see cref="Grad"/> during backward.</summary>
    public Tensor RetainGrad()
    {
        if (GradFn is null) return this;
        RetainsGrad = true;
        GradFn.PinOutput(this);
        return this;
    }

    /// <summary>
    /// Computes the gradient of this tensor with respect to every leaf that requires grad and adds it to
    /// their <see cref="Grad"/>. A scalar output needs no <paramref name="gradient"/> (it defaults to 1).
    /// The graph's saved tensors are freed unless <paramref name="retainGraph"/>; with
    /// <paramref name="createGraph"/> the backward pass is itself recorded, for higher derivatives.
    /// </summary>
    public void Backward(Tensor? gradient = null, bool retainGraph = false, bool createGraph = false)
    {
        if (gradient is null)
        {
            if (Numel != 1)
                throw new ShapeException("backward", $"grad can be implicitly created only for scalar outputs, got shape {ShapeChecks.Format(_shape)}; pass a gradient of that shape");
            gradient = OnesLike(this);
        }
        Engine.Run([this], [gradient], retainGraph || createGraph, createGraph);
    }
}
