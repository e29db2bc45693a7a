using System.Reflection;
using Fovea.Backends;

namespace Fovea.Vision.Tests;

/// <summary>
/// The image primitives of <see cref="IBackend"/>: the CPU backend against the float64 reference on random shapes (odd,
/// 1-pixel, batched, strided views), and every vision function running on the backend in scope.
/// </summary>
public class VisionPrimitiveTests
{
    private static readonly IBackend Cpu = Backend.Cpu, Ref = Backend.Reference;

    // (height, width) pairs with odd, even and 1-pixel extents.
    public static TheoryData<int, int> Planes => new() { { 1, 1 }, { 1, 6 }, { 5, 1 }, { 2, 2 }, { 3, 8 }, { 7, 5 }, { 16, 33 }, { 40, 17 } };

    private static void Close(Tensor expected, Tensor actual, double tolerance, string what)
    {
        Assert.Equal(expected.Shape, actual.Shape);
        Assert.Equal(expected.DType, actual.DType);
        var e = expected.To(DType.Float64).ToArray<double>();
        var a = actual.To(DType.Float64).ToArray<double>();
        double scale = Math.Max(1, e.Select(Math.Abs).DefaultIfEmpty(0).Max());
        for (int i = 0; i < e.Length; i++)
            Assert.True(Math.Abs(e[i] - a[i]) <= tolerance * scale, $"{what} at {i}: reference {e[i]}, cpu {a[i]}");
    }

    private static double Tolerance(DType d) => d == DType.Float64 ? 1e-12 : 2e-6;

    // Inputs the backends must accept: contiguous planes under a leading dim, and a strided view (a transposed batch).
    private static IEnumerable<(string Name, Tensor X)> Inputs(int h, int w, DType dtype, ulong seed)
    {
        var g = new Generator(seed);
        yield return ("contiguous", Tensor.Rand([2, h, w], g, dtype));
        yield return ("transposed", Tensor.Rand([w, 3, h], g, dtype).Permute(1, 2, 0));
        yield return ("every other plane", Tensor.Rand([4, h, w], g, dtype).Slice(0, 0, 4, 2));
        yield return ("no planes", Tensor.Zeros([0, h, w], dtype));
    }

    [Theory]
    [MemberData(nameof(Planes))]
    public void PyramidResamplingAndItsAdjointsMatchTheReference(int h, int w)
    {
        foreach (var dtype in new[] { DType.Float32, DType.Float64 })
            foreach (var (name, x) in Inputs(h, w, dtype, (ulong)(h * 100 + w)))
            {
                string at = $"{dtype} {name} [{h}, {w}]";
                var down = Ref.PyrDown(x);
                Assert.Equal([x.Size(0), (h + 1) / 2, (w + 1) / 2], down.Shape);
                Close(down, Cpu.PyrDown(x), Tolerance(dtype), $"pyr_down {at}");
                Close(Ref.PyrDownAdjoint(down, h, w), Cpu.PyrDownAdjoint(down, h, w), Tolerance(dtype), $"pyr_down adjoint {at}");
                foreach (int oh in new[] { 2 * h - 1, 2 * h, 2 * h + 1 })
                    foreach (int ow in new[] { 2 * w - 1, 2 * w, 2 * w + 1 })
                    {
                        string to = $"{at} -> [{oh}, {ow}]";
                        var up = Ref.PyrUp(x, oh, ow);
                        Close(up, Cpu.PyrUp(x, oh, ow), Tolerance(dtype), $"pyr_up {to}");
                        Close(Ref.PyrUpAdjoint(up, h, w), Cpu.PyrUpAdjoint(up, h, w), Tolerance(dtype), $"pyr_up adjoint {to}");
                        var addend = Tensor.Rand(up.Shape, new Generator(7), dtype);
                        foreach (bool negate in new[] { false, true })
                            Close(Ref.PyrUpAdd(x, addend, negate), Cpu.PyrUpAdd(x, addend, negate), Tolerance(dtype), $"pyr_up_add negate={negate} {to}");
                    }
            }
    }

