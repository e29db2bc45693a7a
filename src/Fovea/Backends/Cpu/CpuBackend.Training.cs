using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using Fovea.Kernels;

namespace Fovea.Backends.Cpu;

/// <summary>
/// Batch normalisation as fused per-channel kernels (one pass for the statistics, one for y, instead of the
/// eight a composite takes), the optimizer updates through <see cref="ParamUpdateDriver"/>, and the random
/// fills split across threads (each element depends only on its counter, so the split changes nothing).
/// </summary>
internal sealed partial class CpuBackend
{
    public (Tensor Output, Tensor Mean, Tensor Var) BatchNormForward(Tensor x, Tensor weight, Tensor bias, double eps)
    {
        EnsureAllowed();
        var xc = x.Contiguous();
        var (n, c, s) = TrainingChecks.ChannelDims(xc._shape);
        var mean = new double[c];
        var variance = new double[c];
        var y = Tensor.Allocate(x.DType, x.Shape, clear: false);
        if (x.DType == DType.Float32)
            BatchNormForwardKernel(xc.Storage.As<float>(), xc.Offset, weight.ToArray<float>(), bias.ToArray<float>(), y.Storage.As<float>(), n, c, s, eps, mean, variance);
        else
            BatchNormForwardKernel(xc.Storage.As<double>(), xc.Offset, weight.ToArray<double>(), bias.ToArray<double>(), y.Storage.As<double>(), n, c, s, eps, mean, variance);
        return (y, Tensor.FromArray(mean, c), Tensor.FromArray(variance, c));
    }

