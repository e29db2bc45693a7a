using System.Numerics;
using System.Numerics.Tensors;
using Fovea.Kernels;

namespace Fovea.Ops;

/// <summary>
/// Batch normalisation with batch statistics, y = (x − μ)·σ̂⁻¹·γ + β per channel (dim 1) with σ̂ = √(σ² + eps),
/// fused: one pass for the statistics and one for y, instead of the eight passes the composite takes.
/// Inputs: x [N, C, ...] (contiguous), γ [C], β [C]. With x̂ = (x − μ)/σ̂ and M = N·(spatial size):
/// dβ = Σ g, dγ = Σ g·x̂, dx = (γ/σ̂)·(g − Σg/M − x̂·Σ(g·x̂)/M) (Ioffe and Szegedy 2015, eq. in §3).
/// Plain backward runs that formula as a fused kernel; when the backward is itself differentiated
/// (createGraph) it runs the same formula written in tensor ops on x, so second derivatives work.
/// </summary>
internal sealed class BatchNormTrainFunction(double eps) : Function
{
    public override string Name => "BatchNorm";

    /// <summary>The batch mean [C] (set by the forward pass).</summary>
    public Tensor? BatchMean { get; private set; }

    /// <summary>The biased batch variance [C] (set by the forward pass).</summary>
    public Tensor? BatchVar { get; private set; }

    private Tensor? _invStd;

    private static (int N, int C, int S) Dims(int[] shape)
    {
        int s = 1;
        for (int d = 2; d < shape.Length; d++) s *= shape[d];
        return (shape[0], shape[1], s);
    }

    protected override Tensor Forward(Tensor[] inputs)
    {
        var (x, w, b) = (inputs[0].Contiguous(), inputs[1].Contiguous(), inputs[2].Contiguous());
        var (n, c, s) = Dims(x._shape);
        var mean = new double[c];
        var variance = new double[c];
        var y = Tensor.Allocate(x.DType, x.Shape, clear: false);
        if (x.DType == DType.Float32)
            ForwardKernel(x.Storage.As<float>(), x.Offset, w.ToArray<float>(), b.ToArray<float>(), y.Storage.As<float>(), n, c, s, eps, mean, variance);
        else
            ForwardKernel(x.Storage.As<double>(), x.Offset, w.ToArray<double>(), b.ToArray<double>(), y.Storage.As<double>(), n, c, s, eps, mean, variance);
        BatchMean = Tensor.FromArray(mean, c).To(x.DType);
        BatchVar = Tensor.FromArray(variance, c).To(x.DType);
        _invStd = Tensor.FromArray(variance.Select(v => 1 / Math.Sqrt(v + eps)).ToArray(), c);
        SaveForBackward(inputs[0], inputs[1]);
        return y;
    }

    private static void ForwardKernel<T>(T[] x, int xOffset, T[] w, T[] b, T[] y, int n, int c, int s, double eps, double[] mean, double[] variance)
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
                    // Row-sized (cache-resident), so the second pass over it is cheap.
                    TensorPrimitives.Multiply<T>(x.AsSpan(xOffset + at, s), a, y.AsSpan(at, s));
                    TensorPrimitives.Add<T>(y.AsSpan(at, s), shift, y.AsSpan(at, s));
                }
            }
        });
    }

    protected override Tensor?[] Backward(Tensor g)
    {
        var (x, w) = (Saved[0], Saved[1]);
        if (GradMode.IsEnabled) return CompositeBackward(x, w, g);
        var xc = x.Contiguous();
        var gc = g.Contiguous();
        var (n, c, s) = Dims(xc._shape);
        var dx = Tensor.Allocate(x.DType, x.Shape, clear: false);
        var dw = new double[c];
        var db = new double[c];
        var mean = BatchMean!.To(DType.Float64).ToArray<double>();
        var invStd = _invStd!.ToArray<double>();
        if (x.DType == DType.Float32)
            BackwardKernel(xc.Storage.As<float>(), xc.Offset, gc.Storage.As<float>(), gc.Offset, w.To(DType.Float64).ToArray<double>(), dx.Storage.As<float>(), n, c, s, mean, invStd, dw, db);
        else
            BackwardKernel(xc.Storage.As<double>(), xc.Offset, gc.Storage.As<double>(), gc.Offset, w.ToArray<double>(), dx.Storage.As<double>(), n, c, s, mean, invStd, dw, db);
        return [dx, Tensor.FromArray(dw, c).To(x.DType), Tensor.FromArray(db, c).To(x.DType)];
    }

    private static void BackwardKernel<T>(T[] x, int xOffset, T[] g, int gOffset, double[] w, T[] dx, int n, int c, int s, double[] mean, double[] invStd, double[] dw, double[] db)
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
                    TensorPrimitives.Multiply<T>(x.AsSpan(xOffset + at, s), t1, d);
                    TensorPrimitives.Add<T>(d, t0, d);
                    TensorPrimitives.MultiplyAdd<T>(g.AsSpan(gOffset + at, s), ta, d, d);
                }
            }
        });
    }

    /// <summary>x̂ and 1/σ̂ recomputed from x with tensor ops, so they carry x's graph when differentiated again.</summary>
    private (Tensor XHat, Tensor InvStd, int[] Dims, int[] ChannelShape) Normalised(Tensor x)
    {
        var dims = Enumerable.Range(0, x.Rank).Where(d => d != 1).ToArray();
        var channelShape = new int[x.Rank];
        Array.Fill(channelShape, 1);
        channelShape[1] = x._shape[1];
        var centered = x.Sub(x.Mean(dims, keepDim: true));
        var invStd = centered.Square().Mean(dims, keepDim: true).Add(eps).Rsqrt();
        return (centered.Mul(invStd), invStd, dims, channelShape);
    }

    private Tensor?[] CompositeBackward(Tensor x, Tensor w, Tensor g)
    {
        var (xhat, invStd, dims, channelShape) = Normalised(x);
        var dxhat = g.Mul(w.Reshape(channelShape));
        var dx = invStd.Mul(dxhat.Sub(dxhat.Mean(dims, keepDim: true)).Sub(xhat.Mul(dxhat.Mul(xhat).Mean(dims, keepDim: true))));
        return [dx, g.Mul(xhat).Sum(dims), g.Sum(dims)];
    }

    protected override Tensor? Jvp(Tensor[] inputs, Tensor output, Tensor?[] tangents)
    {
        var (x, w) = (inputs[0], inputs[1]);
        var (xhat, invStd, dims, channelShape) = Normalised(x);
        Tensor? dy = null;
        if (tangents[0] is { } tx)
        {
            // d x̂ = (1/σ̂)·(dx − mean(dx) − x̂·mean(dx·x̂)).
            var dxhat = invStd.Mul(tx.Sub(tx.Mean(dims, keepDim: true)).Sub(xhat.Mul(tx.Mul(xhat).Mean(dims, keepDim: true))));
            dy = dxhat.Mul(w.Reshape(channelShape));
        }
        if (tangents[1] is { } tw) dy = dy is null ? xhat.Mul(tw.Reshape(channelShape)) : dy.Add(xhat.Mul(tw.Reshape(channelShape)));
        if (tangents[2] is { } tb) dy = (dy ?? Tensor.ZerosLike(output)).Add(tb.Reshape(channelShape));
        return dy?.Expand(output._shape);
    }
}
