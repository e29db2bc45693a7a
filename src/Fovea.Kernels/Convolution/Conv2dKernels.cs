using System.Buffers;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Fovea.Kernels;

/// <summary>
/// Batched 2-d convolution (cross-correlation, as in every deep-learning library) as im2col + GEMM, in the three
/// forms training needs. All buffers are contiguous NCHW; the weight is [OutChannels, InChannels/Groups, KH, KW].
/// <list type="bullet">
/// <item>forward: per group, Y_g = W_g · col(X_g), as an implicit GEMM that never stores col(X_g);</item>
/// <item>backward-input: per group, dX_g = col2im(W_gᵀ · dY_g), the full convolution of the upstream gradient with
/// the flipped kernel;</item>
/// <item>backward-weight: dW_g = Σ dY_g · col(X_g)ᵀ, the cross-correlation of the input with the upstream gradient.</item>
/// </list>
/// Small images are processed in blocks: the column matrices of several images sit side by side so one GEMM
/// covers them all (a LeNet layer has 100-pixel outputs, far too few columns to keep a GEMM busy alone).
/// Blocks are spread over threads (each with its own pooled buffers, so GEMM runs serially inside); a single
/// block leaves the threads to GEMM. Block boundaries depend only on the shape, and the weight gradient sums a
/// fixed number of chunk partials in order, so results do not depend on the thread count.
/// </summary>
public static class Conv2dKernels
{
    /// <summary>Below this many multiply-adds in all, a call stays on the calling thread.</summary>
    private const long ParallelMinMacs = 1L << 20;

    /// <summary>The weight gradient is split into at most this many batch chunks (fixed, for thread-independent sums).</summary>
    private const int WeightChunks = 8;

    /// <summary>Fewest output pixels (over the images of a chunk) per weight-gradient chunk; see <see cref="WeightChunkCount"/>.</summary>
    private const int WeightChunkColumns = 512;

    /// <summary>
    /// Batch chunks of the weight gradient, each summed into its own partial: up to <see cref="WeightChunks"/>, but
    /// no fewer than <see cref="WeightChunkColumns"/> output pixels each (and at least two chunks for two threads).
    /// A chunk's pixels are the depth of its GEMM, and each chunk writes and then sums a whole partial: a 512-channel
    /// 4x4 layer at batch 32 in 8 chunks ran GEMMs 64 deep and summed 8 partials of 4.7 MB, at half the speed of 2.
    /// The count depends on the shape alone, so results do not depend on the thread count.
    /// </summary>
    internal static int WeightChunkCount(in ConvShape s) =>
        Math.Min(s.Batch, Math.Clamp((int)Math.Min(int.MaxValue, (long)s.Batch * s.OutPlane / WeightChunkColumns), 2, WeightChunks));

    /// <summary>
    /// Images are grouped until a block's GEMM has about this many columns: enough to keep the GEMM busy, few enough
    /// that the column matrix the GEMM writes (LeNet's c3: 150 rows) stays in L2 for the col2im that reads it back.
    /// </summary>
    private const int BlockColumns = 512;

    /// <summary>Images per block for this shape (1 for images large enough to fill a GEMM alone).</summary>
    public static int ImagesPerBlock(in ConvShape s) => Math.Clamp(BlockColumns / Math.Max(1, s.OutPlane), 1, Math.Max(1, s.Batch));

    /// <summary>
    /// Images per block when the blocks are shared among <paramref name="threads"/>: about <see cref="BlockColumns"/>
    /// columns each, with the block count rounded up to a multiple of the thread count so the threads finish together.
    /// (A GEMM computes each output element the same way whatever the matrix width, so the block size does not change results.)
    /// </summary>
    private static int ImagesPerBlock(in ConvShape s, int threads)
    {
        int nb = ImagesPerBlock(s);
        if (nb == 1 || threads <= 1) return nb;
        int blocks = (s.Batch + nb - 1) / nb;
        blocks = (blocks + threads - 1) / threads * threads;
        return Math.Max(1, (s.Batch + blocks - 1) / blocks);
    }

    /// <summary>y = conv(x, w) + bias. <paramref name="bias"/> may be empty (no bias).</summary>
    /// <remarks>
    /// Float32 stride-1 convolutions read the padded input directly (<see cref="DirectConv"/>); the rest run as an
    /// implicit GEMM (<see cref="ImplicitGemmConv{T, TKernel}"/>) whose column matrix is packed from the image as it is consumed.
    /// </remarks>
    public static void Forward<T>(in ConvShape s, ReadOnlyMemory<T> x, ReadOnlyMemory<T> w, ReadOnlyMemory<T> bias, Memory<T> y)
        where T : unmanaged, INumber<T> => Forward(s, x, w, bias, y, null);

