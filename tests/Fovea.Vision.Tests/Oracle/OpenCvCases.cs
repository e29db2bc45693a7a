namespace Fovea.Vision.Tests.Oracle;

/// <summary>
/// The inputs of the OpenCV oracle tests and the names of their reference outputs. This file is compiled into the tests
/// and into tools/Fovea.OracleFixtures, which computes the references with OpenCV, so both sides build the same inputs.
/// Inputs come from seeded <see cref="System.Random"/> (its seeded sequence is fixed across .NET versions) or from the
/// committed images, never from Fovea itself, so a change in Fovea cannot silently change what OpenCV was given.
/// </summary>
internal static class OpenCvCases
{
    /// <summary>The committed reference outputs, relative to the repository root.</summary>
    public static readonly string ReferencePath = Path.Combine("tests", "Fovea.Vision.Tests", "Fixtures", "opencv", "references.bin");

    /// <summary>Plane sizes (width, height) for the PyrDown chain and PyrUp cases: degenerate, odd, even and thin.</summary>
    public static readonly (int W, int H)[] PyramidSizes =
    [
        (1, 1), (1, 2), (2, 1), (1, 9), (9, 1), (2, 2), (3, 3), (4, 7), (17, 5),
        (31, 32), (64, 48), (101, 77), (255, 3),
    ];

    /// <summary>Gaussian/Laplacian pyramid cases: plane width, height and level count.</summary>
    public static readonly (int W, int H, int Levels)[] LaplacianCases = [(1, 1, 2), (1, 17, 5), (17, 1, 5), (64, 64, 7), (99, 45, 6), (128, 3, 4)];

    /// <summary>Square template sides for MatchTemplate: 9 (81 pixels) takes the direct path, 41 the FFT path.</summary>
    public static readonly int[] TemplateSides = [9, 41];

    /// <summary>MatchTemplate searches the top rows of coins.png (keeps the live test fast) for the patch at this corner.</summary>
    public const int MatchRows = 160, TemplateX = 150, TemplateY = 60;

    /// <summary>The committed PNGs compared with OpenCV's decoder: file name, channels, height, width.</summary>
    public static readonly (string Name, int C, int H, int W)[] Pngs = [("coins.png", 1, 303, 384), ("chelsea.png", 3, 300, 451), ("horse.png", 4, 328, 400)];

    /// <summary>The batched colour input of the tensor-level PyrDown/PyrUp case, <c>[N, C, H, W]</c>, and its PyrUp output size.</summary>
    public static readonly int[] ColourShape = [2, 3, 13, 10];
    public const int ColourUpH = 25, ColourUpW = 21;

    /// <summary>Uniform [0, 1) floats from a seeded <see cref="System.Random"/>.</summary>
    public static float[] RandomPlane(int length, int seed)
    {
        var rng = new Random(seed);
        var a = new float[length];
        for (int i = 0; i < a.Length; i++) a[i] = (float)rng.NextDouble();
        return a;
    }

    public static float[] PyrDownInput(int w, int h) => RandomPlane(w * h, w * 1000 + h);
    public static float[] PyrUpInput(int w, int h) => RandomPlane(w * h, w * 77 + h);
    public static float[] LaplacianInput(int w, int h) => RandomPlane(w * h, w + 7 * h);
    public static float[] ColourInput() => RandomPlane(ColourShape.Aggregate(1, (a, b) => a * b), 9);

    /// <summary>The PyrUp output sizes OpenCV accepts for a <c>w x h</c> source: each side <c>2n - 1</c>, <c>2n</c> or <c>2n + 1</c>.</summary>
    public static IEnumerable<(int W, int H)> PyrUpSizes(int w, int h)
    {
        foreach (int dw in new[] { 2 * w - 1, 2 * w, 2 * w + 1 })
            foreach (int dh in new[] { 2 * h - 1, 2 * h, 2 * h + 1 })
                yield return (dw, dh);
    }

    /// <summary>The <c>side x side</c> template cut from <paramref name="plane"/> (width <paramref name="w"/>) at (<see cref="TemplateX"/>, <see cref="TemplateY"/>).</summary>
    public static float[] CutTemplate(float[] plane, int w, int side)
    {
        var t = new float[side * side];
        for (int j = 0; j < side; j++)
            for (int i = 0; i < side; i++)
                t[j * side + i] = plane[(TemplateY + j) * w + TemplateX + i];
        return t;
    }

    public static string PyrDownKey(int w, int h, int level) => $"pyr_down {w}x{h} level {level}";
    public static string PyrUpKey(int w, int h, int dw, int dh) => $"pyr_up {w}x{h} -> {dw}x{dh}";
    public static string GaussianKey(int w, int h, int levels, int level) => $"gaussian {w}x{h}x{levels} level {level}";
    public static string LaplacianKey(int w, int h, int levels, int level) => $"laplacian {w}x{h}x{levels} level {level}";
    public static string MatchKey(string method, int side) => $"match_template {method} {side}x{side}";
    public static string PngKey(string name) => $"imread {name}";
    public const string GrayKey = "bgr2gray chelsea.png";
    public const string ColourDownKey = "colour pyr_down", ColourUpKey = "colour pyr_up";

    /// <summary>TM_CCOEFF_NORMED at every position of the <c>ow x oh</c> result, accumulated in double (0 where a window or the template is flat).</summary>
    public static double[] ExactCCoeffNormed(float[] plane, int w, float[] templ, int size, int ow, int oh)
    {
        int n = size * size;
        double st = templ.Sum(v => (double)v), st2 = templ.Sum(v => (double)v * v);
        var exact = new double[ow * oh];
        for (int y = 0; y < oh; y++)
            for (int x = 0; x < ow; x++)
            {
                double si = 0, si2 = 0, sti = 0;
                for (int j = 0; j < size; j++)
                    for (int i = 0; i < size; i++)
                    {
                        double a = templ[j * size + i], b = plane[(y + j) * w + x + i];
                        si += b; si2 += b * b; sti += a * b;
                    }
                double t = Math.Sqrt(Math.Max(si2 - si * si / n, 0) * (st2 - st * st / n));
                exact[y * ow + x] = t == 0 ? 0 : (sti - st * si / n) / t;
            }
        return exact;
    }

    /// <summary>Largest |a − b| over two equally long spans.</summary>
    public static double MaxAbsDiff(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        if (a.Length != b.Length) throw new ArgumentException($"lengths differ: {a.Length} and {b.Length}");
        double m = 0;
        for (int i = 0; i < a.Length; i++) m = Math.Max(m, Math.Abs((double)a[i] - b[i]));
        return m;
    }
}
