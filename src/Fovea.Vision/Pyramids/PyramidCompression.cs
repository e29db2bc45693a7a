namespace Fovea.Vision;

/// <summary>How the quantiser step is shared among the levels of a Laplacian pyramid.</summary>
public enum StepAllocation
{
    /// <summary>Every band and the residual use the same step Δ.</summary>
    Uniform,

    /// <summary>
    /// Level <c>i</c> uses <c>Δ_i = Δ / √g_i</c> with <c>g_i = </c><see cref="LaplacianBandGains.SynthesisGain"/>: finer steps at
    /// coarser levels, because an error there is spread over more pixels by the collapse. At high rate a step Δ costs
    /// <c>−log2 Δ</c> bits per coefficient and adds <c>g_i·Δ²/12</c> squared error per coefficient, and the bits are best
    /// spent when every level has the same slope <c>dD/dR</c>, i.e. the same <c>g_i·Δ_i²</c>.
    /// </summary>
    EqualSlope,
}

/// <summary>One point of the rate–distortion curve of <see cref="PyramidCompression"/>.</summary>
/// <param name="Step">The quantiser step Δ of the finest band, in the image's units.</param>
/// <param name="BandSteps">The step of every level, finest first, the low-pass residual last.</param>
/// <param name="BandEntropies">The zeroth-order entropy of every level's quantised coefficients, bits per coefficient.</param>
/// <param name="BitsPerPixel">Estimated size: <c>Σ_i H_i·(number of coefficients of level i) / (pixels of the image)</c>,
/// where a pixel counts all its channels.</param>
/// <param name="Psnr">PSNR of <paramref name="Decoded"/> against the input, dB (peak 1).</param>
/// <param name="Decoded">The image collapsed from the dequantised pyramid (not clipped).</param>
public sealed record CompressionResult(double Step, double[] BandSteps, double[] BandEntropies, double BitsPerPixel, double Psnr, Tensor Decoded);

/// <summary>
/// Lossy coding with a Laplacian pyramid (Burt &amp; Adelson 1983; the lecture notes' "useful for noise reduction &amp;
/// coding"): every level, the low-pass residual included, is quantised uniformly, <c>q = round(c / Δ_i)</c> (half away
/// from zero), its size estimated by the zeroth-order entropy of the symbols <c>q</c> (what an ideal coder of independent
/// symbols would spend: <c>H = −Σ p log2 p</c> over the symbols' frequencies in that level), and the image decoded by
/// collapsing the dequantised pyramid <c>q·Δ_i</c>. Most band coefficients quantise to 0, so bands cost far below 8 bits.
/// <code>
/// Tensor img = ImageIO.Load("chelsea.png").ToTensor();
/// CompressionResult r = PyramidCompression.Compress(img, step: 8 / 255.0);
/// Console.WriteLine($"{r.BitsPerPixel:0.00} bpp, {r.Psnr:0.0} dB");
/// </code>
/// </summary>
public static class PyramidCompression
{
    /// <summary>
    /// Quantises the <paramref name="levels"/>-level Laplacian pyramid of <paramref name="image"/> (<c>[C, H, W]</c> or
    /// <c>[N, C, H, W]</c>, float32 or float64) with finest step <paramref name="step"/> (in the image's units: 8/255 is 8
    /// gray levels of an 8-bit image) shared as <paramref name="allocation"/> says, and reports the estimated bits per
    /// pixel, the PSNR and the decoded image.
    /// </summary>
    public static CompressionResult Compress(Tensor image, double step, int levels = PyramidDenoising.DefaultLevels, StepAllocation allocation = StepAllocation.EqualSlope)
    {
        Pyramids.CheckImage("compress", image);
        Pyramids.CheckLevels("compress", levels);
        var steps = BandSteps(step, levels, allocation);
        var bands = Pyramids.LaplacianPyramid(image, levels);
        var entropies = new double[levels];
        var decodedBands = new Tensor[levels];
        double bits = 0;
        for (int i = 0; i < levels; i++)
        {
            var symbols = Quantize(bands[i], steps[i]);
            entropies[i] = Entropy(symbols);
            bits += entropies[i] * symbols.Length;
            var values = new double[symbols.Length];
            for (int j = 0; j < values.Length; j++) values[j] = symbols[j] * steps[i];
            decodedBands[i] = Tensor.FromArray(values, bands[i].Shape).To(image.DType);
        }
        var decoded = Pyramids.Reconstruct(decodedBands);
        long pixels = image.Numel / image.Size(-3);
        return new CompressionResult(step, steps, entropies, bits / pixels, ImageQuality.Psnr(image, decoded), decoded);
    }

    /// <summary>The step of each of the <paramref name="levels"/> levels (finest first, the residual last) for finest step <paramref name="step"/>.</summary>
    public static double[] BandSteps(double step, int levels, StepAllocation allocation)
    {
        Pyramids.CheckLevels("compress", levels);
        if (!(step > 0) || double.IsInfinity(step))
            throw new ArgumentOutOfRangeException(nameof(step), step, "compress: the quantiser step must be positive and finite.");
        if (!Enum.IsDefined(allocation)) throw new ArgumentOutOfRangeException(nameof(allocation), allocation, "compress: unknown step allocation.");
        var steps = new double[levels];
        for (int i = 0; i < levels; i++)
            steps[i] = allocation == StepAllocation.Uniform ? step : step / Math.Sqrt(LaplacianBandGains.SynthesisGain(i));
        return steps;
    }

    /// <summary>
    /// The symbols <c>round(c / step)</c> (half away from zero) of every value of <paramref name="band"/>, row-major.
    /// Refuses a step so small that a symbol would not fit in 32 bits, or a non-finite value.
    /// </summary>
    public static int[] Quantize(Tensor band, double step)
    {
        ArgumentNullException.ThrowIfNull(band);
        if (!(step > 0) || double.IsInfinity(step))
            throw new ArgumentOutOfRangeException(nameof(step), step, "quantize: the step must be positive and finite.");
        var values = band.To(DType.Float64).Contiguous().ToArray<double>();
        var symbols = new int[values.Length];
        for (int i = 0; i < values.Length; i++)
        {
            double q = Math.Round(values[i] / step, MidpointRounding.AwayFromZero);
            if (!(Math.Abs(q) <= int.MaxValue))
                throw new ArgumentException($"quantize: value {values[i]} at {i} over step {step} gives symbol {q}, which is not finite or does not fit in 32 bits.", nameof(step));
            symbols[i] = (int)q;
        }
        return symbols;
    }

    /// <summary>
    /// Zeroth-order entropy of <paramref name="symbols"/> in bits per symbol, <c>−Σ_s p_s log2 p_s</c> with <c>p_s</c> the
    /// relative frequency of symbol <c>s</c>: 0 when every symbol is the same (or there are none).
    /// </summary>
    public static double Entropy(ReadOnlySpan<int> symbols)
    {
        if (symbols.Length == 0) return 0;
        var sorted = symbols.ToArray();
        Array.Sort(sorted);
        double n = sorted.Length, h = 0;
        for (int start = 0; start < sorted.Length;)
        {
            int end = start;
            while (end < sorted.Length && sorted[end] == sorted[start]) end++;
            double p = (end - start) / n;
            h -= p * Math.Log2(p);
            start = end;
        }
        return h;
    }
}
