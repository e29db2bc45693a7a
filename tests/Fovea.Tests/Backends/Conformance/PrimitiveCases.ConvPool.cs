using Fovea.Backends;
using static Fovea.Tests.Backends.Conformance.CaseTensors;

namespace Fovea.Tests.Backends.Conformance;

public static partial class PrimitiveCases
{
    /// <summary>A convolution problem: x [N, C, H, W] with w [O, C/groups, KH, KW] and its geometry.</summary>
    private readonly record struct ConvProblem(int[] Input, int[] Weight, Conv2dGeometry Geometry, bool Bias)
    {
        public int OutH => OutputSize(Input[2], Weight[2], Geometry.StrideH, Geometry.PadH, Geometry.DilationH, ceil: false);
        public int OutW => OutputSize(Input[3], Weight[3], Geometry.StrideW, Geometry.PadW, Geometry.DilationW, ceil: false);
        public int[] Output => [Input[0], Weight[0], OutH, OutW];

        public override string ToString() =>
            $"x {ShapeChecks.Format(Input)} w {ShapeChecks.Format(Weight)} stride ({Geometry.StrideH}, {Geometry.StrideW}) pad ({Geometry.PadH}, {Geometry.PadW}) " +
            $"dilation ({Geometry.DilationH}, {Geometry.DilationW}) groups {Geometry.Groups}{(Bias ? " with bias" : "")}";
    }

    /// <summary>
    /// The documented sliding-window output length, ⌊(n + 2p − d·(k − 1) − 1) / s⌋ + 1 (rounded up with ceil mode, where the
    /// last window must start inside the input or its left padding): the test's own statement of the rule, so that
    /// the cases do not lean on the geometry code under test.
    /// </summary>
    private static int OutputSize(int n, int k, int s, int p, int d, bool ceil)
    {
        int numerator = n + 2 * p - d * (k - 1) - 1;
        int size = (ceil ? (numerator + s - 1) / s : numerator / s) + 1;
        return ceil && (size - 1) * s >= n + p ? size - 1 : size;
    }

    /// <summary>Edge problems (empty batch, pointwise, depthwise, kernel wider than the input, one output pixel), random ones and one threaded.</summary>
    private static IEnumerable<ConvProblem> ConvProblems(Random rng)
    {
        yield return new([0, 2, 5, 5], [3, 2, 3, 3], new(1, 1, 1, 1, 1, 1, 1), true);
        yield return new([2, 3, 4, 5], [4, 3, 1, 1], new(1, 1, 0, 0, 1, 1, 1), false);
        yield return new([1, 6, 7, 6], [6, 1, 3, 3], new(2, 1, 1, 1, 1, 1, 6), true);
        yield return new([1, 2, 2, 3], [2, 2, 4, 5], new(1, 1, 2, 2, 1, 1, 1), true);
        yield return new([2, 1, 3, 3], [1, 1, 3, 3], new(1, 1, 0, 0, 1, 1, 1), false);
        yield return new([2, 16, 20, 20], [16, 16, 3, 3], new(1, 1, 1, 1, 1, 1, 1), true);
        for (int i = 0; i < 14; i++)
        {
            int groups = rng.Next(1, 4), c = groups * rng.Next(1, 4), o = groups * rng.Next(1, 3);
            int kh = rng.Next(1, 5), kw = rng.Next(1, 5), ph = rng.Next(0, 3), pw = rng.Next(0, 3), dh = rng.Next(1, 3), dw = rng.Next(1, 3);
            int h = Math.Max(1, dh * (kh - 1) + 1 - 2 * ph) + rng.Next(0, 8);
            int w = Math.Max(1, dw * (kw - 1) + 1 - 2 * pw) + rng.Next(0, 8);
            yield return new([rng.Next(1, 3), c, h, w], [o, c / groups, kh, kw], new(rng.Next(1, 4), rng.Next(1, 4), ph, pw, dh, dw, groups), rng.Next(2) == 0);
        }
    }

