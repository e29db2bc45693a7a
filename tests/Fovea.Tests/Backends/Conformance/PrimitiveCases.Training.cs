using Fovea.Backends;
using static Fovea.Tests.Backends.Conformance.CaseTensors;

namespace Fovea.Tests.Backends.Conformance;

public static partial class PrimitiveCases
{
    /// <summary>Batch-norm inputs [N, C, ...]: one element, an empty batch, no channels, a 1x1 plane, odd sizes, random ones and one large.</summary>
    private static IEnumerable<int[]> BatchNormShapes(Random rng, DType dtype)
    {
        int[][] edges = [[1, 1], [0, 3, 4], [2, 0, 3], [1, 1, 1, 1], [1, 2, 7], [3, 1]];
        foreach (var e in edges) yield return e;
        for (int i = 0; i < 8; i++) yield return Shape(rng, 2, 4, 7);
        if (dtype == DType.Float32) yield return [8, 16, 12, 12];
    }

    /// <summary>
    /// Per-channel sums of x [N, C, S] the batch-norm error bounds are made of: M, μ, σ̂ = √(σ² + eps), max|x|, and for a
    /// gradient g, Σ|g|, max|g| and Σ|g|·(|x| + |μ|) / σ̂.
    /// </summary>
    private readonly record struct ChannelSums(double M, double Mean, double Sigma, double MaxX, double SumG, double MaxG, double SumGx);

    private static ChannelSums[] Channels(Tensor x, Tensor? g, double eps)
    {
        var shape = x.Shape;
        int n = shape[0], c = shape[1], s = shape.Skip(2).Aggregate(1, (a, b) => a * b);
        var xv = Read(x);
        var gv = g is null ? null : Read(g);
        var sums = new ChannelSums[c];
        for (int ch = 0; ch < c; ch++)
        {
            var at = Enumerable.Range(0, n).SelectMany(i => Enumerable.Range(0, s).Select(k => (i * c + ch) * s + k)).ToArray();
            double m = at.Length, mean = m == 0 ? 0 : at.Average(i => xv[i]);
            double sigma = Math.Sqrt((m == 0 ? 0 : at.Average(i => (xv[i] - mean) * (xv[i] - mean))) + eps);
            double maxX = at.Select(i => Math.Abs(xv[i])).DefaultIfEmpty(0).Max();
            double sumG = gv is null ? 0 : at.Sum(i => Math.Abs(gv[i]));
            double maxG = gv is null ? 0 : at.Select(i => Math.Abs(gv[i])).DefaultIfEmpty(0).Max();
            double sumGx = gv is null ? 0 : at.Sum(i => Math.Abs(gv[i]) * (Math.Abs(xv[i]) + Math.Abs(mean))) / sigma;
            sums[ch] = new(m, mean, sigma, maxX, sumG, maxG, sumGx);
        }
        return sums;
    }

    /// <summary>
    /// Batch-norm error bound in units of u: γ(M + 1) times the size of the largest term an output is summed or
    /// cancelled from (the statistics accumulate M values in the input's dtype, and y, dx, dγ are differences of
    /// such sums), taken over every output and channel of the case.
    /// </summary>
    private static Tolerance BatchNormTolerance(DType dtype, ChannelSums[] channels, double[] gamma, double[] beta)
    {
        double scale = 0, terms = 0;
        for (int ch = 0; ch < channels.Length; ch++)
        {
            var k = channels[ch];
            double spread = (k.MaxX + Math.Abs(k.Mean)) / k.Sigma, g = Math.Abs(gamma[ch]);
            double forward = Math.Max(Math.Max(g * spread + Math.Abs(beta[ch]), k.MaxX), (k.MaxX + Math.Abs(k.Mean)) * (k.MaxX + Math.Abs(k.Mean)));
            double backward = k.M == 0 ? 0 : Math.Max(Math.Max(k.SumG, k.SumGx), g / k.Sigma * (k.MaxG + k.SumG / k.M + spread * k.SumGx / k.M));
            scale = Math.Max(scale, Math.Max(forward, backward));
            terms = Math.Max(terms, k.M);
        }
        return new Tolerance(4, 4 * (terms + 2) * scale, 0) { Arithmetic = dtype };
    }