    private static void BatchNormForwardKernel<T>(T[] x, int xOffset, T[] w, T[] b, T[] y, int n, int c, int s, double eps, double[] mean, double[] variance)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        long m = (long)n * s;
        ParallelFor.For(c, 1, (c0, c1) =>
        {
            var centered = new T[s];
            for (int ch = c0; ch < c1; ch++)
            {
                double sum = 0;
                for (int i = 0; i < n; i++) sum += double.CreateTruncating(TensorPrimitives.Sum<T>(x.AsSpan(xOffset + (i * c + ch) * s, s)));
                double mu = sum / m;
                // Two passes (subtract the mean first) so a large mean does not swamp the variance.
                double sq = 0;
                for (int i = 0; i < n; i++)
                {
                    TensorPrimitives.Subtract<T>(x.AsSpan(xOffset + (i * c + ch) * s, s), T.CreateTruncating(mu), centered);
                    sq += double.CreateTruncating(TensorPrimitives.SumOfSquares<T>(centered));
                }
                double v = sq / m;
                mean[ch] = mu;
                variance[ch] = v;
                double scale = double.CreateTruncating(w[ch]) / Math.Sqrt(v + eps);
                T a = T.CreateTruncating(scale), shift = T.CreateTruncating(double.CreateTruncating(b[ch]) - mu * scale);
                for (int i = 0; i < n; i++)
                {
                    int at = (i * c + ch) * s;
                    Affine(x.AsSpan(xOffset + at, s), a, shift, y.AsSpan(at, s));
                }
            }
        });
    }

    public (Tensor GradInput, Tensor GradWeight, Tensor GradBias) BatchNormBackward(Tensor gradOutput, Tensor x, Tensor weight, Tensor mean, Tensor var, double eps)
    {
        EnsureAllowed();
        var xc = x.Contiguous();
        var gc = gradOutput.Contiguous();
        var (n, c, s) = TrainingChecks.ChannelDims(xc._shape);
        var dx = Tensor.Allocate(x.DType, x.Shape, clear: false);
        var dw = new double[c];
        var db = new double[c];
        // An empty batch has empty sums: zero weight and bias gradients (the kernel would form 0·NaN with μ = NaN).
        if ((long)n * s == 0) return (dx, Tensor.Zeros([c], x.DType), Tensor.Zeros([c], x.DType));
        var mu = mean.ToArray<double>();
        var invStd = Array.ConvertAll(var.ToArray<double>(), v => 1 / Math.Sqrt(v + eps));
        var w = weight.To(DType.Float64).ToArray<double>();
        if (x.DType == DType.Float32)
            BatchNormBackwardKernel(xc.Storage.As<float>(), xc.Offset, gc.Storage.As<float>(), gc.Offset, w, dx.Storage.As<float>(), n, c, s, mu, invStd, dw, db);
        else
            BatchNormBackwardKernel(xc.Storage.As<double>(), xc.Offset, gc.Storage.As<double>(), gc.Offset, w, dx.Storage.As<double>(), n, c, s, mu, invStd, dw, db);
        return (dx, InDType(dw, x.DType), InDType(db, x.DType));
    }

    /// <summary>Per-channel float64 sums as a [C] tensor of <paramref name="dtype"/>.</summary>
    private Tensor InDType(double[] values, DType dtype)
    {
        var t = Tensor.FromArray(values, values.Length);
        return dtype == DType.Float64 ? t : Cast(t, dtype);
    }

    private static void BatchNormBackwardKernel<T>(T[] x, int xOffset, T[] g, int gOffset, double[] w, T[] dx, int n, int c, int s, double[] mean, double[] invStd, double[] dw, double[] db)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        double m = (double)n * s;
        ParallelFor.For(c, 1, (c0, c1) =>
        {
            for (int ch = c0; ch < c1; ch++)
            {
                // Σg and Σg·(x − μ) = Σg·x − μ·Σg.
                double sumG = 0, sumGx = 0;
                for (int i = 0; i < n; i++)
                {
                    int at = (i * c + ch) * s;
                    sumG += double.CreateTruncating(TensorPrimitives.Sum<T>(g.AsSpan(gOffset + at, s)));
                    sumGx += double.CreateTruncating(TensorPrimitives.Dot<T>(g.AsSpan(gOffset + at, s), x.AsSpan(xOffset + at, s)));
                }
                double mu = mean[ch], inv = invStd[ch];
                double sumGxc = sumGx - mu * sumG;
                db[ch] = sumG;
                dw[ch] = sumGxc * inv;
                // dx = a·g + k1·x + k0 with a = γ/σ̂, k1 = −γ·Σg(x − μ)/(M·σ̂³), k0 = −a·Σg/M − k1·μ.
                double a = w[ch] * inv;
                double k1 = -w[ch] * inv * inv * inv * sumGxc / m;
                double k0 = -a * sumG / m - k1 * mu;
                T ta = T.CreateTruncating(a), t1 = T.CreateTruncating(k1), t0 = T.CreateTruncating(k0);
                for (int i = 0; i < n; i++)
                {
                    int at = (i * c + ch) * s;
                    var d = dx.AsSpan(at, s);
                    Affine(x.AsSpan(xOffset + at, s), t1, t0, d);
                    TensorPrimitives.MultiplyAdd<T>(g.AsSpan(gOffset + at, s), ta, d, d);
                }
            }
        });
    }

    /// <summary>y = a·x + b in one pass (TensorPrimitives has no scalar-scalar form; two passes would write y twice).</summary>
    private static void Affine<T>(ReadOnlySpan<T> x, T a, T b, Span<T> y)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated && x.Length >= Vector<T>.Count)
        {
            var va = new Vector<T>(a);
            var vb = new Vector<T>(b);
            for (; i <= x.Length - Vector<T>.Count; i += Vector<T>.Count)
                (new Vector<T>(x[i..]) * va + vb).CopyTo(y[i..]);
        }
        for (; i < x.Length; i++) y[i] = x[i] * a + b;
    }

    public void AccumulateGrad(Tensor grad, Tensor g)
    {
        EnsureAllowed();
        if (!grad.IsContiguous || !g.IsContiguous || grad.Numel != g.Numel || grad.DType != g.DType)
        {
            Assign(grad, Binary(BinaryOp.Add, grad, g, grad._shape));
            return;
        }
        switch (grad.DType)
        {
            case DType.Float32: AccumulateGrad(Elements<float>(grad), Elements<float>(g)); break;
            case DType.Float64: AccumulateGrad(Elements<double>(grad), Elements<double>(g)); break;
            default: throw FloatingOnly("accumulate_grad", grad.DType);
        }
    }

    /// <summary>grad += g in one pass, split over threads by the bytes it moves (two read, one written per element).</summary>
    private static void AccumulateGrad<T>(ArraySegment<T> grad, ArraySegment<T> g) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = grad.Count;
        ParallelFor.For(n, ParallelFor.GrainForBytes(3L * Unsafe.SizeOf<T>()), (start, end) =>
        {
            var dst = grad.AsSpan(start, end - start);
            TensorPrimitives.Add<T>(dst, g.AsSpan(start, end - start), dst);
        });
    }

    public void SgdUpdate(Tensor param, Tensor grad, Tensor? momentumBuffer, SgdStep step)
    {
        EnsureAllowed();
        TrainingChecks.Update("sgd", param, grad, momentumBuffer);
        TrainingChecks.State("sgd", "momentum buffer", step.Momentum != 0, momentumBuffer);
        if (param.DType == DType.Float32)
            ParamUpdateDriver.RunParallel(Sgd<float>(step), Elements<float>(param), Elements<float>(grad), Elements<float>(momentumBuffer), default, default);
        else
            ParamUpdateDriver.RunParallel(Sgd<double>(step), Elements<double>(param), Elements<double>(grad), Elements<double>(momentumBuffer), default, default);
    }

    private static SgdUpdate<T> Sgd<T>(SgdStep s) where T : unmanaged, IFloatingPointIeee754<T> =>
        new(s.Lr, s.Momentum, s.Dampening, s.Nesterov, s.WeightDecay, s.Maximize, s.FirstStep);

    public void AdamUpdate(Tensor param, Tensor grad, Tensor expAvg, Tensor expAvgSq, Tensor? maxExpAvgSq, AdamStep step)
    {
        EnsureAllowed();
        TrainingChecks.Update("adam", param, grad, expAvg, expAvgSq, maxExpAvgSq);
        TrainingChecks.State("adam", "max_exp_avg_sq buffer", step.Amsgrad, maxExpAvgSq);
        if (param.DType == DType.Float32)
            ParamUpdateDriver.RunParallel(Adam<float>(step), Elements<float>(param), Elements<float>(grad), Elements<float>(expAvg), Elements<float>(expAvgSq), Elements<float>(maxExpAvgSq));
        else
            ParamUpdateDriver.RunParallel(Adam<double>(step), Elements<double>(param), Elements<double>(grad), Elements<double>(expAvg), Elements<double>(expAvgSq), Elements<double>(maxExpAvgSq));
    }

    private static AdamUpdate<T> Adam<T>(AdamStep s) where T : unmanaged, IFloatingPointIeee754<T> =>
        new(s.Lr, s.Beta1, s.Beta2, s.Eps, s.WeightDecay, s.Decoupled, s.Amsgrad, s.Maximize, s.Step);

    public void RMSpropUpdate(Tensor param, Tensor grad, Tensor squareAvg, Tensor? gradAvg, Tensor? momentumBuffer, RMSpropStep step)
    {
        EnsureAllowed();
        TrainingChecks.Update("rmsprop", param, grad, squareAvg, gradAvg, momentumBuffer);
        TrainingChecks.State("rmsprop", "grad_avg buffer", step.Centered, gradAvg);
        TrainingChecks.State("rmsprop", "momentum buffer", step.Momentum > 0, momentumBuffer);
        if (param.DType == DType.Float32)
            ParamUpdateDriver.RunParallel(RMSprop<float>(step), Elements<float>(param), Elements<float>(grad), Elements<float>(squareAvg), Elements<float>(gradAvg), Elements<float>(momentumBuffer));
        else
            ParamUpdateDriver.RunParallel(RMSprop<double>(step), Elements<double>(param), Elements<double>(grad), Elements<double>(squareAvg), Elements<double>(gradAvg), Elements<double>(momentumBuffer));
    }

    private static RMSpropUpdate<T> RMSprop<T>(RMSpropStep s) where T : unmanaged, IFloatingPointIeee754<T> =>
        new(s.Lr, s.Alpha, s.Eps, s.WeightDecay, s.Momentum, s.Centered, s.Maximize);

    /// <summary>The elements of a contiguous operand (checked by <see cref="TrainingChecks"/>), or an empty slot.</summary>
    private static ArraySegment<T> Elements<T>(Tensor? t) where T : unmanaged =>
        t is null ? default : new ArraySegment<T>(t.Storage.As<T>(), t.Offset, t.Numel);

    public void FillUniform(Tensor dst, RandomStream stream, double low, double high)
    {
        EnsureAllowed();
        TrainingChecks.FloatingFill("uniform", dst);
        Fill(dst, target =>
        {
            if (target.DType == DType.Float32) FillUniform(target.Storage.As<float>(), target.Offset, target.Numel, stream, low, high);
            else FillUniform(target.Storage.As<double>(), target.Offset, target.Numel, stream, low, high);
        });
    }

    private static void FillUniform<T>(T[] dst, int offset, int count, RandomStream stream, double low, double high)
    {
        double scale = high - low;
        ParallelFor.For(count, 1 << 14, (s, e) =>
        {
            for (int i = s; i < e; i++) Store(dst, offset + i, low + scale * stream.Unit(i), high);
        });
    }

    public void FillNormal(Tensor dst, RandomStream stream, double mean, double std)
    {
        EnsureAllowed();
        TrainingChecks.FloatingFill("normal", dst);
        Fill(dst, target =>
        {
            if (target.DType == DType.Float32) FillNormal(target.Storage.As<float>(), target.Offset, target.Numel, stream, mean, std);
            else FillNormal(target.Storage.As<double>(), target.Offset, target.Numel, stream, mean, std);
        });
    }

    private static void FillNormal<T>(T[] dst, int offset, int n, RandomStream stream, double mean, double std)
    {
        int pairs = (int)(((long)n + 1) / 2);
        ParallelFor.For(pairs, 1 << 13, (s, e) =>
        {
            for (int j = s; j < e; j++)
            {
                var (first, second) = stream.NormalPair(j, mean, std);
                int i = 2 * j;
                Store(dst, offset + i, first, double.PositiveInfinity);
                if (i + 1 < n) Store(dst, offset + i + 1, second, double.PositiveInfinity);
            }
        });
    }

    public void FillRandInt(Tensor dst, RandomStream stream, int low, int high)
    {
        EnsureAllowed();
        TrainingChecks.IntegerFill(dst, low, high);
        Fill(dst, target =>
        {
            var values = target.Storage.As<int>();
            int offset = target.Offset;
            ParallelFor.For(target.Numel, 1 << 14, (s, e) =>
            {
                for (int i = s; i < e; i++) values[offset + i] = stream.Integer(i, low, high);
            });
        });
    }

    /// <summary>Runs <paramref name="fill"/> on <paramref name="dst"/> itself when contiguous, else on a contiguous copy assigned back.</summary>
    private void Fill(Tensor dst, Action<Tensor> fill)
    {
        if (dst.IsContiguous)
        {
            fill(dst);
            return;
        }
        var target = Tensor.Allocate(dst.DType, dst.Shape, clear: false);
        fill(target);
        Assign(dst, target);
    }

    private static void Store<T>(T[] dst, int i, double v, double high)
    {
        if (typeof(T) == typeof(double)) ((double[])(object)dst)[i] = v;
        else ((float[])(object)dst)[i] = RandomStream.ToFloat(v, high);
    }
}
