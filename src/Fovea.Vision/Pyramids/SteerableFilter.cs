using Fovea.Backends;

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
/// Steerable first-derivative-of-Gaussian filters (Freeman &amp; Adelson 1991) on tensors (<c>[H, W]</c> or <c>[C, H, W]</c>,
/// each plane filtered with BORDER_REFLECT_101). With <c>g(u) = e^{−u²/2σ²} / Σ e^{−u²/2σ²}</c> sampled on <c>|u| ≤ r</c>
/// (<c>r = ⌈4σ⌉</c>) and <c>d(u) = u·g(u) / Σ u²g(u)</c>, the basis kernels are <c>Gx(u, v) = d(u)·g(v)</c> and
/// <c>Gy(u, v) = g(u)·d(v)</c> (u along x, v along y, y down), normalised so that correlating with a unit ramp gives exactly 1.
/// Because the kernel is linear in (u, v), <c>G_α = cos α·Gx + sin α·Gy = (u cos α + v sin α)·g(u)g(v) / Σ u²g(u)</c> is exactly
/// the sampled rotated derivative, and the response at any angle is the same combination of the two basis responses.
/// </summary>
public static class SteerableFilter
{
    /// <summary>The basis responses <c>Gx</c>, <c>Gy</c> of <paramref name="image"/> for <paramref name="sigma"/> (two separable passes each).</summary>
    public static SteerableBasis Basis(Tensor image, double sigma)
    {
        var (x, _, _, _) = Planes("steerable_basis", image);
        if (!(sigma > 0) || double.IsInfinity(sigma))
            throw new ArgumentOutOfRangeException(nameof(sigma), sigma, "steerable_basis: sigma must be positive and finite.");
        var (g, d) = Kernels1D(sigma, DefaultRadius(sigma));
        var backend = Backend.Current;
        var gx = backend.SeparableFilter2d(x, d, g);
        var gy = backend.SeparableFilter2d(x, g, d);
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
        if (radius == 0) radius = DefaultRadius(sigma);
        var (gt, dt) = Kernels1D(sigma, radius);
        float[] g = gt.ToArray<float>(), d = dt.ToArray<float>();
        int n = 2 * radius + 1;
        double c = Math.Cos(angleRadians), s = Math.Sin(angleRadians);
        var k = new float[n * n];
        for (int v = 0; v < n; v++)
            for (int u = 0; u < n; u++) k[v * n + u] = (float)(c * d[u] * g[v] + s * g[u] * d[v]);
        return Tensor.FromArray(k, n, n);
    }

    /// <summary>Kernel radius used when none is given: <c>⌈4σ⌉</c> (at least 1).</summary>
    public static int DefaultRadius(double sigma) => Math.Max(1, (int)Math.Ceiling(4 * sigma));

    // The 1-d smoothing kernel g and derivative kernel d, each 2·radius + 1 long (float32 tensors), computed in double.
    private static (Tensor Smooth, Tensor Derivative) Kernels1D(double sigma, int radius)
    {
        var g = GaussianTaps(sigma, radius);
        int n = g.Length;
        double second = 0;
        for (int i = 0; i < n; i++) second += (double)(i - radius) * (i - radius) * g[i];
        var smooth = new float[n];
        var derivative = new float[n];
        for (int i = 0; i < n; i++)
        {
            smooth[i] = (float)g[i];
            derivative[i] = (float)((i - radius) * g[i] / second);
        }
        return (Tensor.FromArray(smooth, n), Tensor.FromArray(derivative, n));
    }

    /// <summary>The sampled Gaussian <c>g(u) = e^{−u²/2σ²} / Σ e^{−u²/2σ²}</c> on <c>u = −radius .. radius</c>, in double.</summary>
    internal static double[] GaussianTaps(double sigma, int radius)
    {
        if (!(sigma > 0) || double.IsInfinity(sigma))
            throw new ArgumentOutOfRangeException(nameof(sigma), sigma, "steerable_filter: sigma must be positive and finite.");
        if (radius < 1 || radius > 1024)
            throw new ArgumentOutOfRangeException(nameof(radius), radius, "steerable_filter: radius must be in [1, 1024].");
        int n = 2 * radius + 1;
        var g = new double[n];
        for (int i = 0; i < n; i++) g[i] = Math.Exp(-(i - radius) * (double)(i - radius) / (2 * sigma * sigma));
        double sum = g.Sum();
        for (int i = 0; i < n; i++) g[i] /= sum;
        return g;
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
