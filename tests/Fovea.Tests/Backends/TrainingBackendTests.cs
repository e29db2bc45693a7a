using Fovea.Backends;
using static Fovea.Tests.TestUtil;

namespace Fovea.Tests.Backends;

/// <summary>
/// The training primitives (batch norm, optimizer updates, random fills) of the CPU backend held against the
/// float64 reference: random inputs in several layouts, edge shapes, float32 and float64.
/// </summary>
public class TrainingBackendTests
{
    private static readonly DType[] Floats = [DType.Float32, DType.Float64];

    /// <summary>Shapes [N, C, ...]: images, a 2-d batch, one value per channel, empty batch, no channels, a size-1 batch.</summary>
    private static readonly int[][] BatchNormShapes = [[4, 3, 5, 6], [6, 5], [1, 1], [2, 3, 1, 1], [0, 3, 4], [2, 0, 3], [1, 2, 7]];

    private static readonly Layout[] ViewLayouts = [Layout.Contiguous, Layout.Transposed, Layout.Strided, Layout.Offset];

    public static TheoryData<DType> FloatTypes() => [.. Floats];

    [Theory]
    [MemberData(nameof(FloatTypes))]
    public void BatchNorm_forward_and_backward_match_reference_in_every_layout(DType dtype)
    {
        var rng = new Random(dtype == DType.Float32 ? 11 : 12);
        // float32 statistics are summed in float32 within a row before the float64 total: a few ulps of the data.
        double? statsTol = dtype == DType.Float32 ? 1e-5 : null;
        double? gradTol = dtype == DType.Float32 ? 1e-4 : null;
        foreach (var shape in BatchNormShapes)
            foreach (var layout in ViewLayouts)
            {
                int c = shape[1];
                // A large mean over a small spread: the two-pass variance must not lose it.
                var x = Make(shape, dtype, layout, rng, r => 3 + 0.5 * Normal(r));
                var w = Make([c], dtype, Layout.Strided, rng);
                var b = Make([c], dtype, Layout.Contiguous, rng);
                var g = Make(shape, dtype, layout == Layout.Contiguous ? Layout.Transposed : Layout.Contiguous, rng);
                string ctx = $"batch norm {dtype} {Describe(shape)} {layout}";

                var (yRef, meanRef, varRef) = Backend.Reference.BatchNormForward(x, w, b, 1e-5);
                var (y, mean, variance) = Backend.Cpu.BatchNormForward(x, w, b, 1e-5);
                AssertClose(yRef, y, $"{ctx} y", rtolOverride: gradTol);
                AssertClose(meanRef, mean, $"{ctx} mean", rtolOverride: statsTol);
                AssertClose(varRef, variance, $"{ctx} var", rtolOverride: statsTol);
                Assert.Equal([c], mean.Shape);
                Assert.Equal(DType.Float64, variance.DType);

                // Both backends differentiate at the same statistics.
                var (dxRef, dwRef, dbRef) = Backend.Reference.BatchNormBackward(g, x, w, meanRef, varRef, 1e-5);
                var (dx, dw, db) = Backend.Cpu.BatchNormBackward(g, x, w, meanRef, varRef, 1e-5);
                var (dxMag, dwMag, dbMag) = BatchNormGradScales(g, x, w, meanRef, varRef, 1e-5);
                AssertClose(dxRef, dx, $"{ctx} dx", dxMag, gradTol);
                AssertClose(dwRef, dw, $"{ctx} dweight", dwMag, gradTol);
                AssertClose(dbRef, db, $"{ctx} dbias", dbMag, gradTol);
            }
    }

