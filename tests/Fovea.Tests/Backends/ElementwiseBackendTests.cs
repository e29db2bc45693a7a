using Fovea.Backends;
using static Fovea.Tests.TestUtil;

namespace Fovea.Tests.Backends;

/// <summary>The CPU backend's elementwise kernels held against the plain reference loops.</summary>
public class ElementwiseBackendTests
{
    /// <summary>Shapes with 0-size, 1-size, odd and large (multithreaded: > 2 × 32768 elements) extents.</summary>
    public static readonly int[][] Shapes =
    [
        [], [0], [1], [7], [33], [3, 0, 2], [1, 1], [5, 9], [2, 3, 4], [3, 1, 5, 2], [257, 300],
    ];

    /// <summary>The large shape (multithreaded paths) runs for the transposed layout only, to keep the suite fast.</summary>
    private static bool Skip(Layout layout, int[] shape) => shape.Aggregate(1, (a, b) => a * b) > 10_000 && layout is not Layout.Transposed;

    /// <summary>
    /// Each large pair runs for one layout only (contiguous, transposed and strided respectively) and,
    /// for ops that take several dtypes, for one dtype (the threaded loop is the same for all).
    /// </summary>
    private static bool Skip(Layout layout, int[] a, int[] b, DType dtype, DType large) => dtype != large && IsLarge(a, b) || Skip(layout, a, b);

    private static bool IsLarge(int[] a, int[] b) => ShapeChecks.Broadcast("test", a, b).Aggregate(1, (x, y) => x * y) >= 10_000;

    private static bool Skip(Layout layout, int[] a, int[] b)
    {
        if (ShapeChecks.Broadcast("test", a, b).Aggregate(1, (x, y) => x * y) < 10_000) return false;
        return layout != (b[0], b[^1]) switch { (300, 300) => Layout.Contiguous, (1, 257) => Layout.Transposed, _ => Layout.Strided };
    }

    private static readonly Dictionary<string, Func<Tensor, Tensor>> Unaries = new()
    {
        ["neg"] = x => x.Neg(),
        ["abs"] = x => x.Abs(),
        ["sign"] = x => x.Sign(),
        ["exp"] = x => x.Exp(),
        ["log"] = x => x.Log(),
        ["sqrt"] = x => x.Sqrt(),
        ["rsqrt"] = x => x.Rsqrt(),
        ["sin"] = x => x.Sin(),
        ["cos"] = x => x.Cos(),
        ["tanh"] = x => x.Tanh(),
        ["sigmoid"] = x => x.Sigmoid(),
        ["relu"] = x => x.Relu(),
        ["square"] = x => x.Square(),
        ["reciprocal"] = x => x.Reciprocal(),
        ["neg_operator"] = x => -x,
        ["clamp"] = x => x.Clamp(-0.5, 0.75),
        ["clamp_min"] = x => x.Clamp(min: 0.1),
        ["clamp_max"] = x => x.Clamp(max: -0.2),
    };

    private static readonly HashSet<string> PositiveDomain = ["log", "sqrt", "rsqrt"];

    public static TheoryData<string, DType, Layout> UnaryCases()
    {
        var data = new TheoryData<string, DType, Layout>();
        foreach (var op in Unaries.Keys)
            foreach (var dt in new[] { DType.Float32, DType.Float64 })
                foreach (var layout in new[] { Layout.Contiguous, Layout.Transposed, Layout.Strided, Layout.Expanded })
                    data.Add(op, dt, layout);
        return data;
    }

    [Theory]
    [MemberData(nameof(UnaryCases))]
    public void Unary_float_matches_reference(string op, DType dtype, Layout layout)
    {
        var rng = new Random(op.GetHashCode() & 0xffff);
        Func<Random, double> draw = PositiveDomain.Contains(op) ? r => 0.05 + 3 * r.NextDouble() : r => 3 * Normal(r);
        foreach (var shape in Shapes.Where(s => !Skip(layout, s)))
        {
            var x = Make(shape, dtype, layout, rng, draw);
            CompareBackends($"{op} {dtype} {layout} {Describe(shape)}", () => Unaries[op](x));
        }
    }

    [Theory]
    [InlineData("neg")]
    [InlineData("abs")]
    [InlineData("sign")]
    [InlineData("relu")]
    [InlineData("clamp")]
    public void Unary_int32_matches_reference_exactly(string op)
    {
        var rng = new Random(3);
        foreach (var layout in AllLayouts)
            foreach (var shape in Shapes.Where(s => !Skip(layout, s)))
            {
                var x = Make(shape, DType.Int32, layout, rng);
                Func<Tensor> f = op == "clamp" ? () => x.Clamp(-3, 4) : () => Unaries[op](x);
                CompareBackends($"{op} int32 {layout} {Describe(shape)}", f);
            }
    }

