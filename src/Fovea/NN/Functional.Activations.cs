namespace Fovea.NN;

/// <summary>How <see cref="Functional.Gelu"/> evaluates Φ(x).</summary>
public enum GeluApproximation
{
    /// <summary>Exact: GELU(x) = x·Φ(x) = ½x(1 + erf(x/√2)).</summary>
    None,
    /// <summary>Hendrycks and Gimpel's tanh form: ½x(1 + tanh(√(2/π)(x + 0.044715x³))).</summary>
    Tanh,
}

/// <summary>
/// The functional forms of Fovea's layers, losses and activations (PyTorch's <c>torch.nn.functional</c>).
/// Each is built from differentiable tensor ops, so gradients of any order come without backward code.
/// Split over files by area: <c>Functional.Activations.cs</c>, <c>Functional.Layers.cs</c>, <c>Functional.Losses.cs</c>, ...
/// </summary>
public static partial class Functional
{
    /// <summary>ReLU(x) = max(x, 0).</summary>
    public static Tensor Relu(Tensor x) => x.Relu();

    /// <summary>LeakyReLU(x) = x for x &gt; 0, else slope·x (the gradient at 0 is slope, as in PyTorch).</summary>
    public static Tensor LeakyRelu(Tensor x, double negativeSlope = 0.01) => Tensor.Where(x.Gt(0), x, x.Mul(negativeSlope));

    /// <summary>
    /// PReLU(x) = x for x &gt; 0, else a_c·x, with one learnable slope per channel (dim 1; dim 0 for a 1-d input)
    /// or a single slope shared by all channels when <paramref name="weight"/> has one element.
    /// </summary>
    public static Tensor Prelu(Tensor x, Tensor weight)
    {
        if (weight.Rank != 1)
            throw new ShapeException("prelu", $"weight must be 1-d, got {ShapeChecks.Format(weight.Shape)}");
        var a = weight;
        int n = weight.Size(0);
        if (n != 1)
        {
            int channelDim = x.Rank >= 2 ? 1 : 0;
            if (x.Rank == 0 || x.Size(channelDim) != n)
                throw new ShapeException("prelu", $"weight has {n} slopes but input {ShapeChecks.Format(x.Shape)} has {(x.Rank == 0 ? 0 : x.Size(channelDim))} channels in dim {channelDim}");
            var shape = new int[x.Rank];
            Array.Fill(shape, 1);
            shape[channelDim] = n;
            a = weight.Reshape(shape);
        }
        return Tensor.Where(x.Gt(0), x, x.Mul(a));
    }

    /// <summary>
    /// ELU(x) = x for x &gt; 0, else α(eˣ − 1). The exponential sees min(x, 0) so that large positive inputs,
    /// whose branch is discarded, cannot overflow and turn the gradient into NaN.
    /// </summary>
    public static Tensor Elu(Tensor x, double alpha = 1.0) =>
        Tensor.Where(x.Gt(0), x, x.Clamp(max: 0).Exp().Sub(1).Mul(alpha));

    /// <summary>σ(x) = 1 / (1 + e^−x).</summary>
    public static Tensor Sigmoid(Tensor x) => x.Sigmoid();

    /// <summary>tanh(x).</summary>
    public static Tensor Tanh(Tensor x) => x.Tanh();

    /// <summary>
    /// GELU(x) = x·Φ(x) with Φ the standard normal CDF: exactly ½x(1 + erf(x/√2)), or with
    /// <see cref="GeluApproximation.Tanh"/> the approximation ½x(1 + tanh(√(2/π)(x + 0.044715x³))).
    /// </summary>
    public static Tensor Gelu(Tensor x, GeluApproximation approximate = GeluApproximation.None)
    {
        if (approximate == GeluApproximation.Tanh)
        {
            var inner = x.Add(x.Mul(x).Mul(x).Mul(0.044715)).Mul(Math.Sqrt(2 / Math.PI));
            return x.Mul(0.5).Mul(inner.Tanh().Add(1));
        }
        return x.Mul(0.5).Mul(x.Mul(1 / Math.Sqrt(2)).Erf().Add(1));
    }

    /// <summary>
    /// Softplus(x) = (1/β)·log(1 + e^(βx)), and x itself where βx &gt; <paramref name="threshold"/> (PyTorch's
    /// rule, which keeps the result linear where the log would only add rounding).
    /// </summary>
    public static Tensor Softplus(Tensor x, double beta = 1, double threshold = 20)
    {
        var z = x.Mul(beta);
        // The discarded branch still runs; clamping keeps its exponential finite so its zero gradient is not NaN.
        var soft = LogOnePlusExp(z.Clamp(max: threshold)).Div(beta);
        return Tensor.Where(z.Gt(threshold), x, soft);
    }

    /// <summary>
    /// log(1 + eᶻ) without overflow: z + log(1 + e^−z) for z &gt; 0, log(1 + eᶻ) otherwise (each branch's
    /// exponent is clamped to ≤ 0 so the unused one stays finite). Smooth, with derivative σ(z) everywhere.
    /// </summary>
    internal static Tensor LogOnePlusExp(Tensor z)
    {
        var positive = z.Add(z.Clamp(min: 0).Neg().Exp().Add(1).Log());
        var negative = z.Clamp(max: 0).Exp().Add(1).Log();
        return Tensor.Where(z.Gt(0), positive, negative);
    }

    /// <summary>
    /// Softmax along <paramref name="dim"/>: e^(xᵢ − m) / Σⱼ e^(xⱼ − m) with m the slice's maximum, so large inputs do
    /// not overflow (subtracting a constant leaves softmax unchanged), as one fused op (<see cref="Ops.SoftmaxFunction"/>).
    /// </summary>
    public static Tensor Softmax(Tensor x, int dim) => SoftmaxAlong("softmax", x, dim, log: false);

    /// <summary>
    /// LogSoftmax along <paramref name="dim"/>: (xᵢ − m) − log Σⱼ e^(xⱼ − m), with m the slice's maximum: stable for
    /// large inputs and exact where softmax itself would underflow to 0; one fused op, as <see cref="Softmax"/>.
    /// </summary>
    public static Tensor LogSoftmax(Tensor x, int dim) => SoftmaxAlong("log_softmax", x, dim, log: true);

    private static Tensor SoftmaxAlong(string op, Tensor x, int dim, bool log)
    {
        if (!x.DType.IsFloating()) throw new DTypeException(op, $"input must be float32 or float64, got {x.DType.Name()}");
        int d = x.Rank == 0 && (dim == 0 || dim == -1) ? 0 : ShapeChecks.NormalizeExistingDim(op, dim, x._shape);
        return new Ops.SoftmaxFunction(d, log).Apply(x);
    }
}
