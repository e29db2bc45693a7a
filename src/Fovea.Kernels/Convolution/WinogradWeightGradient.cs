using System.Buffers;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Fovea.Kernels;

/// <summary>
/// Float32 weight gradient of a 3x3 stride-1 convolution by Winograd's F(4x4, 3x3), the adjoint of
/// <see cref="WinogradConv"/>'s forward. The forward computes each 4x4 output tile as <c>Y = Aᵀ [Σ_c U_c ⊙ V_c] A</c> with
/// U = G g Gᵀ and V = Bᵀ d B (<see cref="WinogradTransforms"/>); differentiating that with respect to U gives, per
/// (output k, input c) channel pair,
/// <code>
///   dU[k, c] = Σ_tiles (A dY_k Aᵀ) ⊙ V_c        (6x6, element-wise; dY_k the tile's 4x4 output gradient)
///   dW[k, c] = Gᵀ dU[k, c] G                     (3x3)
/// </code>
/// For each of the 36 elements ξ the sum over tiles is one GEMM, dU_ξ [K x C] = dM_ξ [K x tiles] · V_ξ [C x tiles]ᵀ,
/// so a tile costs 36 multiply-adds per channel pair instead of the direct form's 144 (16 outputs x 9 taps).
/// <para>
/// Tiles go in blocks of whole images (about <see cref="BlockTiles"/> tiles): the block's input planes are copied into a
/// zero-padded layout where every tile's 6x6 window lies inside, then each input channel's tiles are transformed into
/// V and each output channel's 4x4 gradient tiles into dM = A dY Aᵀ (tiles cut at the image edge read zeros, the
/// gradient of outputs that do not exist); the 36 GEMMs accumulate into dU. Output channels are handled in slabs so
/// that dU stays a few MiB whatever the layer's width. The last step applies Gᵀ · G through the 9 x 36 matrix of the
/// (linear) kernel transform, whose rows are <see cref="WinogradTransforms.Kernel"/> of the 9 unit kernels.
/// </para>
/// <para>
/// Block and slab boundaries depend only on the shape, every GEMM's result does not depend on the thread count, and the
/// blocks are summed in order, so the gradient is bit-identical for any thread count.
/// </para>
/// <para>
/// Float32 error: as in the forward, the transforms scale values by up to 100 (Bᵀ on both sides) and 81 (A on both
/// sides), and an element of dW gathers rounding error from the whole 6x6 tile rather than its 3x3 window. Against the
/// float64 reference (<see cref="ConvReference.BackwardWeight"/>) every element satisfies
/// <c>|dw − dw_ref| ≤ c · eps · Σ_{n, p} |x| |dy|</c> (eps = 2⁻²³; the sum is the reference weight gradient of |x| and
/// |dy|), with c measured at most <see cref="MeasuredBound"/> over the test shapes; the tests check c = 32.
/// Float64 never takes this path, so gradient checks see the exact algorithm.
/// </para>
/// </summary>
internal static unsafe class WinogradWeightGradient
{
    /// <summary>Tiles per block at least: the depth of the block's 36 GEMMs (whole images, so it may be more).</summary>
    internal const int BlockTiles = 256;

    /// <summary>The largest error factor c measured against the float64 reference (see the class remarks).</summary>
    internal const double MeasuredBound = 7.3;

    /// <summary>
    /// Upper bound on dU's floats per slab of output channels (16 MiB: ResNet's 512-channel layers in 3 slabs of 224;
    /// 11 slabs of 48 at 4 MiB measured 1.3x slower, each slab repacking every V_ξ for its GEMMs). Tests lower it to run
    /// many slabs on small shapes.
    /// </summary>
    internal static int SlabFloats = 1 << 22;

    /// <summary>Below this many (direct) multiply-adds a call stays on the calling thread.</summary>
    private const long ThreadingMinMacs = 1L << 22;

