using Fovea.Vision;

namespace Fovea.Cli;

/// <summary><c>fovea blend</c>: Burt &amp; Adelson multiresolution blend of two images of the same size.</summary>
public static class BlendCommand
{
    /// <summary>The command.</summary>
    public static Command Command { get; } = new("blend", "A B [--mask M] --levels N -o OUT",
        "Blend two images band by band (no mask: left half from A, right half from B)", (a, o) =>
        {
            string? mask = a.Option("--mask");
            int levels = a.Int("--levels", 5, 1, 64);
            string output = ImageArgs.Required(a, "blend", "-o", "--out");
            var p = a.Positionals(2, "A B");
            return Run(p[0], p[1], mask, levels, output, o);
        });

    /// <summary>Blends <paramref name="pathA"/> and <paramref name="pathB"/> under the mask (white selects A) into <paramref name="output"/>.</summary>
    public static int Run(string pathA, string pathB, string? maskPath, int levels, string output, TextWriter o)
    {
        PathArgs.OutputFile(output);
        var a = ImageArgs.Load(pathA);
        var b = ImageArgs.Load(pathB);
        int h = a.Size(-2), w = a.Size(-1);
        if (b.Size(-2) != h || b.Size(-1) != w)
            throw new ArgumentException($"blend: {pathA} is {w}x{h} but {pathB} is {b.Size(-1)}x{b.Size(-2)}; the images must have the same size.");
        // One gray and one colour image blend as colour.
        if (a.Size(0) != b.Size(0))
        {
            if (a.Size(0) == 1) a = a.Expand(3, h, w).Contiguous();
            else b = b.Expand(3, h, w).Contiguous();
        }
        Tensor mask;
        if (maskPath is null)
        {
            var m = new float[h * w];
            for (int y = 0; y < h; y++) m.AsSpan(y * w, w / 2).Fill(1f);
            mask = Tensor.FromArray(m, h, w);
        }
        else
        {
            mask = ImageArgs.LoadGray(maskPath);
            if (mask.Size(-2) != h || mask.Size(-1) != w)
                throw new ArgumentException($"blend: mask {maskPath} is {mask.Size(-1)}x{mask.Size(-2)} but the images are {w}x{h}; the sizes must match.");
        }
        var result = Pyramids.Blend(a, b, mask, levels);
        ImageArgs.Save(output, result);
        o.WriteLine($"wrote {output} ({w}x{h}, {levels} levels)");
        return 0;
    }
}