    [CasesFor(nameof(IBackend.BatchNormForward))]
    public static IEnumerable<ConformanceCase> BatchNormForward(Random rng)
    {
        foreach (var dtype in Floats)
            foreach (var shape in BatchNormShapes(rng, dtype))
            {
                // A per-case offset up to 6 spreads over 0.3 to 2: a two-pass variance keeps it, a one-pass one would not.
                double offset = 6 * (rng.NextDouble() - 0.5), spread = 0.3 + 1.7 * rng.NextDouble();
                double eps = rng.Next(2) == 0 ? 1e-5 : 1e-3;
                var x = Make(rng, shape, dtype, r => offset + spread * Normal(r));
                var w = Make(rng, [shape[1]], dtype);
                var b = Make(rng, [shape[1]], dtype);
                var tolerance = BatchNormTolerance(dtype, Channels(x, null, eps), Read(w), Read(b));
                yield return new($"{dtype.Name()} eps {eps}", [x, w, b], (be, i) =>
                {
                    var (y, mean, variance) = be.BatchNormForward(i[0], i[1], i[2], eps);
                    return [y, mean, variance];
                }, tolerance);
            }
    }

    [CasesFor(nameof(IBackend.BatchNormBackward))]
    public static IEnumerable<ConformanceCase> BatchNormBackward(Random rng)
    {
        foreach (var dtype in Floats)
            foreach (var shape in BatchNormShapes(rng, dtype))
            {
                double offset = 6 * (rng.NextDouble() - 0.5), spread = 0.3 + 1.7 * rng.NextDouble();
                const double eps = 1e-5;
                var x = Make(rng, shape, dtype, r => offset + spread * Normal(r));
                var w = Make(rng, [shape[1]], dtype);
                var g = Make(rng, shape, dtype);
                // The statistics the forward pass would hand over: the oracle's, in a random layout.
                var (_, mean, variance) = ConformanceBackends.Oracle.BatchNormForward(x, w, Tensor.Zeros([shape[1]], dtype), eps);
                var tolerance = BatchNormTolerance(dtype, Channels(x, g, eps), Read(w), new double[shape[1]]);
                yield return new($"{dtype.Name()}", [g, x, w, Relayout(rng, mean), Relayout(rng, variance)], (be, i) =>
                {
                    var (dx, dw, db) = be.BatchNormBackward(i[0], i[1], i[2], i[3], i[4], eps);
                    return [dx, dw, db];
                }, tolerance);
            }
    }

    /// <summary>
    /// Layer-norm inputs and their values per row: one value, no rows, rows of one value, odd rows (not a whole number
    /// of vectors), rows of a vector's lanes and of many, trailing dims of rank 2, random ones and (float32) one with
    /// more rows than a block of the weight gradient's sums.
    /// </summary>
    private static IEnumerable<(int[] Shape, int Normalized)> LayerNormShapes(Random rng, DType dtype)
    {
        (int[], int)[] edges = [([1, 1], 1), ([0, 4], 4), ([5, 1], 1), ([3, 7], 7), ([2, 3, 16], 16), ([4, 300], 300), ([2, 3, 5], 15), ([6, 2, 3, 2], 12)];
        foreach (var e in edges) yield return e;
        for (int i = 0; i < 6; i++)
        {
            var shape = Shape(rng, 2, 4, 9);
            int trailing = 1 + rng.Next(shape.Length - 1), normalized = shape.Skip(shape.Length - trailing).Aggregate(1, (a, b) => a * b);
            if (normalized > 0) yield return (shape, normalized);
        }
        if (dtype == DType.Float32) yield return ([300, 64], 64);
    }

