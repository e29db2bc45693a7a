namespace Fovea.NN;

/// <summary>2-d average pooling layer (PyTorch's <c>nn.AvgPool2d</c>); the stride defaults to the kernel size.</summary>
public sealed class AvgPool2d(Size2d kernelSize, Size2d? stride = null, Size2d? padding = null, bool ceilMode = false, bool countIncludePad = true)
    : Module<Tensor, Tensor>, IReceptiveField
{
    /// <inheritdoc/>
    public override bool HoldsNoActivations => true;

    /// <summary>Window (height, width).</summary>
    public Size2d KernelSize { get; } = kernelSize;

    /// <summary>Stride (height, width).</summary>
    public Size2d StrideSize { get; } = stride ?? kernelSize;

    /// <summary>Zero padding on each side.</summary>
    public Size2d PaddingSize { get; } = padding ?? 0;

    /// <summary>Round the output size up.</summary>
    public bool CeilMode { get; } = ceilMode;

    /// <summary>Whether padded positions count in the divisor.</summary>
    public bool CountIncludePad { get; } = countIncludePad;

    int IReceptiveField.Kernel => KernelSize.H;
    int IReceptiveField.Stride => StrideSize.H;
    int IReceptiveField.Padding => PaddingSize.H;
    int IReceptiveField.Dilation => 1;

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) =>
        Functional.AvgPool2d(Describe(), input, KernelSize, StrideSize, PaddingSize, CeilMode, CountIncludePad);

    /// <inheritdoc/>
    public override string Describe() =>
        $"AvgPool2d(k={KernelSize}{(StrideSize != KernelSize ? $", s={StrideSize}" : "")}{(PaddingSize != 0 ? $", p={PaddingSize}" : "")}{(CeilMode ? ", ceil_mode" : "")}{(CountIncludePad ? "" : ", count_include_pad=false")})";
}