    /// <summary>
    /// y = conv(x, w) + bias, with the float32 weights in the layouts the kernels read taken from (and on first use
    /// stored in) <paramref name="prepared"/>; null prepares them for this call only. The caller keeps
    /// <paramref name="prepared"/> with the weights it was built from: passing other weights gives wrong results.
    /// With prepared weights Winograd also serves small batches (its kernel transform is no longer paid per call).
    /// </summary>
    public static void Forward<T>(in ConvShape s, ReadOnlyMemory<T> x, ReadOnlyMemory<T> w, ReadOnlyMemory<T> bias, Memory<T> y, PreparedConvWeights? prepared)
        where T : unmanaged, INumber<T> => Forward(s, x, w, bias, y, prepared, default, relu: false);

    /// <summary>
    /// y = relu(conv(x, w) + bias + residual), the ReLU only if <paramref name="relu"/> and the residual (a tensor of y's
    /// layout) only if <paramref name="residual"/> is not empty: a residual network's layer and its join in one pass.
    /// Where it is measured faster (<see cref="EpilogueInKernel"/>) the kernel applies them to the outputs it has just
    /// written, while they are in L1 (<see cref="ConvEpilogue"/>); elsewhere one pass over y follows the convolution
    /// (<see cref="AddReluKernel"/>). Either way each element is rounded as the separate add and ReLU round it: the bits
    /// are those of <c>relu(conv(x, w) + bias + residual)</c> computed in three passes. <paramref name="residual"/> must
    /// not overlap <paramref name="y"/>.
    /// </summary>
    public static unsafe void Forward<T>(in ConvShape s, ReadOnlyMemory<T> x, ReadOnlyMemory<T> w, ReadOnlyMemory<T> bias, Memory<T> y, PreparedConvWeights? prepared,
        ReadOnlyMemory<T> residual, bool relu)
        where T : unmanaged, INumber<T>
    {
        if (prepared is not null && !prepared.Matches(s))
            throw new ArgumentException($"conv2d: prepared weights [{prepared.OutChannels}, {prepared.GroupInChannels}, {prepared.KernelH}, {prepared.KernelW}] in {prepared.Groups} groups "
                + $"do not belong to a convolution of {s.OutChannels} output channels, {s.GroupIn} input channels per group, {s.Window.KernelH}x{s.Window.KernelW} in {s.Groups} groups", nameof(prepared));
        if (!residual.IsEmpty && residual.Length != y.Length)
            throw new ArgumentException($"conv2d: the residual has {residual.Length} elements, the output {y.Length}", nameof(residual));
        if (s.Batch == 0) return;
        using var hr = residual.Pin();
        using var hx = x.Pin();
        using var hw = w.Pin();
        using var hb = bias.Pin();
        using var hy = y.Pin();
        T* px = (T*)hx.Pointer, pw = (T*)hw.Pointer, pb = bias.IsEmpty ? null : (T*)hb.Pointer, py = (T*)hy.Pointer;
        T* pr = residual.IsEmpty ? null : (T*)hr.Pointer;
        if (pr != null && pr < py + y.Length && py < pr + residual.Length)
            throw new ArgumentException("conv2d: the residual overlaps the output", nameof(residual));
        if ((relu || pr != null) && !EpilogueInKernel<T>(s, prepared))
        {
            Forward(s, x, w, bias, y, prepared, default, relu: false);
            if (typeof(T) == typeof(float))
                AddReluKernel.Run(Unsafe.As<Memory<T>, Memory<float>>(ref y), Unsafe.As<Memory<T>, Memory<float>>(ref y), Unsafe.As<ReadOnlyMemory<T>, ReadOnlyMemory<float>>(ref residual), relu);
            else if (typeof(T) == typeof(double))
                AddReluKernel.Run(Unsafe.As<Memory<T>, Memory<double>>(ref y), Unsafe.As<Memory<T>, Memory<double>>(ref y), Unsafe.As<ReadOnlyMemory<T>, ReadOnlyMemory<double>>(ref residual), relu);
            else
                throw new NotSupportedException($"conv2d is defined for float and double, not {typeof(T).Name}");
            return;
        }
        if (typeof(T) == typeof(float))
        {
            float* fx = (float*)px, fw = (float*)pw, fb = (float*)pb, fy = (float*)py;
            var e = new ConvEpilogue(fy, (float*)pr, relu);
            if (prepared is not null && WinogradF2Conv.Applies(s))
            {
                WinogradF2Conv.Forward(Gemm.Selected, s, fx, fw, fb, fy, prepared);
                return;
            }
            if (WinogradConv.Applies(s, kernelPrepared: prepared is not null))
            {
                WinogradConv.Forward(s, fx, fw, fb, fy, prepared, e);
                return;
            }
            if (DirectConv.AppliesByChannels(s))
            {
                DirectConv.ForwardByChannels(s, fx, fw, fb, fy, e);
                return;
            }
            if (DirectConv.Applies(s))
            {
                DirectConv.Forward(s, fx, fw, fb, fy);
                return;
            }
            if (PhaseRowConv.Applies(s))
            {
                PhaseRowConv.Forward(s, fx, fw, fb, fy, e);
                return;
            }
            if (PhaseGridConv.Applies(s))
            {
                PhaseGridConv.Forward(s, fx, fw, fb, fy, prepared is null ? null : PhaseGridConv.PreparedWeights(prepared, s, fw), e);
                return;
            }
            if (TakesPointwise(s, prepared))
            {
                PointwiseConv.Forward(s, fx, fw, fb, fy, prepared, e);
                return;
            }
            if (prepared is not null && PixelRows(s, fx, fw, fb, fy, prepared)) return;
            switch (Gemm.Selected)
            {
                case GemmKernelKind.Vector512 when WideTiles(s): ImplicitGemmConv<float, SgemmKernel6x64>.Forward(s, fx, fw, fb, fy, Packed<SgemmKernel6x64>(prepared, s, fw)); break;
                case GemmKernelKind.Vector512: ImplicitGemmConv<float, SgemmKernel6x32>.Forward(s, fx, fw, fb, fy, Packed<SgemmKernel6x32>(prepared, s, fw)); break;
                case GemmKernelKind.Vector256: ImplicitGemmConv<float, SgemmKernel6x16>.Forward(s, fx, fw, fb, fy, Packed<SgemmKernel6x16>(prepared, s, fw)); break;
                default: ImplicitGemmConv<float, SgemmKernelScalar4x4>.Forward(s, fx, fw, fb, fy, Packed<SgemmKernelScalar4x4>(prepared, s, fw)); break;
            }
        }
        else if (typeof(T) == typeof(double))
        {
            double* dx = (double*)px, dw = (double*)pw, db = (double*)pb, dy = (double*)py;
            switch (Gemm.Selected)
            {
                case GemmKernelKind.Vector512: ImplicitGemmConv<double, DgemmKernel6x16>.Forward(s, dx, dw, db, dy); break;
                case GemmKernelKind.Vector256: ImplicitGemmConv<double, DgemmKernel6x8>.Forward(s, dx, dw, db, dy); break;
                default: ImplicitGemmConv<double, DgemmKernelScalar4x4>.Forward(s, dx, dw, db, dy); break;
            }
        }
        else
            throw new NotSupportedException($"conv2d is defined for float and double, not {typeof(T).Name}");
    }

