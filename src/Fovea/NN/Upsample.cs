namespace Fovea.NN;

/// <summary>Upsampling layer (PyTorch's <c>nn.Upsample</c>): nearest or bilinear, to a size or by a scale factor.</summary>
public sealed class Upsample : Module<Tensor, Tensor>
{
    /// <inheritdoc/>
    public override bool HoldsNoActivations => true;

    /// <summary>Upsamples by <paramref name="scaleFactor"/>.</summary>
    public Upsample(double scaleFactor, InterpolationMode mode = InterpolationMode.Nearest, bool? alignCorners = null)
    {
        ScaleFactor = scaleFactor;
        Mode = mode;
        AlignCorners = alignCorners;
    }

    /// <summary>Resizes to <paramref name="size"/>.</summary>
    public Upsample(Size2d size, InterpolationMode mode = InterpolationMode.Nearest, bool? alignCorners = null)
    {
        Size = size;
        Mode = mode;
        AlignCorners = alignCorners;
    }

    /// <summary>Target size, when given.</summary>
    public Size2d? Size { get; }

    /// <summary>Scale factor, when given.</summary>
    public double? ScaleFactor { get; }

    /// <summary>Interpolation mode.</summary>
    public InterpolationMode Mode { get; }

    /// <summary>Bilinear corner alignment (null for nearest).</summary>
    public bool? AlignCorners { get; }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => Functional.Interpolate(input, Size, ScaleFactor, Mode, AlignCorners);

    /// <inheritdoc/>
    public override string Describe() =>
        $"Upsample({(Size is { } s ? $"size={s}" : $"scale={ScaleFactor!.Value.ToString(System.Globalization.CultureInfo.InvariantCulture)}")}, {Mode.ToString().ToLowerInvariant()}{(AlignCorners == true ? ", align_corners" : "")})";
}
