namespace Fovea.Vision.Imaging;

/// <summary>
/// A planar float image: <see cref="Data"/> holds <c>[Channels, Height, Width]</c> row-major, values nominally in [0, 1].
/// Channel order is the file's (gray; gray+alpha; R, G, B; R, G, B, A). It is the exchange type until the tensor core lands.
/// </summary>
public sealed class ImagePlanes
{
    /// <summary>Wraps <paramref name="data"/> (not copied) as a <paramref name="channels"/> x <paramref name="height"/> x <paramref name="width"/> image.</summary>
    public ImagePlanes(float[] data, int channels, int height, int width)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (channels < 1 || height < 1 || width < 1)
            throw new ArgumentException($"ImagePlanes: channels, height and width must be at least 1, got [{channels}, {height}, {width}].");
        if (data.Length != (long)channels * height * width)
            throw new ArgumentException($"ImagePlanes: [{channels}, {height}, {width}] needs {(long)channels * height * width} values, got {data.Length}.", nameof(data));
        Data = data;
        Channels = channels;
        Height = height;
        Width = width;
    }

    /// <summary>Creates a zero image of the given shape.</summary>
    public static ImagePlanes Zeros(int channels, int height, int width) => new(new float[(long)channels * height * width], channels, height, width);

    /// <summary>All samples, <c>[Channels, Height, Width]</c>.</summary>
    public float[] Data { get; }

    /// <summary>Number of channels (1 gray, 2 gray+alpha, 3 RGB, 4 RGBA).</summary>
    public int Channels { get; }

    /// <summary>Rows.</summary>
    public int Height { get; }

    /// <summary>Columns.</summary>
    public int Width { get; }

    /// <summary>Samples of one plane, <c>Height x Width</c>.</summary>
    public int PlaneLength => Height * Width;

    /// <summary>The samples of channel <paramref name="channel"/>.</summary>
    public Span<float> Plane(int channel)
    {
        if ((uint)channel >= (uint)Channels)
            throw new ArgumentOutOfRangeException(nameof(channel), channel, $"ImagePlanes: channel must be in [0, {Channels}).");
        return Data.AsSpan(channel * PlaneLength, PlaneLength);
    }
    /// <summary>The image as a float32 tensor <c>[Channels, Height, Width]</c> (a copy; values as stored, nominally in [0, 1]).</summary>
    public Tensor ToTensor() => Tensor.FromArray(Data, Channels, Height, Width);

    /// <summary>
    /// An image from a tensor <c>[C, H, W]</c> or <c>[H, W]</c> (one channel), float32 or float64 (converted), copied.
    /// Values are kept as they are; <see cref="ImageIO.SavePng"/> clamps to [0, 1] when writing.
    /// </summary>
    public static ImagePlanes FromTensor(Tensor tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        if (tensor.Rank is not (2 or 3))
            throw new ShapeException("ImagePlanes.FromTensor", $"expects [C, H, W] or [H, W], got {ShapeChecks.Format(tensor.Shape)} (rank {tensor.Rank})");
        if (!tensor.DType.IsFloating())
            throw new DTypeException("ImagePlanes.FromTensor", $"expects float32 or float64, got {tensor.DType.Name()}");
        int c = tensor.Rank == 3 ? tensor.Size(0) : 1, h = tensor.Size(-2), w = tensor.Size(-1);
        if (c < 1 || h < 1 || w < 1)
            throw new ShapeException("ImagePlanes.FromTensor", $"expects at least one channel, row and column, got {ShapeChecks.Format(tensor.Shape)}");
        var f = tensor.DType == DType.Float32 ? tensor : tensor.Detach().To(DType.Float32);
        return new ImagePlanes(f.ToArray<float>(), c, h, w);
    }
}