    /// <summary>
    /// Whether <see cref="ForwardReluMaxPool"/> takes this convolution and pooling window (<paramref name="poolH"/> x
    /// <paramref name="poolW"/> pooled outputs): a float32 network stem on the kernels that can hand over a few output
    /// rows at a time, and a window of the separable pooling's form. Elsewhere callers run the three ops in turn.
    /// </summary>
    public static bool ForwardReluMaxPoolApplies(in ConvShape s, in Window2d pool, int poolH, int poolW) => ConvMaxPool.Applies(s, pool, poolH, poolW);

    /// <summary>
    /// y = max_pool(relu(conv(x, w) + bias)) without writing the convolution's output (<see cref="ConvMaxPool"/>): the
    /// same bits as <see cref="Forward{T}(in ConvShape, ReadOnlyMemory{T}, ReadOnlyMemory{T}, ReadOnlyMemory{T}, Memory{T}, PreparedConvWeights?, ReadOnlyMemory{T}, bool)"/>
    /// with the ReLU, then <see cref="Pool2dKernels.MaxForwardValues{T}"/>. Only where <see cref="ForwardReluMaxPoolApplies"/>;
    /// <paramref name="bias"/> may be empty; y is [N, K, poolH, poolW].
    /// </summary>
    public static unsafe void ForwardReluMaxPool(in ConvShape s, ReadOnlyMemory<float> x, ReadOnlyMemory<float> w, ReadOnlyMemory<float> bias, Memory<float> y,
        in Window2d pool, int poolH, int poolW)
    {
        if (!ConvMaxPool.Applies(s, pool, poolH, poolW))
            throw new ArgumentException($"conv2d + relu + max_pool2d: no fused kernel for {s.Window.KernelH}x{s.Window.KernelW} stride {s.Window.StrideH} on {s.InChannels} channels "
                + $"and a {pool.KernelH}x{pool.KernelW} stride {pool.StrideH} pool on this machine");
        if ((long)s.Batch * s.OutChannels * poolH * poolW != y.Length)
            throw new ArgumentException($"conv2d + relu + max_pool2d: the output has {y.Length} elements, not {s.Batch} x {s.OutChannels} x {poolH} x {poolW}", nameof(y));
        using var hx = x.Pin();
        using var hw = w.Pin();
        using var hb = bias.Pin();
        using var hy = y.Pin();
        ConvMaxPool.Forward(s, (float*)hx.Pointer, (float*)hw.Pointer, bias.IsEmpty ? null : (float*)hb.Pointer, (float*)hy.Pointer, pool, poolH, poolW);
    }

