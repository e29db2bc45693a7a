using Fovea.Backends;

namespace Fovea.Vision;

/// <summary>
/// The three basis responses of the second-derivative-of-Gaussian steerable filter G2 (Freeman &amp; Adelson 1991) on an
/// image. The response at any angle θ is <c>k_a(θ)·G2a + k_b(θ)·G2b + k_c(θ)·G2c</c> with Freeman &amp; Adelson's
/// interpolation functions <c>k_a = cos²θ</c>, <c>k_b = −2 cos θ sin θ</c>, <c>k_c = sin²θ</c> (<see cref="Steer"/>).
/// </summary>
/// <param name="G2a">Image correlated with <c>∂²/∂x²</c> of the Gaussian (x to the right), same shape as the image.</param>
/// <param name="G2b">Image correlated with the mixed kernel <c>−∂²/∂x∂y</c> (y down; the sign makes it F&amp;A's <c>x·y</c> with y up).</param>
/// <param name="G2c">Image correlated with <c>∂²/∂y²</c> of the Gaussian (y down).</param>
/// <param name="Sigma">The Gaussian's standard deviation in pixels.</param>
public sealed record SecondOrderSteerableBasis(Tensor G2a, Tensor G2b, Tensor G2c, double Sigma)
{
    /// <summary>The second derivative along the direction at <paramref name="angleRadians"/> from +x towards +y: <c>k_a·G2a + k_b·G2b + k_c·G2c</c>.</summary>
    public Tensor Steer(double angleRadians)
    {
        var (ka, kb, kc) = SecondOrderSteerableFilter.InterpolationWeights(angleRadians);
        return G2a.Mul(ka).Add(G2b.Mul(kb)).Add(G2c.Mul(kc));
    }
}

/// <summary>
/// Steerable second-derivative-of-Gaussian filters (Freeman &amp; Adelson 1991, "The design and use of steerable filters",
/// the G2 basis of three) on tensors (<c>[H, W]</c> or <c>[C, H, W]</c> float32, each plane filtered with BORDER_REFLECT_101).
/// With <c>g(u) = e^{−u²/2σ²} / Σ e^{−u²/2σ²}</c> sampled on <c>|u| ≤ r</c> (<c>r = ⌈4σ⌉</c>, as the first-order filter),
/// <c>e(u) = (u²/σ² − 1 + β)·g(u)</c> with <c>β = 1 − Σ u²g(u)/σ²</c> (so <c>Σ e = 0</c>: a constant image gives 0) and
/// <c>A = 2 / Σ u²e(u)</c> (so correlating <c>G2a</c> with <c>x²/2</c> gives exactly 1), the basis kernels are
/// <c>G2a(u, v) = A·e(u)·g(v)</c>, <c>G2b(u, v) = −A·u·v·g(u)·g(v)/σ²</c> and <c>G2c(u, v) = A·g(u)·e(v)</c> (u along x, v along y,
/// y down), each separable. Writing <c>u_θ = u cos θ + v sin θ</c>, the identity
/// <c>u_θ² / σ² − 1 + β = cos²θ (u²/σ² − 1 + β) + 2 cos θ sin θ·uv/σ² + sin²θ (v²/σ² − 1 + β)</c> makes the sampled rotated
/// kernel <c>A (u_θ²/σ² − 1 + β)·g(u)g(v)</c> exactly <c>cos²θ·G2a − 2 cos θ sin θ·G2b + sin²θ·G2c</c>, Freeman &amp; Adelson's
/// table (their <c>G2b = 1.843·x·y</c> has y pointing up, hence the minus sign in <c>G2b</c> here, with y pointing down).
/// Angles turn from +x towards +y as for <see cref="SteerableFilter"/>; a bright line along direction φ gives its most
/// negative response at <c>θ = φ + 90°</c> (across the line).
/// </summary>
public static class SecondOrderSteerableFilter
{
    /// <summary>The basis responses <c>G2a</c>, <c>G2b</c>, <c>G2c</c> of <paramref name="image"/> for <paramref name="sigma"/> (two separable passes each).</summary>
    public static SecondOrderSteerableBasis Basis(Tensor image, double sigma)
    {
        var (x, _, _, _) = SteerableFilter.Planes("steerable_basis_g2", image);
        if (!(sigma > 0) || double.IsInfinity(sigma))
            throw new ArgumentOutOfRangeException(nameof(sigma), sigma, "steerable_basis_g2: sigma must be positive and finite.");
        var k = Kernels1D(sigma, SteerableFilter.DefaultRadius(sigma));
        var backend = Backend.Current;
        var a = backend.SeparableFilter2d(x, k.Second, k.Smooth);
        var b = backend.SeparableFilter2d(x, k.MixedX, k.MixedY);
        var c = backend.SeparableFilter2d(x, k.Smooth, k.Second);
        return new SecondOrderSteerableBasis(a, b, c, sigma);
    }

