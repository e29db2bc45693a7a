using Fovea.Backends;
using static Fovea.Tests.Backends.Conformance.CaseTensors;

namespace Fovea.Tests.Backends.Conformance;

/// <summary>
/// The case tables of the conformance suite, one generator per <see cref="IBackend"/> primitive (split over partial
/// files by area). Adding a primitive is one method here, marked <c>[CasesFor(nameof(IBackend.X))]</c>, that yields
/// <see cref="ConformanceCase"/>s from the seeded <see cref="Random"/> it is given: random shapes and layouts
/// (<see cref="CaseTensors"/>), the edge cases of the primitive (empty, one element, broadcast, stride 0), each
/// accepted dtype, and the <see cref="Tolerance"/> its arithmetic earns.
/// </summary>
public static partial class PrimitiveCases
{
    private static readonly DType[] Floats = [DType.Float32, DType.Float64];
    private static readonly DType[] Numbers = [DType.Float32, DType.Float64, DType.Int32];
    private static readonly DType[] AllDTypes = Enum.GetValues<DType>();

    /// <summary>Elements above which the CPU backend's loops split over threads (2 × 2^15), for one large case per primitive.</summary>
    private const int Threaded = 70_000;

    /// <summary>
    /// <paramref name="shapes"/>, plus <paramref name="large"/> for float32 only: the threaded loops are the same for
    /// every dtype, and the oracle's plain loops make large cases the bulk of the suite's time.
    /// </summary>
    private static IEnumerable<int[]> WithLarge(IEnumerable<int[]> shapes, DType dtype, int[] large) =>
        dtype == DType.Float32 ? shapes.Append(large) : shapes;

    [CasesFor(nameof(IBackend.Assign))]
    public static IEnumerable<ConformanceCase> Assign(Random rng)
    {
        foreach (var dtype in AllDTypes)
            foreach (var shape in WithLarge(Shapes(rng, 0, 4, 5, random: 5), dtype, [Threaded]))
            {
                // The destination is a strided view (never stride 0: its elements must be distinct); the whole of its
                // storage is compared, so a write outside the view fails too.
                var dst = Make(rng, shape, dtype, broadcast: false);
                var src = Make(rng, BroadcastFrom(rng, shape), dtype);
                yield return new($"{dtype.Name()} into a view", [dst, src], (b, i) =>
                {
                    var d = CloneStorage(i[0]);
                    b.Assign(d, i[1]);
                    return [WholeStorage(d)];
                }, Tolerance.Exact);
            }
    }

    [CasesFor(nameof(IBackend.Cast))]
    public static IEnumerable<ConformanceCase> Cast(Random rng)
    {
        // Fractions of both signs (float → int truncates toward zero), values beyond int32 (saturate), NaN and ±∞.
        Draw floats = WithSpecials(r => r.Next(8) == 0 ? 3e9 * Normal(r) : 50 * Normal(r));
        foreach (var from in AllDTypes)
            foreach (var to in AllDTypes)
                foreach (var shape in Shapes(rng, 0, 3, 6, random: 2))
                {
                    var x = Make(rng, shape, from, from.IsFloating() ? floats : null);
                    yield return new($"{from.Name()} → {to.Name()}", [x], (b, i) => [b.Cast(i[0], to)], Tolerance.Exact);
                }
    }

    [CasesFor(nameof(IBackend.Unary))]
    public static IEnumerable<ConformanceCase> Unary(Random rng)
    {
        foreach (var op in Enum.GetValues<UnaryOp>())
        {
            bool integer = op is UnaryOp.Neg or UnaryOp.Abs or UnaryOp.Sign or UnaryOp.Relu;
            var tolerance = integer ? Tolerance.Exact : op == UnaryOp.Sqrt ? Tolerance.Rounded : Tolerance.Function;
            Draw draw = WithSpecials(op is UnaryOp.Log or UnaryOp.Sqrt or UnaryOp.Rsqrt ? Positive : r => 3 * Normal(r));
            foreach (var dtype in integer ? Numbers : Floats)
                foreach (var shape in WithLarge(Shapes(rng, 0, 4, 6, random: 3), dtype, [Threaded]))
                {
                    var x = Make(rng, shape, dtype, dtype.IsFloating() ? draw : null);
                    yield return new($"{op} {dtype.Name()}", [x], (b, i) => [b.Unary(op, i[0])], tolerance);
                }
        }
    }