    /// <summary>
    /// Layer-norm error bound in units of u, the batch-norm one with a row in place of a channel: γ(D + 1) times the
    /// largest term an output is summed or cancelled from, where the rows' statistics sum D values each and the weight
    /// and bias gradients sum one term a row.
    /// </summary>
    private static Tolerance LayerNormTolerance(DType dtype, Tensor x, Tensor? g, int normalized, double[]? gamma, double[]? beta, double eps)
    {
        var xv = Read(x);
        var gv = g is null ? null : Read(g);
        int d = normalized, rows = d == 0 ? 0 : xv.Length / d;
        double maxGamma = gamma is null ? 1 : gamma.Select(Math.Abs).DefaultIfEmpty(0).Max(), maxBeta = beta is null ? 0 : beta.Select(Math.Abs).DefaultIfEmpty(0).Max();
        double scale = 0, columns = 0;
        for (int r = 0; r < rows; r++)
        {
            var row = xv.AsSpan(r * d, d).ToArray();
            double mean = row.Average(), sigma = Math.Sqrt(row.Average(v => (v - mean) * (v - mean)) + eps), maxX = row.Max(Math.Abs);
            double spread = (maxX + Math.Abs(mean)) / sigma;
            double forward = Math.Max(Math.Max(maxGamma * spread + maxBeta, maxX), (maxX + Math.Abs(mean)) * (maxX + Math.Abs(mean)));
            double backward = 0;
            if (gv is not null)
            {
                var grow = gv.AsSpan(r * d, d).ToArray();
                double sumG = grow.Sum(Math.Abs), maxG = grow.Max(Math.Abs), sumGx = grow.Select((v, j) => Math.Abs(v) * (Math.Abs(row[j]) + Math.Abs(mean))).Sum() / sigma;
                backward = Math.Max(Math.Max(sumG, sumGx) * maxGamma, maxGamma / sigma * (maxG + sumG / d + spread * sumGx / d));
                columns += maxG * spread;
            }
            scale = Math.Max(scale, Math.Max(forward, backward));
        }
        return new Tolerance(4, 4 * (Math.Max(d, rows) + 2) * Math.Max(scale, columns), 0) { Arithmetic = dtype };
    }

    [CasesFor(nameof(IBackend.LayerNormForward))]
    public static IEnumerable<ConformanceCase> LayerNormForward(Random rng)
    {
        foreach (var dtype in Floats)
            foreach (var (shape, normalized) in LayerNormShapes(rng, dtype))
            {
                // A per-case offset up to 6 over a spread of 0.3 to 2: a two-pass variance keeps it, a one-pass one would not.
                double offset = 6 * (rng.NextDouble() - 0.5), spread = 0.3 + 1.7 * rng.NextDouble();
                double eps = rng.Next(2) == 0 ? 1e-5 : 1e-3;
                var x = Make(rng, shape, dtype, r => offset + spread * Normal(r));
                bool affine = rng.Next(3) > 0;
                var w = affine ? Make(rng, [normalized], dtype) : null;
                var b = affine && rng.Next(2) == 0 ? Make(rng, [normalized], dtype) : null;
                var tolerance = LayerNormTolerance(dtype, x, null, normalized, w is null ? null : Read(w), b is null ? null : Read(b), eps);
                Tensor[] inputs = [x, .. w is null ? Array.Empty<Tensor>() : [w], .. b is null ? Array.Empty<Tensor>() : [b]];
                yield return new($"{dtype.Name()} rows of {normalized}, weight {w is not null}, bias {b is not null}, eps {eps}", inputs, (be, i) =>
                {
                    var (y, mean, invStd) = be.LayerNormForward(i[0], normalized, w is null ? null : i[1], b is null ? null : i[w is null ? 1 : 2], eps);
                    return [y, mean, invStd];
                }, tolerance);
            }
    }