    /// <summary>
    /// The size of the terms each batch-norm gradient is a difference of, per element: the fast kernel forms
    /// Σg·x − μ·Σg and a·g + k1·x + k0, whose rounding error is relative to these, not to the (possibly zero) result.
    /// A channel of equal values (σ̂ = √eps) makes the cancellation visible.
    /// </summary>
    private static (double[] Dx, double[] Dw, double[] Db) BatchNormGradScales(Tensor g, Tensor x, Tensor w, Tensor mean, Tensor var, double eps)
    {
        var shape = x.Shape;
        int n = shape[0], c = shape[1], s = shape.Skip(2).Aggregate(1, (a, b) => a * b);
        double m = Math.Max(1.0, (double)n * s);
        var (gv, xv, wv, mu, v) = (Values(g), Values(x), Values(w), Values(mean), Values(var));
        var dx = new double[xv.Length];
        var dw = new double[c];
        var db = new double[c];
        for (int ch = 0; ch < c; ch++)
        {
            double inv = 1 / Math.Sqrt(v[ch] + eps), sumAbsG = 0, sumAbsGx = 0, maxAbsX = 0;
            for (int i = 0; i < n; i++)
                for (int k = 0; k < s; k++)
                {
                    int at = (i * c + ch) * s + k;
                    sumAbsG += Math.Abs(gv[at]);
                    sumAbsGx += Math.Abs(gv[at]) * (Math.Abs(xv[at]) + Math.Abs(mu[ch]));
                    maxAbsX = Math.Max(maxAbsX, Math.Abs(xv[at]));
                }
            db[ch] = sumAbsG;
            dw[ch] = sumAbsGx * inv;
            double k1 = Math.Abs(wv[ch]) * inv * inv * inv * sumAbsGx / m;
            for (int i = 0; i < n; i++)
                for (int k = 0; k < s; k++)
                {
                    int at = (i * c + ch) * s + k;
                    dx[at] = Math.Abs(wv[ch]) * inv * (Math.Abs(gv[at]) + sumAbsG / m) + k1 * (maxAbsX + Math.Abs(mu[ch]));
                }
        }
        return (dx, dw, db);
    }

    [Fact]
    public void BatchNorm_reference_normalises_each_channel_to_zero_mean_and_unit_variance()
    {
        var x = Tensor.Randn([8, 3, 4, 4], new Generator(5), DType.Float64).Mul(4).Add(2);
        var (y, mean, variance) = Backend.Reference.BatchNormForward(x, Tensor.Ones([3], DType.Float64), Tensor.Zeros([3], DType.Float64), 0);
        AssertClose(x.Mean([0, 2, 3]), mean, "mean");
        AssertClose(x.Var([0, 2, 3], correction: 0), variance, "var");
        AssertClose(Tensor.Zeros([3], DType.Float64), y.Mean([0, 2, 3]), "normalised mean");
        AssertClose(Tensor.Ones([3], DType.Float64), y.Var([0, 2, 3], correction: 0), "normalised var");
    }

    /// <summary>Parameter sizes: one element, a vector with a remainder, a matrix, and one past two parallel grains (threaded on the CPU).</summary>
    private static readonly int[][] ParamShapes = [[1], [7], [33, 17], [(1 << 17) + 5]];

    private sealed record Rule(string Name, int States, Action<IBackend, Tensor, Tensor, Tensor?[], int> Step);

    /// <summary>Each update rule with a spread of options; the int argument is the 1-based step number.</summary>
    private static readonly Rule[] Rules =
    [
        new("sgd plain", 1, (be, p, g, s, t) => be.SgdUpdate(p, g, null, new SgdStep(0.1, 0, 0, false, 0, false, t == 1))),
        new("sgd momentum dampening wd", 1, (be, p, g, s, t) => be.SgdUpdate(p, g, s[0], new SgdStep(0.05, 0.9, 0.1, false, 1e-2, false, t == 1))),
        new("sgd nesterov maximize", 1, (be, p, g, s, t) => be.SgdUpdate(p, g, s[0], new SgdStep(0.05, 0.8, 0, true, 1e-3, true, t == 1))),
        new("adam", 3, (be, p, g, s, t) => be.AdamUpdate(p, g, s[0]!, s[1]!, null, new AdamStep(1e-2, 0.9, 0.999, 1e-8, 0, false, false, false, t))),
        new("adam wd amsgrad", 3, (be, p, g, s, t) => be.AdamUpdate(p, g, s[0]!, s[1]!, s[2], new AdamStep(1e-2, 0.8, 0.99, 1e-6, 0.1, false, true, false, t))),
        new("adamw maximize", 3, (be, p, g, s, t) => be.AdamUpdate(p, g, s[0]!, s[1]!, null, new AdamStep(1e-2, 0.9, 0.999, 1e-8, 0.05, true, false, true, t))),
        new("adamw amsgrad", 3, (be, p, g, s, t) => be.AdamUpdate(p, g, s[0]!, s[1]!, s[2], new AdamStep(3e-3, 0.9, 0.99, 1e-8, 0.01, true, true, false, t))),
        new("rmsprop", 3, (be, p, g, s, t) => be.RMSpropUpdate(p, g, s[0]!, null, null, new RMSpropStep(1e-2, 0.99, 1e-8, 0, 0, false, false))),
        new("rmsprop centered momentum wd", 3, (be, p, g, s, t) => be.RMSpropUpdate(p, g, s[0]!, s[1], s[2], new RMSpropStep(1e-2, 0.9, 1e-8, 0.01, 0.5, true, false))),
        new("rmsprop momentum maximize", 3, (be, p, g, s, t) => be.RMSpropUpdate(p, g, s[0]!, null, s[2], new RMSpropStep(1e-2, 0.9, 1e-6, 0, 0.9, false, true))),
    ];

