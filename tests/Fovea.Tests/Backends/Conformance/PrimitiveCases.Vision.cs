using Fovea.Backends;
using static Fovea.Tests.Backends.Conformance.CaseTensors;

namespace Fovea.Tests.Backends.Conformance;

public static partial class PrimitiveCases
{
    /// <summary>Leading dims before the plane: none, one, two, an empty batch.</summary>
    private static int[] Leading(Random rng) => rng.Next(6) switch
    {
        0 => [],
        1 => [0],
        2 => [rng.Next(1, 3), rng.Next(1, 3)],
        _ => [rng.Next(1, 4)],
    };

    /// <summary>Planes (H, W): 1-pixel, 1-wide, 1-tall, 2x2, odd and even sizes, random ones up to 13, and one large.</summary>
    private static IEnumerable<(int H, int W)> Planes(Random rng, bool large)
    {
        (int, int)[] edges = [(1, 1), (1, 6), (5, 1), (2, 2), (3, 8), (7, 5)];
        foreach (var e in edges) yield return e;
        for (int i = 0; i < 6; i++) yield return (rng.Next(1, 14), rng.Next(1, 14));
        if (large) yield return (67, 129);
    }

    private static int[] PlaneShape(int[] leading, int h, int w) => [.. leading, h, w];

    /// <summary>
    /// Every output of the 5-tap resampling sums at most 5 taps per axis; an adjoint input sample (or a PyrUp source sample
    /// under reflection on a 1- or 2-sample axis) receives at most 9 per axis.
    /// </summary>
    private static readonly Tolerance Resampling = Tolerance.Accumulation(25), ResamplingAdjoint = Tolerance.Accumulation(81);

    [CasesFor(nameof(IBackend.PyrDown))]
    public static IEnumerable<ConformanceCase> PyrDown(Random rng)
    {
        foreach (var dtype in Floats)
            foreach (var (h, w) in Planes(rng, dtype == DType.Float32))
            {
                var x = Make(rng, PlaneShape(Leading(rng), h, w), dtype);
                yield return new($"{dtype.Name()}", [x], (b, i) => [b.PyrDown(i[0])], Resampling);
            }
    }

    [CasesFor(nameof(IBackend.PyrDownAdjoint))]
    public static IEnumerable<ConformanceCase> PyrDownAdjoint(Random rng)
    {
        foreach (var dtype in Floats)
            foreach (var (h, w) in Planes(rng, dtype == DType.Float32))
            {
                var g = Make(rng, PlaneShape(Leading(rng), PyramidGeometry.DownSize(h), PyramidGeometry.DownSize(w)), dtype);
                yield return new($"{dtype.Name()} to [{h}, {w}]", [g], (b, i) => [b.PyrDownAdjoint(i[0], h, w)], ResamplingAdjoint);
            }
    }

    /// <summary>A valid PyrUp extent for a source extent <paramref name="n"/>: 2n, 2n + 1 or 2n − 1.</summary>
    private static int UpSize(Random rng, int n) => 2 * n + rng.Next(-1, 2);

    [CasesFor(nameof(IBackend.PyrUp))]
    public static IEnumerable<ConformanceCase> PyrUp(Random rng)
    {
        foreach (var dtype in Floats)
            foreach (var (h, w) in Planes(rng, dtype == DType.Float32))
            {
                int oh = UpSize(rng, h), ow = UpSize(rng, w);
                var x = Make(rng, PlaneShape(Leading(rng), h, w), dtype);
                yield return new($"{dtype.Name()} to [{oh}, {ow}]", [x], (b, i) => [b.PyrUp(i[0], oh, ow)], Resampling);
            }
    }

    [CasesFor(nameof(IBackend.PyrUpAdjoint))]
    public static IEnumerable<ConformanceCase> PyrUpAdjoint(Random rng)
    {
        foreach (var dtype in Floats)
            foreach (var (h, w) in Planes(rng, dtype == DType.Float32))
            {
                int oh = UpSize(rng, h), ow = UpSize(rng, w);
                var g = Make(rng, PlaneShape(Leading(rng), oh, ow), dtype);
                yield return new($"{dtype.Name()} to [{h}, {w}]", [g], (b, i) => [b.PyrUpAdjoint(i[0], h, w)], ResamplingAdjoint);
            }
    }