    [CasesFor(nameof(IBackend.LayerNormBackward))]
    public static IEnumerable<ConformanceCase> LayerNormBackward(Random rng)
    {
        foreach (var dtype in Floats)
            foreach (var (shape, normalized) in LayerNormShapes(rng, dtype))
            {
                double offset = 6 * (rng.NextDouble() - 0.5), spread = 0.3 + 1.7 * rng.NextDouble();
                const double eps = 1e-5;
                var x = Make(rng, shape, dtype, r => offset + spread * Normal(r));
                var w = rng.Next(3) > 0 ? Make(rng, [normalized], dtype) : null;
                var g = Make(rng, shape, dtype);
                // The statistics the forward pass would hand over: the oracle's, in a random layout.
                var (_, mean, invStd) = ConformanceBackends.Oracle.LayerNormForward(x, normalized, null, null, eps);
                var tolerance = LayerNormTolerance(dtype, x, g, normalized, w is null ? null : Read(w), null, eps);
                Tensor[] inputs = [g, x, Relayout(rng, mean), Relayout(rng, invStd), .. w is null ? Array.Empty<Tensor>() : [w]];
                yield return new($"{dtype.Name()} rows of {normalized}, weight {w is not null}", inputs, (be, i) =>
                {
                    var (dx, dw, db) = be.LayerNormBackward(i[0], i[1], normalized, w is null ? null : i[4], i[2], i[3]);
                    return [dx, dw, db];
                }, tolerance);
            }
    }

    /// <summary>
    /// Local-response-norm cases: [N, C, ...] with one channel, fewer channels than the window, 2-d input, empty, random
    /// ones and (float32) planes past one tile of the CPU's kernel; windows of 1 to 6 channels (even ones uneven about
    /// the channel), AlexNet's constants, and k &lt; 0 with β = 1, where D may be negative.
    /// </summary>
    private static IEnumerable<(int[] Shape, int Size, double Alpha, double Beta, double K)> LrnCases(Random rng, DType dtype)
    {
        yield return ([1, 1, 3], 3, 0.5, 0.75, 1);
        yield return ([2, 3, 2, 2], 5, 1e-4, 0.75, 2);
        yield return ([3, 6], 4, 0.8, 0.6, 2);
        yield return ([0, 4, 3], 3, 0.3, 0.75, 1);
        yield return ([2, 5, 3], 2, 1.5, 1, -0.5);
        for (int i = 0; i < 5; i++)
        {
            var shape = Shape(rng, 3, 4, 7);
            yield return (shape, rng.Next(1, 7), 0.1 + 2 * rng.NextDouble(), 0.25 + rng.NextDouble(), 0.5 + 2 * rng.NextDouble());
        }
        if (dtype == DType.Float32) yield return ([2, 9, 30, 20], 5, 1e-4 * 500, 0.75, 2);
    }

    /// <summary>
    /// LRN bound in units of u: D sums n squares (γ(n) relative) and D^−β, a power, is within a few ulps, so y is within
    /// (16 + 8n(1 + |β|)) ulps plus that much of max|x|·max D^−β as an absolute floor (where terms cancel nowhere, the
    /// floor only covers D near 0). The gradient adds g·D^−β to 2x times a window sum of n terms t: 64(n + 2)(1 + |β|)
    /// times the largest of those in size.
    /// </summary>
    private static Tolerance LrnTolerance(DType dtype, double[] x, double[] d, double[]? g, int size, double alpha, double beta)
    {
        double maxX = x.Select(Math.Abs).DefaultIfEmpty(0).Max();
        double maxP = d.Select(v => Math.Abs(Math.Pow(v, -beta))).Where(double.IsFinite).DefaultIfEmpty(0).Max();
        double growth = 1 + Math.Abs(beta);
        if (g is null) return new Tolerance(16 + 8 * size * growth, (16 + 8 * size * growth) * maxX * maxP, 0) { Arithmetic = dtype };
        double maxG = g.Select(Math.Abs).DefaultIfEmpty(0).Max();
        double maxT = Math.Abs(beta * alpha / size) * maxG * maxX * d.Select(v => Math.Abs(Math.Pow(v, -beta - 1))).Where(double.IsFinite).DefaultIfEmpty(0).Max();
        return new Tolerance(8, 64 * (size + 2) * growth * (maxG * maxP + 2 * maxX * size * maxT), 0) { Arithmetic = dtype };
    }