    /// <summary>
    /// Floats from one ξ's plane of V, dM and dU to the next's beyond the plane itself: a transform call stores one
    /// vector in each of the 36 planes, and the kernel gradient loads one from each; planes a multiple of 4 KiB apart
    /// (any power-of-two channel count) put all 36 into one L1 set, and at 64 KiB apart into one L2 set, so they
    /// evicted each other at every call (see <see cref="WinogradConv"/>'s plane padding).
    /// </summary>
    private const int PlanePad = 16;

    /// <summary>Whether the dispatch may take this path; tests switch it off to compare with the other paths.</summary>
    internal static bool Enabled = true;

    /// <summary>
    /// True where the weight gradient runs here: the geometry of F(4x4, 3x3) (<see cref="WinogradConv.Geometry"/>), a
    /// machine with a SIMD GEMM tile, at least 16 channels on each side (fewer leave the transforms dominant), and
    /// outputs of at least 4x4: a tile costs 36 multiply-adds per channel pair against the direct form's 9 per output
    /// pixel, so a 1x1 output (ResNet-18's last stage on 28² images) would take 4x the direct work and a 2x2 as much.
    /// </summary>
    public static bool Applies(in ConvShape s) =>
        Enabled && Gemm.Selected != GemmKernelKind.Scalar && WinogradConv.Geometry(s) && s.InChannels >= 16 && s.OutChannels >= 16
        && s.OutH >= 4 && s.OutW >= 4 && Fits(s);

    /// <summary>Whether one block's scratch and every index within it fit 32-bit offsets.</summary>
    internal static bool Fits(in ConvShape s)
    {
        var p = new Plan(s);
        return (long)p.ImagesPerBlock * s.InChannels * p.Hp * p.Wp < int.MaxValue / 2
            && 36L * s.InChannels * p.TilesPadded < int.MaxValue / 2
            && 36L * s.OutChannels * p.TilesPadded < int.MaxValue / 2
            && (long)p.ImagesPerBlock * s.OutChannels * p.Hq * p.Wq < int.MaxValue / 2
            && 36L * s.InChannels * 16 < int.MaxValue / 2;
    }

    /// <summary>
    /// The 9 x 36 matrix of the kernel transform, by its non-zero entries: row e is U = G g Gᵀ for the kernel with a
    /// single 1 at e, so that U = Σ_e g_e · row e and, the transform being linear, dg_e = Σ_ξ row_e[ξ] · dU_ξ (which is
    /// Gᵀ dU G). Entries of row e are <c>TermXi[TermStart[e] .. TermStart[e + 1])</c> with coefficients <c>TermCoefficient</c>.
    /// </summary>
    private static readonly (int[] Start, int[] Xi, float[] Coefficient) KernelTerms = BuildKernelTerms();

    private static (int[] Start, int[] Xi, float[] Coefficient) BuildKernelTerms()
    {
        var start = new int[10];
        var xis = new List<int>();
        var coefficients = new List<float>();
        Span<double> g = stackalloc double[9];
        Span<double> u = stackalloc double[36];
        for (int e = 0; e < 9; e++)
        {
            g.Clear();
            g[e] = 1;
            WinogradTransforms.Kernel(g, u);
            start[e] = xis.Count;
            for (int xi = 0; xi < 36; xi++)
                if (u[xi] != 0)
                {
                    xis.Add(xi);
                    coefficients.Add((float)u[xi]);
                }
        }
        start[9] = xis.Count;
        return (start, xis.ToArray(), coefficients.ToArray());
    }

