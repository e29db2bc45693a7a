using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Fovea.Kernels;

/// <summary>
/// Float32 forward of a strided 1x1 convolution without padding (a residual network's projection shortcuts: ResNet-18's
/// 64@56² → 128@28², stride 2), on AVX2 and AVX-512.
/// <para>
/// A 1x1 convolution is the product Y = W · X<sub>s</sub>, where column p = oy·OW + ox of X<sub>s</sub> holds the input
/// channels at (SH·oy, SW·ox); with few taps (64 for that shortcut) the implicit GEMM's per-sliver work outweighs its
/// multiply-adds: it gathers each sliver of NR output pixels tap by tap through its table of taps, and writes the tiles
/// into the output through a scatter that handles slivers crossing an output row, and the ReLU and the join follow as a
/// pass over the output (about a third of the layer's time on one thread: packing 22%, scattering 12%, the pass 4%).
/// Here a work item is a run of slivers of one image's output plane: it copies the strided input points its slivers
/// need into a panel laid out as packed B slivers (whole output-row pieces at a time; for stride 2, eight points per
/// two vector loads), then runs the implicit GEMM's register tile for the shape
/// (<see cref="SgemmKernel6x16"/>, <see cref="SgemmKernel6x32"/>, <see cref="SgemmKernel6x64"/>) of each 6 output
/// channels of the packed weights over each sliver, storing straight into the output planes (whose rows are output
/// channels, NR consecutive pixels each), where the bias, residual and ReLU (<see cref="ConvEpilogue"/>) are applied to
/// the 6 rows just written, still in L1.
/// </para>
/// The multiply-adds and their order are the implicit GEMM's (same packed weights, same K blocks, same tile), so the
/// outputs are its bits; each is computed the same way whatever the thread count.
/// </summary>
internal static unsafe class PointwiseConv
{
    private const int MR = 6;

    /// <summary>Whether the dispatch may take this path; tests switch it off to compare with the others.</summary>
    internal static bool Enabled = true;

    /// <summary>Fewest output channels: two row tiles.</summary>
    private const int MinOutChannels = 2 * MR;

    /// <summary>Largest panel of B slivers an item gathers (kept in L1/L2 while every row tile of the weights passes over it).</summary>
    private const int MaxPanelBytes = 48 * 1024;

    [ThreadStatic] private static float[]? _panel;

    /// <summary>
    /// True where this path runs: the GEMM's AVX2 or AVX-512 tile, one group, a 1x1 window without padding, a stride
    /// in either direction and at least <see cref="MinOutChannels"/> output channels.
    /// </summary>
    public static bool Applies(in ConvShape s) =>
        Enabled && Gemm.Selected is GemmKernelKind.Vector256 or GemmKernelKind.Vector512 && s.Groups == 1
        && s.Window.KernelH == 1 && s.Window.KernelW == 1 && s.Window.PadH == 0 && s.Window.PadW == 0
        && (s.Window.StrideH > 1 || s.Window.StrideW > 1) && s.InChannels > 0 && s.OutChannels >= MinOutChannels && s.OutPlane > 0;

    /// <summary>
    /// Output pixels a register tile spans where the pixel rows also apply (at most 1,024 pixels over the batch): 16 with
    /// AVX2, 32 with AVX-512.
    /// </summary>
    private static int NR => Gemm.Selected == GemmKernelKind.Vector512 ? SgemmKernel6x32.NR : SgemmKernel6x16.NR;

    /// <summary>Whether an image's output plane fills its NR-pixel slivers to at least 90% (784 pixels: 49 of 16, or 24.5 of 32).</summary>
    public static bool FillsSlivers(in ConvShape s) => 100L * s.OutPlane >= 90L * ((s.OutPlane + NR - 1) / NR * NR);

    /// <summary>
    /// y = epilogue(conv(x, w) + bias) for contiguous NCHW buffers where <see cref="Applies"/>; <paramref name="bias"/>
    /// may be null; the weights come from <paramref name="prepared"/> (packed there on first use) or are packed for
    /// this call.
    /// </summary>
    public static void Forward(in ConvShape s, float* x, float* w, float* bias, float* y, PreparedConvWeights? prepared, ConvEpilogue e)
    {
        // AVX-512 takes the implicit GEMM's choice of tile (6x64 from 1,024 output pixels over the batch on).
        if (Gemm.Selected == GemmKernelKind.Vector512 && Conv2dKernels.WideTiles(s))
            Forward<SgemmKernel6x64>(s, x, w, bias, y, prepared, e);
        else if (Gemm.Selected == GemmKernelKind.Vector512)
            Forward<SgemmKernel6x32>(s, x, w, bias, y, prepared, e);
        else
            Forward<SgemmKernel6x16>(s, x, w, bias, y, prepared, e);
    }

