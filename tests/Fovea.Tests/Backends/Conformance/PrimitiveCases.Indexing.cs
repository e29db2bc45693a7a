using Fovea.Backends;
using static Fovea.Tests.Backends.Conformance.CaseTensors;

namespace Fovea.Tests.Backends.Conformance;

public static partial class PrimitiveCases
{
    [CasesFor(nameof(IBackend.BatchedMatMul))]
    public static IEnumerable<ConformanceCase> BatchedMatMul(Random rng)
    {
        // (batch, m, k, n): empty batch, rows, inner dim (the product is zeros) and columns; vectors; random; a long
        // inner dim; many small matrices (batches run in parallel) and one large enough for the threaded GEMM.
        var sizes = new List<(int B, int M, int K, int N)>
        {
            (0, 3, 4, 5), (2, 0, 4, 5), (2, 3, 0, 5), (2, 3, 4, 0), (1, 1, 1, 1), (1, 1, 9, 1), (3, 1, 7, 5), (2, 6, 7, 1),
            (1, 17, 700, 9), (48, 5, 6, 7), (1, 96, 80, 72),
        };
        for (int i = 0; i < 8; i++) sizes.Add((rng.Next(1, 4), rng.Next(1, 24), rng.Next(1, 40), rng.Next(1, 24)));
        foreach (var dtype in Floats)
            foreach (var (batch, m, k, n) in sizes)
            {
                // Random layouts include the transposed ones GEMM reads in place, stride-0 batches and copies-needed strides.
                var a = Make(rng, [batch, m, k], dtype);
                var b = rng.Next(3) == 0 ? Permute(Make(rng, [batch, n, k], dtype), 0, 2, 1) : Make(rng, [batch, k, n], dtype);
                yield return new($"{dtype.Name()} [{batch}, {m}, {k}] @ [{batch}, {k}, {n}]", [a, b], (be, i) => [be.BatchedMatMul(i[0], i[1])], Tolerance.Accumulation(k));
            }
    }

    [CasesFor(nameof(IBackend.IndexSelect))]
    public static IEnumerable<ConformanceCase> IndexSelect(Random rng)
    {
        foreach (var dtype in AllDTypes)
            foreach (var shape in Shapes(rng, 1, 4, 6, random: 6))
            {
                int dim = rng.Next(shape.Length);
                int count = shape[dim] == 0 ? 0 : rng.Next(0, 8);
                var x = Make(rng, shape, dtype);
                var index = Index(rng, [count], shape[dim]); // repeats allowed, and stride 0 repeats one entry
                yield return new($"{dtype.Name()} along dim {dim}", [x, index], (b, i) => [b.IndexSelect(i[0], dim, i[1])], Tolerance.Exact);
            }
        foreach (var (shape, dim) in OutOfRangeProblems(rng))
        {
            var index = OutOfRange(rng, Index(rng, [rng.Next(1, 6)], shape[dim]), shape[dim]);
            yield return new($"index out of range along dim {dim}", [Make(rng, shape, DType.Float32), index], (b, i) => [b.IndexSelect(i[0], dim, i[1])],
                Tolerance.Exact)
            { Rejects = typeof(ShapeException) };
        }
    }

    /// <summary>Non-empty shapes, each with a dim, for out-of-range index cases.</summary>
    private static IEnumerable<(int[] Shape, int Dim)> OutOfRangeProblems(Random rng)
    {
        for (int i = 0; i < 3; i++)
        {
            var shape = Shape(rng, 1, 3, 4);
            yield return (shape, rng.Next(shape.Length));
        }
    }

    [CasesFor(nameof(IBackend.Gather))]
    public static IEnumerable<ConformanceCase> Gather(Random rng)
    {
        foreach (var dtype in AllDTypes)
            foreach (var shape in Shapes(rng, 1, 4, 6, random: 6))
            {
                int dim = rng.Next(shape.Length);
                var x = Make(rng, shape, dtype);
                var index = Index(rng, IndexShape(rng, shape, dim), shape[dim]);
                yield return new($"{dtype.Name()} along dim {dim}", [x, index], (b, i) => [b.Gather(i[0], dim, i[1])], Tolerance.Exact);
            }
        foreach (var (shape, dim) in OutOfRangeProblems(rng))
        {
            var index = OutOfRange(rng, Index(rng, shape, shape[dim]), shape[dim]);
            yield return new($"index out of range along dim {dim}", [Make(rng, shape, DType.Float64), index], (b, i) => [b.Gather(i[0], dim, i[1])],
                Tolerance.Exact)
            { Rejects = typeof(ShapeException) };
        }
    }

    [CasesFor(nameof(IBackend.ScatterAdd))]
    public static IEnumerable<ConformanceCase> ScatterAdd(Random rng)
    {
        foreach (var dtype in Numbers)
            foreach (var shape in Shapes(rng, 1, 4, 6, random: 6))
            {
                int dim = rng.Next(shape.Length);
                var x = Make(rng, shape, dtype);
                var indexShape = IndexShape(rng, shape, dim);
                var index = Index(rng, indexShape, shape[dim]); // repeated targets accumulate
                var src = Make(rng, indexShape.Select(s => s + rng.Next(2)).ToArray(), dtype);
                yield return new($"{dtype.Name()} along dim {dim}", [x, index, src], (b, i) => [b.ScatterAdd(i[0], dim, i[1], i[2])],
                    Tolerance.Accumulation(indexShape[dim] + 1));
            }
        foreach (var (shape, dim) in OutOfRangeProblems(rng))
        {
            var index = OutOfRange(rng, Index(rng, shape, shape[dim]), shape[dim]);
            yield return new($"index out of range along dim {dim}", [Make(rng, shape, DType.Float32), index, Make(rng, shape, DType.Float32)],
                (b, i) => [b.ScatterAdd(i[0], dim, i[1], i[2])], Tolerance.Exact)
            { Rejects = typeof(ShapeException) };
        }
    }

    /// <summary>An index shape for gather/scatter along <paramref name="dim"/>: no larger than x off that dim, any length along it (none when x is empty there).</summary>
    private static int[] IndexShape(Random rng, int[] shape, int dim) =>
        shape.Select((s, d) => d == dim ? (s == 0 ? 0 : rng.Next(0, 6)) : rng.Next(0, 4) == 0 ? rng.Next(0, s + 1) : s).ToArray();

    [CasesFor(nameof(IBackend.Cat))]
    public static IEnumerable<ConformanceCase> Cat(Random rng)
    {
        foreach (var dtype in AllDTypes)
            for (int c = 0; c < 10; c++)
            {
                var shape = Shape(rng, 1, 4, 5);
                int dim = rng.Next(shape.Length);
                var parts = new Tensor[c == 0 ? 1 : rng.Next(2, 5)];
                for (int p = 0; p < parts.Length; p++)
                {
                    var partShape = (int[])shape.Clone();
                    partShape[dim] = rng.Next(0, 4); // empty parts included
                    parts[p] = Make(rng, partShape, dtype);
                }
                var outShape = (int[])shape.Clone();
                outShape[dim] = parts.Sum(p => p.Shape[dim]);
                yield return new($"{dtype.Name()} {parts.Length} parts along dim {dim}", parts, (b, i) => [b.Cat(i, dim, outShape)], Tolerance.Exact);
            }
    }
}
