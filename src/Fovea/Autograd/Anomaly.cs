namespace Fovea;

/// <summary>
/// Anomaly detection: inside <see cref="Autograd.DetectAnomaly"/>, the first NaN or infinity produced by an op
/// in forward or backward raises an error naming the op and where in the program its node was created.
/// </summary>
internal static class Anomaly
{
    [ThreadStatic] private static int _depth;

    public static bool Enabled => _depth > 0;

    public static IDisposable Enter()
    {
        _depth++;
        return new Scope();
    }

    private sealed class Scope : IDisposable
    {
        private bool _done;
        public void Dispose()
        {
            if (_done) return;
            _done = true;
            _depth--;
        }
    }

    /// <summary>The node whose backward rule is running on this thread, if any.</summary>
    [ThreadStatic] internal static Function? RunningBackward;

    public static void CheckForward(Function node, Tensor output)
    {
        if (!output.DType.IsFloating() || !HasNonFinite(output)) return;
        if (RunningBackward is { } owner)
            throw new ArithmeticException($"anomaly: {owner.Name}.Backward produced NaN or infinity (in its {node.Name} step, shape {ShapeChecks.Format(output._shape)}). The {owner.Name} node was created at:\n{owner.CreationTrace}");
        throw new ArithmeticException($"anomaly: {node.Name} produced NaN or infinity in its forward output of shape {ShapeChecks.Format(output._shape)}");
    }

    public static void CheckBackward(Function node, Tensor?[] grads)
    {
        for (int i = 0; i < grads.Length; i++)
            if (grads[i] is { } g && HasNonFinite(g))
                throw new ArithmeticException($"anomaly: {node.Name}.Backward returned NaN or infinity in the gradient of input {i} (shape {ShapeChecks.Format(g._shape)}). The {node.Name} node was created at:\n{node.CreationTrace}");
    }

    /// <summary>True when a floating-point tensor holds NaN or infinity (integer and bool tensors never do).</summary>
    internal static bool HasNonFinite(Tensor t)
    {
        var d = t.To(DType.Float64).Contiguous().AsSpan<double>();
        foreach (double v in d) if (!double.IsFinite(v)) return true;
        return false;
    }
}
