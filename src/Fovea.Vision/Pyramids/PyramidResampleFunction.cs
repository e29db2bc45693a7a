using Fovea.Kernels.Filtering;

namespace Fovea.Vision;

/// <summary>
/// PyrDown or PyrUp over the last two dims of a tensor (every leading index is one plane), or its adjoint.
/// Both are linear, <c>y = A x</c>, so the backward of the operator is its adjoint <c>Aᵀ g</c> and the backward of the
/// adjoint is the operator again (as <c>Slice</c> and <c>SliceBackward</c> pair up): second derivatives come for free.
/// The forward-mode rule applies the same map to the tangent. Float32 runs the OpenCV-exact SIMD kernels; float64 and
/// the adjoints run <see cref="Resample1D"/>, whose tables are exactly the kernels' weights and borders.
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
        var x = inputs[0].Contiguous();
        int[] shape = x.Shape;
        int r = shape.Length;
        (int h, int w) = _adjoint ? (_outH, _outW) : (_inH, _inW);
        (int oh, int ow) = _adjoint ? (_inH, _inW) : (_outH, _outW);
        if (r < 2 || shape[r - 2] != h || shape[r - 1] != w)
            throw new ShapeException(Name, $"expects planes of [{h}, {w}] in the last two dims, got {ShapeChecks.Format(shape)}");
        int planes = x.Numel / (h * w);
        int[] outShape = (int[])shape.Clone();
        outShape[r - 2] = oh;
        outShape[r - 1] = ow;
        var y = Tensor.Zeros(outShape, x.DType);
        if (x.DType == DType.Float32 && !_adjoint)
        {
            ReadOnlySpan<float> s = x.AsSpan<float>();
            Span<float> d = y.AsSpan<float>();
            for (int p = 0; p < planes; p++)
            {
                var sp = s.Slice(p * h * w, h * w);
                var dp = d.Slice(p * oh * ow, oh * ow);
                if (_up) PyrKernels.PyrUp(sp, w, h, dp, ow, oh);
                else PyrKernels.PyrDown(sp, w, h, dp);
            }
            return y;
        }
        var opY = _up ? Resample1D.Up(_inH, _outH, rows: true) : Resample1D.Down(_inH);
        var opX = _up ? Resample1D.Up(_inW, _outW, rows: false) : Resample1D.Down(_inW);
        if (x.DType == DType.Float64) Resample1D.ApplyPlanes<double>(x.AsSpan<double>(), y.AsSpan<double>(), planes, opY, opX, _adjoint);
        else if (x.DType == DType.Float32) Resample1D.ApplyPlanes<float>(x.AsSpan<float>(), y.AsSpan<float>(), planes, opY, opX, _adjoint);
        else throw new DTypeException(Name, $"expects float32 or float64, got {x.DType.Name()}");
        return y;
    }

    // d/dx (A x) = A, so dL/dx = Aᵀ g; the adjoint's gradient is A g.
    protected override Tensor?[] Backward(Tensor gradOutput) => [Flipped().Apply(gradOutput)];

    protected override Tensor? Jvp(Tensor[] inputs, Tensor output, Tensor?[] tangents)
        => tangents[0] is { } t ? new PyramidResampleFunction(_up, _adjoint, _inH, _inW, _outH, _outW).Apply(t) : null;

    private PyramidResampleFunction Flipped() => new(_up, !_adjoint, _inH, _inW, _outH, _outW);
}