    /// <summary>
    /// Whether the residual and ReLU of <see cref="Forward{T}(in ConvShape, ReadOnlyMemory{T}, ReadOnlyMemory{T}, ReadOnlyMemory{T}, Memory{T}, PreparedConvWeights?, ReadOnlyMemory{T}, bool)"/>
    /// run in the kernel rather than in a pass after it. Measured in ResNet-18 with each setting alternating forward
    /// by forward in one process (2-core AMD EPYC, Zen 5), against the pass after: the stem's direct kernel
    /// (<see cref="PhaseRowConv"/>), which copies each tile out of a stack buffer anyway, gains at batch 1 on two
    /// threads (0.03 ms) and at batch 16 (0.4 ms), and is even on one thread; Winograd F(4x4, 3x3) gains on two threads
    /// where the output is small (the 56² and 28² layers at batch 1: 0.02–0.06 ms each, the separate pass then reading
    /// outputs half of which sit in the other core's cache), and loses on one thread (0.09 ms a 56² layer) and at batch
    /// 16 (0.3–0.5 ms a layer: the residual, read in short runs per channel plane, out of memory); the implicit GEMM and
    /// the pixel rows lose everywhere (0.01–0.03 ms a layer at batch 1), so only these two kernels have the epilogue,
    /// and the stride-2 kernel on phase planes (<see cref="PhaseGridConv"/>), which stores its outputs out of a
    /// transposed tile too, as does the strided channel-major path (<see cref="DirectConv.StridedByChannels"/>, the stem
    /// on AVX2), whose runs of y are in L1 when written, and the strided 1x1 path (<see cref="PointwiseConv"/>), which
    /// finishes each register tile as it stores it. Float64 takes the pass.
    /// </summary>
    internal static bool EpilogueInKernel<T>(in ConvShape s, PreparedConvWeights? prepared)
    {
        if (typeof(T) != typeof(float) || !EpiloguesInKernels) return false;
        if (prepared is not null && WinogradF2Conv.Applies(s)) return false;
        if (WinogradConv.Applies(s, kernelPrepared: prepared is not null))
            return Parallelism.MaxDegreeOfParallelism > 1 && (long)s.Batch * s.OutChannels * s.OutPlane * sizeof(float) <= WinogradEpilogueMaxBytes;
        if (DirectConv.AppliesByChannels(s)) return DirectConv.StridedByChannels(s);
        return !DirectConv.Applies(s) && (PhaseRowConv.Applies(s) || PhaseGridConv.Applies(s) || TakesPointwise(s, prepared));
    }

    /// <summary>
    /// Whether a float32 forward that no earlier path took runs as <see cref="PointwiseConv"/> (a strided 1x1 layer)
    /// rather than the pixel rows or the implicit GEMM. The pixel rows, with prepared weights, keep the planes that
    /// NR-pixel slivers would fill to less than 90%, where their row tiles waste less (ResNet-18's 256@14² → 512@7²
    /// shortcut: 49 pixels, 64 computed in slivers of 16 or 32, 54 or 49 in row tiles; on AVX2 the two paths ran it even,
    /// 0.13 ms on two threads). Measured alone with prepared weights, the residual and the ReLU, the paths alternating
    /// call by call (medians of 1,950 calls each, a 2-vCPU AMD EPYC of the Zen 3 generation, AVX2, one / two threads):
    /// 64@56² → 128 (from the implicit GEMM) 0.244 → 0.197 / 0.150 → 0.110 ms; 128@28² → 256 (from the pixel rows)
    /// 0.204 → 0.179 / 0.119 → 0.101. Without prepared weights (training's forward, batch 32 at 112²), from the implicit
    /// GEMM: 64@28² → 128 2.95 → 1.86 / 1.88 → 1.37 ms, 256@7² → 512 3.04 → 2.47 / 1.21 → 0.91.
    /// </summary>
    private static bool TakesPointwise(in ConvShape s, PreparedConvWeights? prepared) =>
        PointwiseConv.Applies(s) && (prepared is null || PointwiseConv.FillsSlivers(s) || !PixelRowsApply(s));

    /// <summary>Whether <see cref="PixelRows"/> takes this shape (given prepared weights): the one place that decides it.</summary>
    private static bool PixelRowsApply(in ConvShape s) => Gemm.Selected switch
    {
        GemmKernelKind.Vector512 => (SevenRowTiles(s) && PixelRowGemmConv<SgemmKernel7x32>.Applies(s)) || PixelRowGemmConv<SgemmKernel6x64>.Applies(s),
        GemmKernelKind.Vector256 => PixelRowGemmConv<SgemmKernel6x16>.Applies(s),
        GemmKernelKind.Scalar => PixelRowGemmConv<SgemmKernelScalar4x4>.Applies(s),
        _ => false,
    };

