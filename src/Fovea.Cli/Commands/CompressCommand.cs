using System.Globalization;
using Fovea.Vision;

namespace Fovea.Cli;

/// <summary>
/// <c>fovea compress</c>: quantises the Laplacian pyramid at several steps and prints the estimated bits per pixel
/// against the PSNR (<see cref="PyramidCompression"/>); writes the decoded image of one step.
/// </summary>
public static class CompressCommand
{
    private static readonly double[] DefaultSteps = [1, 2, 4, 8, 16];
    private const int MaxSteps = 64;

    /// <summary>The command.</summary>
    public static Command Command { get; } = new("compress",
        "IMAGE [--steps 1,2,4,8,16] [--levels N] [--allocation equal-slope|uniform] [-o DECODED.png] [--decode-step S]",
        "Laplacian-pyramid coding: bits/pixel (zeroth-order entropy) against PSNR for each quantiser step (0-255 scale)", (a, o) =>
        {
            var steps = ParseSteps(a.Option("--steps"));
            int levels = a.Int("--levels", PyramidDenoising.DefaultLevels, 1, 64);
            var allocation = a.Choice("--allocation", "equal-slope", ["equal-slope", "uniform"]) == "uniform"
                ? StepAllocation.Uniform : StepAllocation.EqualSlope;
            double decodeStep = a.Double("--decode-step", double.NaN, 1e-6, 1e6);
            string? output = a.Option("-o", "--out");
            if (!double.IsNaN(decodeStep) && output is null) throw new UsageException("compress: --decode-step needs -o DECODED.png");
            string image = a.Positionals(1, "IMAGE")[0];
            if (double.IsNaN(decodeStep)) decodeStep = steps[steps.Length / 2];
            else if (!steps.Contains(decodeStep))
                throw new UsageException($"compress: --decode-step {decodeStep.ToString(CultureInfo.InvariantCulture)} is not one of --steps");
            return Run(image, steps, levels, allocation, output, decodeStep, o);
        });

    /// <summary>Prints one row per step (0–255 scale) and writes the decoded image of <paramref name="decodeStep"/> when <paramref name="output"/> is given.</summary>
    public static int Run(string image, double[] steps, int levels, StepAllocation allocation, string? output, double decodeStep, TextWriter o)
    {
        PathArgs.OutputFile(output);
        var img = ImageArgs.Load(image);
        var inv = CultureInfo.InvariantCulture;
        // The reference size: the zeroth-order entropy of the 8-bit pixel values themselves, counted per pixel like the bands.
        double raw = PyramidCompression.Entropy(PyramidCompression.Quantize(img, 1.0 / 255)) * img.Size(0);
        o.WriteLine(string.Create(inv, $"{image}: {img.Size(2)}x{img.Size(1)}, {img.Size(0)} channel(s), {levels} levels, {(allocation == StepAllocation.Uniform ? "uniform" : "equal-slope")} steps; raw pixels {raw:0.000} bits/pixel (zeroth-order entropy)"));
        o.WriteLine("  step  bits/pixel  PSNR dB");
        Tensor? decoded = null;
        foreach (double step in steps)
        {
            var r = PyramidCompression.Compress(img, step / 255, levels, allocation);
            o.WriteLine(string.Create(inv, $"{step,6:0.###}  {r.BitsPerPixel,10:0.000}  {r.Psnr,7:0.00}"));
            if (step == decodeStep) decoded = r.Decoded;
        }
        if (output is not null && decoded is not null)
        {
            ImageArgs.Save(output, decoded);
            o.WriteLine(string.Create(inv, $"wrote {output} (step {decodeStep:0.###})"));
        }
        return 0;
    }

    private static double[] ParseSteps(string? text)
    {
        if (text is null) return DefaultSteps;
        var steps = new List<double>();
        foreach (string part in text.Split(','))
        {
            if (!double.TryParse(part.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out double s) || !(s >= 1e-6 && s <= 1e6))
                throw new UsageException($"compress: --steps must be numbers in [1e-6, 1e6] separated by commas, got '{text}'");
            steps.Add(s);
        }
        // Each step is a full encode and decode; a list longer than a table is a mistake, not a request.
        if (steps.Count > MaxSteps) throw new UsageException($"compress: at most {MaxSteps} --steps, got {steps.Count}");
        return steps.Distinct().ToArray();
    }
}