    [CasesFor(nameof(IBackend.LocalResponseNormForward))]
    public static IEnumerable<ConformanceCase> LocalResponseNormForward(Random rng)
    {
        foreach (var dtype in Floats)
            foreach (var (shape, size, alpha, beta, k) in LrnCases(rng, dtype))
            {
                var x = Make(rng, shape, dtype, r => 3 * Normal(r));
                var (_, d) = ConformanceBackends.Oracle.LocalResponseNormForward(x, size, alpha, beta, k);
                var tolerance = LrnTolerance(dtype, Read(x), Read(d), null, size, alpha, beta);
                yield return new($"{dtype.Name()} size {size}, alpha {alpha:g3}, beta {beta:g3}, k {k:g3}", [x], (be, i) =>
                {
                    var (y, den) = be.LocalResponseNormForward(i[0], size, alpha, beta, k);
                    return [y, den];
                }, tolerance);
            }
    }

    [CasesFor(nameof(IBackend.LocalResponseNormBackward))]
    public static IEnumerable<ConformanceCase> LocalResponseNormBackward(Random rng)
    {
        foreach (var dtype in Floats)
            foreach (var (shape, size, alpha, beta, k) in LrnCases(rng, dtype))
            {
                var x = Make(rng, shape, dtype, r => 3 * Normal(r));
                var g = Make(rng, shape, dtype);
                // The denominator the forward pass would hand over: the oracle's, in a random layout.
                var (_, d) = ConformanceBackends.Oracle.LocalResponseNormForward(x, size, alpha, beta, k);
                var tolerance = LrnTolerance(dtype, Read(x), Read(d), Read(g), size, alpha, beta);
                yield return new($"{dtype.Name()} size {size}, alpha {alpha:g3}, beta {beta:g3}, k {k:g3}", [g, x, Relayout(rng, d)],
                    (be, i) => [be.LocalResponseNormBackward(i[0], i[1], i[2], size, alpha, beta)], tolerance);
            }
    }

    /// <summary>Parameter shapes: one element, empty, odd sizes, random ranks and (float32) one past two parallel grains of the CPU's loops.</summary>
    private static IEnumerable<int[]> ParameterShapes(Random rng, DType dtype)
    {
        int[][] edges = [[1], [0], [0, 3], [7], [33, 17]];
        foreach (var e in edges) yield return e;
        for (int i = 0; i < 3; i++) yield return Shape(rng, 1, 3, 9);
        if (dtype == DType.Float32) yield return [(1 << 17) + 5];
    }

    /// <summary>
    /// A fused update is a fixed chain of a dozen roundings on unit-scale values (parameters, gradients and moments are
    /// O(1), the state buffers kept away from zero where they divide), and the CPU rounds its coefficients to the
    /// parameter's dtype: 16 ulps of the result plus 64 u at unit scale.
    /// </summary>
    private static readonly Tolerance UpdateTolerance = new(16, 64, 0);

    /// <summary>
    /// One in-place update on copies of the inputs (parameter first, then the state buffers given); returns the whole
    /// storage of each mutated buffer, so a write outside the view is seen.
    /// </summary>
    private static ConformanceCase UpdateCase(string parameters, Tensor[] inputs, int[] mutated, Action<IBackend, Tensor[]> update) =>
        new(parameters, inputs, (be, i) =>
        {
            var copies = i.Select(CloneStorage).ToArray();
            update(be, copies);
            return [.. mutated.Select(k => WholeStorage(copies[k]))];
        }, UpdateTolerance);

    private static double Pick(Random rng, params double[] values) => values[rng.Next(values.Length)];

    [CasesFor(nameof(IBackend.AccumulateGrad))]
    public static IEnumerable<ConformanceCase> AccumulateGrad(Random rng)
    {
        // A parameter's gradient plus a backward pass's contribution, in place in the first.
        foreach (var dtype in Floats)
            foreach (var shape in ParameterShapes(rng, dtype))
                yield return UpdateCase($"{dtype.Name()} grad += g", [Dense(rng, shape, dtype), Dense(rng, shape, dtype)], [0],
                    (be, t) => be.AccumulateGrad(t[0], t[1]));
    }