    [CasesFor(nameof(IBackend.PyrUpAdd))]
    public static IEnumerable<ConformanceCase> PyrUpAdd(Random rng)
    {
        foreach (var dtype in Floats)
            foreach (var (h, w) in Planes(rng, dtype == DType.Float32))
                foreach (bool negate in new[] { false, true })
                {
                    int oh = UpSize(rng, h), ow = UpSize(rng, w);
                    var leading = Leading(rng);
                    var x = Make(rng, PlaneShape(leading, h, w), dtype);
                    var addend = Make(rng, PlaneShape(leading, oh, ow), dtype);
                    yield return new($"{dtype.Name()} negate {negate}", [x, addend], (b, i) => [b.PyrUpAdd(i[0], i[1], negate)], Tolerance.Accumulation(26))
                    {
                        MagnitudeCall = (b, i) => [b.PyrUpAdd(i[0], i[1], negate: false)],
                    };
                }
    }

    [CasesFor(nameof(IBackend.SeparableFilter2d))]
    public static IEnumerable<ConformanceCase> SeparableFilter2d(Random rng)
    {
        foreach (var (h, w) in Planes(rng, large: true))
        {
            // Radii 0 to 6 per axis, so kernels reach past the plane and reflect more than once on small planes; strided kernels.
            int lx = 2 * rng.Next(0, 7) + 1, ly = 2 * rng.Next(0, 7) + 1;
            var x = Make(rng, PlaneShape(Leading(rng), h, w), DType.Float32);
            var kx = Make(rng, [lx], DType.Float32, broadcast: false);
            var ky = Make(rng, [ly], DType.Float32, broadcast: false);
            yield return new($"kernels {lx} x {ly}", [x, kx, ky], (b, i) => [b.SeparableFilter2d(i[0], i[1], i[2])], Tolerance.Accumulation(lx * ly));
        }
    }

    /// <summary>Uniform pixel values on [0, 1), as images hold.</summary>
    private static double Pixel(Random rng) => rng.NextDouble();

    [CasesFor(nameof(IBackend.MatchTemplate))]
    public static IEnumerable<ConformanceCase> MatchTemplate(Random rng)
    {
        // Templates of 1 pixel, a row, a column, random ones, and 13x14 = 182 pixels (the CPU's FFT path).
        (int, int)[] templates = [(1, 1), (1, 5), (6, 1), (3, 4), (rng.Next(1, 8), rng.Next(1, 8)), (13, 14)];
        foreach (var method in Enum.GetValues<TemplateMatchMethod>())
            foreach (var (th, tw) in templates)
                foreach (int extra in new[] { 0, 1, 20 })
                {
                    int h = th + rng.Next(0, extra + 1), w = tw + extra;
                    var image = Make(rng, [h, w], DType.Float32, Pixel, broadcast: false);
                    // A flat patch at the top left: flat windows score 0 in the normalised methods.
                    var values = Read(image);
                    for (int y = 0; y < Math.Min(h, th + 1); y++)
                        for (int x = 0; x < Math.Min(w, tw + 1); x++) values[y * w + x] = 0.25;
                    image = Relayout(rng, Tensor.FromArray(values.Select(v => (float)v).ToArray(), [h, w]));
                    var template = Make(rng, [th, tw], DType.Float32, Pixel, broadcast: false);
                    // Scores are differences of window sums of n = h·w products of values below 1 (and, on the FFT path,
                    // sums over the whole image): the raw scores' error is within γ(n + 1)·n; the normalised ones divide by
                    // energies whose cancellation costs at most a factor 16 at these values.
                    int n = th * tw;
                    bool normed = method is TemplateMatchMethod.SqDiffNormed or TemplateMatchMethod.CCorrNormed or TemplateMatchMethod.CCoeffNormed;
                    var tolerance = new Tolerance(4, 8.0 * (n + 1) * (normed ? 16 : n), 0);
                    yield return new($"{method} template [{th}, {tw}] in [{h}, {w}]", [image, template],
                        (b, i) => [b.MatchTemplate(i[0], i[1], method)], tolerance);
                }
    }

    [CasesFor(nameof(IBackend.Fft2d))]
    public static IEnumerable<ConformanceCase> Fft2d(Random rng)
    {
        foreach (var (h, w) in Planes(rng, large: false).Append((32, 64)).Append((17, 31)))
            foreach (bool inverse in new[] { false, true })
            {
                var shape = PlaneShape(Leading(rng), h, w);
                var re = Make(rng, shape, DType.Float64);
                var im = Make(rng, shape, DType.Float64);
                // Each output sums n = H·W terms of size |x|; the bound γ(n + 1)·Σ|x| holds for a direct DFT and any FFT.
                int n = h * w;
                double sum = Read(re).Concat(Read(im)).Sum(Math.Abs); // over every plane: at least the largest plane's
                var tolerance = new Tolerance(4, 2.0 * (n + 1) * sum, 0);
                yield return new($"{(inverse ? "inverse" : "forward")}", [re, im], (b, i) =>
                {
                    var (r, m) = b.Fft2d(i[0], i[1], inverse);
                    return [r, m];
                }, tolerance);
            }
    }
}