    public static TheoryData<string, DType> RuleCases()
    {
        var data = new TheoryData<string, DType>();
        foreach (var rule in Rules)
            foreach (var dt in Floats) data.Add(rule.Name, dt);
        return data;
    }

    [Theory]
    [MemberData(nameof(RuleCases))]
    public void Optimizer_update_matches_reference_over_three_steps(string name, DType dtype)
    {
        var rule = Rules.Single(r => r.Name == name);
        var rng = new Random(name.Length * 31 + (int)dtype);
        // float32: the CPU rounds the coefficients and every intermediate to float32, the reference rounds once.
        double? tol = dtype == DType.Float32 ? 1e-4 : 1e-10;
        foreach (var shape in ParamShapes)
        {
            var p0 = Make(shape, dtype, Layout.Contiguous, rng);
            var grads = Enumerable.Range(0, 3).Select(_ => Make(shape, dtype, Layout.Contiguous, rng)).ToArray();
            (Tensor P, Tensor[] S) Run(IBackend backend)
            {
                var p = p0.Clone();
                // Moment buffers start at zero, as the optimizers create them.
                var s = Enumerable.Range(0, rule.States).Select(_ => Tensor.ZerosLike(p)).ToArray();
                for (int t = 1; t <= 3; t++) rule.Step(backend, p, grads[t - 1], s, t);
                return (p, s);
            }
            var (pRef, sRef) = Run(Backend.Reference);
            var (p, s) = Run(Backend.Cpu);
            string ctx = $"{name} {dtype} {Describe(shape)}";
            AssertClose(pRef, p, $"{ctx} param", rtolOverride: tol);
            for (int k = 0; k < sRef.Length; k++) AssertClose(sRef[k], s[k], $"{ctx} state {k}", rtolOverride: tol);
        }
    }

    [Fact]
    public void Optimizer_updates_of_an_empty_parameter_change_nothing_and_agree()
    {
        foreach (var backend in new[] { Backend.Reference, Backend.Cpu })
        {
            var p = Tensor.Zeros([0, 3]);
            var g = Tensor.Zeros([0, 3]);
            backend.SgdUpdate(p, g, Tensor.Zeros([0, 3]), new SgdStep(0.1, 0.9, 0, true, 0.1, false, true));
            backend.AdamUpdate(p, g, Tensor.Zeros([0, 3]), Tensor.Zeros([0, 3]), Tensor.Zeros([0, 3]), new AdamStep(0.1, 0.9, 0.99, 1e-8, 0, false, true, false, 1));
            backend.RMSpropUpdate(p, g, Tensor.Zeros([0, 3]), Tensor.Zeros([0, 3]), Tensor.Zeros([0, 3]), new RMSpropStep(0.1, 0.9, 1e-8, 0, 0.5, true, false));
            Assert.Equal([0, 3], p.Shape);
        }
    }