    [Theory]
    [InlineData(DType.Float32)]
    [InlineData(DType.Float64)]
    public void Unary_special_values_match_reference(DType dtype)
    {
        // NaN, ±inf, ±0, tiny and huge values, long enough (67) to take the SIMD path and a tail.
        double[] specials = [double.NaN, double.PositiveInfinity, double.NegativeInfinity, 0.0, -0.0, 1e-30, -1e-30, 1e30, -1e30, 88.5, -88.5, 710, -745, 1, -1, 0.5];
        var values = Enumerable.Range(0, 67).Select(i => specials[i % specials.Length]).ToArray();
        var x = Tensor.FromArray(values, values.Length).To(dtype);
        foreach (var (name, f) in Unaries)
        {
            // Trigonometry of 1e30 is argument-reduction territory where float libraries legitimately differ.
            if (name is "sin" or "cos") continue;
            CompareBackends($"{name} {dtype} specials", () => f(x), () => Ones(values.Length));
        }
    }

    private static double[] Ones(int n) => Enumerable.Repeat(1.0, n).ToArray();

    private static readonly Dictionary<string, Func<Tensor, Tensor, Tensor>> Binaries = new()
    {
        ["add"] = (a, b) => a + b,
        ["sub"] = (a, b) => a - b,
        ["mul"] = (a, b) => a * b,
        ["div"] = (a, b) => a / b,
        ["pow"] = (a, b) => a.Pow(b),
        ["maximum"] = (a, b) => a.Maximum(b),
        ["minimum"] = (a, b) => a.Minimum(b),
        ["add_alpha"] = (a, b) => a.Add(b, -2.5),
        // ReLU's fused backward: a (the upstream gradient) where b (the ReLU input) > 0.
        ["mask_positive"] = (a, b) => Backend.Current.Binary(BinaryOp.MaskPositive, a, b, ShapeChecks.Broadcast("mask_positive", a.Shape, b.Shape)),
    };

    /// <summary>Pairs of shapes that broadcast in every direction, including 0-d and 0-size.</summary>
    public static readonly (int[] A, int[] B)[] BroadcastPairs =
    [
        ([4, 5], [4, 5]), ([3, 1, 5], [4, 5]), ([4, 5], [3, 1, 5]), ([], [3, 4]), ([3, 4], []), ([1], [6]),
        ([3, 1], [1, 4]), ([2, 1, 3, 1], [5, 1, 7]), ([0, 3], [1, 3]), ([2, 0], [2, 1]), ([1, 1, 1], [2, 3, 4]),
        ([257, 300], [300]), ([300, 1], [1, 257]), ([257, 300], [257, 1]),
    ];

    public static TheoryData<string, DType, Layout> BinaryCases()
    {
        var data = new TheoryData<string, DType, Layout>();
        foreach (var op in Binaries.Keys)
            foreach (var dt in new[] { DType.Float32, DType.Float64 })
                foreach (var layout in new[] { Layout.Contiguous, Layout.Transposed, Layout.Strided })
                    data.Add(op, dt, layout);
        return data;
    }

    [Theory]
    [MemberData(nameof(BinaryCases))]
    public void Binary_float_matches_reference_with_broadcasting(string op, DType dtype, Layout layout)
    {
        var rng = new Random(op.Length * 31 + (int)dtype);
        Func<Random, double> baseDraw = op == "pow" ? r => 0.1 + 2 * r.NextDouble() : r => 2 * Normal(r);
        Func<Random, double> otherDraw = op switch
        {
            "pow" => r => 4 * r.NextDouble() - 2,
            "div" => r => (r.Next(2) * 2 - 1) * (0.25 + r.NextDouble()),
            _ => r => 2 * Normal(r),
        };
        foreach (var (sa, sb) in BroadcastPairs.Where(p => !Skip(layout, p.A, p.B, dtype, DType.Float32)))
        {
            var a = Make(sa, dtype, layout, rng, baseDraw);
            var b = Make(sb, dtype, layout == Layout.Strided ? Layout.Offset : layout, rng, otherDraw);
            CompareBackends($"{op} {dtype} {layout} {Describe(sa)} with {Describe(sb)}", () => Binaries[op](a, b));
        }
    }

    [Theory]
    [InlineData("add")]
    [InlineData("sub")]
    [InlineData("mul")]
    [InlineData("maximum")]
    [InlineData("minimum")]
    public void Binary_int32_matches_reference_exactly(string op)
    {
        var rng = new Random(11);
        foreach (var layout in new[] { Layout.Contiguous, Layout.Transposed, Layout.Expanded })
            foreach (var (sa, sb) in BroadcastPairs.Where(p => !Skip(layout, p.A, p.B)))
            {
                var a = Make(sa, DType.Int32, layout, rng);
                var b = Make(sb, DType.Int32, Layout.Contiguous, rng);
                CompareBackends($"{op} int32 {layout} {Describe(sa)} with {Describe(sb)}", () => Binaries[op](a, b));
            }
    }

