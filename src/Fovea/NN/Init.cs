namespace Fovea.NN;

/// <summary>The nonlinearity that follows a layer, for <see cref="Init.CalculateGain"/>.</summary>
public enum Nonlinearity
{
    /// <summary>No nonlinearity (gain 1).</summary>
    Linear,
    /// <summary>A convolution with nothing after it (gain 1).</summary>
    Conv,
    /// <summary>Sigmoid (gain 1).</summary>
    Sigmoid,
    /// <summary>Tanh (gain 5/3).</summary>
    Tanh,
    /// <summary>ReLU (gain √2).</summary>
    Relu,
    /// <summary>LeakyReLU with the slope given as the parameter (gain √(2 / (1 + slope²))).</summary>
    LeakyRelu,
    /// <summary>SELU (gain 3/4).</summary>
    Selu,
}

/// <summary>Which fan Kaiming initialisation preserves.</summary>
public enum FanMode
{
    /// <summary>Preserves the variance of activations in the forward pass.</summary>
    FanIn,
    /// <summary>Preserves the variance of gradients in the backward pass.</summary>
    FanOut,
}

/// <summary>
/// Weight initialisation as <c>torch.nn.init</c>: every function fills its tensor in place (outside the graph)
/// and returns it. Random ones draw from the seeded <see cref="Generator"/> they are given (the
/// default generator when none is given), so a fixed seed gives the same weights on every run.
/// </summary>
public static class Init
{
    /// <summary>
    /// The recommended gain for a nonlinearity (PyTorch's <c>calculate_gain</c>); <paramref name="param"/> is
    /// LeakyReLU's negative slope (0.01 when null).
    /// </summary>
    public static double CalculateGain(Nonlinearity nonlinearity, double? param = null) => nonlinearity switch
    {
        Nonlinearity.Linear or Nonlinearity.Conv or Nonlinearity.Sigmoid => 1.0,
        Nonlinearity.Tanh => 5.0 / 3,
        Nonlinearity.Relu => Math.Sqrt(2.0),
        Nonlinearity.LeakyRelu => Math.Sqrt(2.0 / (1 + Math.Pow(param ?? 0.01, 2))),
        Nonlinearity.Selu => 3.0 / 4,
        _ => throw new ArgumentOutOfRangeException(nameof(nonlinearity), nonlinearity, "unknown nonlinearity"),
    };

    /// <summary>
    /// (fan_in, fan_out) of a weight as PyTorch computes them: dim 1 and dim 0 times the receptive-field size
    /// (the product of dims 2 and beyond), e.g. a conv weight [out, in, kh, kw] has fan_in = in·kh·kw.
    /// </summary>
    public static (int FanIn, int FanOut) CalculateFans(Tensor tensor)
    {
        if (tensor.Rank < 2)
            throw new ShapeException("init", $"fan in and fan out cannot be computed for a tensor with fewer than 2 dims, got {ShapeChecks.Format(tensor.Shape)}");
        int receptive = 1;
        for (int d = 2; d < tensor.Rank; d++) receptive *= tensor.Size(d);
        return (tensor.Size(1) * receptive, tensor.Size(0) * receptive);
    }

    /// <summary>Fills with <paramref name="value"/>.</summary>
    public static Tensor Constant(Tensor tensor, double value)
    {
        using var _ = GradMode.Disable();
        return tensor.FillInPlace(value);
    }

    /// <summary>Fills with 0.</summary>
    public static Tensor Zeros(Tensor tensor) => Constant(tensor, 0);

    /// <summary>Fills with 1.</summary>
    public static Tensor Ones(Tensor tensor) => Constant(tensor, 1);

    /// <summary>Fills with values drawn from U(<paramref name="low"/>, <paramref name="high"/>).</summary>
    public static Tensor Uniform(Tensor tensor, double low = 0, double high = 1, Generator? generator = null)
    {
        using var _ = GradMode.Disable();
        return tensor.CopyFrom(Tensor.Uniform(tensor.Shape, low, high, generator, tensor.DType));
    }

    /// <summary>Fills with values drawn from N(<paramref name="mean"/>, <paramref name="std"/>²).</summary>
    public static Tensor Normal(Tensor tensor, double mean = 0, double std = 1, Generator? generator = null)
    {
        using var _ = GradMode.Disable();
        return tensor.CopyFrom(Tensor.Normal(tensor.Shape, mean, std, generator, tensor.DType));
    }

    /// <summary>
    /// Glorot and Bengio's uniform initialisation: U(−a, a) with a = gain·√(6 / (fan_in + fan_out)), which keeps
    /// activation and gradient variances roughly equal across layers.
    /// </summary>
    public static Tensor XavierUniform(Tensor tensor, double gain = 1, Generator? generator = null)
    {
        var (fanIn, fanOut) = CalculateFans(tensor);
        double a = gain * Math.Sqrt(6.0 / (fanIn + fanOut));
        return Uniform(tensor, -a, a, generator);
    }

    /// <summary>Glorot and Bengio's normal initialisation: N(0, std²) with std = gain·√(2 / (fan_in + fan_out)).</summary>
    public static Tensor XavierNormal(Tensor tensor, double gain = 1, Generator? generator = null)
    {
        var (fanIn, fanOut) = CalculateFans(tensor);
        return Normal(tensor, 0, gain * Math.Sqrt(2.0 / (fanIn + fanOut)), generator);
    }

    /// <summary>
    /// He et al.'s uniform initialisation: U(−b, b) with b = gain·√(3 / fan), gain = <see cref="CalculateGain"/>(nonlinearity, a).
    /// PyTorch's defaults (a = 0, fan_in, leaky_relu) give gain √2, i.e. the ReLU case.
    /// </summary>
    public static Tensor KaimingUniform(Tensor tensor, double a = 0, FanMode mode = FanMode.FanIn, Nonlinearity nonlinearity = Nonlinearity.LeakyRelu, Generator? generator = null)
    {
        double bound = Math.Sqrt(3.0) * KaimingStd(tensor, a, mode, nonlinearity);
        return Uniform(tensor, -bound, bound, generator);
    }

    /// <summary>He et al.'s normal initialisation: N(0, std²) with std = gain / √fan.</summary>
    public static Tensor KaimingNormal(Tensor tensor, double a = 0, FanMode mode = FanMode.FanIn, Nonlinearity nonlinearity = Nonlinearity.LeakyRelu, Generator? generator = null) =>
        Normal(tensor, 0, KaimingStd(tensor, a, mode, nonlinearity), generator);

    private static double KaimingStd(Tensor tensor, double a, FanMode mode, Nonlinearity nonlinearity)
    {
        var (fanIn, fanOut) = CalculateFans(tensor);
        int fan = mode == FanMode.FanIn ? fanIn : fanOut;
        if (fan == 0) throw new ShapeException("kaiming init", $"fan is 0 for a tensor of shape {ShapeChecks.Format(tensor.Shape)}");
        return CalculateGain(nonlinearity, a) / Math.Sqrt(fan);
    }
}
