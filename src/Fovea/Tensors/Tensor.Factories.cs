using Fovea.Backends;

namespace Fovea;

public sealed partial class Tensor
{
    /// <summary>A tensor of <paramref name="shape"/> that copies <paramref name="data"/> (row-major).</summary>
    public static Tensor FromArray<T>(T[] data, params int[] shape) where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(data);
        if (shape.Length == 0 && data.Length != 1) shape = [data.Length];
        int n = ShapeChecks.Numel("from_array", shape);
        if (n != data.Length)
            throw new ShapeException("from_array", $"shape {ShapeChecks.Format(shape)} needs {n} elements, got an array of {data.Length}");
        return new Tensor(Storage.Copy<T>(data), (int[])shape.Clone());
    }

    /// <summary>A tensor of <paramref name="shape"/> that copies <paramref name="data"/> (row-major).</summary>
    public static Tensor FromSpan<T>(ReadOnlySpan<T> data, params int[] shape) where T : unmanaged
    {
        if (shape.Length == 0 && data.Length != 1) shape = [data.Length];
        int n = ShapeChecks.Numel("from_span", shape);
        if (n != data.Length)
            throw new ShapeException("from_span", $"shape {ShapeChecks.Format(shape)} needs {n} elements, got a span of {data.Length}");
        return new Tensor(Storage.Copy(data), (int[])shape.Clone());
    }

    /// <summary>A 1-d tensor of the values.</summary>
    public static Tensor From(params float[] values) => FromArray(values, values.Length);

    /// <summary>A 1-d float64 tensor of the values.</summary>
    public static Tensor From(params double[] values) => FromArray(values, values.Length);

    /// <summary>A 1-d int32 tensor of the values.</summary>
    public static Tensor From(params int[] values) => FromArray(values, values.Length);

    /// <summary>A tensor from a multi-dimensional (rectangular) array such as <c>float[,]</c>, keeping its shape.</summary>
    public static Tensor FromArray(Array array)
    {
        ArgumentNullException.ThrowIfNull(array);
        var shape = new int[array.Rank];
        for (int i = 0; i < shape.Length; i++) shape[i] = array.GetLength(i);
        return array switch
        {
            float[] f => FromArray(f, shape),
            double[] d => FromArray(d, shape),
            int[] i => FromArray(i, shape),
            bool[] b => FromArray(b, shape),
            _ => FromRectangular(array, shape),
        };
    }

    private static Tensor FromRectangular(Array array, int[] shape)
    {
        var elem = array.GetType().GetElementType()!;
        DType dtype = elem == typeof(float) ? DType.Float32 : elem == typeof(double) ? DType.Float64
            : elem == typeof(int) ? DType.Int32 : elem == typeof(bool) ? DType.Bool
            : throw new DTypeException("from_array", $"element type {elem.Name} is not supported; use float, double, int or bool");
        var t = Allocate(dtype, shape);
        int k = 0;
        foreach (var v in array) // row-major enumeration
        {
            switch (dtype)
            {
                case DType.Float32: t.Storage.As<float>()[k] = (float)v!; break;
                case DType.Float64: t.Storage.As<double>()[k] = (double)v!; break;
                case DType.Int32: t.Storage.As<int>()[k] = (int)v!; break;
                case DType.Bool: t.Storage.As<bool>()[k] = (bool)v!; break;
            }
            k++;
        }
        return t;
    }

    /// <summary>A 0-d tensor holding <paramref name="value"/>.</summary>
    public static Tensor Scalar(double value, DType dtype = DType.Float32) => Full([], value, dtype);

    /// <summary>Zeros of <paramref name="shape"/>.</summary>
    public static Tensor Zeros(int[] shape, DType dtype = DType.Float32) => Allocate(dtype, (int[])shape.Clone());

    /// <summary>Zeros of <paramref name="shape"/> (float32).</summary>
    public static Tensor Zeros(params int[] shape) => Zeros(shape, DType.Float32);

    /// <summary>Ones of <paramref name="shape"/>.</summary>
    public static Tensor Ones(int[] shape, DType dtype = DType.Float32) => Full(shape, 1, dtype);

    /// <summary>Ones of <paramref name="shape"/> (float32).</summary>
    public static Tensor Ones(params int[] shape) => Ones(shape, DType.Float32);

    /// <summary>A tensor of <paramref name="shape"/> filled with <paramref name="value"/>.</summary>
    public static Tensor Full(int[] shape, double value, DType dtype = DType.Float32)
    {
        var t = Allocate(dtype, (int[])shape.Clone(), clear: false);
        t.FillRaw(value);
        return t;
    }

    private void FillRaw(double value)
    {
        switch (DType)
        {
            case DType.Float32: AsSpan<float>().Fill((float)value); break;
            case DType.Float64: AsSpan<double>().Fill(value); break;
            case DType.Int32: AsSpan<int>().Fill(checked((int)value)); break;
            case DType.Bool: AsSpan<bool>().Fill(value != 0); break;
        }
    }

    /// <summary>Zeros with the shape and dtype of <paramref name="like"/>.</summary>
    public static Tensor ZerosLike(Tensor like) => Zeros(like._shape, like.DType);

    /// <summary>Ones with the shape and dtype of <paramref name="like"/>.</summary>
    public static Tensor OnesLike(Tensor like) => Ones(like._shape, like.DType);

    /// <summary>Values start, start+step, ... below end (PyTorch's <c>arange</c>).</summary>
    public static Tensor Arange(double start, double end, double step = 1, DType dtype = DType.Float32)
    {
        if (step == 0 || double.IsNaN(step)) throw new ArgumentException("arange: step must be nonzero", nameof(step));
        long n = (long)Math.Ceiling((end - start) / step);
        if (n < 0) throw new ArgumentException($"arange: the range [{start}, {end}) is empty in the direction of step {step}");
        var t = Allocate(dtype, [(int)n]);
        for (int i = 0; i < n; i++) t.SetFlat(i, start + i * step);
        return t;
    }

    /// <summary>0, 1, ..., end-1.</summary>
    public static Tensor Arange(int end, DType dtype = DType.Float32) => Arange(0, end, 1, dtype);

    /// <summary><paramref name="steps"/> evenly spaced values from start to end inclusive.</summary>
    public static Tensor Linspace(double start, double end, int steps, DType dtype = DType.Float32)
    {
        if (steps < 0) throw new ArgumentException($"linspace: steps must be non-negative, got {steps}", nameof(steps));
        var t = Allocate(dtype, [steps]);
        double step = steps > 1 ? (end - start) / (steps - 1) : 0;
        // Fill symmetric halves from each end, as PyTorch does, so the last value is exactly end.
        // steps == 1 gives [start] (PyTorch), so the first half must include index 0.
        int half = Math.Max(steps / 2, 1);
        for (int i = 0; i < steps; i++)
            t.SetFlat(i, i < half ? start + step * i : end - step * (steps - 1 - i));
        return t;
    }

    /// <summary>The n x m identity matrix (m defaults to n).</summary>
    public static Tensor Eye(int n, int? m = null, DType dtype = DType.Float32)
    {
        int cols = m ?? n;
        var t = Allocate(dtype, [n, cols]);
        for (int i = 0; i < Math.Min(n, cols); i++) t.SetFlat(i * cols + i, 1);
        return t;
    }

    /// <summary>Uniform values in [low, high).</summary>
    public static Tensor Uniform(int[] shape, double low = 0, double high = 1, Generator? generator = null, DType dtype = DType.Float32)
    {
        if (!dtype.IsFloating()) throw new DTypeException("uniform", $"expected a floating dtype, got {dtype.Name()}");
        var t = Allocate(dtype, (int[])shape.Clone(), clear: false);
        Backend.Current.FillUniform(t, (generator ?? Generator.Default).Take(t.Numel), low, high);
        return t;
    }

    /// <summary>Uniform values in [0, 1) (PyTorch's <c>rand</c>).</summary>
    public static Tensor Rand(int[] shape, Generator? generator = null, DType dtype = DType.Float32) => Uniform(shape, 0, 1, generator, dtype);

    /// <summary>Standard normal values (PyTorch's <c>randn</c>).</summary>
    public static Tensor Randn(int[] shape, Generator? generator = null, DType dtype = DType.Float32) => Normal(shape, 0, 1, generator, dtype);

    /// <summary>Normal values with <paramref name="mean"/> and <paramref name="std"/> (Box–Muller over pairs of counters).</summary>
    public static Tensor Normal(int[] shape, double mean = 0, double std = 1, Generator? generator = null, DType dtype = DType.Float32)
    {
        if (!dtype.IsFloating()) throw new DTypeException("normal", $"expected a floating dtype, got {dtype.Name()}");
        var t = Allocate(dtype, (int[])shape.Clone(), clear: false);
        Backend.Current.FillNormal(t, (generator ?? Generator.Default).Take(2 * ((t.Numel + 1L) / 2)), mean, std);
        return t;
    }

    /// <summary>1 with probability <paramref name="p"/>, else 0 (in <paramref name="dtype"/>).</summary>
    public static Tensor Bernoulli(int[] shape, double p, Generator? generator = null, DType dtype = DType.Float32)
    {
        if (!(p >= 0 && p <= 1)) throw new ArgumentOutOfRangeException(nameof(p), p, "bernoulli: p must be in [0, 1]");
        var u = Uniform(shape, 0, 1, generator, DType.Float64);
        return u.Lt(p).To(dtype);
    }

    /// <summary>Uniform integers in [low, high).</summary>
    public static Tensor RandInt(int[] shape, int low, int high, Generator? generator = null)
    {
        if (high <= low) throw new ArgumentException($"randint: high ({high}) must exceed low ({low})");
        var t = Allocate(DType.Int32, (int[])shape.Clone(), clear: false);
        Backend.Current.FillRandInt(t, (generator ?? Generator.Default).Take(t.Numel), low, high);
        return t;
    }

    internal void SetFlat(int flat, double value)
    {
        switch (DType)
        {
            case DType.Float32: Storage.As<float>()[Offset + flat] = (float)value; break;
            case DType.Float64: Storage.As<double>()[Offset + flat] = value; break;
            case DType.Int32: Storage.As<int>()[Offset + flat] = (int)Math.Round(value); break;
            case DType.Bool: Storage.As<bool>()[Offset + flat] = value != 0; break;
        }
    }

    /// <summary>Converts to <paramref name="dtype"/> (returns this tensor when it already has it).</summary>
    public Tensor To(DType dtype) => dtype == DType ? this : new Ops.CastFunction(dtype).Apply(this);
}
