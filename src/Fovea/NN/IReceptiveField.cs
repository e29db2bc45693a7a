namespace Fovea.NN;

/// <summary>
/// A layer that slides a window over its input, for <c>Summary</c>'s receptive-field column: after a layer with
/// kernel k, stride s, padding p and dilation d, the receptive field grows by (d·(k − 1))·jump and the jump
/// (the input distance between neighbouring outputs) multiplies by s. Values are along the height; see the
/// layer's own Size2d properties for non-square windows.
/// </summary>
public interface IReceptiveField
{
    /// <summary>Kernel size (height).</summary>
    int Kernel { get; }

    /// <summary>Stride (height).</summary>
    int Stride { get; }

    /// <summary>Zero padding on each side (height).</summary>
    int Padding { get; }

    /// <summary>Spacing between kernel taps (height); 1 for a dense kernel.</summary>
    int Dilation { get; }
}
