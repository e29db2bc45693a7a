using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Fovea.Kernels.Simd;

namespace Fovea.Kernels;

/// <summary>
/// Softmax and log-softmax forward over slices of n values: y = e^(x − m) / Σ e^(x − m) or y = x − m − log Σ e^(x − m),
/// m the slice's maximum (NaN if any value is NaN, so a NaN or a +∞ makes its whole slice NaN, as in PyTorch). Three
/// passes per slice: the maximum; e^(x − m), stored and summed; the division (or the subtraction). In float32 the
/// exponential is <see cref="VectorExp"/> and the store and the sum share its pass, because the exponential is the
/// costly part (<see cref="TensorPrimitives.Exp{T}(ReadOnlySpan{T}, Span{T})"/> computes each float in double precision);
/// float64 takes <see cref="TensorPrimitives"/> for each step. The maximum cannot join the exponential's pass, since every
/// exponential needs it.
/// </summary>
public static unsafe class SoftmaxKernels
{
    /// <summary>One slice of <c>x.Length</c> contiguous values into <paramref name="y"/> (the same length, not overlapping x).</summary>
    public static void Row<T>(ReadOnlySpan<T> x, Span<T> y, bool log)
        where T : unmanaged, IFloatingPointIeee754<T>, IExponentialFunctions<T>, ILogarithmicFunctions<T>
    {
        if (y.Length != x.Length) throw new ArgumentException($"softmax: {x.Length} inputs but {y.Length} outputs", nameof(y));
        if (x.IsEmpty) return;
        T m = TensorPrimitives.Max(x);
        T s;
        if (typeof(T) == typeof(float))
        {
            fixed (T* px = x, py = y)
                s = T.CreateTruncating(ExpSum((float*)px, log ? null : (float*)py, x.Length, float.CreateTruncating(m)));
        }
        else
        {
            // y holds e^(x − m) for the sum, and for log-softmax is then overwritten.
            TensorPrimitives.Subtract(x, m, y);
            TensorPrimitives.Exp(y, y);
            s = TensorPrimitives.Sum<T>(y);
        }
        if (log) TensorPrimitives.Subtract(x, m + T.Log(s), y);
        else TensorPrimitives.Divide(y, s, y);
    }

    /// <summary>
    /// <paramref name="width"/> neighbouring slices of <paramref name="n"/> values each, value j of slice i at
    /// <c>x[j·stride + i]</c> (the channels of an NCHW tensor: stride = H·W), into y of the same layout. Every pass runs
    /// along the rows j, <paramref name="width"/> contiguous values at a time; <paramref name="max"/> and
    /// <paramref name="sum"/> (at least <paramref name="width"/> long) hold the slices' running maxima and sums.
    /// </summary>
    public static void Tile<T>(ReadOnlySpan<T> x, Span<T> y, int n, int stride, int width, Span<T> max, Span<T> sum, bool log)
        where T : unmanaged, IFloatingPointIeee754<T>, IExponentialFunctions<T>, ILogarithmicFunctions<T>
    {
        if (n <= 0 || width <= 0) return;
        if (stride < width || max.Length < width || sum.Length < width)
            throw new ArgumentException($"softmax: a tile of {width} slices needs a stride of at least {width} and {width} maxima and sums, got {stride}, {max.Length} and {sum.Length}");
        long last = (long)(n - 1) * stride + width;
        if (x.Length < last || y.Length < last)
            throw new ArgumentException($"softmax: a tile of {n} x {width} values {stride} apart needs {last} inputs and outputs, got {x.Length} and {y.Length}");
        var mx = max[..width];
        var sm = sum[..width];
        x[..width].CopyTo(mx);
        for (int j = 1; j < n; j++) TensorPrimitives.Max(mx, x.Slice(j * stride, width), mx);
        sm.Clear();
        if (typeof(T) == typeof(float))
        {
            fixed (T* px = x, py = y, pm = mx, ps = sm)
                for (int j = 0; j < n; j++)
                    ExpAccumulate((float*)px + (long)j * stride, log ? null : (float*)py + (long)j * stride, (float*)pm, (float*)ps, width);
        }
        else
        {
            for (int j = 0; j < n; j++)
            {
                var e = y.Slice(j * stride, width);
                TensorPrimitives.Subtract(x.Slice(j * stride, width), mx, e);
                TensorPrimitives.Exp(e, e);
                TensorPrimitives.Add(sm, e, sm);
            }
        }
        if (log)
        {
            // log Σ + m, then y = x − that.
            TensorPrimitives.Log(sm, sm);
            TensorPrimitives.Add(sm, mx, sm);
            for (int j = 0; j < n; j++) TensorPrimitives.Subtract(x.Slice(j * stride, width), sm, y.Slice(j * stride, width));
            return;
        }
        for (int j = 0; j < n; j++)
        {
            var e = y.Slice(j * stride, width);
            TensorPrimitives.Divide(e, sm, e);
        }
    }

    /// <summary>Σ e^(x[i] − m) over n values, each term also stored in y unless y is null.</summary>
    /// <remarks>
    /// Never inlined, and optimized at once: inlined into <see cref="Tile{T}"/> by the bench's profile-guided tier, it left
    /// no room for <see cref="VectorExp"/> to be inlined in turn, and each vector's exponential became a call (the
    /// channel softmax on one Zen 3 thread 10.6 → 16.7 ms).
    /// </remarks>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static float ExpSum(float* x, float* y, int n, float m)
    {
        int i = 0;
        float total = 0;
        if (SimdWidth.Use512)
        {
            Vector512<float> vm = Vector512.Create(m), acc = default;
            for (; i <= n - 16; i += 16)
            {
                var e = VectorExp.Exp(Vector512.Load(x + i) - vm);
                if (y != null) e.Store(y + i);
                acc += e;
            }
            total = Vector512.Sum(acc);
        }
        else if (SimdWidth.Use256)
        {
            Vector256<float> vm = Vector256.Create(m), acc = default;
            for (; i <= n - 8; i += 8)
            {
                var e = VectorExp.Exp(Vector256.Load(x + i) - vm);
                if (y != null) e.Store(y + i);
                acc += e;
            }
            total = Vector256.Sum(acc);
        }
        for (; i < n; i++)
        {
            float e = VectorExp.Exp(x[i] - m);
            if (y != null) y[i] = e;
            total += e;
        }
        return total;
    }

    /// <summary>sum[i] += e^(x[i] − max[i]) for i &lt; width, each term also stored in y unless y is null (not inlined: see <see cref="ExpSum"/>).</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void ExpAccumulate(float* x, float* y, float* max, float* sum, int width)
    {
        int i = 0;
        if (SimdWidth.Use512)
        {
            for (; i <= width - 16; i += 16)
            {
                var e = VectorExp.Exp(Vector512.Load(x + i) - Vector512.Load(max + i));
                if (y != null) e.Store(y + i);
                (Vector512.Load(sum + i) + e).Store(sum + i);
            }
        }
        else if (SimdWidth.Use256)
        {
            for (; i <= width - 8; i += 8)
            {
                var e = VectorExp.Exp(Vector256.Load(x + i) - Vector256.Load(max + i));
                if (y != null) e.Store(y + i);
                (Vector256.Load(sum + i) + e).Store(sum + i);
            }
        }
        for (; i < width; i++)
        {
            float e = VectorExp.Exp(x[i] - max[i]);
            if (y != null) y[i] = e;
            sum[i] += e;
        }
    }
}