    /// <summary>The largest output Winograd applies the epilogue to itself: ResNet-18's 56² layers at batch 1 (784 KiB).</summary>
    internal const long WinogradEpilogueMaxBytes = 1 << 20;

    /// <summary>Switch for <see cref="EpilogueInKernel"/> (tests turn it off to run every epilogue as the pass after).</summary>
    internal static bool EpiloguesInKernels = true;

    /// <summary>
    /// Whether the AVX-512 implicit GEMM takes the 6x64 tile: 24 accumulators fed by 4 loads of B and 6 broadcasts of A per
    /// step (10 loads for 24 FMAs; the 6x32 tile needs 8 for 12), which keeps both FMA pipes fuller. Pixels are the tile's
    /// columns and run across the batch, so from <see cref="WideTileMinColumns"/> columns on the wider slivers waste at
    /// most a few percent; below it the 6x32 tile's narrower slivers waste less.
    /// </summary>
    internal static bool WideTiles(in ConvShape s) => WideTilesEnabled && (long)s.Batch * s.OutPlane >= WideTileMinColumns;

    /// <summary>Output pixels over the batch from which the implicit GEMM takes the 6x64 tile.</summary>
    internal const int WideTileMinColumns = 1024;

    /// <summary>Switch for <see cref="WideTiles"/> (tests turn it off to compare the two tiles).</summary>
    internal static bool WideTilesEnabled = true;

    /// <summary>
    /// With prepared weights, layers with few output pixels (at most <see cref="PixelRowGemmConv{TKernel}.MaxColumns"/> over
    /// the batch) run with the pixels as the GEMM's rows; false where that path does not apply.
    /// </summary>
    private static unsafe bool PixelRows(in ConvShape s, float* x, float* w, float* bias, float* y, PreparedConvWeights prepared)
    {
        if (!PixelRowsApply(s)) return false;
        switch (Gemm.Selected)
        {
            case GemmKernelKind.Vector512 when SevenRowTiles(s) && PixelRowGemmConv<SgemmKernel7x32>.Applies(s):
                PixelRowGemmConv<SgemmKernel7x32>.Forward(s, x, prepared.GemmWT<SgemmKernel7x32>(s, w), bias, y);
                break;
            case GemmKernelKind.Vector512:
                PixelRowGemmConv<SgemmKernel6x64>.Forward(s, x, prepared.GemmWT<SgemmKernel6x64>(s, w), bias, y);
                break;
            case GemmKernelKind.Vector256:
                PixelRowGemmConv<SgemmKernel6x16>.Forward(s, x, prepared.GemmWT<SgemmKernel6x16>(s, w), bias, y);
                break;
            default:
                PixelRowGemmConv<SgemmKernelScalar4x4>.Forward(s, x, prepared.GemmWT<SgemmKernelScalar4x4>(s, w), bias, y);
                break;
        }
        return true;
    }

    /// <summary>
    /// Whether the pixel-row path takes AVX-512's 7-row tile (<see cref="SgemmKernel7x32"/>) rather than the 6-row one:
    /// where 6-row tiles would compute at least 5% more rows than 7-row ones (49 pixels: 54 rows against 49). The 6x64
    /// tile loads less per multiply-add, so it keeps the shapes where both round up alike. Measured on a 2-core AMD EPYC
    /// (Zen 4), weights evicted between calls as in a network, one / two threads: 512@7² → 512, 2.66–2.68 → 2.34–2.36
    /// ms / 1.40–1.44 → 1.26 ms; 256@14² → 512@7², stride 2, 1.38 → 1.24 / 0.85 → 0.67 ms.
    /// </summary>
    internal static bool SevenRowTiles(in ConvShape s)
    {
        long columns = (long)s.Batch * s.OutPlane;
        return 100 * ((columns + 5) / 6 * 6) >= 105 * ((columns + 6) / 7 * 7);
    }

    /// <summary>The implicit GEMM's packed weights for register tile <typeparamref name="TKernel"/>, or null without <paramref name="prepared"/>.</summary>
    private static unsafe float* Packed<TKernel>(PreparedConvWeights? prepared, in ConvShape s, float* w)
        where TKernel : struct, IMicroKernel<float> =>
        prepared is null ? null : prepared.GemmA(s, w, TKernel.MR, ImplicitGemmConv<float, TKernel>.BlockDepth(s.ColRows));

