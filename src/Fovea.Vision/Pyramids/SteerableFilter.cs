using Fovea.Kernels.Filtering;

namespace Fovea.Vision;

/// <summary>
/// The two basis responses of a first-derivative-of-Gaussian steerable filter (Freeman &amp; Adelson 1991) on an image.
/// The response at any angle α is <c>cos α·Gx + sin α·Gy</c> (<see cref="Steer"/>): no further filtering.
/// </summary>
/// <param name="Gx">Image correlated with <c>∂/∂x</c> of the Gaussian (x to the right), same shape as the image.</param>
/// <param name="Gy">Image correlated with <c>∂/∂y</c> of the Gaussian (y down), same shape as the image.</param>
/// <param name="Sigma">The Gaussian's standard deviation in pixels.</param>
public sealed record SteerableBasis(Tensor Gx, Tensor Gy, double Sigma)
{
    /// <summary>The response of the derivative along the direction at <paramref name="angleRadians"/> from +x towards +y: <c>cos α·Gx + sin α·Gy</c>.</summary>
    public Tensor Steer(double angleRadians) => Gx.Mul(Math.Cos(angleRadians)).Add(Gy.Mul(Math.Sin(angleRadians)));
}

/// <summary>
/// Steerable first-derivative-of-Gaussian filters on tensors (<c>[H, W]</c> or <c>[C, H, W]</c>, each plane filtered with
/// BORDER_REFLECT_101). Kernels are sampled on <c>|u| ≤ ⌈4σ⌉</c> and normalised so a unit ramp gives exactly 1
/// (<see cref="SteerableFilters"/> gives the formulas).
/// </summary>
public static class SteerableFilter
{
    /// <summary>The basis responses <c>Gx</c>, <c>Gy</c> of <paramref name="image"/> for <paramref name="sigma"/> (two separable passes each).</summary>
    public static SteerableBasis Basis(Tensor image, double sigma)
    {
        var (x, planes, h, w) = Planes("steerable_basis", image);
        if (!(sigma > 0) || double.IsInfinity(sigma))
            throw new ArgumentOutOfRangeException(nameof(sigma), sigma, "steerable_basis: sigma must be positive and finite.");
        var gx = Tensor.Zeros(image.Shape, DType.Float32);
        var gy = Tensor.Zeros(image.Shape, DType.Float32);
        ReadOnlySpan<float> s = x.AsSpan<float>();
        Span<float> dx = gx.AsSpan<float>(), dy = gy.AsSpan<float>();
        int n = h * w;
        for (int p = 0; p < planes; p++)
            SteerableFilters.Basis(s.Slice(p * n, n), w, h, sigma, dx.Slice(p * n, n), dy.Slice(p * n, n));
        return new SteerableBasis(gx, gy, sigma);
    }

    /// <summary>The response at one angle: <c>Basis(image, sigma).Steer(angleRadians)</c>.</summary>
    public static Tensor Response(Tensor image, double sigma, double angleRadians) => Basis(image, sigma).Steer(angleRadians);

    /// <summary>
    /// The steered kernel <c>G_α = cos α·Gx + sin α·Gy</c> as a <c>[2r + 1, 2r + 1]</c> float32 tensor (row = y, column = x),
    /// <c>r = ⌈4σ⌉</c> unless <paramref name="radius"/> is given. Correlating with it equals <see cref="SteerableBasis.Steer"/>.
    /// </summary>
    public static Tensor Kernel(double sigma, double angleRadians, int radius = 0)
    {
        if (radius == 0) radius = SteerableFilters.DefaultRadius(sigma);
        int n = 2 * radius + 1;
        return Tensor.FromArray(SteerableFilters.SteeredKernel(sigma, angleRadians, radius), n, n);
    }

    internal static (Tensor X, int Planes, int H, int W) Planes(string op, Tensor image)
    {
        ArgumentNullException.ThrowIfNull(image);
        if (image.Rank is not (2 or 3))
            throw new ShapeException(op, $"expects an image [H, W] or [C, H, W], got {ShapeChecks.Format(image.Shape)} (rank {image.Rank})");
        if (image.Numel == 0) throw new ShapeException(op, $"expects a non-empty image, got {ShapeChecks.Format(image.Shape)}");
        if (image.DType != DType.Float32)
            throw new DTypeException(op, $"expects float32, got {image.DType.Name()}; convert with .To(DType.Float32)");
        int h = image.Size(-2), w = image.Size(-1);
        return (image.Contiguous(), image.Numel / (h * w), h, w);
    }
}