    /// <summary>The response at one angle: <c>Basis(image, sigma).Steer(angleRadians)</c>.</summary>
    public static Tensor Response(Tensor image, double sigma, double angleRadians) => Basis(image, sigma).Steer(angleRadians);

    /// <summary>Freeman &amp; Adelson's interpolation functions at θ: <c>(cos²θ, −2 cos θ sin θ, sin²θ)</c>.</summary>
    public static (double Ka, double Kb, double Kc) InterpolationWeights(double angleRadians)
    {
        double c = Math.Cos(angleRadians), s = Math.Sin(angleRadians);
        return (c * c, -2 * c * s, s * s);
    }

    /// <summary>
    /// The steered kernel <c>k_a·G2a + k_b·G2b + k_c·G2c</c> as a <c>[2r + 1, 2r + 1]</c> float32 tensor (row = y, column = x),
    /// <c>r = ⌈4σ⌉</c> unless <paramref name="radius"/> is given. Correlating with it equals <see cref="SecondOrderSteerableBasis.Steer"/>.
    /// </summary>
    public static Tensor Kernel(double sigma, double angleRadians, int radius = 0)
    {
        if (radius == 0) radius = SteerableFilter.DefaultRadius(sigma);
        var k = Kernels1D(sigma, radius);
        float[] g = k.Smooth.ToArray<float>(), e = k.Second.ToArray<float>(), bx = k.MixedX.ToArray<float>(), by = k.MixedY.ToArray<float>();
        var (ka, kb, kc) = InterpolationWeights(angleRadians);
        int n = 2 * radius + 1;
        var kernel = new float[n * n];
        for (int v = 0; v < n; v++)
            for (int u = 0; u < n; u++)
                kernel[v * n + u] = (float)(ka * e[u] * g[v] + kb * bx[u] * by[v] + kc * g[u] * e[v]);
        return Tensor.FromArray(kernel, n, n);
    }

    // The 1-d kernels of the three separable basis filters (float32 tensors, computed in double): G2a = Second ⊗ Smooth
    // (x, y), G2b = MixedX ⊗ MixedY, G2c = Smooth ⊗ Second, with the normalisation of the class summary folded into Second
    // and MixedX.
    private static (Tensor Smooth, Tensor Second, Tensor MixedX, Tensor MixedY) Kernels1D(double sigma, int radius)
    {
        var g = SteerableFilter.GaussianTaps(sigma, radius);
        int n = g.Length;
        double s2 = sigma * sigma, moment = 0;
        for (int i = 0; i < n; i++) moment += (double)(i - radius) * (i - radius) * g[i];
        double beta = 1 - moment / s2;
        var e = new double[n];
        double quadratic = 0;
        for (int i = 0; i < n; i++)
        {
            double u = i - radius;
            e[i] = (u * u / s2 - 1 + beta) * g[i];
            quadratic += u * u * e[i];
        }
        double a = 2 / quadratic;
        var smooth = new float[n];
        var second = new float[n];
        var mixedX = new float[n];
        var mixedY = new float[n];
        for (int i = 0; i < n; i++)
        {
            double u = i - radius;
            smooth[i] = (float)g[i];
            second[i] = (float)(a * e[i]);
            mixedX[i] = (float)(-a * u * g[i] / s2);
            mixedY[i] = (float)(u * g[i]);
        }
        return (Tensor.FromArray(smooth, n), Tensor.FromArray(second, n), Tensor.FromArray(mixedX, n), Tensor.FromArray(mixedY, n));
    }
}
