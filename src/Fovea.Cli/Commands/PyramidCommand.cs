using Fovea.Vision;
using Fovea.Vision.Imaging;

namespace Fovea.Cli;

/// <summary>
/// <c>fovea pyramid</c>: writes every level of a Gaussian, Laplacian or steerable pyramid as PNG, plus <c>mosaic.png</c>.
/// Laplacian bands and steerable bands are signed, so they are shown around mid-gray (<see cref="ImageDisplay.Signed"/>).
/// </summary>
public static class PyramidCommand
{
    /// <summary>The command.</summary>
    public static Command Command { get; } = new("pyramid", "IMAGE --kind gaussian|laplacian|steerable --levels N --out DIR [--orientations K]",
        "Write each pyramid level as PNG plus a mosaic (Laplacian/steerable bands shown around mid-gray)", (a, o) =>
        {
            string kind = a.Option("--kind") ?? "gaussian";
            int levels = a.Int("--levels", 4, 1, 64);
            int orientations = a.Int("--orientations", 4, 1, 16);
            string dir = ImageArgs.Required(a, "pyramid", "--out", "-o");
            string image = a.Positionals(1, "IMAGE")[0];
            return Run(image, kind, levels, orientations, dir, o);
        });

    /// <summary>Builds the pyramid of <paramref name="image"/> and writes it into <paramref name="dir"/>; prints each file.</summary>
    public static int Run(string image, string kind, int levels, int orientations, string dir, TextWriter o)
    {
        if (kind is not ("gaussian" or "laplacian" or "steerable"))
            throw new UsageException($"pyramid: unknown --kind '{kind}' (choose gaussian, laplacian or steerable)");
        PathArgs.OutputFolder(dir);
        var img = ImageArgs.Load(image);
        var written = new List<(string Name, Tensor Shown)>();
        ImagePlanes mosaic;
        if (kind == "steerable")
        {
            int max = SteerablePyramid.MaxScales(img.Size(-1), img.Size(-2));
            if (levels > max)
                throw new UsageException($"pyramid: --levels {levels} is too many scales for a {img.Size(-1)}x{img.Size(-2)} image (at most {max}).");
            var p = SteerablePyramid.Build(img, levels, orientations);
            written.Add(("highpass.png", ImageDisplay.Signed(p.HighPass)));
            for (int s = 0; s < p.Scales; s++)
                for (int k = 0; k < p.Orientations; k++) written.Add(($"band_s{s}_o{k}.png", ImageDisplay.Signed(p.Band(s, k))));
            written.Add(("lowpass.png", p.LowPass));
            mosaic = SteerableMosaic(img.Size(0), written.Select(w => w.Shown).ToList(), p.Scales, p.Orientations);
        }
        else
        {
            var levelsOut = kind == "gaussian" ? Pyramids.GaussianPyramid(img, levels) : Pyramids.LaplacianPyramid(img, levels);
            for (int i = 0; i < levelsOut.Length; i++)
            {
                bool band = kind == "laplacian" && i < levelsOut.Length - 1;
                written.Add(($"level{i}.png", band ? ImageDisplay.Signed(levelsOut[i]) : levelsOut[i]));
            }
            mosaic = ImageDisplay.PyramidMosaic(written.Select(w => w.Shown).ToList());
        }
        foreach (var (name, shown) in written)
        {
            string path = Path.Combine(dir, name);
            ImageArgs.Save(path, shown);
            o.WriteLine($"wrote {path} ({shown.Size(-1)}x{shown.Size(-2)})");
        }
        string mosaicPath = Path.Combine(dir, "mosaic.png");
        ImageArgs.Save(mosaicPath, mosaic);
        o.WriteLine($"wrote {mosaicPath} ({mosaic.Width}x{mosaic.Height})");
        return 0;
    }

    // Rows: the high-pass residual; one row of K bands per scale; the low-pass residual.
    private static ImagePlanes SteerableMosaic(int channels, List<Tensor> parts, int scales, int orientations)
    {
        var placed = new List<(Tensor, int, int)>();
        int y = 0, width = 0, i = 0;
        void Row(int count)
        {
            int x = 0, rowH = 0;
            for (int j = 0; j < count; j++, i++)
            {
                placed.Add((parts[i], x, y));
                x += parts[i].Size(-1);
                rowH = Math.Max(rowH, parts[i].Size(-2));
            }
            width = Math.Max(width, x);
            y += rowH;
        }
        Row(1);
        for (int s = 0; s < scales; s++) Row(orientations);
        Row(1);
        return ImageDisplay.Mosaic(channels, y, width, placed);
    }
}
