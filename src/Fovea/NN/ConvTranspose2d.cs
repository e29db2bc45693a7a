namespace Fovea.NN;

/// <summary>
/// Transposed 2-d convolution layer (PyTorch's <c>nn.ConvTranspose2d</c>), the adjoint of <see cref="Conv2d"/>:
/// weight [in, out/groups, kH, kW], optional bias [out]. Initialised like PyTorch: U(−1/√fan_in, 1/√fan_in) where
/// fan_in is computed from the weight's dim 1, i.e. out/groups·kH·kW.
/// </summary>
public sealed class ConvTranspose2d : Module<Tensor, Tensor>
{
    /// <inheritdoc/>
    public override bool HoldsNoActivations => true;

    /// <summary>Creates the layer; <paramref name="generator"/> seeds the initialisation.</summary>
    public ConvTranspose2d(int inChannels, int outChannels, Size2d kernelSize, Size2d? stride = null, Size2d? padding = null, Size2d? outputPadding = null,
        int groups = 1, bool bias = true, Size2d? dilation = null, Generator? generator = null, DType dtype = DType.Float32)
    {
        if (inChannels < 1 || outChannels < 1 || kernelSize.H < 1 || kernelSize.W < 1)
            throw new ArgumentException($"ConvTranspose2d: channels ({inChannels} -> {outChannels}) and kernel size ({kernelSize}) must be positive");
        if (groups < 1 || inChannels % groups != 0 || outChannels % groups != 0)
            throw new ArgumentException($"ConvTranspose2d({inChannels} -> {outChannels}): groups ({groups}) must divide both in_channels and out_channels");
        InChannels = inChannels;
        OutChannels = outChannels;
        KernelSize = kernelSize;
        StrideSize = stride ?? 1;
        PaddingSize = padding ?? 0;
        OutputPadding = outputPadding ?? 0;
        DilationSize = dilation ?? 1;
        Groups = groups;
        HasBias = bias;
        int fanIn = outChannels / groups * kernelSize.H * kernelSize.W;
        double bound = 1 / Math.Sqrt(fanIn);
        RegisterParameter("weight", Tensor.Uniform([inChannels, outChannels / groups, kernelSize.H, kernelSize.W], -bound, bound, generator, dtype));
        if (bias) RegisterParameter("bias", Tensor.Uniform([outChannels], -bound, bound, generator, dtype));
    }

    /// <summary>Input channels.</summary>
    public int InChannels { get; }

    /// <summary>Output channels.</summary>
    public int OutChannels { get; }

    /// <summary>Kernel (height, width).</summary>
    public Size2d KernelSize { get; }

    /// <summary>Stride (height, width): the upsampling factor.</summary>
    public Size2d StrideSize { get; }

    /// <summary>Padding removed from each side of the output (height, width).</summary>
    public Size2d PaddingSize { get; }

    /// <summary>Extra rows/columns added on one side of the output (smaller than the stride or dilation).</summary>
    public Size2d OutputPadding { get; }

    /// <summary>Dilation (height, width).</summary>
    public Size2d DilationSize { get; }

    /// <summary>Channel groups.</summary>
    public int Groups { get; }

    /// <summary>Whether the layer has a bias.</summary>
    public bool HasBias { get; }

    /// <summary>The weight [in, out/groups, kH, kW].</summary>
    public Tensor Weight => GetParameter("weight");

    /// <summary>The bias [out], or null.</summary>
    public Tensor? Bias => HasBias ? GetParameter("bias") : null;

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) =>
        Functional.ConvTranspose2d($"ConvTranspose2d({InChannels} -> {OutChannels})", input, Weight, Bias, StrideSize, PaddingSize, OutputPadding, DilationSize, Groups);

    /// <inheritdoc/>
    public override string Describe()
    {
        var parts = new List<string> { $"k={KernelSize}" };
        if (StrideSize != 1) parts.Add($"s={StrideSize}");
        if (PaddingSize != 0) parts.Add($"p={PaddingSize}");
        if (OutputPadding != 0) parts.Add($"output_padding={OutputPadding}");
        if (DilationSize != 1) parts.Add($"d={DilationSize}");
        if (Groups != 1) parts.Add($"groups={Groups}");
        if (!HasBias) parts.Add("bias=false");
        return $"ConvTranspose2d({InChannels} -> {OutChannels}, {string.Join(", ", parts)})";
    }
}