    [CasesFor(nameof(IBackend.AddRelu))]
    public static IEnumerable<ConformanceCase> AddRelu(Random rng)
    {
        Draw draw = WithSpecials(r => 2 * Normal(r));
        foreach (var dtype in Floats)
        {
            // The large case splits over threads (the CPU backend's pass takes 2^15 elements per thread).
            foreach (var shape in WithLarge(Shapes(rng, 0, 4, 5, random: 4), dtype, [3 << 17]))
            {
                // Strided or broadcast operands into a new contiguous destination; then relu alone.
                var a = Make(rng, shape, dtype, draw, broadcast: false);
                var b = Make(rng, BroadcastFrom(rng, shape), dtype, draw);
                yield return new($"{dtype.Name()} {ShapeChecks.Format(shape)} into a new tensor", [a, b], (k, i) =>
                {
                    var d = Tensor.Zeros(shape, dtype);
                    k.AddRelu(d, i[0], i[1]);
                    return [d];
                }, Tolerance.Rounded);
                yield return new($"{dtype.Name()} {ShapeChecks.Format(shape)} relu alone", [a], (k, i) =>
                {
                    var d = Tensor.Zeros(shape, dtype);
                    k.AddRelu(d, i[0], null);
                    return [d];
                }, Tolerance.Exact);
                // In place: the destination is the first operand (contiguous, the blocked fast path) or the second.
                var c = Contiguous(rng, shape, dtype, draw);
                var e = Contiguous(rng, shape, dtype, draw);
                yield return new($"{dtype.Name()} {ShapeChecks.Format(shape)} in place", [c, e], (k, i) =>
                {
                    var first = CloneStorage(i[0]);
                    var second = CloneStorage(i[1]);
                    k.AddRelu(first, first, i[1]);
                    k.AddRelu(second, i[0], second);
                    return [WholeStorage(first), WholeStorage(second)];
                }, Tolerance.Rounded);
            }
        }
    }

    [CasesFor(nameof(IBackend.Binary))]
    public static IEnumerable<ConformanceCase> Binary(Random rng)
    {
        foreach (var op in Enum.GetValues<BinaryOp>())
        {
            bool integer = op is not (BinaryOp.Div or BinaryOp.Pow);
            var tolerance = op switch
            {
                BinaryOp.Pow => Tolerance.Function,
                BinaryOp.Maximum or BinaryOp.Minimum or BinaryOp.MaskPositive => Tolerance.Exact,
                _ => Tolerance.Rounded,
            };
            Draw left = WithSpecials(op == BinaryOp.Pow ? Positive : r => 2 * Normal(r));
            Draw right = WithSpecials(op == BinaryOp.Pow ? r => 4 * r.NextDouble() - 2 : r => 2 * Normal(r));
            foreach (var dtype in integer ? Numbers : Floats)
            {
                Draw? l = dtype.IsFloating() ? left : null, r = dtype.IsFloating() ? right : null;
                foreach (var shape in Shapes(rng, 0, 4, 5, random: 4))
                {
                    var a = Make(rng, rng.Next(3) == 0 ? BroadcastFrom(rng, shape) : shape, dtype, l);
                    var b = Make(rng, BroadcastFrom(rng, shape), dtype, r);
                    yield return BinaryCase(op, a, b, tolerance);
                }
                // One tensor as both operands (a backend must not assume distinct buffers).
                var both = Make(rng, Shape(rng, 1, 3, 5), dtype, l);
                yield return BinaryCase(op, both, both, tolerance);
                // The fast paths of plain tensors (same shape; tensor and scalar), then threaded ones (float32 only, see WithLarge).
                yield return BinaryCase(op, Contiguous(rng, [67], dtype, l), Contiguous(rng, [67], dtype, r), tolerance);
                yield return BinaryCase(op, Contiguous(rng, [5, 13], dtype, l), Make(rng, [], dtype, r), tolerance);
                if (dtype != DType.Float32) continue;
                yield return BinaryCase(op, Contiguous(rng, [Threaded], dtype, l), Contiguous(rng, [Threaded], dtype, r), tolerance);
                yield return BinaryCase(op, Contiguous(rng, [300, 257], dtype, l), Make(rng, [], dtype, r), tolerance);
                yield return BinaryCase(op, Make(rng, [300, 1], dtype, l), Make(rng, [257], dtype, r), tolerance);
            }
        }
    }