    [Fact]
    public void Optimizer_updates_reject_bad_operands_alike_on_both_backends()
    {
        var p = Tensor.Zeros([4, 3]);
        var step = new AdamStep(0.1, 0.9, 0.99, 1e-8, 0, false, true, false, 1);
        foreach (var backend in new[] { Backend.Reference, Backend.Cpu })
        {
            var strided = Tensor.Zeros([3, 4]).T;
            var e1 = Assert.Throws<InvalidOperationException>(() => backend.AdamUpdate(p, Tensor.Zeros([4, 3]), strided, Tensor.Zeros([4, 3]), Tensor.Zeros([4, 3]), step));
            Assert.Contains("state buffer 0", e1.Message);
            Assert.Contains("must be contiguous", e1.Message);
            var e2 = Assert.Throws<ShapeException>(() => backend.SgdUpdate(p, Tensor.Zeros([12]), null, new SgdStep(0.1, 0, 0, false, 0, false, false)));
            Assert.Contains("the gradient has shape [12] but the parameter has [4, 3]", e2.Message);
            var e3 = Assert.Throws<DTypeException>(() => backend.RMSpropUpdate(p, Tensor.Zeros([4, 3]), Tensor.Zeros([4, 3], DType.Float64), null, null, new RMSpropStep(0.1, 0.9, 1e-8, 0, 0, false, false)));
            Assert.Contains("state buffer 0 is float64", e3.Message);
            var e4 = Assert.Throws<ArgumentException>(() => backend.AdamUpdate(p, Tensor.Zeros([4, 3]), Tensor.Zeros([4, 3]), Tensor.Zeros([4, 3]), null, step));
            Assert.Contains("max_exp_avg_sq", e4.Message);
            var e5 = Assert.Throws<ArgumentException>(() => backend.SgdUpdate(p, Tensor.Zeros([4, 3]), null, new SgdStep(0.1, 0.9, 0, false, 0, false, true)));
            Assert.Contains("momentum buffer", e5.Message);
        }
    }

    /// <summary>Fill sizes: empty, one, odd (a lone last normal), even, and enough for several threads on the CPU.</summary>
    private static readonly int[][] FillShapes = [[0], [1], [3, 5], [4, 6], [70_001]];

    private static readonly (string Name, Func<Tensor, RandomStream, IBackend, Tensor> Fill, DType[] Types)[] Fills =
    [
        ("uniform", (t, s, be) => { be.FillUniform(t, s, -2, 3); return t; }, Floats),
        ("normal", (t, s, be) => { be.FillNormal(t, s, 0.5, 2); return t; }, Floats),
        ("randint", (t, s, be) => { be.FillRandInt(t, s, -7, 100); return t; }, [DType.Int32]),
    ];

    public static TheoryData<string> FillNames() => [.. Fills.Select(f => f.Name)];

    [Theory]
    [MemberData(nameof(FillNames))]
    public void Random_fills_give_the_same_bits_on_both_backends_in_row_major_order(string name)
    {
        var (_, fill, types) = Fills.Single(f => f.Name == name);
        var stream = new RandomStream(0x5EED, 12345);
        foreach (var dtype in types)
            foreach (var shape in FillShapes)
            {
                string ctx = $"{name} {dtype} {Describe(shape)}";
                var expected = Values(fill(Tensor.Zeros(shape, dtype), stream, Backend.Reference));
                Assert.Equal(expected, Values(fill(Tensor.Zeros(shape, dtype), stream, Backend.Cpu)));
                if (shape.Length == 2)
                    foreach (var backend in new[] { Backend.Reference, Backend.Cpu })
                    {
                        // A transposed view receives value i at its row-major position i, like a contiguous tensor.
                        var view = Tensor.Zeros([shape[1], shape[0]], dtype).T;
                        fill(view, stream, backend);
                        Assert.True(expected.SequenceEqual(Values(view)), $"{ctx} transposed view on {backend.Name}");
                    }
                if (name != "randint" && shape[0] > 0)
                {
                    var v = Values(fill(Tensor.Zeros(shape, dtype), stream, Backend.Reference));
                    Assert.True(v.All(double.IsFinite), ctx);
                    Assert.True(name != "uniform" || v.All(u => u is >= -2 and < 3), ctx);
                }
                if (name == "randint") Assert.True(expected.All(k => k is >= -7 and < 100 && k == Math.Floor(k)), ctx);
            }
    }

