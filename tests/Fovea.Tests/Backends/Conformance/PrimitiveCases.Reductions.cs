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
}
