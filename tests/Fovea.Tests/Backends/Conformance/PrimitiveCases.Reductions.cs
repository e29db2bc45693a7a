using Fovea.Backends;
using static Fovea.Tests.Backends.Conformance.CaseTensors;

namespace Fovea.Tests.Backends.Conformance;

public static partial class PrimitiveCases
{
    [CasesFor(nameof(IBackend.Reduce))]
    public static IEnumerable<ConformanceCase> Reduce(Random rng)
    {
        foreach (var op in Enum.GetValues<ReduceOp>())
            foreach (var dtype in Numbers)
            {
                Draw? draw = (op, dtype) switch
                {
                    // Products stay near 1 in magnitude (floats) or in {-1, 0, 1} (ints, which would overflow otherwise).
                    (ReduceOp.Prod, DType.Int32) => r => r.Next(12) == 0 ? 0 : r.Next(2) * 2 - 1,
                    (ReduceOp.Prod, _) => r => (r.Next(2) * 2 - 1) * (0.5 + r.NextDouble()),
                    (ReduceOp.Max or ReduceOp.Min, not DType.Int32) => WithSpecials(Ties),
                    _ => null,
                };
                foreach (var shape in Shapes(rng, 0, 4, 7, random: 5))
                {
                    var dims = Enumerable.Range(0, shape.Length).Where(_ => rng.Next(2) == 0).ToArray();
                    rng.Shuffle(dims);
                    // An empty max/min (a reduced dim of size 0 with outputs left) has no value; callers reject it.
                    if (op is ReduceOp.Max or ReduceOp.Min && dims.Any(d => shape[d] == 0) && shape.Where((s, d) => !dims.Contains(d)).All(s => s > 0))
                        continue;
                    yield return ReduceCase(op, Make(rng, shape, dtype, draw), dims, rng.Next(2) == 0);
                }
                if (dtype == DType.Float32)
                    for (int dim = 0; dim < 2; dim++)
                    {
                        // Threaded, and the blocked float32 sums: reduced columns (dim 0, length 300) and rows (dim 1).
                        yield return ReduceCase(op, Contiguous(rng, [300, 257], dtype, draw), [dim], keepDim: false);
                        yield return ReduceCase(op, Make(rng, [300, 257], dtype, draw), [dim], keepDim: true);
                    }
            }
    }

    private static ConformanceCase ReduceCase(ReduceOp op, Tensor x, int[] dims, bool keepDim)
    {
        int terms = dims.Aggregate(1, (n, d) => n * x.Shape[d]);
        var tolerance = op is ReduceOp.Sum or ReduceOp.Prod ? Tolerance.Accumulation(terms) : Tolerance.Exact;
        return new($"{op} over dims {ShapeChecks.Format(dims)}{(keepDim ? " keeping them" : "")}", [x], (b, i) => [b.Reduce(op, i[0], dims, keepDim)], tolerance);
    }

    [CasesFor(nameof(IBackend.ArgReduce))]
    public static IEnumerable<ConformanceCase> ArgReduce(Random rng)
    {
        foreach (bool max in new[] { true, false })
            foreach (var dtype in Numbers)
            {
                // Ties everywhere (the first extreme wins), and for floats NaN (which counts as the extreme), ±∞ and ±0.
                Draw draw = dtype.IsFloating() ? WithSpecials(Ties, 10) : Ties;
                var shapes = WithLarge(Shapes(rng, 1, 4, 7, random: 6), dtype, [300, 257]);
                foreach (var shape in shapes)
                {
                    int dim = rng.Next(shape.Length);
                    if (shape[dim] == 0) continue; // an empty arg-reduction has no answer; callers reject it
                    var x = Make(rng, shape, dtype, draw);
                    bool keepDim = rng.Next(2) == 0;
                    yield return new($"{(max ? "max" : "min")} along dim {dim}{(keepDim ? " keeping it" : "")}", [x],
                        (b, i) => { var (v, k) = b.ArgReduce(max, i[0], dim, keepDim); return [v, k]; }, Tolerance.Exact);
                }
            }
    }

    /// <summary>
    /// Softmax shapes: the sweep's (0-d, one element, empty, random ranks up to 4) and, for float32, a [N, C, H, W]
    /// tensor whose planes pass one tile of the strided kernel and rows longer than a vector.
    /// </summary>
    private static IEnumerable<int[]> SoftmaxShapes(Random rng, DType dtype)
    {
        foreach (var shape in Shapes(rng, 0, 4, 7, random: 6)) yield return shape;
        if (dtype == DType.Float32)
        {
            yield return [2, 20, 33, 20];
            yield return [3, 700];
        }
    }

    /// <summary>
    /// Softmax and log-softmax along a random dim, one value in sixteen NaN, ±∞ or ±0 (a NaN or +∞ makes its slice
    /// NaN). The backend's e^(x − m) is within a few ulps and its sum of n terms within γ(n) relative, so softmax is
    /// checked to (16 + 2n) ulps; log-softmax is a difference x − m − log Σ of values up to 2·max|x| + log n, checked
    /// to that size times 4 u plus the sum's 2n u.
    /// </summary>
    [CasesFor(nameof(IBackend.Softmax))]
    public static IEnumerable<ConformanceCase> Softmax(Random rng)
    {
        foreach (bool log in new[] { false, true })
            foreach (var dtype in Floats)
                foreach (var shape in SoftmaxShapes(rng, dtype))
                {
                    int dim = shape.Length == 0 ? 0 : rng.Next(shape.Length), n = shape.Length == 0 ? 1 : shape[dim];
                    var x = Make(rng, shape, dtype, WithSpecials(r => 4 * Normal(r), 16));
                    double maxAbs = Read(x).Where(double.IsFinite).Select(Math.Abs).DefaultIfEmpty(0).Max();
                    var tolerance = log ? new Tolerance(4, 4 * (2 * maxAbs + Math.Log(Math.Max(n, 1)) + 1) + 2 * n + 16, 0) : new Tolerance(16 + 2 * n, 16, 0);
                    yield return new($"{dtype.Name()} dim {dim}{(log ? ", log" : "")}", [x], (be, i) => [be.Softmax(i[0], dim, log)], tolerance);
                }
    }

    /// <summary>
    /// The softmax gradients from the oracle's output of random finite inputs: y·(g − Σ g·y) sums n terms no larger than
    /// max|g| (y ≤ 1), and g − e^y·Σ g subtracts from g up to n·max|g|; both checked to 4(n + 6) times that size in u.
    /// </summary>
    [CasesFor(nameof(IBackend.SoftmaxBackward))]
    public static IEnumerable<ConformanceCase> SoftmaxBackward(Random rng)
    {
        foreach (bool log in new[] { false, true })
            foreach (var dtype in Floats)
                foreach (var shape in SoftmaxShapes(rng, dtype))
                {
                    int dim = shape.Length == 0 ? 0 : rng.Next(shape.Length), n = shape.Length == 0 ? 1 : shape[dim];
                    var y = Relayout(rng, ConformanceBackends.Oracle.Softmax(Make(rng, shape, dtype, r => 4 * Normal(r)), dim, log));
                    var g = Make(rng, shape, dtype);
                    double maxG = Read(g).Select(Math.Abs).DefaultIfEmpty(0).Max();
                    var tolerance = new Tolerance(4, 4 * (n + 6) * (log ? n : 1) * maxG, 0);
                    yield return new($"{dtype.Name()} dim {dim}{(log ? ", log" : "")}", [g, y], (be, i) => [be.SoftmaxBackward(i[0], i[1], dim, log)], tolerance);
                }
    }
}