    /// <summary>dx = the input gradient of the convolution given the output gradient <paramref name="dy"/> (dx is overwritten).</summary>
    public static unsafe void BackwardInput<T>(in ConvShape s, ReadOnlyMemory<T> dy, ReadOnlyMemory<T> w, Memory<T> dx)
        where T : unmanaged, INumber<T>
    {
        if (typeof(T) == typeof(float) && s.Batch > 0 && WinogradConv.AppliesToInputGradient(s))
        {
            // 3x3 stride 1: the forward of the flipped kernel, by Winograd.
            using var hy = dy.Pin();
            using var hw = w.Pin();
            using var hx = dx.Pin();
            WinogradConv.BackwardInput(s, (float*)hy.Pointer, (float*)hw.Pointer, (float*)hx.Pointer);
            return;
        }
        var shape = s;
        ForBlocks(shape, (n0, nb) =>
        {
            using var buffers = new Workspace<T>(shape, nb, needCol: nb > 1 || !shape.Window.IsPointwise);
            BackwardInputBlock(shape, n0, nb, dy.Span, w.Span, dx.Span, buffers);
        });
    }

    private static unsafe void BackwardInputBlock<T>(in ConvShape s, int n0, int nb, ReadOnlySpan<T> dy, ReadOnlySpan<T> w, Span<T> dx, Workspace<T> ws)
        where T : unmanaged, INumber<T>
    {
        int plane = s.OutPlane, colRows = s.ColRows, gin = s.GroupIn, gout = s.GroupOut, hw = s.Height * s.Width;
        int inImage = s.InChannels * hw, outImage = s.OutChannels * plane, ld = nb * plane;
        bool gathered = typeof(T) == typeof(float) && ws.Col is not null && Im2Col.GathersRows(s.Window, s.Width, s.OutW);
        if (ws.Col is not null && !gathered) dx.Slice(n0 * inImage, nb * inImage).Clear();
        for (int g = 0; g < s.Groups; g++)
        {
            var wg = w.Slice(g * gout * colRows, gout * colRows);
            ReadOnlySpan<T> dyg = nb == 1 ? dy.Slice(n0 * outImage + g * gout * plane, gout * plane) : Gather(dy, n0, nb, g, s, ws.Tmp!);
            if (ws.Col is null)
            {
                GemmT.Run(true, false, colRows, plane, gout, wg, colRows, dyg, plane, T.Zero, dx.Slice(n0 * inImage + g * gin * hw, gin * hw), plane);
                continue;
            }
            var col = ws.Col.AsSpan(Im2Col.GatherSlack, colRows * ld);
            GemmT.Run(true, false, colRows, ld, gout, wg, colRows, dyg, ld, T.Zero, col, ld);
            if (gathered)
            {
                // Overwrites dx (no clear): the slack around col lets the gather's loads run past its ends.
                fixed (T* pCol = ws.Col, pDx = dx)
                    for (int j = 0; j < nb; j++)
                        Im2Col.BackwardGathered((float*)pCol + Im2Col.GatherSlack + j * plane, ld, gin, s.Height, s.Width, s.Window, s.OutH, s.OutW,
                            (float*)pDx + (n0 + j) * inImage + g * gin * hw);
                continue;
            }
            for (int j = 0; j < nb; j++)
                Im2Col.Backward<T>(col[(j * plane)..], gin, s.Height, s.Width, s.Window, s.OutH, s.OutW, dx.Slice((n0 + j) * inImage + g * gin * hw, gin * hw), ld);
        }
    }