    /// <summary>Sizes of one call: tiles, padded planes, block and slab sizes, all from the shape alone.</summary>
    private readonly struct Plan
    {
        public readonly int TilesY, TilesX, PerImage, Hp, Wp, Hq, Wq, ImagesPerBlock, TilesPadded, Slab;
        public readonly bool PadGradient;

        public Plan(in ConvShape s)
        {
            TilesY = (s.OutH + 3) / 4;
            TilesX = (s.OutW + 3) / 4;
            PerImage = Math.Max(1, TilesY * TilesX);
            Hp = 4 * TilesY + 2;
            Wp = 4 * TilesX + 2;
            Hq = 4 * TilesY;
            Wq = 4 * TilesX;
            PadGradient = Hq != s.OutH || Wq != s.OutW;
            ImagesPerBlock = Math.Clamp((BlockTiles + PerImage - 1) / PerImage, 1, Math.Max(1, s.Batch));
            TilesPadded = (ImagesPerBlock * PerImage + 7) / 8 * 8;
            // Output channels per slab: dU (36 x slab x C floats) within SlabFloats, in whole GEMM row tiles of 16 where possible.
            int slab = SlabFloats / (36 * Math.Max(1, s.InChannels));
            slab = slab >= 16 ? slab / 16 * 16 : Math.Max(1, slab);
            Slab = Math.Min(s.OutChannels, slab);
        }
    }