    [Theory]
    [MemberData(nameof(Planes))]
    public void AdjointsAreTheTransposesOfTheReference(int h, int w)
    {
        // <A x, g> = <x, Aᵀ g> on the reference itself, so the two backends are not merely equal to each other.
        var x = Tensor.Rand([1, h, w], new Generator(3), DType.Float64);
        var gd = Tensor.Rand([1, (h + 1) / 2, (w + 1) / 2], new Generator(4), DType.Float64);
        static void Same(double a, double b) => Assert.True(Math.Abs(a - b) <= 1e-12 * Math.Max(1, Math.Abs(a)), $"<A x, g> = {a}, <x, Aᵀ g> = {b}");
        Same((Ref.PyrDown(x) * gd).Sum().ToScalar(), (x * Ref.PyrDownAdjoint(gd, h, w)).Sum().ToScalar());
        var gu = Tensor.Rand([1, 2 * h + 1, 2 * w - 1], new Generator(5), DType.Float64);
        Same((Ref.PyrUp(x, 2 * h + 1, 2 * w - 1) * gu).Sum().ToScalar(), (x * Ref.PyrUpAdjoint(gu, h, w)).Sum().ToScalar());
    }

    [Theory]
    [MemberData(nameof(Planes))]
    public void SeparableFilteringMatchesTheReference(int h, int w)
    {
        foreach (int r in new[] { 0, 1, 3, 6 })
            foreach (var (name, x) in Inputs(h, w, DType.Float32, (ulong)(h * 31 + w + r)))
            {
                var kx = Tensor.Rand([2 * r + 1], new Generator(11)) - 0.5;
                var ky = Tensor.Rand([2 * r + 3], new Generator(12)).Slice(0, 0, 2 * r + 1) - 0.5;
                Close(Ref.SeparableFilter2d(x, kx, ky), Cpu.SeparableFilter2d(x, kx, ky), 2e-6, $"separable_filter2d r={r} {name} [{h}, {w}]");
            }
    }

    public static TheoryData<TemplateMatchMethod, int, int> MatchCases()
    {
        var d = new TheoryData<TemplateMatchMethod, int, int>();
        foreach (var m in Enum.GetValues<TemplateMatchMethod>())
            foreach (var (th, tw) in new[] { (1, 1), (3, 5), (8, 1), (13, 14) }) // 13x14 = 182 pixels runs the FFT path
                d.Add(m, th, tw);
        return d;
    }

    [Theory]
    [MemberData(nameof(MatchCases))]
    public void TemplateScoresMatchTheReference(TemplateMatchMethod method, int th, int tw)
    {
        foreach (var (h, w) in new[] { (th, tw), (th + 6, tw + 1), (th + 20, tw + 37) })
        {
            // A strided image (every other column of a wider one) and a template cut from it, plus a flat patch.
            var image = Tensor.Rand([h, 2 * w], new Generator((ulong)(h * w))).Slice(1, 0, 2 * w, 2);
            image.Narrow(0, 0, Math.Min(h, th)).Narrow(1, 0, Math.Min(w, tw)).FillInPlace(0.25);
            var template = image.Narrow(0, h - th, th).Narrow(1, w - tw, tw).Contiguous() + 0.01;
            var expected = Ref.MatchTemplate(image, template, method);
            var actual = Cpu.MatchTemplate(image, template, method);
            // Raw sums (SQDIFF, CCORR, CCOEFF) are held relative to their largest value; the normalised scores absolutely.
            Close(expected, actual, 1e-4, $"{method} template [{th}, {tw}] in [{h}, {w}]");
        }
    }

    [Theory]
    [MemberData(nameof(Planes))]
    public void Fft2dMatchesTheReferenceBothWays(int h, int w)
    {
        foreach (var (name, re) in Inputs(h, w, DType.Float64, (ulong)(h + 7 * w)))
        {
            var im = Tensor.Rand(re.Shape, new Generator(9), DType.Float64) - 0.5;
            foreach (bool inverse in new[] { false, true })
            {
                var (er, ei) = Ref.Fft2d(re, im, inverse);
                var (ar, ai) = Cpu.Fft2d(re, im, inverse);
                Close(er, ar, 1e-12 * h * w, $"fft2d re inverse={inverse} {name} [{h}, {w}]");
                Close(ei, ai, 1e-12 * h * w, $"fft2d im inverse={inverse} {name} [{h}, {w}]");
            }
        }
    }

