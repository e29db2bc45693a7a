namespace Fovea.NN;

/// <summary>
/// A (height, width) pair for kernel sizes, strides, paddings and output sizes. Converts implicitly from one
/// int (used for both dims, PyTorch's <c>_pair</c>) and from a tuple <c>(h, w)</c>.
/// </summary>
public readonly record struct Size2d(int H, int W)
{
    /// <summary>The same value for both dims.</summary>
    public static implicit operator Size2d(int both) => new(both, both);

    /// <summary>(height, width).</summary>
    public static implicit operator Size2d((int H, int W) pair) => new(pair.H, pair.W);

    /// <summary>True when both dims are equal.</summary>
    public bool IsSquare => H == W;

    /// <summary><c>3</c> when square, else <c>(3, 5)</c>.</summary>
    public override string ToString() => IsSquare ? H.ToString(System.Globalization.CultureInfo.InvariantCulture) : $"({H}, {W})";
}

/// <summary>How a convolution pads its input (PyTorch's <c>padding_mode</c>) and how <see cref="Functional.Pad(Tensor, ValueTuple{int, int, int, int}, PaddingMode, double)"/> fills.</summary>
public enum PaddingMode
{
    /// <summary>Zeros (a constant for <see cref="Functional.Pad(Tensor, ValueTuple{int, int, int, int}, PaddingMode, double)"/>).</summary>
    Zeros,
    /// <summary>Mirror without repeating the edge: [a b c] padded by 2 on the left is [c b a b c].</summary>
    Reflect,
    /// <summary>Repeat the edge value.</summary>
    Replicate,
    /// <summary>Wrap around (periodic).</summary>
    Circular,
}

/// <summary>Upsampling modes of <see cref="Functional.Interpolate"/>.</summary>
public enum InterpolationMode
{
    /// <summary>PyTorch's legacy <c>nearest</c>: source index ⌊dst·in/out⌋.</summary>
    Nearest,
    /// <summary>Bilinear, with <c>align_corners</c> true or false.</summary>
    Bilinear,
}