    [CasesFor(nameof(IBackend.SgdUpdate))]
    public static IEnumerable<ConformanceCase> SgdUpdate(Random rng)
    {
        foreach (var dtype in Floats)
            foreach (var shape in ParameterShapes(rng, dtype))
                for (int variant = 0; variant < 3; variant++)
                {
                    double momentum = variant == 0 ? 0 : Pick(rng, 0.5, 0.9);
                    bool nesterov = variant == 2;
                    var step = new SgdStep(Pick(rng, 1e-3, 0.05, 0.5), momentum, nesterov ? 0 : Pick(rng, 0, 0.1), nesterov,
                        Pick(rng, 0, 1e-2), rng.Next(2) == 0, rng.Next(2) == 0);
                    var p = Dense(rng, shape, dtype);
                    var g = Dense(rng, shape, dtype);
                    if (momentum == 0)
                        yield return UpdateCase($"{dtype.Name()} {step}", [p, g], [0], (be, t) => be.SgdUpdate(t[0], t[1], null, step));
                    else
                        yield return UpdateCase($"{dtype.Name()} {step}", [p, g, Dense(rng, shape, dtype)], [0, 2],
                            (be, t) => be.SgdUpdate(t[0], t[1], t[2], step));
                }
    }

    [CasesFor(nameof(IBackend.AdamUpdate))]
    public static IEnumerable<ConformanceCase> AdamUpdate(Random rng)
    {
        // Second moments away from zero (they divide); the first step starts from zero moments, as the optimizers do.
        Draw second = r => 0.05 + r.NextDouble();
        foreach (var dtype in Floats)
            foreach (var shape in ParameterShapes(rng, dtype))
                foreach (bool decoupled in new[] { false, true })
                    foreach (bool amsgrad in new[] { false, true })
                    {
                        long t = rng.Next(3) == 0 ? 1 : rng.Next(2, 2000);
                        var step = new AdamStep(Pick(rng, 1e-3, 1e-2, 0.1), Pick(rng, 0.9, 0.8), Pick(rng, 0.999, 0.99), Pick(rng, 1e-8, 1e-6),
                            Pick(rng, 0, 1e-2, 0.1), decoupled, amsgrad, rng.Next(2) == 0, t);
                        Draw first = t == 1 ? _ => 0 : r => 0.3 * Normal(r);
                        Draw secondAt = t == 1 ? _ => 0 : second;
                        Tensor[] inputs = [Dense(rng, shape, dtype), Dense(rng, shape, dtype), Dense(rng, shape, dtype, first), Dense(rng, shape, dtype, secondAt)];
                        if (amsgrad)
                            yield return UpdateCase($"{dtype.Name()} {step}", [.. inputs, Dense(rng, shape, dtype, secondAt)], [0, 2, 3, 4],
                                (be, x) => be.AdamUpdate(x[0], x[1], x[2], x[3], x[4], step));
                        else
                            yield return UpdateCase($"{dtype.Name()} {step}", inputs, [0, 2, 3], (be, x) => be.AdamUpdate(x[0], x[1], x[2], x[3], null, step));
                    }
    }

