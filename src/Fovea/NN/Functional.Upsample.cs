namespace Fovea.NN;

public static partial class Functional
{
    /// <summary>
    /// Resizes the last two dims of x [N, C, H, W] (or [C, H, W]) to <paramref name="size"/>, or by
    /// <paramref name="scaleFactor"/> (output ⌊H·scale⌋), with PyTorch's <c>interpolate</c> rules.
    /// Nearest: source index min(⌊dst·s⌋, in − 1) with s = in/out (1/scale when a scale is given), in float32 as PyTorch.
    /// Bilinear: source coordinate dst·(in − 1)/(out − 1) with <paramref name="alignCorners"/>, else
    /// max((dst + ½)·s − ½, 0); the two neighbours weighted by distance. Both are separable linear maps, applied as
    /// A_h · x · A_wᵀ, so the op is differentiable to any order with no derivative code.
    /// </summary>
    public static Tensor Interpolate(Tensor input, Size2d? size = null, double? scaleFactor = null, InterpolationMode mode = InterpolationMode.Nearest, bool? alignCorners = null)
    {
        const string op = "interpolate";
        if (input.Rank is not (3 or 4))
            throw new ShapeException(op, $"expected input [N, C, H, W] or [C, H, W], got {ShapeChecks.Format(input._shape)}");
        if ((size is null) == (scaleFactor is null))
            throw new ArgumentException($"{op}: give exactly one of size and scaleFactor");
        if (mode == InterpolationMode.Nearest && alignCorners is not null)
            throw new ArgumentException($"{op}: alignCorners applies only to bilinear mode");
        if (!input.DType.IsFloating())
            throw new DTypeException(op, $"expected a floating dtype, got {input.DType.Name()}; convert with .To(DType.Float32)");
        int h = input._shape[^2], w = input._shape[^1];
        if (scaleFactor is { } sf && !(sf > 0))
            throw new ArgumentException($"{op}: scaleFactor must be positive, got {sf}");
        var outSize = size ?? new Size2d((int)Math.Floor(h * scaleFactor!.Value), (int)Math.Floor(w * scaleFactor.Value));
        if (outSize.H < 1 || outSize.W < 1)
            throw new ShapeException(op, $"output size must be positive, got {outSize} for input {ShapeChecks.Format(input._shape)}");
        var ah = ResizeMatrix(h, outSize.H, scaleFactor, mode, alignCorners ?? false, input.DType);
        var aw = ResizeMatrix(w, outSize.W, scaleFactor, mode, alignCorners ?? false, input.DType);
        return ah.MatMul(input).MatMul(aw.T);
    }

    /// <summary>[outSize, inSize]: row o holds the weights with which output o mixes the inputs.</summary>
    private static Tensor ResizeMatrix(int inSize, int outSize, double? scaleFactor, InterpolationMode mode, bool alignCorners, DType dtype)
    {
        var m = new double[outSize * inSize];
        if (mode == InterpolationMode.Nearest)
        {
            float scale = scaleFactor is { } s ? (float)(1.0 / s) : (float)inSize / outSize;
            for (int o = 0; o < outSize; o++)
            {
                int src = outSize == inSize ? o : Math.Min((int)MathF.Floor(o * scale), inSize - 1);
                m[o * inSize + src] = 1;
            }
        }
        else
        {
            double scale = alignCorners
                ? (outSize > 1 ? (inSize - 1.0) / (outSize - 1.0) : 0)
                : scaleFactor is { } s ? 1.0 / s : (double)inSize / outSize;
            for (int o = 0; o < outSize; o++)
            {
                double src = alignCorners ? o * scale : Math.Max((o + 0.5) * scale - 0.5, 0);
                int i0 = (int)src;
                int i1 = i0 < inSize - 1 ? i0 + 1 : i0;
                double l1 = src - i0;
                m[o * inSize + i0] += 1 - l1;
                m[o * inSize + i1] += l1;
            }
        }
        return Tensor.FromArray(m, outSize, inSize).To(dtype);
    }
}