    /// <summary>dw = the weight gradient of the convolution given input <paramref name="x"/> and output gradient <paramref name="dy"/> (dw is overwritten).</summary>
    /// <remarks>
    /// With 16 or more output channels per group, accumulates dWᵀ = col · dYᵀ ([colRows, gout] per group) rather than
    /// dW = dY · colᵀ: the tall column matrix is then GEMM's A operand, packed from its natural row-major layout, and
    /// gout columns fill whole register tiles. The transposed sums are combined across chunks and turned around once
    /// at the end. Few output channels (LeNet's 6) would leave most of a 16-wide tile empty, so they keep dW = dY · colᵀ.
    /// </remarks>
    public static unsafe void BackwardWeight<T>(in ConvShape s, ReadOnlyMemory<T> x, ReadOnlyMemory<T> dy, Memory<T> dw)
        where T : unmanaged, INumber<T>
    {
        if (typeof(T) == typeof(float) && s.Batch > 0 && WinogradWeightGradient.Applies(s))
        {
            // 3x3 stride 1: dU = Σ_tiles (A dY Aᵀ) ⊙ (Bᵀ x B) as 36 GEMMs, then dW = Gᵀ dU G.
            using var hx = x.Pin();
            using var hy = dy.Pin();
            using var hw = dw.Pin();
            WinogradWeightGradient.BackwardWeight(s, (float*)hx.Pointer, (float*)hy.Pointer, (float*)hw.Pointer);
            return;
        }
        if (typeof(T) == typeof(float) && s.Batch > 0 && DirectConv.AppliesToWeight(s))
        {
            // Stride 1 with whole tiles of 16 output channels: straight from the padded input, no column matrix.
            using var hx = x.Pin();
            using var hy = dy.Pin();
            using var hw = dw.Pin();
            DirectConv.BackwardWeight(s, (float*)hx.Pointer, (float*)hy.Pointer, (float*)hw.Pointer);
            return;
        }
        if (typeof(T) == typeof(float) && s.Batch > 0 && DirectConv.AppliesToWeightByPixels(s))
        {
            // Stride 1 with few output channels, on 512-bit vectors: output pixels in the lanes, no column matrix.
            using var hx = x.Pin();
            using var hy = dy.Pin();
            using var hw = dw.Pin();
            DirectConv.BackwardWeightByPixels(s, (float*)hx.Pointer, (float*)hy.Pointer, (float*)hw.Pointer);
            return;
        }
        var shape = s;
        int wLen = s.OutChannels * s.ColRows;
        int chunks = WeightChunkCount(s);
        int perBlock = ImagesPerBlock(s);
        bool transposed = s.GroupOut >= 16;
        if (chunks == 0)
        {
            dw.Span.Clear();
            return;
        }
        // Chunk c accumulates images [start, end) into its own transposed partial.
        var partials = new T[chunks][];
        void Chunk(int c)
        {
            int start = ParallelFor.ChunkStart(shape.Batch, chunks, c), end = ParallelFor.ChunkStart(shape.Batch, chunks, c + 1);
            partials[c] = ArrayPool<T>.Shared.Rent(wLen);
            var acc = partials[c].AsSpan(0, wLen);
            acc.Clear();
            int nbMax = Math.Min(perBlock, end - start);
            using var ws = new Workspace<T>(shape, nbMax, needCol: nbMax > 1 || !shape.Window.IsPointwise);
            for (int n0 = start; n0 < end; n0 += nbMax)
                BackwardWeightBlock(shape, n0, Math.Min(nbMax, end - n0), x.Span, dy.Span, acc, ws, transposed);
        }
        if (ParallelFor.ChunkCount(s.Batch, Math.Max(1, ParallelMinMacs / Math.Max(1, 3 * s.MacsPerImage))) > 1)
            ParallelFor.ForChunks(chunks, Chunk);
        else
            for (int c = 0; c < chunks; c++) Chunk(c);
        CombinePartials(s, partials, chunks, transposed, dw.Span);
        for (int c = 0; c < chunks; c++) ArrayPool<T>.Shared.Return(partials[c]);
    }

    /// <summary>
    /// dw = Σ_c partials[c] in chunk order (turned from [colRows, gout] to [gout, colRows] per group when
    /// <paramref name="transposed"/>), in one pass split over output channels: ResNet's 512-channel layers sum 8
    /// partials of 1.2 M floats, which on one thread left the other core idle for a sixth of the call.
    /// </summary>
    private static unsafe void CombinePartials<T>(in ConvShape s, T[][] partials, int chunks, bool transposed, Span<T> dw)
        where T : unmanaged, INumber<T>
    {
        int colRows = s.ColRows, gout = s.GroupOut, groups = s.Groups;
        int threads = ParallelFor.ThreadsForBytes((long)(chunks + 1) * s.OutChannels * colRows * sizeof(T));
        fixed (T* pd = dw)
        {
            T* d = pd;
            void Channels(int o0, int o1)
            {
                for (int g = 0; g < groups; g++)
                {
                    int at = g * gout * colRows;
                    // Along the partials' rows: r outer for the transposed [colRows, gout] sums, o outer otherwise.
                    int outer = transposed ? colRows : o1 - o0, inner = transposed ? o1 - o0 : colRows;
                    for (int i = 0; i < outer; i++)
                        for (int j = 0; j < inner; j++)
                        {
                            int o = transposed ? o0 + j : o0 + i, r = transposed ? i : j;
                            int src = at + (transposed ? r * gout + o : o * colRows + r);
                            T sum = partials[0][src];
                            for (int c = 1; c < chunks; c++) sum += partials[c][src];
                            d[at + o * colRows + r] = sum;
                        }
                }
            }
            if (threads > 1) ParallelFor.For(gout, Math.Max(1, (gout + threads - 1) / threads), Channels);
            else Channels(0, gout);
        }
    }

