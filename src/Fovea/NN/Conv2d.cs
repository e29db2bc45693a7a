namespace Fovea.NN;

/// <summary>
/// 2-d convolution layer (PyTorch's <c>nn.Conv2d</c>): weight [out, in/groups, kH, kW] and optional bias [out],
/// both initialised from U(−1/√fan_in, 1/√fan_in) with fan_in = in/groups·kH·kW — PyTorch's default
/// kaiming_uniform(a = √5), whose bound gain·√(3/fan_in) with gain = √(2/(1 + 5)) reduces to exactly that.
/// A 1x1 kernel is a per-pixel linear layer; groups = in_channels is a depthwise convolution.
/// </summary>
public sealed class Conv2d : Module<Tensor, Tensor>, IReceptiveField
{
    /// <inheritdoc/>
    public override bool HoldsNoActivations => true;

    /// <summary>Creates the layer; <paramref name="generator"/> seeds the initialisation.</summary>
    public Conv2d(int inChannels, int outChannels, Size2d kernelSize, Size2d? stride = null, Size2d? padding = null, Size2d? dilation = null,
        int groups = 1, bool bias = true, PaddingMode paddingMode = PaddingMode.Zeros, Generator? generator = null, DType dtype = DType.Float32)
    {
        if (inChannels < 1 || outChannels < 1 || kernelSize.H < 1 || kernelSize.W < 1)
            throw new ArgumentException($"Conv2d: channels ({inChannels} -> {outChannels}) and kernel size ({kernelSize}) must be positive");
        if (groups < 1 || inChannels % groups != 0 || outChannels % groups != 0)
            throw new ArgumentException($"Conv2d({inChannels} -> {outChannels}): groups ({groups}) must divide both in_channels and out_channels");
        InChannels = inChannels;
        OutChannels = outChannels;
        KernelSize = kernelSize;
        StrideSize = stride ?? 1;
        PaddingSize = padding ?? 0;
        DilationSize = dilation ?? 1;
        Groups = groups;
        PaddingMode = paddingMode;
        int fanIn = inChannels / groups * kernelSize.H * kernelSize.W;
        double bound = 1 / Math.Sqrt(fanIn);
        RegisterParameter("weight", Tensor.Uniform([outChannels, inChannels / groups, kernelSize.H, kernelSize.W], -bound, bound, generator, dtype));
        if (bias) RegisterParameter("bias", Tensor.Uniform([outChannels], -bound, bound, generator, dtype));
        HasBias = bias;
    }

    /// <summary>Input channels.</summary>
    public int InChannels { get; }

    /// <summary>Output channels.</summary>
    public int OutChannels { get; }

    /// <summary>Kernel (height, width).</summary>
    public Size2d KernelSize { get; }

    /// <summary>Stride (height, width).</summary>
    public Size2d StrideSize { get; }

    /// <summary>Padding on each side (height, width).</summary>
    public Size2d PaddingSize { get; }

    /// <summary>Dilation (height, width).</summary>
    public Size2d DilationSize { get; }

    /// <summary>Channel groups.</summary>
    public int Groups { get; }

    /// <summary>How the padding is filled.</summary>
    public PaddingMode PaddingMode { get; }

    /// <summary>Whether the layer has a bias.</summary>
    public bool HasBias { get; }

    /// <summary>The weight [out, in/groups, kH, kW].</summary>
    public Tensor Weight => GetParameter("weight");

    /// <summary>The bias [out], or null.</summary>
    public Tensor? Bias => HasBias ? GetParameter("bias") : null;

    int IReceptiveField.Kernel => KernelSize.H;
    int IReceptiveField.Stride => StrideSize.H;
    int IReceptiveField.Padding => PaddingSize.H;
    int IReceptiveField.Dilation => DilationSize.H;

    private string Name => $"Conv2d({InChannels} -> {OutChannels})";

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) =>
        Functional.Conv2d(Name, input, Weight, Bias, StrideSize, PaddingSize, DilationSize, Groups, PaddingMode);

    /// <inheritdoc/>
    public override string Describe()
    {
        var parts = new List<string> { $"k={KernelSize}" };
        if (StrideSize != 1) parts.Add($"s={StrideSize}");
        if (PaddingSize != 0) parts.Add($"p={PaddingSize}");
        if (DilationSize != 1) parts.Add($"d={DilationSize}");
        if (Groups != 1) parts.Add($"groups={Groups}");
        if (!HasBias) parts.Add("bias=false");
        if (PaddingMode != PaddingMode.Zeros) parts.Add($"padding_mode={PaddingMode.ToString().ToLowerInvariant()}");
        return $"Conv2d({InChannels} -> {OutChannels}, {string.Join(", ", parts)})";
    }
}
