using Fovea.Vision.Tests.Oracle;
using OpenCvSharp;
using static Fovea.Vision.Tests.Oracle.OpenCvCases;

namespace Fovea.OracleFixtures;

/// <summary>Computes, with OpenCV, every reference output the vision tests compare against (see <see cref="OpenCvCases"/>).</summary>
internal static class OpenCvReferences
{
    /// <summary>All references, in a fixed order; <paramref name="root"/> is the repository root (for the committed images).</summary>
    public static IEnumerable<OpenCvReference> All(string root) =>
        PyrDownChains().Concat(PyrUps()).Concat(Laplacians()).Concat(Colour()).Concat(MatchTemplates(root)).Concat(Pngs(root)).Concat(Gray(root));

    private static string DataPath(string root, string name) => Path.Combine(root, "tests", "Fovea.Vision.Tests", "Data", name);

    private static OpenCvReference Plane(string key, Mat m) => OpenCvReference.FromWhole(key, [m.Rows, m.Cols], Cv.ToPlane(m));

    /// <summary>PyrDown applied repeatedly until the plane is 1x1, and once more to the 1x1 plane.</summary>
    private static IEnumerable<OpenCvReference> PyrDownChains()
    {
        foreach (var (w, h) in PyramidSizes)
        {
            var cur = Cv.FromPlane(PyrDownInput(w, h), w, h);
            for (int level = 1; ; level++)
            {
                var next = new Mat();
                Cv2.PyrDown(cur, next);
                yield return Plane(PyrDownKey(w, h, level), next);
                bool done = cur.Cols == 1 && cur.Rows == 1;
                cur.Dispose();
                cur = next;
                if (done) break;
            }
            cur.Dispose();
        }
    }

    private static IEnumerable<OpenCvReference> PyrUps()
    {
        foreach (var (w, h) in PyramidSizes)
        {
            using var src = Cv.FromPlane(PyrUpInput(w, h), w, h);
            foreach (var (dw, dh) in PyrUpSizes(w, h))
            {
                using var dst = new Mat();
                Cv2.PyrUp(src, dst, new Size(dw, dh));
                var values = Cv.ToPlane(dst);
                // OpenCV never writes the ring-buffer slot of the third column for a 1-pixel-wide source (it holds
                // whatever the previous call left there): undefined, so not a reference.
                if (w == 1 && dw == 3)
                    for (int y = 0; y < dh; y++) values[y * dw + 2] = float.NaN;
                yield return OpenCvReference.FromWhole(PyrUpKey(w, h, dw, dh), [dh, dw], values);
            }
        }
    }

    /// <summary>Gaussian levels by a PyrDown chain; Laplacian level i = G[i] − PyrUp(G[i+1]), the last level is G itself.</summary>
    private static IEnumerable<OpenCvReference> Laplacians()
    {
        foreach (var (w, h, levels) in LaplacianCases)
        {
            var g = new Mat[levels];
            g[0] = Cv.FromPlane(LaplacianInput(w, h), w, h);
            for (int i = 1; i < levels; i++)
            {
                g[i] = new Mat();
                Cv2.PyrDown(g[i - 1], g[i]);
            }
            for (int i = 0; i < levels; i++)
            {
                yield return Plane(GaussianKey(w, h, levels, i), g[i]);
                using var band = new Mat();
                if (i < levels - 1)
                {
                    using var up = new Mat();
                    Cv2.PyrUp(g[i + 1], up, g[i].Size());
                    Cv2.Subtract(g[i], up, band);
                }
                else g[i].CopyTo(band);
                yield return Plane(LaplacianKey(w, h, levels, i), band);
            }
            foreach (var m in g) m.Dispose();
        }
    }

    /// <summary>PyrDown and PyrUp of every plane of the batched colour input.</summary>
    private static IEnumerable<OpenCvReference> Colour()
    {
        int n = ColourShape[0], c = ColourShape[1], h = ColourShape[2], w = ColourShape[3];
        var x = ColourInput();
        int dh = (h + 1) / 2, dw = (w + 1) / 2;
        var down = new float[n * c * dh * dw];
        var up = new float[n * c * ColourUpH * ColourUpW];
        for (int p = 0; p < n * c; p++)
        {
            using var src = Cv.FromPlane(x.AsSpan(p * h * w, h * w).ToArray(), w, h);
            using var d = new Mat();
            using var u = new Mat();
            Cv2.PyrDown(src, d);
            Cv2.PyrUp(src, u, new Size(ColourUpW, ColourUpH));
            Cv.ToPlane(d).CopyTo(down, p * dh * dw);
            Cv.ToPlane(u).CopyTo(up, p * ColourUpH * ColourUpW);
        }
        yield return OpenCvReference.FromWhole(ColourDownKey, [n, c, dh, dw], down);
        yield return OpenCvReference.FromWhole(ColourUpKey, [n, c, ColourUpH, ColourUpW], up);
    }

    /// <summary>matchTemplate of a patch of coins.png against the top rows of the image, every method and template side.</summary>
    private static IEnumerable<OpenCvReference> MatchTemplates(string root)
    {
        var (bytes, _, _, w) = Cv.ReadPlanar(DataPath(root, "coins.png"));
        var plane = new float[w * MatchRows];
        for (int i = 0; i < plane.Length; i++) plane[i] = bytes[i] / 255f;
        using var img = Cv.FromPlane(plane, w, MatchRows);
        foreach (var mode in Enum.GetValues<TemplateMatchModes>())
            foreach (int side in TemplateSides)
            {
                using var templ = Cv.FromPlane(CutTemplate(plane, w, side), side, side);
                using var result = new Mat();
                Cv2.MatchTemplate(img, templ, result, mode);
                yield return Plane(MatchKey(mode.ToString(), side), result);
            }
    }

    /// <summary>OpenCV's decoding of the committed PNGs, as 8-bit values in planar R, G, B(, A) order.</summary>
    private static IEnumerable<OpenCvReference> Pngs(string root)
    {
        foreach (var (name, _, _, _) in OpenCvCases.Pngs)
        {
            var (planar, c, h, w) = Cv.ReadPlanar(DataPath(root, name));
            yield return OpenCvReference.FromWhole(PngKey(name), [c, h, w], planar.Select(b => (float)b).ToArray());
        }
    }

    /// <summary>BT.601 grey (cvtColor BGR2GRAY) of chelsea.png on float input (8-bit values / 255).</summary>
    private static IEnumerable<OpenCvReference> Gray(string root)
    {
        var (planar, _, h, w) = Cv.ReadPlanar(DataPath(root, "chelsea.png"));
        int n = h * w;
        var bgr = new float[3 * n];
        for (int i = 0; i < n; i++)
            for (int ch = 0; ch < 3; ch++)
                bgr[3 * i + ch] = planar[(2 - ch) * n + i] / 255f;
        using var m = new Mat(h, w, MatType.CV_32FC3);
        System.Runtime.InteropServices.Marshal.Copy(bgr, 0, m.Data, bgr.Length);
        using var g = new Mat();
        Cv2.CvtColor(m, g, ColorConversionCodes.BGR2GRAY);
        yield return Plane(GrayKey, g);
    }
}
