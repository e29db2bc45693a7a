using System.Numerics.Tensors;

namespace Fovea.Kernels.Filtering;

/// <summary>
/// First-derivative-of-Gaussian steerable filters (Freeman &amp; Adelson 1991). With
/// <c>g(u) = e^{−u²/2σ²} / Σ e^{−u²/2σ²}</c> sampled on <c>|u| ≤ radius</c> and <c>d(u) = u·g(u) / Σ u²g(u)</c>,
/// the basis kernels are <c>Gx(u, v) = d(u)·g(v)</c> and <c>Gy(u, v) = g(u)·d(v)</c> (u along x, v along y, y down),
/// normalised so that correlating with a unit ramp gives exactly 1. Because the kernel is linear in (u, v),
/// <c>G_α = cos α·Gx + sin α·Gy = (u cos α + v sin α)·g(u)g(v) / Σ u²g(u)</c> is exactly the sampled rotated
/// derivative, and the response at any angle is the same combination of the two basis responses.
/// Responses are correlations (BORDER_REFLECT_101), i.e. smoothed directional derivatives.
/// </summary>
public static class SteerableFilters
{
    /// <summary>Kernel radius used when none is given: <c>⌈4σ⌉</c> (at least 1).</summary>
    public static int DefaultRadius(double sigma) => Math.Max(1, (int)Math.Ceiling(4 * sigma));

    /// <summary>Fills the 1-D smoothing kernel <c>g</c> and derivative kernel <c>d</c> (each <c>2·radius + 1</c> long).</summary>
    public static void Kernels1D(double sigma, int radius, Span<float> smooth, Span<float> derivative)
    {
        CheckSigma(sigma, radius);
        int n = 2 * radius + 1;
        if (smooth.Length < n || derivative.Length < n)
            throw new ArgumentException($"SteerableFilters: kernels need {n} values for radius {radius}.");
        Span<double> g = stackalloc double[n];
        double sum = 0, second = 0;
        for (int i = 0; i < n; i++)
        {
            int u = i - radius;
            g[i] = Math.Exp(-u * (double)u / (2 * sigma * sigma));
            sum += g[i];
        }
        for (int i = 0; i < n; i++)
        {
            g[i] /= sum;
            int u = i - radius;
            second += (double)u * u * g[i];
        }
        for (int i = 0; i < n; i++)
        {
            smooth[i] = (float)g[i];
            derivative[i] = (float)((i - radius) * g[i] / second);
        }
    }

    /// <summary>
    /// The steered 2-D kernel <c>G_α = cos α·Gx + sin α·Gy</c>, row-major <c>[2r + 1, 2r + 1]</c> (row = v, column = u).
    /// </summary>
    public static float[] SteeredKernel(double sigma, double angleRadians, int radius)
    {
        int n = 2 * radius + 1;
        var g = new float[n];
        var d = new float[n];
        Kernels1D(sigma, radius, g, d);
        double c = Math.Cos(angleRadians), s = Math.Sin(angleRadians);
        var k = new float[n * n];
        for (int v = 0; v < n; v++)
        for (int u = 0; u < n; u++)
            k[v * n + u] = (float)(c * d[u] * g[v] + s * g[u] * d[v]);
        return k;
    }

    /// <summary>
    /// Basis responses of a <c>[height, width]</c> plane: <paramref name="gx"/> = image ⋆ Gx, <paramref name="gy"/> = image ⋆ Gy
    /// (each by two separable passes).
    /// </summary>
    public static void Basis(ReadOnlySpan<float> image, int width, int height, double sigma, Span<float> gx, Span<float> gy, int radius = 0)
    {
        if (radius == 0) radius = DefaultRadius(sigma);
        int n = 2 * radius + 1;
        var g = new float[n];
        var d = new float[n];
        Kernels1D(sigma, radius, g, d);
        SeparableFilter.Apply(image, width, height, d, g, gx);
        SeparableFilter.Apply(image, width, height, g, d, gy);
    }

    /// <summary>Response at angle α from the basis responses: <c>cos α·gx + sin α·gy</c>.</summary>
    public static void Steer(ReadOnlySpan<float> gx, ReadOnlySpan<float> gy, double angleRadians, Span<float> output)
    {
        if (gx.Length != gy.Length || output.Length < gx.Length)
            throw new ArgumentException($"SteerableFilters.Steer: gx, gy and output must match, got {gx.Length}, {gy.Length}, {output.Length}.");
        float c = (float)Math.Cos(angleRadians), s = (float)Math.Sin(angleRadians);
        // cos α·gx + sin α·gy in two vectorised passes.
        TensorPrimitives.Multiply(gx, c, output);
        TensorPrimitives.MultiplyAdd(gy, s, output.Slice(0, gx.Length), output);
    }

    private static void CheckSigma(double sigma, int radius)
    {
        if (!(sigma > 0) || double.IsInfinity(sigma))
            throw new ArgumentOutOfRangeException(nameof(sigma), sigma, "SteerableFilters: sigma must be positive and finite.");
        if (radius < 1 || radius > 1024)
            throw new ArgumentOutOfRangeException(nameof(radius), radius, "SteerableFilters: radius must be in [1, 1024].");
    }
}
