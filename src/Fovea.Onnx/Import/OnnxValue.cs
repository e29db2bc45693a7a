namespace Fovea.Onnx.Import;

/// <summary>
/// A value flowing through an imported graph: a Fovea tensor (activations, parameters: differentiable), or a small
/// host array of integers or reals (shapes, axes, scales, pads). Shape arithmetic (Shape → Gather → Unsqueeze →
/// Concat → Reshape, as exporters emit for flatten) runs on host arrays, so it folds to constants for the shapes of
/// the actual input and never enters the autograd graph.
/// </summary>
internal sealed class OnnxValue
{
    private OnnxValue(Tensor? tensor, long[]? integers, double[]? reals, int[] shape)
    {
        Tensor = tensor;
        Integers = integers;
        Reals = reals;
        Shape = shape;
    }

    /// <summary>The tensor, when this value is one.</summary>
    public Tensor? Tensor { get; }

    /// <summary>Host integers (row-major), when this value is an integer constant.</summary>
    public long[]? Integers { get; }

    /// <summary>Host reals (row-major), when this value is a floating constant not held as a tensor.</summary>
    public double[]? Reals { get; }

    /// <summary>The shape.</summary>
    public int[] Shape { get; }

    public bool IsHost => Tensor is null;

    public int Rank => Shape.Length;

    public static OnnxValue Of(Tensor t) => new(t, null, null, t.Shape);

    public static OnnxValue OfIntegers(long[] values, int[] shape) => new(null, values, null, shape);

    public static OnnxValue OfIntegers(params long[] values) => new(null, values, null, [values.Length]);

    public static OnnxValue OfReals(double[] values, int[] shape) => new(null, null, values, shape);

    /// <summary>The value as a tensor of <paramref name="dtype"/> (host constants become constant tensors).</summary>
    public Tensor AsTensor(DType dtype)
    {
        if (Tensor is not null) return Tensor;
        var data = Reals ?? Array.ConvertAll(Integers!, v => (double)v);
        return dtype == DType.Float64
            ? Fovea.Tensor.FromArray(data, Shape)
            : Fovea.Tensor.FromArray(Array.ConvertAll(data, v => (float)v), Shape);
    }

    /// <summary>The values as host integers; a tensor here is an error of the model (ONNX types it as an integer input).</summary>
    public long[] AsIntegers(string what)
    {
        if (Integers is not null) return Integers;
        if (Reals is not null) return Array.ConvertAll(Reals, v => (long)v);
        throw new OnnxImportException($"{what} must be a constant integer tensor (an initializer, a Constant or shape arithmetic), not a computed float tensor");
    }

    /// <summary>The values as host reals (a tensor is read back: scales, bounds and ratios are small).</summary>
    public double[] AsReals()
    {
        if (Reals is not null) return Reals;
        if (Integers is not null) return Array.ConvertAll(Integers, v => (double)v);
        return Tensor!.DType == DType.Float64 ? Tensor.Detach().Contiguous().ToArray<double>() : Array.ConvertAll(Tensor.Detach().Contiguous().ToArray<float>(), v => (double)v);
    }
}
