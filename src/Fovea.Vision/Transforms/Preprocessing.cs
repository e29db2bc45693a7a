using System.Text.Json;
using System.Text.Json.Serialization;
using Fovea.Vision.Imaging;
using Fovea.Vision.Serialization;

namespace Fovea.Vision.Transforms;

/// <summary>
/// How a decoded image becomes the model's input at evaluation time, as data that travels in a checkpoint: convert to
/// <see cref="Channels"/> channels, resize so the shorter side is <see cref="ShorterSide"/> (antialiased bilinear), cut the
/// central <see cref="CropSize"/> x <see cref="CropSize"/> window, then <c>(x − Mean[c]) / Std[c]</c>. Training's validation,
/// <c>fovea eval</c> and <c>fovea predict</c> all go through <see cref="Apply"/>, so an image is prepared the same way
/// everywhere. Saved as JSON (<see cref="ToJson"/>, <see cref="Parse"/>).
/// </summary>
/// <param name="ShorterSide">The shorter side's length before the crop (≥ <see cref="CropSize"/>).</param>
/// <param name="CropSize">The side of the square input.</param>
/// <param name="Channels">1 (gray) or 3 (RGB).</param>
/// <param name="Mean">Per-channel mean subtracted (one value per channel).</param>
/// <param name="Std">Per-channel standard deviation divided by (one value per channel).</param>
public sealed record Preprocessing(int ShorterSide, int CropSize, int Channels, IReadOnlyList<double> Mean, IReadOnlyList<double> Std)
{
    /// <summary>The largest side accepted (a bound for files that carry a preprocessing).</summary>
    public const int MaxSide = 8192;

    /// <summary>
    /// A square input of <paramref name="size"/> with <paramref name="channels"/> channels: shorter side resized to
    /// <paramref name="size"/>, central crop, and no normalization (mean 0, std 1: inputs stay in [0, 1], as the
    /// Fashion-MNIST models take them) unless <paramref name="mean"/> and <paramref name="std"/> are given.
    /// </summary>
    public static Preprocessing Create(int size, int channels, IReadOnlyList<double>? mean = null, IReadOnlyList<double>? std = null)
    {
        var p = new Preprocessing(size, size, channels, mean ?? Enumerable.Repeat(0.0, channels).ToArray(), std ?? Enumerable.Repeat(1.0, channels).ToArray());
        p.Validate("Preprocessing");
        return p;
    }

    /// <summary>
    /// torchvision's ImageNet evaluation recipe: shorter side to round(crop·256/224) (256 for 224), central
    /// <paramref name="crop"/> crop, RGB, ImageNet mean and std.
    /// </summary>
    public static Preprocessing ImageNet(int crop = 224)
    {
        var p = new Preprocessing((int)Math.Round(crop * 256.0 / 224.0), crop, 3, Normalize.ImageNetMean, Normalize.ImageNetStd);
        p.Validate("Preprocessing");
        return p;
    }

    /// <summary>Refuses sizes out of range, a channel count other than 1 or 3, and statistics of the wrong length or non-positive std.</summary>
    private void Validate(string where)
    {
        string? problem =
            CropSize < 1 || CropSize > MaxSide ? $"crop size {CropSize} is not in [1, {MaxSide}]" :
            ShorterSide < CropSize || ShorterSide > MaxSide ? $"shorter side {ShorterSide} is not in [crop size {CropSize}, {MaxSide}]" :
            Channels is not (1 or 3) ? $"channels {Channels} is neither 1 nor 3" :
            Mean is null || Std is null || Mean.Count != Channels || Std.Count != Channels ? $"mean and std need {Channels} values each" :
            Mean.Any(m => !double.IsFinite(m)) ? "a mean is not finite" :
            Std.Any(s => !(s > 0) || !double.IsFinite(s)) ? "a std is not positive and finite" :
            null;
        if (problem is not null) throw new InvalidDataException($"{where}: {problem}");
    }

    /// <summary>The evaluation pipeline as an image transform: channels, resize, central crop, normalize.</summary>
    public ImagePipeline Transform() => new(new ConvertChannels(Channels), new Resize(ShorterSide), new CenterCrop(CropSize), Normalization());

    /// <summary>The final normalization step.</summary>
    public Normalize Normalization() => new([.. Mean], [.. Std]);