    [Theory]
    [InlineData(DType.Float32)]
    [InlineData(DType.Float64)]
    public void Scalar_operands_on_either_side_match_reference(DType dtype)
    {
        var rng = new Random(5);
        foreach (var layout in AllLayouts)
        {
            var x = Make([37, 41], dtype, layout, rng);
            var cases = new (string, Func<Tensor>)[]
            {
                ("x+s", () => x + 1.5), ("s+x", () => 1.5 + x), ("x-s", () => x - 0.25), ("s-x", () => 0.25 - x),
                ("x*s", () => x * -3), ("s*x", () => -3 * x), ("x/s", () => x / 7), ("s/x", () => 7 / x),
                ("x^2", () => x.Pow(2)), ("|x|^0.5", () => x.Abs().Pow(0.5)), ("x^3", () => x.Pow(3)),
            };
            foreach (var (name, f) in cases) CompareBackends($"{name} {dtype} {layout}", f);
        }
    }

    [Theory]
    [InlineData(DType.Float32)]
    [InlineData(DType.Float64)]
    public void Binary_special_values_match_reference(DType dtype)
    {
        double[] s = [double.NaN, double.PositiveInfinity, double.NegativeInfinity, 0.0, -0.0, 1, -1, 2.5, -2];
        var a = Tensor.FromArray(s.SelectMany(x => s.Select(_ => x)).ToArray(), s.Length * s.Length).To(dtype);
        var b = Tensor.FromArray(s.SelectMany(_ => s).ToArray(), s.Length * s.Length).To(dtype);
        foreach (var (name, f) in Binaries)
            CompareBackends($"{name} {dtype} specials", () => f(a, b), () => Ones(a.Numel));
    }

    private static readonly Dictionary<string, Func<Tensor, Tensor, Tensor>> Comparisons = new()
    {
        ["eq"] = (a, b) => a.Eq(b),
        ["ne"] = (a, b) => a.Ne(b),
        ["lt"] = (a, b) => a.Lt(b),
        ["le"] = (a, b) => a.Le(b),
        ["gt"] = (a, b) => a.Gt(b),
        ["ge"] = (a, b) => a.Ge(b),
    };

    public static TheoryData<string, DType> CompareCases()
    {
        var data = new TheoryData<string, DType>();
        foreach (var op in Comparisons.Keys)
            foreach (var dt in new[] { DType.Float32, DType.Float64, DType.Int32 })
                data.Add(op, dt);
        return data;
    }

    [Theory]
    [MemberData(nameof(CompareCases))]
    public void Comparison_matches_reference(string op, DType dtype)
    {
        // Small integers (and a NaN for floats) so that ties are common.
        var rng = new Random(17);
        Func<Random, double> draw = dtype == DType.Int32 ? r => r.Next(-2, 3) : r => r.Next(40) == 0 ? double.NaN : r.Next(-2, 3);
        foreach (var layout in new[] { Layout.Contiguous, Layout.Transposed, Layout.Strided })
            foreach (var (sa, sb) in BroadcastPairs.Where(p => !Skip(layout, p.A, p.B, dtype, op is "lt" or "eq" ? dtype : DType.Int32)))
            {
                var a = Make(sa, dtype, layout, rng, draw);
                var b = Make(sb, dtype, Layout.Contiguous, rng, draw);
                CompareBackends($"{op} {dtype} {layout} {Describe(sa)} with {Describe(sb)}", () => Comparisons[op](a, b));
            }
    }

    [Theory]
    [InlineData("and")]
    [InlineData("or")]
    [InlineData("xor")]
    [InlineData("eq")]
    [InlineData("ne")]
    [InlineData("not")]
    public void Logical_ops_on_bool_match_reference(string op)
    {
        var rng = new Random(23);
        foreach (var layout in new[] { Layout.Contiguous, Layout.Transposed, Layout.Expanded })
            foreach (var (sa, sb) in BroadcastPairs.Where(p => !Skip(layout, p.A, p.B)))
            {
                var a = Make(sa, DType.Bool, layout, rng);
                var b = Make(sb, DType.Bool, Layout.Contiguous, rng);
                Func<Tensor> f = op switch
                {
                    "and" => () => a.LogicalAnd(b),
                    "or" => () => a.LogicalOr(b),
                    "xor" => () => a.LogicalXor(b),
                    "eq" => () => a.Eq(b),
                    "ne" => () => a.Ne(b),
                    _ => () => a.LogicalNot(),
                };
                CompareBackends($"{op} bool {layout} {Describe(sa)} with {Describe(sb)}", f);
            }
    }