    [CasesFor(nameof(IBackend.Conv2d))]
    public static IEnumerable<ConformanceCase> Conv2d(Random rng)
    {
        foreach (var dtype in Floats)
            foreach (var p in ConvProblems(rng))
            {
                Tensor[] inputs = p.Bias
                    ? [Make(rng, p.Input, dtype), Make(rng, p.Weight, dtype), Make(rng, [p.Weight[0]], dtype)]
                    : [Make(rng, p.Input, dtype), Make(rng, p.Weight, dtype)];
                int terms = p.Weight[1] * p.Weight[2] * p.Weight[3] + 1;
                yield return new($"{dtype.Name()} {p}", inputs, (b, i) => [b.Conv2d(i[0], i[1], i.Length > 2 ? i[2] : null, p.Geometry)], Tolerance.Accumulation(terms));
            }
    }

    [CasesFor(nameof(IBackend.Conv2dRelu))]
    public static IEnumerable<ConformanceCase> Conv2dRelu(Random rng)
    {
        foreach (var dtype in Floats)
            foreach (var p in ConvProblems(rng))
            {
                // relu(conv + bias + residual) with a residual of the output's shape, then relu(conv + bias) alone.
                var x = Make(rng, p.Input, dtype);
                var w = Make(rng, p.Weight, dtype);
                var bias = Make(rng, [p.Weight[0]], dtype);
                var residual = Contiguous(rng, p.Output, dtype, WithSpecials(r => 2 * Normal(r)));
                int terms = p.Weight[1] * p.Weight[2] * p.Weight[3] + 2;
                yield return new($"{dtype.Name()} {p} with a residual", [x, w, bias, residual], (b, i) => [b.Conv2dRelu(i[0], i[1], i[2], p.Geometry, i[3])], Tolerance.Accumulation(terms));
                yield return new($"{dtype.Name()} {p}", [x, w], (b, i) => [b.Conv2dRelu(i[0], i[1], null, p.Geometry, null)], Tolerance.Accumulation(terms));
            }
    }

    [CasesFor(nameof(IBackend.Conv2dReluMaxPool2d))]
    public static IEnumerable<ConformanceCase> Conv2dReluMaxPool2d(Random rng)
    {
        // Stems the fused kernels take in float32 (3x3 stride-2 pool, ceil mode or not; a 2x2 pool), then random
        // problems, which take the ops in turn, each with a 2x2 pool where its output has two rows and columns.
        ConvProblem[] stems =
        [
            new([1, 3, 40, 200], [32, 3, 7, 7], new(2, 2, 3, 3, 1, 1, 1), true),
            new([2, 1, 23, 199], [16, 1, 5, 5], new(2, 2, 2, 2, 1, 1, 1), false),
        ];
        foreach (var dtype in Floats)
        {
            foreach (var p in stems)
                foreach (var pool in new Pool2dGeometry[] { new(3, 3, 2, 2, 1, 1, 1, 1), new(3, 3, 2, 2, 1, 1, 1, 1, CeilMode: true), new(2, 2, 2, 2, 0, 0, 1, 1) })
                    yield return ReluPoolCase(rng, dtype, p, pool);
            foreach (var p in ConvProblems(rng).Where(p => p.Input[0] > 0 && p.OutH >= 2 && p.OutW >= 2))
                yield return ReluPoolCase(rng, dtype, p, new Pool2dGeometry(2, 2, 2, 2, 0, 0, 1, 1));
        }
    }

    private static ConformanceCase ReluPoolCase(Random rng, DType dtype, ConvProblem p, Pool2dGeometry pool)
    {
        Tensor[] inputs = p.Bias
            ? [Make(rng, p.Input, dtype), Make(rng, p.Weight, dtype), Make(rng, [p.Weight[0]], dtype)]
            : [Make(rng, p.Input, dtype), Make(rng, p.Weight, dtype)];
        int terms = p.Weight[1] * p.Weight[2] * p.Weight[3] + 1;
        return new($"{dtype.Name()} {p} pool ({pool.KernelH}, {pool.KernelW}) stride {pool.StrideH} pad {pool.PadH}{(pool.CeilMode ? " ceil" : "")}", inputs,
            (b, i) => [b.Conv2dReluMaxPool2d(i[0], i[1], i.Length > 2 ? i[2] : null, p.Geometry, pool)], Tolerance.Accumulation(terms));
    }

