using Fovea.Backends;

namespace Fovea.Vision;

/// <summary>
/// Gaussian and Laplacian pyramids and multiresolution blending on tensors: images <c>[C, H, W]</c> or batches
/// <c>[N, C, H, W]</c>, float32 (fast, OpenCV-exact kernels) or float64. Every function is differentiable: PyrDown and
/// PyrUp are autograd functions whose backward is their exact adjoint, and the rest is built from them. When nothing needs
/// a gradient or a tangent, Laplacian bands and collapse steps run as one fused pass each
/// (<see cref="IBackend.PyrUpAdd"/>), with the same result.
/// <code>
/// var img = ImageIO.Load("a.png").ToTensor();           // [3, H, W] in [0, 1]
/// Tensor[] lap = Pyramids.LaplacianPyramid(img, 5);     // 4 bands + the low-pass residual
/// Tensor back = Pyramids.Reconstruct(lap);              // img again, to float rounding
/// Tensor mix = Pyramids.Blend(img, other, mask, 5);     // Burt &amp; Adelson multiresolution spline
/// </code>
/// </summary>
public static partial class Pyramids
{
    /// <summary>
    /// OpenCV's <c>pyrDown</c> on every plane: blur by the 5x5 binomial <c>[1 4 6 4 1]ᵀ[1 4 6 4 1] / 256</c> with
    /// BORDER_REFLECT_101, keep every second sample; <c>[.., H, W] → [.., (H + 1) / 2, (W + 1) / 2]</c>.
    /// </summary>
    public static Tensor PyrDown(Tensor image)
    {
        CheckImage("pyr_down", image);
        return Down(image);
    }

    /// <summary>
    /// OpenCV's <c>pyrUp</c> on every plane: zero insertion, then the same kernel times 4. The output is
    /// <paramref name="size"/> <c>(Height, Width)</c>, default twice the input; each extent must be <c>2n</c> or
    /// <c>2n ± 1</c> (OpenCV's rule <c>|out − 2n| = out mod 2</c>). For an odd extent <c>2n + 1</c>, OpenCV's extra last
    /// column repeats column <c>2n − 1</c> and the extra last row repeats row <c>2n − 2</c>; <c>2n − 1</c> drops the last.
    /// </summary>
    public static Tensor PyrUp(Tensor image, (int Height, int Width)? size = null)
    {
        CheckImage("pyr_up", image);
        int h = image.Size(-2), w = image.Size(-1);
        var (oh, ow) = size ?? (2 * h, 2 * w);
        return Up(image, oh, ow, "pyr_up");
    }

    /// <summary><c>G_0</c> = the image, <c>G_{i+1} = PyrDown(G_i)</c>; <paramref name="levels"/> tensors, finest first (a 1x1 level stays 1x1).</summary>
    public static Tensor[] GaussianPyramid(Tensor image, int levels)
    {
        CheckImage("gaussian_pyramid", image);
        CheckLevels("gaussian_pyramid", levels);
        return Gaussian(image, levels);
    }

    /// <summary>
    /// Laplacian pyramid (Burt &amp; Adelson): <c>L_i = G_i − PyrUp(G_{i+1}, size of G_i)</c> for <c>i &lt; levels − 1</c> and the
    /// low-pass residual <c>L_{levels−1} = G_{levels−1}</c>. <paramref name="levels"/> counts every level including the residual.
    /// </summary>
    public static Tensor[] LaplacianPyramid(Tensor image, int levels)
    {
        CheckImage("laplacian_pyramid", image);
        CheckLevels("laplacian_pyramid", levels);
        return Laplacian(image, levels);
    }

