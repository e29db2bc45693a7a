using Fovea.Vision.Imaging;

namespace Fovea.Vision.Transforms;

/// <summary>
/// Random brightness, contrast and saturation changes (torchvision's ColorJitter without hue). Each factor is drawn
/// uniformly from [max(0, 1 − x), 1 + x] for its strength x, the three adjustments run in a random order, and each
/// blends the image with a reference and clamps to [0, 1]: brightness <c>f·img</c> (blend with black), contrast
/// <c>f·img + (1 − f)·mean(gray(img))</c>, saturation <c>f·img + (1 − f)·gray(img)</c>, with gray the BT.601 luma of
/// <see cref="Grayscale"/>. A one-channel image has no saturation to change; an alpha channel is left as it is.
/// </summary>
public sealed class ColorJitter : ImageTransform
{
    /// <summary>Strength of the brightness change.</summary>
    public double Brightness { get; }

    /// <summary>Strength of the contrast change.</summary>
    public double Contrast { get; }

    /// <summary>Strength of the saturation change.</summary>
    public double Saturation { get; }

    /// <summary>Jitter with the given strengths (each ≥ 0; 0 leaves that property alone).</summary>
    public ColorJitter(double brightness = 0, double contrast = 0, double saturation = 0)
    {
        foreach (var (value, name) in new[] { (brightness, nameof(brightness)), (contrast, nameof(contrast)), (saturation, nameof(saturation)) })
            if (!(value >= 0 && double.IsFinite(value)))
                throw new ArgumentOutOfRangeException(name, value, "ColorJitter: each strength must be finite and non-negative");
        (Brightness, Contrast, Saturation) = (brightness, contrast, saturation);
    }

    /// <inheritdoc/>
    public override ImagePlanes Apply(ImagePlanes image, Generator rng)
    {
        ArgumentNullException.ThrowIfNull(image);
        int[] order = rng.Permutation(3);
        double b = Factor(Brightness, rng), c = Factor(Contrast, rng), s = Factor(Saturation, rng);
        var result = new ImagePlanes((float[])image.Data.Clone(), image.Channels, image.Height, image.Width);
        int colour = image.Channels >= 3 ? 3 : 1; // channels that carry colour; the rest is alpha
        foreach (int step in order)
        {
            switch (step)
            {
                case 0 when Brightness > 0: Blend(result, colour, b, _ => 0f); break;
                case 1 when Contrast > 0:
                    float mean = Mean(Luma(result, colour));
                    Blend(result, colour, c, _ => mean);
                    break;
                case 2 when Saturation > 0 && colour == 3:
                    var gray = Luma(result, colour);
                    Blend(result, colour, s, i => gray[i]);
                    break;
            }
        }
        return result;
    }

    /// <summary>A factor uniform in [max(0, 1 − x), 1 + x]; nothing is drawn when x is 0, so the stream does not depend on the unused strengths.</summary>
    private static double Factor(double strength, Generator rng)
    {
        if (strength == 0) return 1;
        double lo = Math.Max(0, 1 - strength), hi = 1 + strength;
        return lo + rng.NextDouble() * (hi - lo);
    }

    /// <summary>img ← clamp(f·img + (1 − f)·reference, 0, 1) on the colour channels.</summary>
    private static void Blend(ImagePlanes image, int colour, double factor, Func<int, float> reference)
    {
        float f = (float)factor, g = (float)(1 - factor);
        for (int ch = 0; ch < colour; ch++)
        {
            Span<float> p = image.Plane(ch);
            for (int i = 0; i < p.Length; i++) p[i] = Math.Clamp(f * p[i] + g * reference(i), 0f, 1f);
        }
    }

    private static float[] Luma(ImagePlanes image, int colour)
    {
        if (colour == 1) return image.Plane(0).ToArray();
        return Grayscale.ToGray(image).Data;
    }

    private static float Mean(float[] values)
    {
        double sum = 0;
        foreach (float v in values) sum += v;
        return (float)(sum / values.Length);
    }
}
