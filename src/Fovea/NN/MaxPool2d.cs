namespace Fovea.NN;

/// <summary>2-d max pooling layer (PyTorch's <c>nn.MaxPool2d</c>); the stride defaults to the kernel size.</summary>
public sealed class MaxPool2d(Size2d kernelSize, Size2d? stride = null, Size2d? padding = null, Size2d? dilation = null, bool ceilMode = false)
    : Module<Tensor, Tensor>, IReceptiveField
{
    /// <inheritdoc/>
    public override bool HoldsNoActivations => true;

    /// <summary>Window (height, width).</summary>
    public Size2d KernelSize { get; } = kernelSize;

    /// <summary>Stride (height, width).</summary>
    public Size2d StrideSize { get; } = stride ?? kernelSize;

    /// <summary>Padding (−∞) on each side.</summary>
    public Size2d PaddingSize { get; } = padding ?? 0;

    /// <summary>Spacing between window taps.</summary>
    public Size2d DilationSize { get; } = dilation ?? 1;

    /// <summary>Round the output size up.</summary>
    public bool CeilMode { get; } = ceilMode;

    int IReceptiveField.Kernel => KernelSize.H;
    int IReceptiveField.Stride => StrideSize.H;
    int IReceptiveField.Padding => PaddingSize.H;
    int IReceptiveField.Dilation => DilationSize.H;

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) =>
        Functional.MaxPool2dValues(Describe(), input, KernelSize, StrideSize, PaddingSize, DilationSize, CeilMode);

    /// <summary>The pooled values and the Int32 indices of the chosen inputs (for <c>MaxUnpool</c>-style uses).</summary>
    public (Tensor Values, Tensor Indices) ForwardWithIndices(Tensor input) =>
        Functional.MaxPool2dWithIndices(Describe(), input, KernelSize, StrideSize, PaddingSize, DilationSize, CeilMode);

    /// <inheritdoc/>
    public override string Describe() =>
        $"MaxPool2d(k={KernelSize}{(StrideSize != KernelSize ? $", s={StrideSize}" : "")}{(PaddingSize != 0 ? $", p={PaddingSize}" : "")}{(DilationSize != 1 ? $", d={DilationSize}" : "")}{(CeilMode ? ", ceil_mode" : "")})";
}