    [CasesFor(nameof(IBackend.RMSpropUpdate))]
    public static IEnumerable<ConformanceCase> RMSpropUpdate(Random rng)
    {
        foreach (var dtype in Floats)
            foreach (var shape in ParameterShapes(rng, dtype))
                foreach (bool centered in new[] { false, true })
                    foreach (bool withMomentum in new[] { false, true })
                    {
                        var step = new RMSpropStep(Pick(rng, 1e-3, 1e-2), Pick(rng, 0.99, 0.9), Pick(rng, 1e-8, 1e-6), Pick(rng, 0, 1e-2),
                            withMomentum ? Pick(rng, 0.5, 0.9) : 0, centered, rng.Next(2) == 0);
                        // s ≥ 0.05 and |ḡ| ≤ √s / 2, so s − ḡ² stays well away from zero after the step.
                        var square = Dense(rng, shape, dtype, r => 0.05 + r.NextDouble());
                        var average = Dense(rng, shape, dtype, Read(square).Select(s => Math.Sqrt(s) * (rng.NextDouble() - 0.5)).ToArray());
                        var momentum = Dense(rng, shape, dtype, r => 0.3 * Normal(r));
                        Tensor[] inputs = [Dense(rng, shape, dtype), Dense(rng, shape, dtype), square, average, momentum];
                        int[] mutated = [0, 2, .. centered ? new[] { 3 } : [], .. withMomentum ? new[] { 4 } : []];
                        yield return UpdateCase($"{dtype.Name()} {step}", inputs, mutated,
                            (be, x) => be.RMSpropUpdate(x[0], x[1], x[2], centered ? x[3] : null, withMomentum ? x[4] : null, step));
                    }
    }

    /// <summary>
    /// Fill destinations: 0-d, empty, one element, odd and even counts (a lone last normal), random strided views and
    /// (float32 and int32) one large enough to thread, all compared over the whole storage, bit for bit.
    /// </summary>
    private static IEnumerable<Tensor> FillTargets(Random rng, DType dtype)
    {
        foreach (var shape in Shapes(rng, 0, 4, 6, random: 6))
            yield return Make(rng, shape, dtype, broadcast: false);
        if (dtype != DType.Float64) yield return Make(rng, [Threaded + 1], dtype, broadcast: false);
    }

    private static RandomStream Stream(Random rng) =>
        new((ulong)rng.NextInt64() ^ ((ulong)rng.Next() << 63), rng.Next(3) == 0 ? 0 : rng.NextInt64(0, 1L << 40));

    private static ConformanceCase FillCase(string parameters, Tensor dst, Action<IBackend, Tensor> fill) =>
        new(parameters, [dst], (be, i) =>
        {
            var copy = CloneStorage(i[0]);
            fill(be, copy);
            return [WholeStorage(copy)];
        }, Tolerance.Exact);

    [CasesFor(nameof(IBackend.FillUniform))]
    public static IEnumerable<ConformanceCase> FillUniform(Random rng)
    {
        foreach (var dtype in Floats)
            foreach (var dst in FillTargets(rng, dtype))
            {
                var stream = Stream(rng);
                // A unit interval, a wide one, and one so narrow that float32 rounding meets its open end.
                var (low, high) = rng.Next(3) switch { 0 => (0.0, 1.0), 1 => (-1e3 * rng.NextDouble(), 1e3 * rng.NextDouble()), _ => (1 - 1e-9, 1.0) };
                yield return FillCase($"{dtype.Name()} [{low}, {high}) {stream}", dst, (be, t) => be.FillUniform(t, stream, low, high));
            }
    }

    [CasesFor(nameof(IBackend.FillNormal))]
    public static IEnumerable<ConformanceCase> FillNormal(Random rng)
    {
        foreach (var dtype in Floats)
            foreach (var dst in FillTargets(rng, dtype))
            {
                var stream = Stream(rng);
                double mean = 4 * Normal(rng), std = Pick(rng, 1, 0.01, 3);
                yield return FillCase($"{dtype.Name()} mean {mean} std {std} {stream}", dst, (be, t) => be.FillNormal(t, stream, mean, std));
            }
    }

    [CasesFor(nameof(IBackend.FillRandInt))]
    public static IEnumerable<ConformanceCase> FillRandInt(Random rng)
    {
        foreach (var dst in FillTargets(rng, DType.Int32))
        {
            var stream = Stream(rng);
            // One value, a small range, a range across zero and the whole int32 range.
            var (low, high) = rng.Next(4) switch { 0 => (5, 6), 1 => (0, 10), 2 => (-rng.Next(1, 1000), rng.Next(1, 1000)), _ => (int.MinValue, int.MaxValue) };
            yield return FillCase($"[{low}, {high}) {stream}", dst, (be, t) => be.FillRandInt(t, stream, low, high));
        }
    }
}