    [Fact]
    public void Random_fills_continue_the_stream_across_calls()
    {
        // Two fills from consecutive stream positions equal one fill of both: the value depends on its counter only.
        foreach (var backend in new[] { Backend.Reference, Backend.Cpu })
        {
            var whole = Tensor.Zeros([10], DType.Float64);
            backend.FillUniform(whole, new RandomStream(9, 100), 0, 1);
            var head = Tensor.Zeros([4], DType.Float64);
            var tail = Tensor.Zeros([6], DType.Float64);
            backend.FillUniform(head, new RandomStream(9, 100), 0, 1);
            backend.FillUniform(tail, new RandomStream(9, 104), 0, 1);
            Assert.Equal(whole.ToArray<double>(), head.ToArray<double>().Concat(tail.ToArray<double>()));
        }
    }

    [Fact]
    public void Float32_uniform_keeps_the_interval_half_open_on_both_backends()
    {
        // Every double in [1 − 1e-9, 1) rounds to 1f, which must become the float just below 1.
        foreach (var backend in new[] { Backend.Reference, Backend.Cpu })
        {
            var t = Tensor.Zeros([1000]);
            backend.FillUniform(t, new RandomStream(3, 0), 1 - 1e-9, 1);
            Assert.All(t.ToArray<float>(), v => Assert.Equal(MathF.BitDecrement(1f), v));
        }
    }

    [Fact]
    public void Random_fills_reject_the_wrong_dtype_and_an_empty_range()
    {
        foreach (var backend in new[] { Backend.Reference, Backend.Cpu })
        {
            Assert.Throws<DTypeException>(() => backend.FillUniform(Tensor.Zeros([2], DType.Int32), new RandomStream(1, 0), 0, 1));
            Assert.Throws<DTypeException>(() => backend.FillNormal(Tensor.Zeros([2], DType.Bool), new RandomStream(1, 0), 0, 1));
            Assert.Throws<DTypeException>(() => backend.FillRandInt(Tensor.Zeros([2]), new RandomStream(1, 0), 0, 3));
            Assert.Throws<ArgumentException>(() => backend.FillRandInt(Tensor.Zeros([2], DType.Int32), new RandomStream(1, 0), 3, 3));
        }
    }

    [Fact]
    public void Randint_spans_the_whole_int_range_without_overflow()
    {
        var t = Tensor.Zeros([2000], DType.Int32);
        Backend.Reference.FillRandInt(t, new RandomStream(4, 0), int.MinValue, int.MaxValue);
        var v = t.ToArray<int>();
        Assert.Contains(v, k => k < 0);
        Assert.Contains(v, k => k > 0);
        Assert.DoesNotContain(int.MaxValue, v);
    }

    public static TheoryData<string, DType> FactoryCases() => new()
    {
        { "rand", DType.Float32 }, { "rand", DType.Float64 }, { "randn", DType.Float32 }, { "randn", DType.Float64 },
        { "bernoulli", DType.Float32 }, { "randint", DType.Int32 },
    };

    [Theory]
    [MemberData(nameof(FactoryCases))]
    public void Generator_draws_are_the_same_numbers_under_either_backend(string kind, DType dtype)
    {
        (double[] First, double[] Second, (ulong, long) State) Draw(IBackend backend) => On(backend, () =>
        {
            var g = new Generator(77);
            Tensor Next() => kind switch
            {
                "rand" => Tensor.Rand([33, 3], g, dtype),
                "randn" => Tensor.Randn([7, 5], g, dtype),
                "bernoulli" => Tensor.Bernoulli([99], 0.3, g, dtype),
                _ => Tensor.RandInt([50], 3, 9, g),
            };
            return (Values(Next()), Values(Next()), g.State);
        });
        var cpu = Draw(Backend.Cpu);
        var reference = Draw(Backend.Reference);
        Assert.Equal(cpu.First, reference.First);
        Assert.Equal(cpu.Second, reference.Second);
        Assert.Equal(cpu.State, reference.State);
        Assert.NotEqual(cpu.First, cpu.Second);
    }
}