    /// <summary>
    /// <see cref="Forward(in ConvShape, float*, float*, float*, float*, PreparedConvWeights?, ConvEpilogue)"/> on register
    /// tile <typeparamref name="TKernel"/> (<see cref="SgemmKernel6x16"/>, <see cref="SgemmKernel6x32"/> or
    /// <see cref="SgemmKernel6x64"/>; at most 64 columns), whatever the
    /// process selected: tests run both.
    /// </summary>
    internal static void Forward<TKernel>(in ConvShape s, float* x, float* w, float* bias, float* y, PreparedConvWeights? prepared, ConvEpilogue e)
        where TKernel : struct, IMicroKernel<float>
    {
        if (s.Batch == 0) return;
        int depth = s.InChannels, nr = TKernel.NR;
        int kc = ImplicitGemmConv<float, TKernel>.BlockDepth(depth);
        int mPad = (s.OutChannels + MR - 1) / MR * MR;
        int perImage = (s.OutPlane + nr - 1) / nr;
        int threads = ParallelFor.ThreadsForMultiplyAdds((long)s.Batch * s.MacsPerImage);
        // Slivers per item: as many as the panel holds, but with several threads small enough for about eight items a
        // thread, taken on demand (ResNet-18's shortcut at batch 1 has 49 slivers of 16 pixels).
        int perItem = Math.Clamp(MaxPanelBytes / (depth * nr * sizeof(float)), 1, perImage);
        if (threads > 1)
            perItem = Math.Clamp((int)(((long)s.Batch * perImage + 8 * threads - 1) / (8 * threads)), 1, perItem);
        int itemsPerImage = (perImage + perItem - 1) / perItem;
        float[]? packed = prepared is null ? ArrayPool<float>.Shared.Rent(mPad * depth) : null;
        fixed (float* pp = packed)
        {
            float* a = pp;
            if (a is null)
                a = prepared!.GemmA(s, w, MR, kc);
            else
                PreparedConvWeights.PackGemmA(s, w, MR, kc, a);
            var body = new Body
            {
                X = x,
                Y = y,
                Bias = bias,
                PackedW = a,
                Epilogue = e,
                Shape = s,
                Kc = kc,
                MPad = mPad,
                PerItem = perItem,
                ItemsPerImage = itemsPerImage,
            };
            int items = s.Batch * itemsPerImage;
            if (threads <= 1)
                for (int i = 0; i < items; i++) body.Invoke<TKernel>(i);
            else
                ParallelFor.ForChunks(items, new Chunk<TKernel> { Body = body });
        }
        if (packed is not null) ArrayPool<float>.Shared.Return(packed);
    }

    private struct Chunk<TKernel> : IChunkBody
        where TKernel : struct, IMicroKernel<float>
    {
        public Body Body;

        public readonly void Invoke(int chunk) => Body.Invoke<TKernel>(chunk);
    }

    private struct Body
    {
        public float* X, Y, Bias, PackedW;
        public ConvEpilogue Epilogue;
        public ConvShape Shape;
        public int Kc, MPad, PerItem, ItemsPerImage;