    [Theory]
    [InlineData(DType.Float32)]
    [InlineData(DType.Float64)]
    [InlineData(DType.Int32)]
    [InlineData(DType.Bool)]
    public void Where_and_masked_fill_match_reference(DType dtype)
    {
        var rng = new Random(29);
        (int[] C, int[] A, int[] B)[] shapes =
        [
            ([4, 5], [4, 5], [4, 5]), ([3, 1, 5], [4, 5], [1]), ([5], [3, 4, 1], []), ([1, 1], [2, 1], [1, 7]),
            ([0, 3], [3], [1, 3]), ([257, 300], [300], [257, 1]),
        ];
        foreach (var layout in new[] { Layout.Contiguous, Layout.Transposed, Layout.Strided })
            foreach (var (sc, sa, sb) in shapes)
            {
                var c = Make(sc, DType.Bool, layout, rng);
                var a = Make(sa, dtype, layout, rng);
                var b = Make(sb, dtype, Layout.Offset, rng);
                CompareBackends($"where {dtype} {layout} {Describe(sc)}, {Describe(sa)}, {Describe(sb)}", () => Tensor.Where(c, a, b));
                CompareBackends($"masked_fill {dtype} {layout} {Describe(sa)} mask {Describe(sc)}", () => a.MaskedFill(c, 1));
            }
    }

    public static TheoryData<DType, DType> CastCases()
    {
        var data = new TheoryData<DType, DType>();
        foreach (var from in Enum.GetValues<DType>())
            foreach (var to in Enum.GetValues<DType>())
                data.Add(from, to);
        return data;
    }

    [Theory]
    [MemberData(nameof(CastCases))]
    public void Cast_matches_reference(DType from, DType to)
    {
        var rng = new Random(31);
        // Fractions of both signs so that float -> int truncation toward zero is exercised.
        Func<Random, double> draw = from switch
        {
            DType.Bool => r => r.Next(2),
            DType.Int32 => r => r.Next(-1000, 1000),
            _ => r => r.Next(10) == 0 ? 0 : 50 * Normal(r),
        };
        foreach (var layout in AllLayouts)
            foreach (var shape in Shapes.Where(s => !Skip(layout, s)))
            {
                var x = Make(shape, from, layout, rng, draw);
                CompareBackends($"cast {from}->{to} {layout} {Describe(shape)}", () => Backend.Current.Cast(x, to));
            }
    }

    [Theory]
    [InlineData(DType.Float32)]
    [InlineData(DType.Float64)]
    [InlineData(DType.Int32)]
    [InlineData(DType.Bool)]
    public void Contiguous_copy_of_every_layout_matches_reference(DType dtype)
    {
        var rng = new Random(37);
        foreach (var layout in AllLayouts)
            foreach (var shape in Shapes.Where(s => !Skip(layout, s)))
            {
                var x = Make(shape, dtype, layout, rng);
                CompareBackends($"clone {dtype} {layout} {Describe(shape)}", () => x.Clone());
            }
    }

    /// <summary>
    /// A contiguous tensor is one row, which the CPU backend cuts into pieces for its threads (159,999 elements: uneven
    /// pieces at odd offsets): ReLU, the residual add, ReLU's fused backward and a tensor-and-scalar product against the
    /// reference loops.
    /// </summary>
    [Fact]
    public void Long_contiguous_rows_split_over_threads_match_reference()
    {
        var g = new Generator(11);
        var a = Tensor.Uniform([401, 399], -1, 1, g);
        var b = Tensor.Uniform([401, 399], -1, 1, g);
        var scalar = Tensor.FromArray([1.5f], 1);
        CompareBackends("relu, one long row", () => a.Relu());
        CompareBackends("add, one long row", () => a.Add(b));
        CompareBackends("mask_positive, one long row", () => Backend.Current.Binary(BinaryOp.MaskPositive, a, b, a.Shape));
        CompareBackends("mul by a one-element tensor, one long row", () => a.Mul(scalar));
    }

    /// <summary>
    /// ReLU's backward reads only its output (positive exactly where the input is), so the input may change in place
    /// after the forward without touching the gradient: g where x &gt; 0, else 0.
    /// </summary>
    [Fact]
    public void Relu_backward_needs_only_its_output()
    {
        var x = Tensor.FromArray([-2f, -0.5f, 0f, 0.25f, 3f], 5).RequiresGrad_();
        var h = x.Mul(1.0);
        var y = h.Relu();
        using (GradMode.Disable()) h.FillInPlace(-1);
        y.Mul(Tensor.FromArray([1f, 2f, 3f, 4f, 5f], 5)).Sum().Backward();
        AssertValues(x.Grad!, 0, 0, 0, 4, 5);
    }
}