    [Fact]
    public void BothBackendsRejectBadArgumentsAlike()
    {
        foreach (var b in new[] { Cpu, Ref })
        {
            Assert.Throws<DTypeException>(() => b.PyrDown(Tensor.Zeros([1, 4, 4], DType.Int32)));
            Assert.Throws<ShapeException>(() => b.PyrUp(Tensor.Zeros(1, 4, 4), 10, 8));
            Assert.Throws<ShapeException>(() => b.PyrUpAdd(Tensor.Zeros(1, 4, 4), Tensor.Zeros(2, 8, 8), negate: false));
            Assert.Throws<ShapeException>(() => b.SeparableFilter2d(Tensor.Zeros(4, 4), Tensor.Zeros(2), Tensor.Zeros(3)));
            Assert.Throws<DTypeException>(() => b.SeparableFilter2d(Tensor.Zeros([4, 4], DType.Float64), Tensor.Zeros(3), Tensor.Zeros(3)));
            Assert.Throws<ShapeException>(() => b.MatchTemplate(Tensor.Zeros(4, 4), Tensor.Zeros(5, 2), TemplateMatchMethod.CCorr));
            Assert.Throws<ArgumentOutOfRangeException>(() => b.MatchTemplate(Tensor.Zeros(4, 4), Tensor.Zeros(2, 2), (TemplateMatchMethod)99));
            Assert.Throws<DTypeException>(() => b.Fft2d(Tensor.Zeros(4, 4), Tensor.Zeros(4, 4), inverse: false));
        }
    }

    [Fact]
    public void EveryVisionFunctionRunsOnTheBackendInScope()
    {
        // A recording backend in front of the reference: every primitive the vision functions need is asked of it, and
        // their results equal the CPU backend's.
        var recorder = RecordingBackend.Over(Ref);
        var img = Tensor.Rand([2, 13, 10], new Generator(1));
        var mask = Tensor.Rand([13, 10], new Generator(2));
        var gray = Tensor.Rand([1, 19, 23], new Generator(3));
        var templ = gray.Narrow(1, 4, 5).Narrow(2, 6, 7).Contiguous();
        Tensor[] Run() =>
        [
            Pyramids.PyrDown(img), Pyramids.PyrUp(img, (25, 21)), .. Pyramids.GaussianPyramid(img, 3),
            Pyramids.Reconstruct(Pyramids.LaplacianPyramid(img, 3)), Pyramids.Blend(img, img.Permute(0, 1, 2) * 0.5, mask, 3),
            SteerableFilter.Response(img, 1.2, 0.4), SteerablePyramid.Build(img, 2, 3).Reconstruct(),
            Matching.MatchTemplate(gray, templ), Matching.MatchTemplate(gray, templ, TemplateMatchMethod.SqDiff, padInput: true),
            PyramidDenoising.Denoise(img, 0.05, 3), PyramidCompression.Compress(img, 0.02, 3).Decoded,
            SecondOrderSteerableFilter.Response(img, 1.2, 0.4),
            Tensor.From(Matching.MatchMultiScale(gray, templ, 2, k: 2).SelectMany(m => new[] { m.X, m.Y, m.Score, (float)m.Scale }).ToArray()),
        ];
        var onCpu = Run();
        Tensor[] onReference;
        using (Backend.Use(recorder.Proxy)) onReference = Run();
        for (int i = 0; i < onCpu.Length; i++) Close(onReference[i], onCpu[i], 1e-4, $"result {i}");
        foreach (var primitive in new[] { "PyrDown", "PyrUp", "PyrUpAdd", "SeparableFilter2d", "MatchTemplate", "Fft2d" })
            Assert.Contains(primitive, recorder.Calls);

        // Gradients of the pyramid functions run the adjoints on the backend in scope too.
        var x = img.Detach().RequiresGrad_();
        using (Backend.Use(recorder.Proxy)) Pyramids.Reconstruct(Pyramids.LaplacianPyramid(x, 3)).Square().Sum().Backward();
        Assert.Contains("PyrDownAdjoint", recorder.Calls);
        Assert.Contains("PyrUpAdjoint", recorder.Calls);
    }

    /// <summary>An <see cref="IBackend"/> that forwards every call to another and records the method names.</summary>
    public class RecordingBackend : DispatchProxy
    {
        private IBackend _inner = null!;

        /// <summary>The names of the methods called, in order (from any thread).</summary>
        public List<string> Calls { get; } = [];

        /// <summary>The proxy to pass to <see cref="Backend.Use"/>.</summary>
        public IBackend Proxy { get; private set; } = null!;

        /// <summary>A recorder forwarding to <paramref name="inner"/>.</summary>
        public static RecordingBackend Over(IBackend inner)
        {
            var proxy = Create<IBackend, RecordingBackend>();
            var r = (RecordingBackend)(object)proxy;
            r._inner = inner;
            r.Proxy = proxy;
            return r;
        }

        /// <inheritdoc/>
        protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
        {
            ArgumentNullException.ThrowIfNull(targetMethod);
            lock (Calls) Calls.Add(targetMethod.Name);
            try
            {
                return targetMethod.Invoke(_inner, args);
            }
            catch (TargetInvocationException e) when (e.InnerException is not null)
            {
                throw e.InnerException;
            }
        }
    }
}