    /// <summary>
    /// Collapses a Laplacian pyramid: <c>R_{n−1} = L_{n−1}</c>, <c>R_i = L_i + PyrUp(R_{i+1}, size of L_i)</c>, returning <c>R_0</c>.
    /// Exact inverse of <see cref="LaplacianPyramid"/> up to float rounding, at every size.
    /// </summary>
    public static Tensor Reconstruct(IReadOnlyList<Tensor> pyramid)
    {
        ArgumentNullException.ThrowIfNull(pyramid);
        if (pyramid.Count == 0) throw new ArgumentException("reconstruct: the pyramid has no levels.", nameof(pyramid));
        foreach (var level in pyramid) CheckImage("reconstruct", level);
        for (int i = 0; i + 1 < pyramid.Count; i++)
        {
            int[] fine = pyramid[i].Shape, coarse = pyramid[i + 1].Shape;
            bool lead = fine.Length == coarse.Length && fine.AsSpan(0, fine.Length - 2).SequenceEqual(coarse.AsSpan(0, coarse.Length - 2));
            if (!lead || !PyramidGeometry.IsValidUpSize(coarse[^2], fine[^2]) || !PyramidGeometry.IsValidUpSize(coarse[^1], fine[^1]))
                throw new ShapeException("reconstruct", $"level {i + 1} {ShapeChecks.Format(coarse)} cannot be upsampled to level {i} {ShapeChecks.Format(fine)} (same leading dims, each extent within 1 of twice the coarser)");
        }
        return Collapse(pyramid);
    }

    /// <summary>
    /// Multiresolution spline (Burt &amp; Adelson 1983): with <c>LA</c>, <c>LB</c> the Laplacian pyramids of <paramref name="a"/> and
    /// <paramref name="b"/> and <c>G</c> the Gaussian pyramid of <paramref name="mask"/>, <c>L_i = G_i·LA_i + (1 − G_i)·LB_i</c>,
    /// collapsed. <paramref name="levels"/> counts every level including the low-pass residual, so 1 is the plain alpha blend
    /// <c>m·a + (1 − m)·b</c>. <paramref name="mask"/> (1 selects <paramref name="a"/>) is <c>[H, W]</c> or <c>[1, H, W]</c> (shared by
    /// every channel) or <c>[C, H, W]</c> (one per channel); colour images blend channel by channel.
    /// </summary>
    public static Tensor Blend(Tensor a, Tensor b, Tensor mask, int levels)
    {
        CheckImage("blend", a);
        CheckImage("blend", b);
        ArgumentNullException.ThrowIfNull(mask);
        if (!a.Shape.AsSpan().SequenceEqual(b.Shape))
            throw new ShapeException("blend", $"a and b must have the same shape, got {ShapeChecks.Format(a.Shape)} and {ShapeChecks.Format(b.Shape)}");
        CheckLevels("blend", levels);
        int[] s = a.Shape, m = mask.Shape;
        int c = s[^3], h = s[^2], w = s[^1];
        bool ok = m.Length >= 2 && m[^2] == h && m[^1] == w
            && (m.Length == 2 || (m.Length == 3 && (m[0] == 1 || m[0] == c)) || m.AsSpan().SequenceEqual(s));
        if (!ok)
            throw new ShapeException("blend", $"mask must be [{h}, {w}], [1, {h}, {w}] or [{c}, {h}, {w}] for images {ShapeChecks.Format(s)}, got {ShapeChecks.Format(m)}");
        if (mask.DType != a.DType || b.DType != a.DType)
            throw new DTypeException("blend", $"a, b and mask must share a dtype, got {a.DType.Name()}, {b.DType.Name()} and {mask.DType.Name()}");
        var la = Laplacian(a, levels);
        var lb = Laplacian(b, levels);
        var gm = Gaussian(mask.Rank == 2 ? mask.Unsqueeze(0) : mask, levels);
        var mixed = new Tensor[levels];
        // G·LA + (1 − G)·LB = LB + G·(LA − LB): one product per level; the mask pyramid broadcasts over channels and batch.
        for (int i = 0; i < levels; i++) mixed[i] = lb[i] + gm[i] * (la[i] - lb[i]);
        return Collapse(mixed);
    }