        /// <summary>Item <paramref name="item"/>: slivers [PerItem·i, PerItem·(i + 1)) of image n's output plane.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        [SkipLocalsInit] // the tile buffer is written by the kernel before it is read
        public readonly void Invoke<TKernel>(int item)
            where TKernel : struct, IMicroKernel<float>
        {
            ref readonly ConvShape s = ref Shape;
            int nr = TKernel.NR, depth = s.InChannels, cout = s.OutChannels, plane = s.OutPlane;
            int n = item / ItemsPerImage, first = item % ItemsPerImage * PerItem;
            int q0 = first * nr, q1 = Math.Min(plane, q0 + PerItem * nr), slivers = (q1 - q0 + nr - 1) / nr;
            long sliverLen = (long)depth * nr;
            float* panel = ThreadScratch.Floats(ref _panel, slivers * sliverLen);
            Gather(s, X + (long)n * depth * s.Height * s.Width, panel, q0, q1, nr);

            float* buffer = stackalloc float[MR * 64 + 16];
            float* tile = (float*)(((nint)buffer + 63) & ~(nint)63);
            float* yImage = Y + (long)n * cout * plane;
            for (int ir = 0; ir < MPad; ir += MR)
            {
                int rows = Math.Min(MR, cout - ir);
                for (int sl = 0; sl < slivers; sl++)
                {
                    int p0 = q0 + sl * nr, cols = Math.Min(nr, q1 - p0);
                    bool direct = cols == nr && rows == MR;
                    float* run = yImage + (long)ir * plane + p0;
                    float* c = direct ? run : tile;
                    nint ldc = direct ? plane : nr;
                    float* b = panel + sl * sliverLen;
                    for (int k0 = 0; k0 < depth; k0 += Kc)
                    {
                        int kcb = Math.Min(Kc, depth - k0);
                        TKernel.Run(kcb, PackedW + (long)MPad * k0 + (long)ir * kcb, b + (long)k0 * nr, c, ldc, 1f, k0 == 0 ? 0f : 1f);
                    }
                    if (!direct || Bias is not null || !Epilogue.IsNone)
                        Epilogue.Rows(c, ldc, run, plane, rows, cols, Bias is null ? null : Bias + ir);
                }
            }
        }
    }

    /// <summary>
    /// Writes output pixels [q0, q1) of one image (input <paramref name="x"/>) as packed B slivers: sliver j's step c is
    /// input channel c at pixels q0 + j·nr … + nr − 1, each at (SH·oy, SW·ox); a last short sliver's other columns are zero.
    /// </summary>
    internal static void Gather(in ConvShape s, float* x, float* panel, int q0, int q1, int nr)
    {
        int depth = s.InChannels, ow = s.OutW, width = s.Width, sh = s.Window.StrideH, sw = s.Window.StrideW;
        long inPlane = (long)s.Height * width, sliverLen = (long)depth * nr;
        int tail = (q1 - q0) % nr;
        if (tail != 0)
        {
            float* last = panel + (q1 - q0) / nr * sliverLen;
            for (int c = 0; c < depth; c++) new Span<float>(last + (long)c * nr + tail, nr - tail).Clear();
        }
        // Pieces of one output row within one sliver: the same for every channel.
        int maxPieces = 2 * ((q1 - q0 + nr - 1) / nr) + (q1 - q0) / Math.Max(1, ow) + 2;
        Span<int> pieces = maxPieces <= 256 ? stackalloc int[4 * maxPieces] : new int[4 * maxPieces];
        int count = 0;
        for (int t = q0; t < q1; count++)
        {
            int oy = t / ow, ox = t - oy * ow;
            int len = Math.Min(Math.Min(ow - ox, nr - (t - q0) % nr), q1 - t);
            pieces[4 * count] = oy * sh * width + ox * sw;
            pieces[4 * count + 1] = (int)((t - q0) / nr * sliverLen + (t - q0) % nr);
            pieces[4 * count + 2] = len;
            // Floats from the piece's first point to the end of its input row: how far a vector load may read.
            pieces[4 * count + 3] = width - ox * sw;
            t += len;
        }
        for (int c = 0; c < depth; c++)
        {
            float* src = x + c * inPlane, dst = panel + (long)c * nr;
            for (int i = 0; i < count; i++)
                CopyStrided(src + pieces[4 * i], dst + pieces[4 * i + 1], pieces[4 * i + 2], sw, pieces[4 * i + 3]);
        }
    }

    /// <summary>
    /// dst[t] = src[t·stride] for t &lt; len, reading at most <paramref name="readable"/> floats from src. For stride 2,
    /// eight at a time (<see cref="ColumnPhases.StoreEvens{T}"/>), the last eight ending at the piece's end (overlapping
    /// the ones before) instead of a scalar tail.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void CopyStrided(float* src, float* dst, int len, int stride, int readable)
    {
        if (stride == 2 && Vector256.IsHardwareAccelerated && len >= 8 && 2 * len <= readable)
        {
            for (int t = 0; t < len - 8; t += 8) ColumnPhases.StoreEvens(src + 2 * t, dst + t);
            ColumnPhases.StoreEvens(src + 2 * (len - 8), dst + len - 8);
            return;
        }
        for (int t = 0; t < len; t++) dst[t] = src[(long)t * stride];
    }
}
