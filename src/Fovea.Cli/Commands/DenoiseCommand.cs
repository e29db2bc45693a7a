using System.Globalization;
using Fovea.Vision;

namespace Fovea.Cli;

/// <summary>
/// <c>fovea denoise</c>: removes additive Gaussian noise by coring the Laplacian pyramid's band-pass coefficients
/// (<see cref="PyramidDenoising"/>); prints the PSNR before and after when the clean image is known.
/// </summary>
public static class DenoiseCommand
{
    /// <summary>The command.</summary>
    public static Command Command { get; } = new("denoise",
        "IMAGE --sigma S -o OUT [--add-noise S [--seed N]] [--clean CLEAN] [--coring hard|soft] [--k K] [--levels N] [--noisy-out FILE]",
        "Remove Gaussian noise (sigma on the 0-255 scale) by coring Laplacian bands; prints PSNR before and after", (a, o) =>
        {
            double addNoise = a.Double("--add-noise", double.NaN, 0, 255);
            double sigma = a.Double("--sigma", addNoise, 0, 255);
            if (double.IsNaN(sigma)) throw new UsageException("denoise: --sigma is required (the noise's standard deviation, 0-255 scale)");
            string? seedText = a.Option("--seed");
            ulong seed = 0;
            if (seedText is not null && !ulong.TryParse(seedText, NumberStyles.None, CultureInfo.InvariantCulture, out seed))
                throw new UsageException($"denoise: --seed must be a non-negative integer, got '{seedText}'");
            if (seedText is not null && double.IsNaN(addNoise)) throw new UsageException("denoise: --seed only applies with --add-noise");
            string? clean = a.Option("--clean");
            if (clean is not null && !double.IsNaN(addNoise))
                throw new UsageException("denoise: give either --add-noise (IMAGE is the clean image) or --clean (IMAGE is already noisy), not both");
            var coring = a.Choice("--coring", "hard", ["hard", "soft"]) == "soft" ? Coring.Soft : Coring.Hard;
            double k = a.Double("--k", coring == Coring.Soft ? PyramidDenoising.DefaultSoftFactor : PyramidDenoising.DefaultHardFactor, 0, 100);
            int levels = a.Int("--levels", PyramidDenoising.DefaultLevels, 1, 64);
            string? noisyOut = a.Option("--noisy-out");
            string output = ImageArgs.Required(a, "denoise", "-o", "--out");
            string image = a.Positionals(1, "IMAGE")[0];
            return Run(image, sigma, output, double.IsNaN(addNoise) ? null : addNoise, seed, clean, coring, k, levels, noisyOut, o);
        });

    /// <summary>
    /// Denoises <paramref name="image"/> for noise <paramref name="sigma"/> (0–255 scale) and writes <paramref name="output"/>.
    /// With <paramref name="addNoise"/> the image is taken as clean and noise of that deviation is added first (seeded);
    /// with <paramref name="clean"/> the image is taken as noisy and compared with that file. Either way the PSNR of the
    /// noisy and of the denoised image against the clean one are printed.
    /// </summary>
    public static int Run(string image, double sigma, string output, double? addNoise, ulong seed, string? clean, Coring coring,
        double k, int levels, string? noisyOut, TextWriter o)
    {
        PathArgs.OutputFile(output);
        PathArgs.OutputFile(noisyOut);
        var input = ImageArgs.Load(image);
        Tensor? reference = null;
        var noisy = input;
        if (addNoise is { } s)
        {
            reference = input;
            noisy = ImageQuality.AddGaussianNoise(input, s / 255, seed);
        }
        else if (clean is not null)
        {
            reference = ImageArgs.Load(clean);
            if (!reference.Shape.AsSpan().SequenceEqual(input.Shape))
                throw new ArgumentException($"denoise: clean image {clean} ({Describe(reference)}) does not match {image} ({Describe(input)}).");
        }
        var denoised = PyramidDenoising.Denoise(noisy, sigma / 255, levels, coring, k);
        var inv = CultureInfo.InvariantCulture;
        o.WriteLine(string.Create(inv, $"noise sigma {sigma:0.##} (0-255), {levels} levels, {coring.ToString().ToLowerInvariant()} coring, k = {k:0.###}"));
        o.WriteLine("thresholds (0-255), finest first: " + string.Join(" ",
            PyramidDenoising.Thresholds(sigma, levels, k).Select(t => t.ToString("0.##", inv))));
        if (reference is not null)
        {
            double before = ImageQuality.Psnr(reference, noisy), after = ImageQuality.Psnr(reference, denoised);
            o.WriteLine(string.Create(inv, $"PSNR noisy    {before:0.00} dB"));
            o.WriteLine(string.Create(inv, $"PSNR denoised {after:0.00} dB ({after - before:+0.00;-0.00} dB)"));
        }
        if (noisyOut is not null)
        {
            ImageArgs.Save(noisyOut, noisy);
            o.WriteLine($"wrote {noisyOut}");
        }
        ImageArgs.Save(output, denoised);
        o.WriteLine($"wrote {output}");
        return 0;
    }

    private static string Describe(Tensor t) => $"{t.Size(-1)}x{t.Size(-2)}, {t.Size(-3)} channel{(t.Size(-3) == 1 ? "" : "s")}";
}