    internal static Tensor Down(Tensor x)
    {
        int h = x.Size(-2), w = x.Size(-1);
        return new PyramidResampleFunction(false, false, h, w, PyramidGeometry.DownSize(h), PyramidGeometry.DownSize(w)).Apply(x);
    }

    private static Tensor Up(Tensor x, int oh, int ow, string op)
    {
        int h = x.Size(-2), w = x.Size(-1);
        if (!PyramidGeometry.IsValidUpSize(h, oh) || !PyramidGeometry.IsValidUpSize(w, ow))
            throw new ShapeException(op, $"output size must be within 1 of twice the input (|out − 2·in| = out mod 2), got [{h}, {w}] -> [{oh}, {ow}]");
        return new PyramidResampleFunction(true, false, h, w, oh, ow).Apply(x);
    }

    private static Tensor[] Gaussian(Tensor image, int levels)
    {
        var g = new Tensor[levels];
        g[0] = image;
        for (int i = 1; i < levels; i++) g[i] = Down(g[i - 1]);
        return g;
    }

    private static Tensor[] Laplacian(Tensor image, int levels)
    {
        var g = Gaussian(image, levels);
        var l = new Tensor[levels];
        bool fused = !Tracked(image);
        for (int i = 0; i < levels - 1; i++)
            l[i] = fused
                ? Backend.Current.PyrUpAdd(g[i + 1], g[i], negate: true)
                : g[i] - Up(g[i + 1], g[i].Size(-2), g[i].Size(-1), "laplacian_pyramid");
        l[^1] = g[^1];
        // The Gaussian levels between the image and the residual were made here and are read by nothing else: the
        // next call (or the caller's next tensor of that size) reuses their memory.
        if (fused)
            for (int i = 1; i < levels - 1; i++) StoragePool.Recycle(g[i]);
        return l;
    }

    // R_{n−1} = L_{n−1}, R_i = L_i + PyrUp(R_{i+1}); fused when no level is tracked by autograd.
    private static Tensor Collapse(IReadOnlyList<Tensor> pyramid)
    {
        bool fused = !pyramid.Any(Tracked) && pyramid.All(l => l.DType == pyramid[0].DType);
        Tensor r = pyramid[^1];
        for (int i = pyramid.Count - 2; i >= 0; i--)
        {
            var finer = fused
                ? Backend.Current.PyrUpAdd(r, pyramid[i], negate: false)
                : pyramid[i] + Up(r, pyramid[i].Size(-2), pyramid[i].Size(-1), "reconstruct");
            // A partial sum made here is dead once the next finer one has read it (the coarsest level is the caller's).
            if (fused && i < pyramid.Count - 2) StoragePool.Recycle(r);
            r = finer;
        }
        return r;
    }

    // True when autograd would record an op on t (reverse mode) or carry its tangent (forward mode): the fused passes
    // have no autograd rule of their own, so those inputs take the composed, differentiable path.
    private static bool Tracked(Tensor t) => (GradMode.IsEnabled && t.RequiresGrad) || ForwardAD.Unpack(t).Tangent is not null;

    internal static void CheckImage(string op, Tensor image)
    {
        ArgumentNullException.ThrowIfNull(image);
        if (image.Rank is not (3 or 4))
            throw new ShapeException(op, $"expects an image [C, H, W] or a batch [N, C, H, W], got {ShapeChecks.Format(image.Shape)} (rank {image.Rank})");
        if (image.Numel == 0)
            throw new ShapeException(op, $"expects a non-empty image, got {ShapeChecks.Format(image.Shape)}");
        if (!image.DType.IsFloating())
            throw new DTypeException(op, $"expects float32 or float64, got {image.DType.Name()}; convert with .To(DType.Float32)");
    }

    internal static void CheckLevels(string op, int levels)
    {
        if (levels < 1)
            throw new ArgumentOutOfRangeException(nameof(levels), levels, $"{op}: levels must be at least 1 (it counts every level including the coarsest), got {levels}.");
    }
}
