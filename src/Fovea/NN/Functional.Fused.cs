using Fovea.Ops;

namespace Fovea.NN;

public static partial class Functional
{
    /// <summary>
    /// relu(<paramref name="a"/> + <paramref name="b"/>) with broadcasting: a residual block's join. Where nothing is
    /// recorded (gradients off or no input requiring one, no forward-mode tangent) it is one pass over the data
    /// instead of an add and a ReLU each writing a new tensor, and with <paramref name="inPlace"/> the result is
    /// written into <paramref name="a"/> (when it has the result's shape, is contiguous and shares no storage with
    /// <paramref name="b"/>) and a is returned. Otherwise it is <c>(a + b).Relu()</c> with its usual gradient. The
    /// values are the same either way: each element is relu of the rounded sum.
    /// </summary>
    public static Tensor AddRelu(Tensor a, Tensor b, bool inPlace = false)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        return Fused.AddRelu(a, b, inPlace);
    }

    /// <summary>
    /// relu(<paramref name="x"/>), written into x and x returned when <paramref name="inPlace"/> and nothing is
    /// recorded (PyTorch's <c>relu(x, inplace=True)</c> for inference); otherwise a new tensor with its usual gradient.
    /// Use the return value: x is left unchanged when a graph is being built.
    /// </summary>
    public static Tensor Relu(Tensor x, bool inPlace)
    {
        ArgumentNullException.ThrowIfNull(x);
        return Fused.Relu(x, inPlace);
    }
}