    [CasesFor(nameof(IBackend.Conv2dBackwardInput))]
    public static IEnumerable<ConformanceCase> Conv2dBackwardInput(Random rng)
    {
        foreach (var dtype in Floats)
            foreach (var p in ConvProblems(rng))
            {
                var g = Make(rng, p.Output, dtype);
                var w = Make(rng, p.Weight, dtype);
                int terms = p.Weight[0] / p.Geometry.Groups * p.Weight[2] * p.Weight[3];
                yield return new($"{dtype.Name()} {p}", [g, w], (b, i) => [b.Conv2dBackwardInput(i[0], i[1], p.Input, p.Geometry)], Tolerance.Accumulation(terms));
            }
    }

    [CasesFor(nameof(IBackend.Conv2dBackwardWeight))]
    public static IEnumerable<ConformanceCase> Conv2dBackwardWeight(Random rng)
    {
        foreach (var dtype in Floats)
            foreach (var p in ConvProblems(rng))
            {
                var x = Make(rng, p.Input, dtype);
                var g = Make(rng, p.Output, dtype);
                int terms = p.Input[0] * p.OutH * p.OutW;
                yield return new($"{dtype.Name()} {p}", [x, g], (b, i) => [b.Conv2dBackwardWeight(i[0], i[1], p.Weight, p.Geometry)], Tolerance.Accumulation(terms));
            }
    }

    /// <summary>A pooling problem: x [N, C, H, W] and its window; the output size is the test's own <see cref="OutputSize"/>.</summary>
    private readonly record struct PoolProblem(int[] Input, Pool2dGeometry Geometry)
    {
        private Pool2dGeometry G => Geometry;
        public int OutH => OutputSize(Input[2], G.KernelH, G.StrideH, G.PadH, G.DilationH, G.CeilMode);
        public int OutW => OutputSize(Input[3], G.KernelW, G.StrideW, G.PadW, G.DilationW, G.CeilMode);
        public int[] Output => [Input[0], Input[1], OutH, OutW];

        /// <summary>The most windows one input element can fall in: ⌈span / stride⌉ along each axis.</summary>
        public int Overlap
        {
            get
            {
                int spanH = G.DilationH * (G.KernelH - 1) + 1, spanW = G.DilationW * (G.KernelW - 1) + 1;
                return (spanH + G.StrideH - 1) / G.StrideH * ((spanW + G.StrideW - 1) / G.StrideW);
            }
        }

        public override string ToString() =>
            $"x {ShapeChecks.Format(Input)} kernel ({G.KernelH}, {G.KernelW}) stride ({G.StrideH}, {G.StrideW}) pad ({G.PadH}, {G.PadW}) " +
            $"dilation ({G.DilationH}, {G.DilationW}) out ({OutH}, {OutW}){(G.CeilMode ? " ceil" : "")}{(G.CountIncludePad ? "" : " excluding pad")}";
    }

    /// <summary>Edge problems (empty planes, 1×1 input, kernel 1) and random ones (padding at most half the kernel, as callers require); average pooling has no dilation.</summary>
    private static IEnumerable<PoolProblem> PoolProblems(Random rng, bool dilation)
    {
        yield return Pool([0, 3, 4, 4], 2, 2, 2, 2, 0, 0, 1, 1, false, true);
        yield return Pool([2, 0, 4, 4], 2, 2, 2, 2, 0, 0, 1, 1, false, true);
        yield return Pool([1, 1, 1, 1], 1, 1, 1, 1, 0, 0, 1, 1, false, true);
        yield return Pool([2, 3, 5, 5], 3, 3, 2, 2, 1, 1, 1, 1, true, false);
        yield return Pool([2, 32, 96, 96], 3, 3, 2, 2, 1, 1, 1, 1, false, true); // threaded over planes (ResNet's stem window)
        for (int i = 0; i < 14; i++)
        {
            int kh = rng.Next(1, 4), kw = rng.Next(1, 4), dh = dilation ? rng.Next(1, 3) : 1, dw = dilation ? rng.Next(1, 3) : 1;
            int ph = rng.Next(0, kh / 2 + 1), pw = rng.Next(0, kw / 2 + 1);
            int h = Math.Max(1, dh * (kh - 1) + 1 - 2 * ph) + rng.Next(0, 7);
            int w = Math.Max(1, dw * (kw - 1) + 1 - 2 * pw) + rng.Next(0, 7);
            yield return Pool([rng.Next(1, 3), rng.Next(1, 4), h, w], kh, kw, rng.Next(1, 4), rng.Next(1, 4), ph, pw, dh, dw, rng.Next(2) == 0, rng.Next(2) == 0);
        }
    }