    private static void BackwardWeightBlock<T>(in ConvShape s, int n0, int nb, ReadOnlySpan<T> x, ReadOnlySpan<T> dy, Span<T> acc, Workspace<T> ws, bool transposed)
        where T : unmanaged, INumber<T>
    {
        int plane = s.OutPlane, colRows = s.ColRows, gin = s.GroupIn, gout = s.GroupOut, hw = s.Height * s.Width;
        int inImage = s.InChannels * hw, outImage = s.OutChannels * plane, ld = nb * plane;
        for (int g = 0; g < s.Groups; g++)
        {
            ReadOnlySpan<T> b = x.Slice(n0 * inImage + g * gin * hw, gin * hw);
            if (ws.Col is not null)
            {
                var col = ws.Col.AsSpan(0, colRows * ld);
                for (int j = 0; j < nb; j++)
                    Im2Col.Forward(x.Slice((n0 + j) * inImage + g * gin * hw, gin * hw), gin, s.Height, s.Width, s.Window, s.OutH, s.OutW, col[(j * plane)..], ld);
                b = col;
            }
            ReadOnlySpan<T> dyg = nb == 1 ? dy.Slice(n0 * outImage + g * gout * plane, gout * plane) : Gather(dy, n0, nb, g, s, ws.Tmp!);
            var accG = acc.Slice(g * gout * colRows, gout * colRows);
            if (transposed) // dW_gᵀ [colRows, gout] += col_g [colRows, nb·plane] · dY_gᵀ [nb·plane, gout]
                GemmT.Run(false, true, colRows, gout, ld, b, ld, dyg, ld, T.One, accG, gout);
            else // dW_g [gout, colRows] += dY_g [gout, nb·plane] · col_gᵀ [nb·plane, colRows]
                GemmT.Run(false, true, gout, colRows, ld, dyg, ld, b, ld, T.One, accG, colRows);
        }
    }

    /// <summary>Lays group g's output gradients of images [n0, n0 + nb) side by side: [gout, nb·plane].</summary>
    private static ReadOnlySpan<T> Gather<T>(ReadOnlySpan<T> dy, int n0, int nb, int g, in ConvShape s, T[] tmp)
    {
        int plane = s.OutPlane, gout = s.GroupOut, outImage = s.OutChannels * plane, ld = nb * plane;
        var dst = tmp.AsSpan(0, gout * ld);
        for (int j = 0; j < nb; j++)
            for (int o = 0; o < gout; o++)
                dy.Slice((n0 + j) * outImage + (g * gout + o) * plane, plane).CopyTo(dst.Slice(o * ld + j * plane, plane));
        return dst;
    }

    /// <summary>Runs body(firstImage, images) over the blocks of the batch: on several threads when the work allows.</summary>
    private static void ForBlocks(in ConvShape s, Action<int, int> body)
    {
        int batch = s.Batch;
        if (batch == 0) return;
        int threads = ParallelFor.ChunkCount(batch, Math.Max(1, ParallelMinMacs / Math.Max(1, s.MacsPerImage)));
        int nb = ImagesPerBlock(s, threads);
        int blocks = (batch + nb - 1) / nb;
        if (blocks == 1 || threads <= 1)
        {
            for (int b = 0; b < blocks; b++) body(b * nb, Math.Min(nb, batch - b * nb));
            return;
        }
        // Blocks are taken on demand, which keeps both cores busy when one of them is shared.
        ParallelFor.ForChunks(blocks, b => body(b * nb, Math.Min(nb, batch - b * nb)));
    }

    /// <summary>Pooled scratch for one block: the column matrix and the side-by-side output gradients.</summary>
    private readonly struct Workspace<T> : IDisposable
    {
        public readonly T[]? Col;
        public readonly T[]? Tmp;

        public Workspace(in ConvShape s, int nb, bool needCol)
        {
            // With slack on both sides for the gathered col2im (BackwardInputBlock starts its matrix after it).
            Col = needCol ? ArrayPool<T>.Shared.Rent(s.ColRows * s.OutPlane * nb + 2 * Im2Col.GatherSlack) : null;
            Tmp = nb > 1 ? ArrayPool<T>.Shared.Rent(s.GroupOut * s.OutPlane * nb) : null;
        }

        public void Dispose()
        {
            if (Col is not null) ArrayPool<T>.Shared.Return(Col);
            if (Tmp is not null) ArrayPool<T>.Shared.Return(Tmp);
        }
    }
}

/// <summary>GEMM for a generic element type: float32 and float64 go to the packed kernels.</summary>
internal static class GemmT
{
    public static void Run<T>(bool transA, bool transB, int m, int n, int k, ReadOnlySpan<T> a, int lda, ReadOnlySpan<T> b, int ldb, T beta, Span<T> c, int ldc)
        where T : unmanaged, INumber<T>
    {
        if (typeof(T) == typeof(float))
            Gemm.Sgemm(transA, transB, m, n, k, 1f, MemoryMarshal.Cast<T, float>(a), lda, MemoryMarshal.Cast<T, float>(b), ldb,
                float.CreateTruncating(beta), MemoryMarshal.Cast<T, float>(c), ldc);
        else if (typeof(T) == typeof(double))
            Gemm.Dgemm(transA, transB, m, n, k, 1.0, MemoryMarshal.Cast<T, double>(a), lda, MemoryMarshal.Cast<T, double>(b), ldb,
                double.CreateTruncating(beta), MemoryMarshal.Cast<T, double>(c), ldc);
        else
            throw new NotSupportedException($"GEMM is defined for float and double, not {typeof(T).Name}");
    }
}