    /// <summary>
    /// A training pipeline that ends in the same input as <see cref="Transform"/>: channels, then either a
    /// <see cref="RandomResizedCrop"/> to <see cref="CropSize"/> (<paramref name="randomResizedCrop"/>, torchvision's
    /// defaults) or the evaluation resize and crop, then a horizontal flip with probability 0.5 when
    /// <paramref name="flip"/>, then <paramref name="jitter"/> when given, then the normalization.
    /// </summary>
    public ImagePipeline TrainTransform(bool randomResizedCrop = true, bool flip = true, ColorJitter? jitter = null)
    {
        var steps = new List<IImageTransform> { new ConvertChannels(Channels) };
        if (randomResizedCrop) steps.Add(new RandomResizedCrop(CropSize));
        else steps.AddRange([new Resize(ShorterSide), new CenterCrop(CropSize)]);
        if (flip) steps.Add(new RandomHorizontalFlip());
        if (jitter is not null) steps.Add(jitter);
        steps.Add(Normalization());
        return new ImagePipeline([.. steps]);
    }

    /// <summary>The model input [Channels, CropSize, CropSize] (float32) for one decoded image.</summary>
    public Tensor Apply(ImagePlanes image)
    {
        ArgumentNullException.ThrowIfNull(image);
        return Transform().Apply(image, new Generator()).ToTensor();
    }

    /// <summary>Decodes <paramref name="path"/> (PNG, JPEG, BMP, TGA, with <see cref="ImageIO"/>'s checks) and prepares it: [Channels, CropSize, CropSize].</summary>
    public Tensor Load(string path) => Apply(ImageIO.Load(path));

    /// <summary>The description as JSON: <c>{"shorterSide":…,"cropSize":…,"channels":…,"mean":[…],"std":[…]}</c>.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, PreprocessingJsonContext.Default.Preprocessing);

    /// <summary>
    /// Reads a description written by <see cref="ToJson"/>, from a file that may be hostile: malformed JSON, a key
    /// twice, a missing or unknown key, or a value out of range is an <see cref="InvalidDataException"/> naming
    /// <paramref name="source"/> and the field.
    /// </summary>
    public static Preprocessing Parse(string json, string source)
    {
        ArgumentNullException.ThrowIfNull(json);
        const string what = "preprocessing";
        using var doc = UntrustedJson.Parse(json, source, what);
        int? shorter = null, crop = null, channels = null;
        double[]? mean = null, std = null;
        foreach (var (name, value) in UntrustedJson.Properties(doc.RootElement, source, what))
        {
            switch (name)
            {
                case "shorterSide": shorter = (int)UntrustedJson.Integer(value, 1, MaxSide, source, $"{what} 'shorterSide'"); break;
                case "cropSize": crop = (int)UntrustedJson.Integer(value, 1, MaxSide, source, $"{what} 'cropSize'"); break;
                case "channels": channels = (int)UntrustedJson.Integer(value, 1, 3, source, $"{what} 'channels'"); break;
                case "mean": mean = Numbers(value, source, $"{what} 'mean'"); break;
                case "std": std = Numbers(value, source, $"{what} 'std'"); break;
                default: throw new InvalidDataException($"{source}: {what} has an unknown key {UntrustedJson.Quote(name)}");
            }
        }
        if (shorter is null || crop is null || channels is null || mean is null || std is null)
            throw new InvalidDataException($"{source}: {what} lacks {string.Join(", ", new[] { ("shorterSide", shorter is null), ("cropSize", crop is null), ("channels", channels is null), ("mean", mean is null), ("std", std is null) }.Where(k => k.Item2).Select(k => k.Item1))}");
        var p = new Preprocessing(shorter.Value, crop.Value, channels.Value, mean, std);
        p.Validate($"{source}: {what}");
        return p;
    }

    private static double[] Numbers(JsonElement array, string source, string what)
    {
        var values = new List<double>();
        foreach (var item in UntrustedJson.Items(array, source, what))
        {
            if (values.Count == 3) throw new InvalidDataException($"{source}: {what} has more than 3 values");
            values.Add(UntrustedJson.Number(item, source, what));
        }
        return [.. values];
    }

    /// <inheritdoc/>
    public bool Equals(Preprocessing? other) =>
        other is not null && ShorterSide == other.ShorterSide && CropSize == other.CropSize && Channels == other.Channels
        && Mean.SequenceEqual(other.Mean) && Std.SequenceEqual(other.Std);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(ShorterSide, CropSize, Channels, Mean.Count > 0 ? Mean[0] : 0, Std.Count > 0 ? Std[0] : 0);
}

/// <summary>Compile-time JSON metadata for <see cref="Preprocessing"/> (camelCase keys; reflection-free for trimming and AOT).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(Preprocessing))]
internal sealed partial class PreprocessingJsonContext : JsonSerializerContext;