    private static PoolProblem Pool(int[] input, int kh, int kw, int sh, int sw, int ph, int pw, int dh, int dw, bool ceil, bool countIncludePad) =>
        new(input, new Pool2dGeometry(kh, kw, sh, sw, ph, pw, dh, dw, ceil, countIncludePad));

    [CasesFor(nameof(IBackend.MaxPool2d))]
    public static IEnumerable<ConformanceCase> MaxPool2d(Random rng)
    {
        foreach (var dtype in Floats)
            foreach (var p in PoolProblems(rng, dilation: true))
            {
                // Ties (the first maximum's index wins), NaN, ±∞ and ±0.
                var x = Make(rng, p.Input, dtype, WithSpecials(Ties, 16));
                yield return new($"{dtype.Name()} {p}", [x], (b, i) => { var (v, k) = b.MaxPool2d(i[0], p.Geometry); return [v, k]; }, Tolerance.Exact);
            }
    }

    [CasesFor(nameof(IBackend.MaxPool2dValues))]
    public static IEnumerable<ConformanceCase> MaxPool2dValues(Random rng)
    {
        foreach (var dtype in Floats)
            foreach (var p in PoolProblems(rng, dilation: true))
            {
                var x = Make(rng, p.Input, dtype, WithSpecials(Ties, 16));
                yield return new($"{dtype.Name()} {p}", [x], (b, i) => [b.MaxPool2dValues(i[0], p.Geometry)], Tolerance.Exact);
            }
    }

    [CasesFor(nameof(IBackend.MaxPool2dBackward))]
    public static IEnumerable<ConformanceCase> MaxPool2dBackward(Random rng)
    {
        foreach (var dtype in Floats)
            foreach (var p in PoolProblems(rng, dilation: true))
            {
                // Real argmax indices (from the oracle's forward pass on tie-heavy data, so windows share winners), in a random layout.
                var indices = Relayout(rng, ConformanceBackends.Oracle.MaxPool2d(Make(rng, p.Input, dtype, Ties), p.Geometry).Indices);
                var g = Make(rng, p.Output, dtype);
                yield return new($"{dtype.Name()} {p}", [g, indices], (b, i) => [b.MaxPool2dBackward(i[0], i[1], p.Input)], Tolerance.Accumulation(p.Overlap));
                // An index outside its input plane (which a flat buffer would silently send to the wrong plane) is rejected.
                if (indices.Numel > 0 && dtype == DType.Float32)
                    yield return new($"index out of its plane, {p}", [g, OutOfRange(rng, indices, p.Input[2] * p.Input[3])],
                        (b, i) => [b.MaxPool2dBackward(i[0], i[1], p.Input)], Tolerance.Exact)
                    { Rejects = typeof(ArgumentException) };
            }
    }

    [CasesFor(nameof(IBackend.AvgPool2d))]
    public static IEnumerable<ConformanceCase> AvgPool2d(Random rng)
    {
        foreach (var dtype in Floats)
            foreach (var p in PoolProblems(rng, dilation: false))
            {
                var x = Make(rng, p.Input, dtype);
                yield return new($"{dtype.Name()} {p}", [x], (b, i) => [b.AvgPool2d(i[0], p.Geometry)], Tolerance.Accumulation(p.Geometry.KernelH * p.Geometry.KernelW + 1));
            }
    }

    [CasesFor(nameof(IBackend.AvgPool2dBackward))]
    public static IEnumerable<ConformanceCase> AvgPool2dBackward(Random rng)
    {
        foreach (var dtype in Floats)
            foreach (var p in PoolProblems(rng, dilation: false))
            {
                var g = Make(rng, p.Output, dtype);
                yield return new($"{dtype.Name()} {p}", [g], (b, i) => [b.AvgPool2dBackward(i[0], p.Input, p.Geometry)], Tolerance.Accumulation(p.Overlap + 1));
            }
    }
}