    /// <summary>dw = the weight gradient for input <paramref name="x"/> and output gradient <paramref name="dy"/> (dw is overwritten).</summary>
    public static void BackwardWeight(in ConvShape s, float* x, float* dy, float* dw)
    {
        int c = s.InChannels, k = s.OutChannels;
        if (s.Batch == 0)
        {
            new Span<float>(dw, k * c * 9).Clear();
            return;
        }
        var p = new Plan(s);
        int nb = p.ImagesPerBlock, tp = p.TilesPadded, slab = p.Slab;
        bool threaded = ParallelFor.ChunkCount((long)s.Batch * s.MacsPerImage, ThreadingMinMacs) > 1;
        int xpLen = nb * c * p.Hp * p.Wp + 16, dypLen = p.PadGradient ? nb * slab * p.Hq * p.Wq + 16 : 0;
        float[] xpArr = ArrayPool<float>.Shared.Rent(xpLen);
        float[] dypArr = ArrayPool<float>.Shared.Rent(dypLen);
        // Each ξ's plane of V, dM and dU starts PlanePad floats after a multiple of the plane (see PlanePad).
        int vXi = c * tp + PlanePad, mXi = slab * tp + PlanePad, uXi = slab * c + PlanePad;
        float[] vArr = ArrayPool<float>.Shared.Rent(36 * vXi);
        float[] mArr = ArrayPool<float>.Shared.Rent(36 * mXi);
        float[] uArr = ArrayPool<float>.Shared.Rent(36 * uXi);
        int[] offArr = ArrayPool<int>.Shared.Rent(2 * tp);
        try
        {
            fixed (float* xp = xpArr, dyp = dypArr, v = vArr, m = mArr, u = uArr)
            fixed (int* off = offArr)
            {
                var work = new Work
                {
                    X = x,
                    Dy = dy,
                    Dw = dw,
                    Xp = xp,
                    Dyp = dyp,
                    V = v,
                    M = m,
                    U = u,
                    VXi = vXi,
                    MXi = mXi,
                    UXi = uXi,
                    XOffsets = off,
                    DyOffsets = off + tp,
                    Shape = s,
                    Plan = p,
                };
                for (int k0 = 0; k0 < k; k0 += slab)
                {
                    work.K0 = k0;
                    work.Kn = Math.Min(slab, k - k0);
                    for (int n0 = 0; n0 < s.Batch; n0 += nb)
                    {
                        work.N0 = n0;
                        work.Images = Math.Min(nb, s.Batch - n0);
                        work.SetOffsets();
                        // 1. Transforms: input channels into V (once, when the whole batch is one block), then this slab's
                        // output channels into dM.
                        bool inputReady = k0 > 0 && nb >= s.Batch;
                        int jobs = (inputReady ? 0 : c) + work.Kn;
                        work.Step = inputReady ? 3 : 0;
                        if (threaded) ParallelFor.ForChunks(jobs, work);
                        else for (int j = 0; j < jobs; j++) work.Invoke(j);
                        // 2. The 36 GEMMs, accumulating over blocks in order.
                        work.Step = 1;
                        if (threaded) ParallelFor.ForChunks(36, work);
                        else for (int xi = 0; xi < 36; xi++) work.Invoke(xi);
                    }
                    // 3. dW = Gᵀ dU G for the slab's output channels.
                    work.Step = 2;
                    if (threaded) ParallelFor.ForChunks(work.Kn, work);
                    else for (int j = 0; j < work.Kn; j++) work.Invoke(j);
                }
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(xpArr);
            ArrayPool<float>.Shared.Return(dypArr);
            ArrayPool<float>.Shared.Return(vArr);
            ArrayPool<float>.Shared.Return(mArr);
            ArrayPool<float>.Shared.Return(uArr);
            ArrayPool<int>.Shared.Return(offArr);
        }
    }

    /// <summary>The weight gradient on spans (tests).</summary>
    internal static void BackwardWeight(in ConvShape s, ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> dw)
    {
        fixed (float* px = x, pd = dy, pw = dw)
            BackwardWeight(s, px, pd, pw);
    }

    /// <summary>
    /// One call's state; <see cref="Step"/> selects what <see cref="Invoke"/> does with its index: 0, the input channels'
    /// transforms then the slab's gradient transforms; 3, the gradient transforms alone; 1, the GEMM of element ξ; 2, the
    /// kernel gradient of one output channel.
    /// </summary>
    private struct Work : IChunkBody
    {
        public float* X, Dy, Dw, Xp, Dyp, V, M, U;
        public int* XOffsets, DyOffsets;
        public ConvShape Shape;
        public Plan Plan;
        public int K0, Kn, N0, Images, Valid, Step;

        /// <summary>Floats from one ξ's plane of V (C x tiles), dM (slab x tiles) and dU (slab x C) to the next's.</summary>
        public int VXi, MXi, UXi;

        /// <summary>Each tile's offset in the padded input and in the (padded) gradient, relative to its channel's plane of the block's first image.</summary>
        public void SetOffsets()
        {
            ref readonly ConvShape s = ref Shape;
            int tp = Plan.TilesPadded;
            Valid = Images * Plan.PerImage;
            int imageIn = s.InChannels * Plan.Hp * Plan.Wp;
            int dyRow = Plan.PadGradient ? Plan.Wq : s.OutW;
            int dyImage = Plan.PadGradient ? Kn * Plan.Hq * Plan.Wq : s.OutChannels * s.OutPlane;
            for (int t = 0; t < tp; t++)
            {
                int tt = Math.Min(t, Valid - 1);
                int img = tt / Plan.PerImage, r = tt % Plan.PerImage, ty = r / Plan.TilesX, tx = r % Plan.TilesX;
                XOffsets[t] = img * imageIn + 4 * ty * Plan.Wp + 4 * tx;
                DyOffsets[t] = img * dyImage + 4 * ty * dyRow + 4 * tx;
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public readonly void Invoke(int index)
        {
            if (Step == 0)
            {
                if (index < Shape.InChannels) TransformInput(index);
                else TransformGradient(index - Shape.InChannels);
            }
            else if (Step == 3) TransformGradient(index);
            else if (Step == 1) Multiply(index);
            else KernelGradient(index);
        }

        /// <summary>Pads input channel <paramref name="ci"/> of the block's images and transforms its tiles into V.</summary>
        private readonly void TransformInput(int ci)
        {
            ref readonly ConvShape s = ref Shape;
            int c = s.InChannels, h = s.Height, w = s.Width, ph = s.Window.PadH, pw = s.Window.PadW, hp = Plan.Hp, wp = Plan.Wp, tp = Plan.TilesPadded;
            long planeIn = (long)hp * wp;
            for (int j = 0; j < Images; j++)
                WinogradTransforms.PadPlane(X + ((long)(N0 + j) * c + ci) * h * w, h, w, ph, pw, Xp + ((long)j * c + ci) * planeIn, hp, wp);
            // The transform reads 8 floats of each 6-float tile row: the last image's last plane needs 2 more past its end.
            if (ci == c - 1) new Span<float>(Xp + (long)Images * c * planeIn, 16).Clear();
            float* plane = Xp + ci * planeIn, dstV = V + (long)ci * tp;
            for (int l = 0; l < tp; l += 8)
                WinogradTransforms.Input(plane, XOffsets + l, wp, dstV + l, VXi);
        }

        /// <summary>Transforms the 4x4 gradient tiles of the slab's output channel K0 + <paramref name="kj"/> into dM = A dY Aᵀ.</summary>
        private readonly void TransformGradient(int kj)
        {
            ref readonly ConvShape s = ref Shape;
            int tp = Plan.TilesPadded, oh = s.OutH, ow = s.OutW, ko = K0 + kj;
            float* plane;
            nint rowStride;
            if (Plan.PadGradient)
            {
                int hq = Plan.Hq, wq = Plan.Wq;
                for (int j = 0; j < Images; j++)
                {
                    float* src = Dy + ((long)(N0 + j) * s.OutChannels + ko) * oh * ow, dst = Dyp + ((long)j * Kn + kj) * hq * wq;
                    for (int r = 0; r < oh; r++)
                    {
                        new ReadOnlySpan<float>(src + (long)r * ow, ow).CopyTo(new Span<float>(dst + (long)r * wq, ow));
                        new Span<float>(dst + (long)r * wq + ow, wq - ow).Clear();
                    }
                    new Span<float>(dst + (long)oh * wq, (hq - oh) * wq).Clear();
                }
                plane = Dyp + (long)kj * hq * wq;
                rowStride = wq;
            }
            else
            {
                plane = Dy + ((long)N0 * s.OutChannels + ko) * oh * ow;
                rowStride = ow;
            }
            float* dstM = M + (long)kj * tp;
            for (int l = 0; l < tp; l += 8)
                GradientTiles(plane, DyOffsets + l, rowStride, dstM + l, MXi);
            // Lanes past the last tile repeat it; the GEMMs stop at the last valid tile.
        }

        /// <summary>
        /// dU_ξ [Kn x C] (+)= dM_ξ [Kn x tiles] · V_ξ [C x tiles]ᵀ, on the packed GEMM driver with the tile <see cref="Gemm"/>
        /// would choose. (Its entry point sends narrow NT products with a long inner dimension to a dot-product path made
        /// for operands that stream from memory; here both sit in L2 and the packed tiles measured faster.)
        /// </summary>
        private readonly void Multiply(int xi)
        {
            int c = Shape.InChannels, tp = Plan.TilesPadded;
            float* a = M + (long)xi * MXi, b = V + (long)xi * VXi, dst = U + (long)xi * UXi;
            float beta = N0 == 0 ? 0f : 1f;
            switch (Gemm.Selected)
            {
                case GemmKernelKind.Vector512 when c > SgemmKernel6x32.NR:
                    GemmDriver<float, SgemmKernel6x64>.Run(false, true, Kn, c, Valid, 1f, a, tp, b, tp, beta, dst, c);
                    break;
                case GemmKernelKind.Vector512:
                case GemmKernelKind.Vector512Narrow:
                    GemmDriver<float, SgemmKernel6x32>.Run(false, true, Kn, c, Valid, 1f, a, tp, b, tp, beta, dst, c);
                    break;
                default:
                    GemmDriver<float, SgemmKernel6x16>.Run(false, true, Kn, c, Valid, 1f, a, tp, b, tp, beta, dst, c);
                    break;
            }
        }

        /// <summary>dW[k, c, e] = Σ_ξ T[e, ξ] dU_ξ[k, c] for the slab's output channel K0 + <paramref name="kj"/>, every input channel.</summary>
        /// <remarks>
        /// T = G ⊗ G, so eight input channels at a time take it as two passes of Gᵀ (<see cref="TransposedG"/>): along the
        /// columns of the 6x6 dU, then along the rows of the 3x6 result, 27 short sums of independent vectors instead of
        /// nine chains of about 22 dependent multiply-adds each. At 512 channels on both sides (a ResNet's last stage)
        /// the chains were two thirds of the weight gradient's time. The channels past the last multiple of 8 take
        /// the sparse terms one by one.
        /// </remarks>
        private readonly void KernelGradient(int kj)
        {
            int c = Shape.InChannels;
            float* dst = Dw + (long)(K0 + kj) * c * 9;
            float* du = U + (long)kj * c;
            long xiStride = UXi;
            int ci = 0;
            if (Vector256.IsHardwareAccelerated)
            {
                Vector256<float>* z = stackalloc Vector256<float>[18];
                float* block = stackalloc float[72];
                for (; ci + 8 <= c; ci += 8)
                {
                    float* d = du + ci;
                    // z[a·6 + j] = Σ_i G[i, a] dU[i, j].
                    for (int j = 0; j < 6; j++)
                        TransposedG(Vector256.Load(d + j * xiStride), Vector256.Load(d + (6 + j) * xiStride), Vector256.Load(d + (12 + j) * xiStride),
                            Vector256.Load(d + (18 + j) * xiStride), Vector256.Load(d + (24 + j) * xiStride), Vector256.Load(d + (30 + j) * xiStride),
                            out z[j], out z[6 + j], out z[12 + j]);
                    // dW[a, b] = Σ_j z[a, j] G[j, b], element e = 3a + b of each channel's kernel.
                    for (int a = 0; a < 3; a++)
                    {
                        Vector256<float>* r = z + 6 * a;
                        TransposedG(r[0], r[1], r[2], r[3], r[4], r[5], out var w0, out var w1, out var w2);
                        w0.Store(block + (3 * a) * 8);
                        w1.Store(block + (3 * a + 1) * 8);
                        w2.Store(block + (3 * a + 2) * 8);
                    }
                    float* o = dst + (long)ci * 9;
                    for (int lane = 0; lane < 8; lane++)
                        for (int e = 0; e < 9; e++) o[lane * 9 + e] = block[e * 8 + lane];
                }
            }
            var (start, xis, coefficients) = KernelTerms;
            for (int e = 0; e < 9; e++)
            {
                int t0 = start[e], t1 = start[e + 1];
                for (int cj = ci; cj < c; cj++)
                {
                    float sum = 0;
                    for (int t = t0; t < t1; t++) sum = MathF.FusedMultiplyAdd(coefficients[t], du[xis[t] * xiStride + cj], sum);
                    dst[cj * 9 + e] = sum;
                }
            }
        }
    }

    /// <summary>
    /// (r0, r1, r2) = Gᵀ (v0, …, v5), lane by lane, for F(4x4, 3x3)'s G: with s = v1 + v2, m = v2 − v1, p = v3 + v4 and
    /// q = v3 − v4, r0 = v0/4 − s/6 + p/24, r1 = m/6 + q/12, r2 = (p − s)/6 + v5.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void TransposedG(Vector256<float> v0, Vector256<float> v1, Vector256<float> v2, Vector256<float> v3, Vector256<float> v4, Vector256<float> v5,
        out Vector256<float> r0, out Vector256<float> r1, out Vector256<float> r2)
    {
        var s = v1 + v2;
        var m = v2 - v1;
        var p = v3 + v4;
        var q = v3 - v4;
        var sixth = Vector256.Create(1f / 6);
        r0 = Vector256.FusedMultiplyAdd(Vector256.Create(0.25f), v0, Vector256.FusedMultiplyAdd(Vector256.Create(1f / 24), p, -sixth * s));
        r1 = Vector256.FusedMultiplyAdd(sixth, m, Vector256.Create(1f / 12) * q);
        r2 = Vector256.FusedMultiplyAdd(sixth, p - s, v5);
    }

    /// <summary>
    /// dM = A dY Aᵀ for 8 tiles: element (i, j) of the 4x4 gradient tile of lane l is src[index[l] + i·rowStride + j];
    /// element ξ = 6a + b of dM goes to dst[ξ·dstStride + l]. A is the transpose of the forward's Aᵀ, so each 1-d step
    /// maps (v0, v1, v2, v3) to (v0, v0+v1+v2+v3, v0−v1+v2−v3, v0+2v1+4v2+8v3, v0−2v1+4v2−8v3, v3).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    [SkipLocalsInit] // every stackalloc below is written in full before it is read; zeroing it cost as much as the loads
    internal static void GradientTiles(float* src, int* index, nint rowStride, float* dst, nint dstStride)
    {
        Vector256<float>* d = stackalloc Vector256<float>[16];
        for (int i = 0; i < 4; i++)
            Rows4(src + i * rowStride, index, d + 4 * i);
        Vector256<float>* t = stackalloc Vector256<float>[24];
        // Columns: t[a][j] = Σ_i A[a][i] d[i][j].
        for (int j = 0; j < 4; j++)
            Gradient1d(d[j], d[4 + j], d[8 + j], d[12 + j], out t[j], out t[4 + j], out t[8 + j], out t[12 + j], out t[16 + j], out t[20 + j]);
        // Rows: dM[a][b] = Σ_j t[a][j] A[b][j].
        for (int a = 0; a < 6; a++)
        {
            Vector256<float>* r = t + 4 * a;
            Gradient1d(r[0], r[1], r[2], r[3], out var m0, out var m1, out var m2, out var m3, out var m4, out var m5);
            float* o = dst + 6 * a * dstStride;
            m0.Store(o);
            m1.Store(o + dstStride);
            m2.Store(o + 2 * dstStride);
            m3.Store(o + 3 * dstStride);
            m4.Store(o + 4 * dstStride);
            m5.Store(o + 5 * dstStride);
        }
    }

    /// <summary>
    /// output[j] (j &lt; 4) = (p[index[0] + j], …, p[index[7] + j]): with AVX, eight 4-float loads paired into 256-bit rows
    /// (lanes l and l + 4) and a 4x4 transpose within each 128-bit half; without it, scalar loads.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Rows4(float* p, int* index, Vector256<float>* output)
    {
        if (Avx.IsSupported)
        {
            Vector256<float> r0 = Vector256.Create(Vector128.Load(p + index[0]), Vector128.Load(p + index[4]));
            Vector256<float> r1 = Vector256.Create(Vector128.Load(p + index[1]), Vector128.Load(p + index[5]));
            Vector256<float> r2 = Vector256.Create(Vector128.Load(p + index[2]), Vector128.Load(p + index[6]));
            Vector256<float> r3 = Vector256.Create(Vector128.Load(p + index[3]), Vector128.Load(p + index[7]));
            Vector256<float> t0 = Avx.UnpackLow(r0, r1), t1 = Avx.UnpackHigh(r0, r1), t2 = Avx.UnpackLow(r2, r3), t3 = Avx.UnpackHigh(r2, r3);
            output[0] = Avx.Shuffle(t0, t2, 0x44);
            output[1] = Avx.Shuffle(t0, t2, 0xEE);
            output[2] = Avx.Shuffle(t1, t3, 0x44);
            output[3] = Avx.Shuffle(t1, t3, 0xEE);
            return;
        }
        for (int j = 0; j < 4; j++)
            output[j] = Vector256.Create(p[index[0] + j], p[index[1] + j], p[index[2] + j], p[index[3] + j], p[index[4] + j], p[index[5] + j], p[index[6] + j], p[index[7] + j]);
    }

    /// <summary>One row of A applied to (v0 … v3).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Gradient1d(Vector256<float> v0, Vector256<float> v1, Vector256<float> v2, Vector256<float> v3,
        out Vector256<float> m0, out Vector256<float> m1, out Vector256<float> m2, out Vector256<float> m3, out Vector256<float> m4, out Vector256<float> m5)
    {
        Vector256<float> s02 = v0 + v2, s13 = v1 + v3;
        Vector256<float> p = Vector256.FusedMultiplyAdd(Vector256.Create(4f), v2, v0), q = Vector256.Create(2f) * Vector256.FusedMultiplyAdd(Vector256.Create(4f), v3, v1);
        m0 = v0;
        m1 = s02 + s13;
        m2 = s02 - s13;
        m3 = p + q;
        m4 = p - q;
        m5 = v3;
    }
}
