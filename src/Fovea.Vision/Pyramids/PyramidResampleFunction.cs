using Fovea.Backends;

namespace Fovea.Vision;

/// <summary>
/// PyrDown or PyrUp over the last two dims of a tensor (every leading index is one plane), or its adjoint.
/// Both are linear, <c>y = A x</c>, so the backward of the operator is its adjoint <c>Aᵀ g</c> and the backward of the
/// adjoint is the operator again (as <c>Slice</c> and <c>SliceBackward</c> pair up): second derivatives come for free.
/// The forward-mode rule applies the same map to the tangent. All four maps are primitives of the current
/// <see cref="IBackend"/> (<see cref="IBackend.PyrDown"/>, <see cref="IBackend.PyrUp"/> and their adjoints).
/// </summary>
internal sealed class PyramidResampleFunction : Function
{
    private readonly bool _up, _adjoint;
    private readonly int _inH, _inW, _outH, _outW; // of the operator A (not of this node when it is the adjoint)

    /// <summary>The operator <c>A</c> (or <c>Aᵀ</c> when <paramref name="adjoint"/>) from <c>[inH, inW]</c> planes to <c>[outH, outW]</c>.</summary>
    public PyramidResampleFunction(bool up, bool adjoint, int inH, int inW, int outH, int outW)
    {
        _up = up;
        _adjoint = adjoint;
        (_inH, _inW, _outH, _outW) = (inH, inW, outH, outW);
    }

    /// <inheritdoc/>
    public override string Name => (_up ? "PyrUp" : "PyrDown") + (_adjoint ? "Adjoint" : "");

    protected override Tensor Forward(Tensor[] inputs)
    {
        var x = inputs[0];
        int[] shape = x.Shape;
        int r = shape.Length;
        (int h, int w) = _adjoint ? (_outH, _outW) : (_inH, _inW);
        if (r < 2 || shape[r - 2] != h || shape[r - 1] != w)
            throw new ShapeException(Name, $"expects planes of [{h}, {w}] in the last two dims, got {ShapeChecks.Format(shape)}");
        if (!x.DType.IsFloating()) throw new DTypeException(Name, $"expects float32 or float64, got {x.DType.Name()}");
        var backend = Backend.Current;
        return (_up, _adjoint) switch
        {
            (false, false) => backend.PyrDown(x),
            (false, true) => backend.PyrDownAdjoint(x, _inH, _inW),
            (true, false) => backend.PyrUp(x, _outH, _outW),
            (true, true) => backend.PyrUpAdjoint(x, _inH, _inW),
        };
    }

    // d/dx (A x) = A, so dL/dx = Aᵀ g; the adjoint's gradient is A g.
    protected override Tensor?[] Backward(Tensor gradOutput) => [Flipped().Apply(gradOutput)];

    protected override Tensor? Jvp(Tensor[] inputs, Tensor output, Tensor?[] tangents)
        => tangents[0] is { } t ? new PyramidResampleFunction(_up, _adjoint, _inH, _inW, _outH, _outW).Apply(t) : null;

    private PyramidResampleFunction Flipped() => new(_up, !_adjoint, _inH, _inW, _outH, _outW);
}
