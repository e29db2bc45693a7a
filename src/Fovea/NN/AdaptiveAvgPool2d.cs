namespace Fovea.NN;

/// <summary>Adaptive average pooling to a fixed output size (PyTorch's <c>nn.AdaptiveAvgPool2d</c>), e.g. 1 for global average pooling.</summary>
public sealed class AdaptiveAvgPool2d(Size2d outputSize) : Module<Tensor, Tensor>
{
    /// <inheritdoc/>
    public override bool HoldsNoActivations => true;

    /// <summary>Output (height, width).</summary>
    public Size2d OutputSize { get; } = outputSize;

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => Functional.AdaptiveAvgPool2d(input, OutputSize);

    /// <inheritdoc/>
    public override string Describe() => $"AdaptiveAvgPool2d({OutputSize})";
}