    private static ConformanceCase BinaryCase(BinaryOp op, Tensor a, Tensor b, Tolerance tolerance)
    {
        var shape = ShapeChecks.Broadcast("conformance", a.Shape, b.Shape);
        return new($"{op} {a.DType.Name()} to {ShapeChecks.Format(shape)}", [a, b], (be, i) => [be.Binary(op, i[0], i[1], shape)], tolerance);
    }

    [CasesFor(nameof(IBackend.Compare))]
    public static IEnumerable<ConformanceCase> Compare(Random rng)
    {
        foreach (var op in Enum.GetValues<CompareOp>())
        {
            bool logical = op is CompareOp.And or CompareOp.Or or CompareOp.Xor;
            var dtypes = logical ? [DType.Bool] : op is CompareOp.Eq or CompareOp.Ne ? AllDTypes : Numbers;
            foreach (var dtype in dtypes)
            {
                // Small integers (and NaN, ±∞, ±0 for floats) so that ties are common.
                Draw? draw = dtype.IsFloating() ? WithSpecials(Ties, 8) : dtype == DType.Int32 ? Ties : null;
                foreach (var shape in WithLarge(Shapes(rng, 0, 4, 5, random: 3), dtype, [300, 257]))
                {
                    var a = Make(rng, rng.Next(3) == 0 ? BroadcastFrom(rng, shape) : shape, dtype, draw);
                    var b = Make(rng, BroadcastFrom(rng, shape), dtype, draw);
                    var outShape = ShapeChecks.Broadcast("conformance", a.Shape, b.Shape);
                    yield return new($"{op} {dtype.Name()} to {ShapeChecks.Format(outShape)}", [a, b], (be, i) => [be.Compare(op, i[0], i[1], outShape)], Tolerance.Exact);
                }
            }
        }
    }

    [CasesFor(nameof(IBackend.Where))]
    public static IEnumerable<ConformanceCase> Where(Random rng)
    {
        foreach (var dtype in AllDTypes)
            foreach (var shape in WithLarge(Shapes(rng, 0, 4, 5, random: 5), dtype, [300, 257]))
            {
                var cond = Make(rng, rng.Next(2) == 0 ? BroadcastFrom(rng, shape) : shape, DType.Bool);
                var a = Make(rng, BroadcastFrom(rng, shape), dtype, dtype.IsFloating() ? WithSpecials(Normal) : null);
                var b = Make(rng, BroadcastFrom(rng, shape), dtype);
                var outShape = ShapeChecks.Broadcast("conformance", ShapeChecks.Broadcast("conformance", cond.Shape, a.Shape), b.Shape);
                yield return new($"{dtype.Name()} to {ShapeChecks.Format(outShape)}", [cond, a, b], (be, i) => [be.Where(i[0], i[1], i[2], outShape)], Tolerance.Exact);
            }
    }
}
