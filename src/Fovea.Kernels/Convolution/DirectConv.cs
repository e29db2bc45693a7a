using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Fovea.Kernels;

/// <summary>
/// Float32 convolution forward for stride 1 and few output channels, with nothing packed but the weights: the GEMM's B operand, 16 output
/// pixels of one output row for tap (channel, i, j), is 16 consecutive input pixels of a zero-padded copy of the
/// input rows, so the register tile loads it straight from there. Per tap: two loads, six weight broadcasts and
/// twelve FMAs into a 6 output channels x 16 pixels tile of accumulators, as in the GEMM micro-kernel.
/// <para>
/// Lowering (im2col) or packing would write every input pixel KH·KW times before it is used; with few output channels
/// (LeNet has 6 and 16) that costs more than the multiply-adds. The price here is the unused lanes of a row's last
/// tile (a 10-pixel row fills 10 of 16), far cheaper than those passes.
/// </para>
/// Work items are (image, group, block of output rows); each element of y is computed by the same operations
/// whatever the thread count.
/// </summary>
internal static unsafe class DirectConv
{
    private const int MR = 6, NR = 16;

    /// <summary>
    /// Whether the tiles run on 512-bit vectors where the machine has them (twice the lanes per FMA); tests turn it off
    /// to run the 256-bit tiles on the same machine.
    /// </summary>
    internal static bool Vector512Tiles = true;

    private static bool Wide => Vector512.IsHardwareAccelerated && System.Runtime.Intrinsics.X86.Avx512F.IsSupported && Vector512Tiles;

    /// <summary>Zeroed floats after the padded band: a row's last tile reads up to NR − 1 past the band's last row.</summary>
    private const int Slack = NR + 8;

    [ThreadStatic] private static float[]? _padded;

    [ThreadStatic] private static float[]? _imageScratch;

    /// <summary>
    /// Most outputs (pixels x channels of a group) that <see cref="ForwardByChannels"/> gathers in its scratch before
    /// writing them out: 16 K floats, 64 KiB, within the second-level cache of every machine Fovea targets (a whole
    /// image of LeNet's c3 is 1,600).
    /// </summary>
    internal const int MaxImageScratch = 16 * 1024;

    /// <summary>This thread's scratch of at least <paramref name="length"/> floats (pinned, 64-byte aligned).</summary>
    private static float* ImageScratch(int length) =>
        ThreadScratch.Floats(ref _imageScratch, length);

    /// <summary>
    /// Output channels per group up to which this path beats the implicit GEMM. Beyond a few register tiles of
    /// channels, packing each column value once and reusing it from L1 for every tile wins over loading it from the
    /// band again for each. Tests move it to run either path on any shape.
    /// </summary>
    internal static int MaxGroupOut = 16;

    /// <summary>True for the shapes and machines this path serves: stride 1, few output channels, 256-bit FMA.</summary>
    public static bool Applies(in ConvShape s) =>
        s.Window.StrideH == 1 && s.Window.StrideW == 1 && s.GroupOut <= MaxGroupOut
        && Vector256.IsHardwareAccelerated && System.Runtime.Intrinsics.X86.Fma.IsSupported;

    /// <summary>y = conv(x, w) + bias for contiguous NCHW buffers; <paramref name="bias"/> may be null.</summary>
    public static void Forward(in ConvShape s, float* x, float* w, float* bias, float* y)
    {
        int colRows = s.ColRows, gout = s.GroupOut, mPad = (gout + MR - 1) / MR * MR;
        if (s.Batch == 0 || gout == 0 || s.OutPlane == 0) return;
        var win = s.Window;
        int wp = s.Width + 2 * win.PadW;
        int rowsPerBlock = RowsPerBlock(s);
        int bandRows = (rowsPerBlock - 1) + (win.KernelH - 1) * win.DilationH + 1;
        int[] taps = BandTaps(s, bandRows, wp);
        float[] packed = ArrayPool<float>.Shared.Rent(Math.Max(1, s.Groups * mPad * colRows));
        // The bias per group padded to whole tiles of MR channels (zeros without one): it seeds the accumulators.
        float[] biasPad = ArrayPool<float>.Shared.Rent(s.Groups * mPad);
        Array.Clear(biasPad, 0, s.Groups * mPad);
        if (bias is not null)
            for (int g = 0; g < s.Groups; g++)
                new ReadOnlySpan<float>(bias + g * gout, gout).CopyTo(biasPad.AsSpan(g * mPad, gout));
        fixed (int* pt = taps)
        fixed (float* pw = packed)
        fixed (float* pb = biasPad)
        {
            for (int g = 0; g < s.Groups; g++)
                if (colRows > 0)
                    GemmPacking.PackA(pw + (long)g * mPad * colRows, w + (long)g * gout * colRows, colRows, false, 0, gout, 0, colRows, MR);
            int blocks = (s.OutH + rowsPerBlock - 1) / rowsPerBlock;
            var body = new BlockBody
            {
                X = x,
                Y = y,
                BiasPad = pb,
                PackedW = pw,
                Taps = pt,
                Shape = s,
                MPad = mPad,
                RowsPerBlock = rowsPerBlock,
                BandRows = bandRows,
                Blocks = blocks,
                Wp = wp,
            };
            int items = s.Batch * s.Groups * blocks;
            int threads = ParallelFor.ThreadsForMultiplyAdds((long)s.Batch * s.MacsPerImage);
            if (threads <= 1)
                for (int i = 0; i < items; i++) body.Invoke(i);
            else
                ParallelFor.ForChunks(items, body);
        }
        ArrayPool<int>.Shared.Return(taps);
        ArrayPool<float>.Shared.Return(packed);
        ArrayPool<float>.Shared.Return(biasPad);
    }

    /// <summary>Output rows per work item: whole images for small ones, bands of rows for large (a band of the padded input stays in L2).</summary>
    private static int RowsPerBlock(in ConvShape s)
    {
        long bandBytes = (long)s.GroupIn * (s.Width + 2 * s.Window.PadW) * 4;
        int rows = (int)Math.Clamp(256 * 1024 / Math.Max(1, bandBytes) - s.Window.KernelH, 1, s.OutH);
        return rows;
    }

    private struct BlockBody : IChunkBody
    {
        public float* X, Y, BiasPad, PackedW;
        public int* Taps;
        public ConvShape Shape;
        public int MPad, RowsPerBlock, BandRows, Blocks, Wp;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public readonly void Invoke(int item)
        {
            ref readonly ConvShape s = ref Shape;
            int blk = item % Blocks, ng = item / Blocks, g = ng % s.Groups, n = ng / s.Groups;
            int oy0 = blk * RowsPerBlock, oy1 = Math.Min(s.OutH, oy0 + RowsPerBlock);
            int wp = Wp, bandRows = BandRows;
            float* band = Band(s, X, n, g, oy0, bandRows, wp);

            int gout = s.GroupOut, plane = s.OutPlane, ow = s.OutW, colRows = s.ColRows;
            float* pw = PackedW + (long)g * MPad * colRows;
            float* pb = BiasPad + (long)g * MPad;
            float* yImage = Y + ((long)n * s.OutChannels + (long)g * gout) * plane;
            // A tile covers 16 pixels of one output row, or of two on 512-bit vectors (per tap two row loads and six
            // broadcasts feed twelve 512-bit FMAs); tiles cut at the image's edge are stored through this buffer.
            bool wide = Wide;
            int tileRows = wide ? 2 : 1;
            float* tile = stackalloc float[2 * MR * NR];
            for (int oy = oy0; oy < oy1; oy += tileRows)
            {
                float* bandRow = band + (long)(oy - oy0) * wp;
                int outRows = Math.Min(tileRows, oy1 - oy);
                for (int ox0 = 0; ox0 < ow; ox0 += NR)
                {
                    int cols = Math.Min(NR, ow - ox0);
                    for (int o0 = 0; o0 < gout; o0 += MR)
                    {
                        int rows = Math.Min(MR, gout - o0);
                        float* yTile = yImage + (long)o0 * plane + (long)oy * ow + ox0;
                        bool direct = rows == MR && cols == NR && outRows == tileRows;
                        float* outTile = direct ? yTile : tile;
                        nint ldo = direct ? plane : 2 * NR;
                        if (wide) Tile512(colRows, pw + (long)o0 * colRows, pb + o0, bandRow + ox0, outRows == 2 ? wp : 0, Taps, outTile, ldo, direct ? ow : NR);
                        else Tile(colRows, pw + (long)o0 * colRows, pb + o0, bandRow + ox0, Taps, outTile, ldo);
                        if (!direct)
                            for (int r = 0; r < rows; r++)
                                for (int h = 0; h < outRows; h++)
                                    new ReadOnlySpan<float>(tile + (r * 2 + h) * NR, cols).CopyTo(new Span<float>(yTile + (long)r * plane + h * ow, cols));
                    }
                }
            }
        }
    }

    /// <summary>
    /// Offsets in a band (<paramref name="bandRows"/> padded rows of width <paramref name="wp"/> per channel) of the
    /// taps of the window: tap k = (channel, i, j) reads channel·bandRows·wp + i·dh·wp + j·dw. Rented; return it.
    /// </summary>
    private static int[] BandTaps(in ConvShape s, int bandRows, int wp)
    {
        var win = s.Window;
        int[] taps = ArrayPool<int>.Shared.Rent(Math.Max(1, s.ColRows));
        win.TapOffsets(s.GroupIn, bandRows * wp, wp, taps);
        return taps;
    }

    /// <summary>
    /// Copies a band of zero-padded input rows — padded rows <paramref name="row0"/> .. row0 + bandRows of each of group
    /// <paramref name="g"/>'s channels of image <paramref name="n"/>, the rows that output rows from row0 / stride_h
    /// read — into this thread's scratch, followed by <see cref="Slack"/> zeros (a row's last tile loads past the band's
    /// end, into lanes that are never stored). Returns its 64-byte aligned start.
    /// </summary>
    private static float* Band(in ConvShape s, float* x, int n, int g, int row0, int bandRows, int wp)
    {
        int gin = s.GroupIn, h = s.Height, w = s.Width, hw = h * w;
        var win = s.Window;
        int bandSize = gin * bandRows * wp;
        float* band = ThreadScratch.Floats(ref _padded, bandSize + Slack);
        float* xg = x + ((long)n * s.InChannels + (long)g * gin) * hw;
        for (int c = 0; c < gin; c++)
            for (int r = 0; r < bandRows; r++)
            {
                float* dst = band + ((long)c * bandRows + r) * wp;
                int iy = row0 + r - win.PadH;
                if ((uint)iy >= (uint)h)
                {
                    new Span<float>(dst, wp).Clear();
                    continue;
                }
                new Span<float>(dst, win.PadW).Clear();
                new ReadOnlySpan<float>(xg + (long)c * hw + (long)iy * w, w).CopyTo(new Span<float>(dst + win.PadW, w));
                new Span<float>(dst + win.PadW + w, wp - win.PadW - w).Clear();
            }
        new Span<float>(band + bandSize, Slack).Clear();
        return band;
    }

    /// <summary>Whether weight gradients may take this path; tests switch it off to run the im2col path on the same shapes.</summary>
    internal static bool WeightGradient = true;

    /// <summary>
    /// Output channels per group up to which a stride-1 forward with whole tiles of 16 channels runs channel-major
    /// (<see cref="ForwardByChannels"/>); tests set it to 0 to run the other paths on the same shapes.
    /// </summary>
    internal static int MaxChannelMajorGroupOut = 32;

    /// <summary>
    /// True where <see cref="ForwardByChannels"/> serves: as <see cref="AppliesToWeight"/>, with few output channels; or
    /// a strided layer on an image's few channels (<see cref="StridedByChannels"/>).
    /// </summary>
    public static bool AppliesByChannels(in ConvShape s) =>
        (s.GroupOut <= MaxChannelMajorGroupOut && s.Window.StrideH == 1 && s.Window.StrideW == 1 && s.GroupOut % NR == 0
        && s.GroupOut > 0 && s.ColRows > 0 && RowsPerBlock(s) >= s.OutH && Vector256.IsHardwareAccelerated && System.Runtime.Intrinsics.X86.Fma.IsSupported)
        || StridedByChannels(s);

    /// <summary>
    /// Most input channels per group of a strided layer <see cref="ForwardByChannels"/> takes (images: gray, RGB, RGBA).
    /// Tests set it to 0 to run the other paths on the same shapes.
    /// </summary>
    internal static int MaxStridedInChannels = 4;

    /// <summary>
    /// True for a strided layer on few input channels with whole tiles of 16 output channels, on 256-bit vectors: a
    /// network's stem (ResNet's 7x7 stride-2 layer on RGB images). Its 6 pixels x 16 channels tiles broadcast each
    /// pixel's input value from a band of padded rows wherever the stride puts it, so nothing is packed but the
    /// weights; the implicit GEMM first packs 147 floats per output pixel for the stem, and AVX2 machines do not have
    /// the stem's phase-row kernel (<see cref="PhaseRowConv"/>, AVX-512), which keeps these shapes there. Measured on a
    /// 2-core AMD EPYC (Zen 3, AVX2), ResNet-18's stem at batch 1, the two paths alternating call by call: see
    /// docs/performance-log.md ("The stem on AVX2, channels in the lanes").
    /// </summary>
    internal static bool StridedByChannels(in ConvShape s) =>
        (s.Window.StrideH > 1 || s.Window.StrideW > 1) && s.GroupIn <= MaxStridedInChannels && s.GroupOut % NR == 0 && s.GroupOut > 0
        && s.ColRows > 0 && !Wide && Vector256.IsHardwareAccelerated && System.Runtime.Intrinsics.X86.Fma.IsSupported;

    /// <summary>Bytes of padded input rows a strided layer's work item copies into its band (in L2 with the weights).</summary>
    private const int StridedBandBytes = 64 * 1024;

    /// <summary>
    /// Output rows per work item of <see cref="ForwardByChannels"/>: the whole image for the stride-1 shapes (whose padded
    /// image fits one band); for strided ones, blocks whose band stays within <see cref="StridedBandBytes"/>, their count
    /// a multiple of 4 so that two or four threads get equal shares of an image.
    /// </summary>
    private static int ChannelRowsPerBlock(in ConvShape s)
    {
        if (!StridedByChannels(s)) return s.OutH;
        var win = s.Window;
        long rowBytes = (long)s.GroupIn * (s.Width + 2 * win.PadW) * sizeof(float);
        long bandRows = Math.Max(1, StridedBandBytes / Math.Max(1, rowBytes));
        int most = (int)Math.Clamp((bandRows - (long)(win.KernelH - 1) * win.DilationH - 1) / win.StrideH + 1, 1, s.OutH);
        int blocks = Math.Min(s.OutH, ((s.OutH + most - 1) / most + 3) / 4 * 4);
        return (s.OutH + blocks - 1) / blocks;
    }

    /// <summary>
    /// The forward with output pixels as the tile's rows and 16 output channels as its columns (yᵀ = col(X)ᵀ · Wᵀ):
    /// 6 pixels anywhere in the image share a tile, so small output rows (LeNet's c3 has 10 pixels) waste no lanes
    /// the way 16-pixel row tiles do, and 16 channels fill both vectors of every FMA. Pixel p of a block reads its window
    /// at offset (row · stride_h) · wp + column · stride_w of the block's band, so any stride works alike. Then the
    /// <paramref name="epilogue"/> on each run of y as it is written out.
    /// </summary>
    public static void ForwardByChannels(in ConvShape s, float* x, float* w, float* bias, float* y, ConvEpilogue epilogue = default)
    {
        using var plan = new ChannelPlan(s, x, w, bias, y, epilogue);
        var body = plan.Body;
        int items = s.Batch * s.Groups * body.Blocks;
        if (ParallelFor.ThreadsForMultiplyAdds((long)s.Batch * s.MacsPerImage) > 1)
            ParallelFor.ForChunks(items, body);
        else
            for (int i = 0; i < items; i++) body.Invoke(i);
    }

    /// <summary>
    /// The transposed weights, the band's tap offsets and each block pixel's offset of <see cref="ForwardByChannels"/>,
    /// and its work items: <see cref="ChannelBody"/> also computes any block of output rows of an image
    /// (<see cref="IConvRows"/>) for the fused stem and pooling (<see cref="ConvMaxPool"/>), on the strided shapes.
    /// Disposing returns the buffers.
    /// </summary>
    internal readonly struct ChannelPlan : IDisposable
    {
        private readonly int[] _taps, _offsets;
        private readonly float[] _wT;
        private readonly GCHandle _pinTaps, _pinOffsets, _pinW;

        /// <summary>The work items; <c>Y</c> is the constructor's y (null where only <see cref="ChannelBody.Rows"/> is called).</summary>
        public readonly ChannelBody Body;

        public ChannelPlan(in ConvShape s, float* x, float* w, float* bias, float* y, ConvEpilogue epilogue)
        {
            int colRows = s.ColRows, gout = s.GroupOut, groups = s.Groups;
            var win = s.Window;
            int wp = s.Width + 2 * win.PadW, rowsPerBlock = ChannelRowsPerBlock(s), blocks = (s.OutH + rowsPerBlock - 1) / rowsPerBlock;
            int bandRows = (rowsPerBlock - 1) * win.StrideH + (win.KernelH - 1) * win.DilationH + 1;
            int blockPixels = rowsPerBlock * s.OutW;
            _taps = BandTaps(s, bandRows, wp);
            _offsets = ArrayPool<int>.Shared.Rent(blockPixels);
            for (int p = 0; p < blockPixels; p++) _offsets[p] = p / s.OutW * win.StrideH * wp + p % s.OutW * win.StrideW;
            // Wᵀ per group and tile of 16 channels: [k][16], so each tap's 16 channels are one pair of vector loads, and a
            // tile's taps follow each other. (With all of a group's channels on each row, [k][o], a tile's rows were a
            // multiple of 64 bytes apart and fell into a quarter of L1's sets at 64 channels: the stem's tiles then read
            // their weights from L2.)
            _wT = ArrayPool<float>.Shared.Rent(groups * colRows * gout);
            for (int g = 0; g < groups; g++)
                for (int o = 0; o < gout; o++)
                    for (int k = 0; k < colRows; k++)
                        _wT[(((long)g * gout + o / NR * NR) * colRows + (long)k * NR) + o % NR] = w[((long)g * gout + o) * colRows + k];
            _pinTaps = GCHandle.Alloc(_taps, GCHandleType.Pinned);
            _pinOffsets = GCHandle.Alloc(_offsets, GCHandleType.Pinned);
            _pinW = GCHandle.Alloc(_wT, GCHandleType.Pinned);
            Body = new ChannelBody
            {
                X = x,
                Y = y,
                Bias = bias,
                WT = (float*)_pinW.AddrOfPinnedObject(),
                Taps = (int*)_pinTaps.AddrOfPinnedObject(),
                Offsets = (int*)_pinOffsets.AddrOfPinnedObject(),
                Shape = s,
                BandRows = bandRows,
                Wp = wp,
                RowsPerBlock = rowsPerBlock,
                Blocks = blocks,
                Epilogue = epilogue,
            };
        }

        public void Dispose()
        {
            _pinTaps.Free();
            _pinOffsets.Free();
            _pinW.Free();
            ArrayPool<int>.Shared.Return(_taps);
            ArrayPool<int>.Shared.Return(_offsets);
            ArrayPool<float>.Shared.Return(_wT);
        }
    }

    internal struct ChannelBody : IChunkBody, IConvRows
    {
        public float* X, Y, Bias, WT;
        public int* Taps, Offsets;
        public ConvShape Shape;
        public int BandRows, Wp, RowsPerBlock, Blocks;
        public ConvEpilogue Epilogue;

        public readonly int RowsPerCall => RowsPerBlock;

        /// <summary>Work item (image, group, block of output rows), written into y.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public readonly void Invoke(int item)
        {
            ref readonly ConvShape s = ref Shape;
            int blk = item % Blocks, ng = item / Blocks, g = ng % s.Groups, n = ng / s.Groups, gout = s.GroupOut, plane = s.OutPlane, colRows = s.ColRows;
            float* yg = Y + ((long)n * s.OutChannels + (long)g * gout) * plane;
            if (RowTiles(s))
            {
                // The whole image's outputs in the scratch, a row segment of RowTilePixels at a time.
                float* band = Band(s, X, n, g, 0, BandRows, Wp);
                float* wT = WT + (long)g * colRows * gout;
                float* scratch = ImageScratch(plane * gout);
                var win = s.Window;
                int ow = s.OutW, kh = win.KernelH, kw = win.KernelW, dh = win.DilationH, wp = Wp;
                for (int oy = 0; oy < s.OutH; oy++)
                    for (int ox0 = 0; ox0 < ow; ox0 += RowTilePixels)
                        for (int o0 = 0; o0 < gout; o0 += NR)
                            RowTile512(Math.Min(RowTilePixels, ow - ox0), band + (long)oy * wp + ox0, (long)BandRows * wp, (long)dh * wp, s.GroupIn, kh, kw,
                                wT + (long)o0 * colRows, NR, Bias is null ? null : Bias + g * gout + o0, scratch + ((long)oy * ow + ox0) * gout + o0, gout);
                RegisterTranspose.Transpose(scratch, gout, yg, plane, plane, gout);
                for (int o = 0; o < gout; o++) Epilogue.Run(yg + (long)o * plane, plane);
                return;
            }
            int oy0 = blk * RowsPerBlock, oy1 = Math.Min(s.OutH, oy0 + RowsPerBlock);
            GroupRows(n, g, oy0, oy1, yg + (long)oy0 * s.OutW, plane);
        }

        /// <summary>
        /// The row maxima of rows [oy0, oy1) of image n after the ReLU (<see cref="IConvRows.RowMaxima"/>), where the
        /// epilogue is the ReLU alone, the pool's windows have no dilation and the tiles are 256-bit: each row's tiles
        /// gather [pixel][channel] in L1 as for <see cref="Rows"/>, are rectified there, and a pooled column's taps are
        /// then whole vectors of 8 channels (the pooling's maximum across the row, which on a row of y needs shuffles
        /// at stride 2, is a vertical maximum here); only the row maxima, half the row at stride 2, are transposed out.
        /// </summary>
        public readonly bool RowMaxima(int n, int oy0, int oy1, in Window2d pool, int poolW, float* dst, long channelStride)
        {
            if (Wide || Epilogue.Residual != null || !Epilogue.Relu || pool.DilationW != 1) return false;
            for (int g = 0; g < Shape.Groups; g++) GroupRowMaxima(n, g, oy0, oy1, pool, poolW, dst + (long)g * Shape.GroupOut * channelStride, channelStride);
            return true;
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private readonly void GroupRowMaxima(int n, int g, int oy0, int oy1, in Window2d pool, int poolW, float* dst, long channelStride)
        {
            ref readonly ConvShape s = ref Shape;
            int gout = s.GroupOut, colRows = s.ColRows, ow = s.OutW, sw = pool.StrideW, kw = pool.KernelW, pad = pool.PadW;
            float* band = Band(s, X, n, g, oy0 * s.Window.StrideH, BandRows, Wp);
            float* wT = WT + (long)g * colRows * gout;
            float* row = ImageScratch((ow + poolW) * gout), maxima = row + (long)ow * gout;
            var zero = Vector256<float>.Zero;
            var outside = Vector256.Create(float.NegativeInfinity);
            for (int oy = oy0; oy < oy1; oy++)
            {
                PixelSums(g, band, wT, (oy - oy0) * ow, ow, row);
                // Pooled column pc's taps are pixels pc·sw − pad + j: the first, then each later one as max(v, best), which
                // keeps the earlier of equal values and the NaN mask beside it, as the pooling's row pass does; pixels
                // outside the row are −∞. The ReLU (as ConvEpilogue rounds it: max(0, v) + 0, NaN kept, −0 made +0) goes
                // on the maximum instead of on each tap: it is monotone, every window holds a pixel of the row, and a
                // NaN, or a window of zeros of either sign, comes out as it would, so the bits are the same for half the
                // work at stride 2.
                for (int pc = 0; pc < poolW; pc++)
                {
                    int c = pc * sw - pad;
                    for (int o = 0; o < gout; o += 8)
                    {
                        var best = (uint)c < (uint)ow ? Vector256.Load(row + (long)c * gout + o) : outside;
                        var nan = Avx.CompareUnordered(best, best);
                        for (int j = 1; j < kw; j++)
                        {
                            int ix = c + j;
                            var v = (uint)ix < (uint)ow ? Vector256.Load(row + (long)ix * gout + o) : outside;
                            best = Avx.Max(v, best);
                            nan |= Avx.CompareUnordered(v, v);
                        }
                        (Avx.Max(zero, best | nan) + zero).Store(maxima + (long)pc * gout + o);
                    }
                }
                RegisterTranspose.Transpose(maxima, gout, dst + (long)(oy - oy0) * poolW, channelStride, poolW, gout);
            }
        }

        /// <summary>
        /// scratch[p, c] = bias[c] + Σ_taps band[Offsets[q0 + p] + tap] · wᵀ[tap, c] for <paramref name="pixels"/> block
        /// pixels from <paramref name="q0"/> and every channel of group g: the [pixel][channel] sums that
        /// <see cref="GroupRows"/> transposes into y and <see cref="GroupRowMaxima"/> pools. Each pixel's sums start at
        /// the bias (the tiles add theirs to it), so the turn into y is a plain transpose.
        /// </summary>
        private readonly void PixelSums(int g, float* band, float* wT, int q0, int pixels, float* scratch)
        {
            int gout = Shape.GroupOut, colRows = Shape.ColRows;
            if (Bias is null) new Span<float>(scratch, pixels * gout).Clear();
            else
                for (int p = 0; p < pixels; p++)
                    for (int o = 0; o < gout; o += 8) Vector256.Load(Bias + g * gout + o).Store(scratch + (long)p * gout + o);
            int sw = Shape.Window.StrideW;
            for (int p0 = 0; p0 < pixels; p0 += MR)
            {
                int rows = Math.Min(MR, pixels - p0);
                int* bases = Offsets + q0 + p0;
                // Six pixels of one output row, their inputs sw floats apart (a tile that wraps onto the next row is not):
                // the GEMM's in-place tile reads them at constant displacements from one address. With a base pointer
                // per pixel (BroadcastTile), the 12 accumulators' loop needs more general registers than x64 has and
                // spills them: ResNet-18's stem (7x7 stride 2, this path on AVX2) ran its tiles at 72% of the FMA peak.
                // Alone, with the ReLU, the two tiles alternating call by call (medians of 700 calls each, two runs, a
                // 2-vCPU AMD EPYC of the Zen 3 generation): 3.40 → 3.03 ms on one thread, 1.87–2.07 → 1.65–1.90 on two;
                // at batch 32 and 112² (training's forward) 27.7 → 25.7 ms on one thread. ResNet-18's forward at batch 1
                // (the zoo module, alternating, medians of 300): 30.75 → 30.56 ms on one thread, 17.71 → 17.41 on two.
                int rowStride = RowTilesByStride && !Wide && rows == MR && sw <= 2 && EvenlySpaced(bases, sw) ? sw : 0;
                for (int o0 = 0; o0 < gout; o0 += NR)
                {
                    float* b = wT + (long)o0 * colRows, acc = scratch + (long)p0 * gout + o0;
                    if (Wide)
                        BroadcastTile512(rows, band, bases, Taps, colRows, b, NR, acc, gout);
                    else if (rowStride == 1)
                        SgemmKernel6x16.RunInputRows<Const1>(colRows, band + bases[0], Taps, b, acc, gout, 1f);
                    else if (rowStride == 2)
                        SgemmKernel6x16.RunInputRows<Const2>(colRows, band + bases[0], Taps, b, acc, gout, 1f);
                    else
                        BroadcastTile(rows, band, bases, Taps, colRows, b, NR, acc, gout);
                }
            }
        }

        /// <summary>Output rows [oy0, oy1) of image n, every group (at most <see cref="RowsPerBlock"/> rows; not for <see cref="RowTiles"/> shapes).</summary>
        public readonly void Rows(int n, int oy0, int oy1, float* dst, long dstPlane)
        {
            for (int g = 0; g < Shape.Groups; g++) GroupRows(n, g, oy0, oy1, dst + (long)g * Shape.GroupOut * dstPlane, dstPlane);
        }

        /// <summary>
        /// Output rows [oy0, oy1) of group g of image n: channel o of the group at <paramref name="dst"/> + o·<paramref name="dstPlane"/>,
        /// row after row.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private readonly void GroupRows(int n, int g, int oy0, int oy1, float* dst, long dstPlane)
        {
            ref readonly ConvShape s = ref Shape;
            int gout = s.GroupOut, colRows = s.ColRows;
            float* band = Band(s, X, n, g, oy0 * s.Window.StrideH, BandRows, Wp);
            float* wT = WT + (long)g * colRows * gout;
            // The tiles of a run of pixels gather in a scratch [pixel][channel] in the first-level cache, then each
            // channel's part of y is written as one sequential run. Writing each 6-pixel x 16-channel tile straight into
            // y stored 24 bytes into each of 16 lines a plane apart: where y is a fresh tensor, whose lines are in no
            // cache, those scattered partial-line stores took a third of the forward (LeNet's c3 at 0.67 ms against
            // 0.39 ms into a reused buffer).
            int run = Math.Max(MR, MaxImageScratch / gout / MR * MR);
            int blockPixels = (oy1 - oy0) * s.OutW;
            float* scratch = ImageScratch(Math.Min(blockPixels, run) * gout);
            for (int q0 = 0; q0 < blockPixels; q0 += run)
            {
                int pixels = Math.Min(run, blockPixels - q0);
                PixelSums(g, band, wT, q0, pixels, scratch);
                float* yRun = dst + q0;
                RegisterTranspose.Transpose(scratch, gout, yRun, dstPlane, pixels, gout);
                for (int o = 0; o < gout; o++) Epilogue.Run(yRun + o * dstPlane, pixels);
            }
        }
    }

    /// <summary>Output pixels of one row per <see cref="RowTile512"/>.</summary>
    private const int RowTilePixels = 12;

    /// <summary>
    /// Whether the channel-major forward runs <see cref="RowTile512"/>: 512-bit vectors, no column dilation (the tile
    /// slides along the row one column per tap), and an image's outputs within the scratch.
    /// </summary>
    private static bool RowTiles(in ConvShape s) =>
        Wide && s.Window.StrideH == 1 && s.Window.StrideW == 1 && s.Window.DilationW == 1 && (long)s.OutPlane * s.GroupOut <= MaxImageScratch;

    /// <summary>
    /// out[p, c] = bias[c] + Σ_taps band[p + tap] · wT[tap, c] for <paramref name="pixels"/> (at most 12) consecutive output pixels of
    /// one row and 16 channels. For kernel row (channel, i) the pixels' 12 input values are broadcast once, then for each
    /// kernel column j the tile slides one column: pixel p's value for column j + 1 is pixel p + 1's for column j, so
    /// each column costs one new broadcast, one weight load and 12 FMAs. <see cref="BroadcastTile512"/> broadcasts a
    /// value per FMA, and a core that issues two 512-bit FMAs a cycle cannot also issue two broadcasts for each
    /// (LeNet's c3: 72 GFLOP/s there). Lanes past <paramref name="pixels"/> read on along the band and are not stored.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RowTile512(int pixels, float* src, long channelStride, long rowStride, int channels, int kh, int kw, float* wT, int ldw, float* bias, float* acc, int lda)
    {
        Vector512<float> a0 = bias is null ? default : Vector512.Load(bias), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0;
        Vector512<float> a6 = a0, a7 = a0, a8 = a0, a9 = a0, a10 = a0, a11 = a0;
        float* w = wT;
        for (int ci = 0; ci < channels; ci++)
            for (int i = 0; i < kh; i++)
            {
                float* r = src + ci * channelStride + i * rowStride;
                Vector512<float> b0 = Vector512.Create(r[0]), b1 = Vector512.Create(r[1]), b2 = Vector512.Create(r[2]), b3 = Vector512.Create(r[3]);
                Vector512<float> b4 = Vector512.Create(r[4]), b5 = Vector512.Create(r[5]), b6 = Vector512.Create(r[6]), b7 = Vector512.Create(r[7]);
                Vector512<float> b8 = Vector512.Create(r[8]), b9 = Vector512.Create(r[9]), b10 = Vector512.Create(r[10]), b11 = Vector512.Create(r[11]);
                for (int j = 0; j < kw; j++, w += ldw)
                {
                    var wv = Vector512.Load(w);
                    a0 = Vector512.FusedMultiplyAdd(b0, wv, a0); a1 = Vector512.FusedMultiplyAdd(b1, wv, a1);
                    a2 = Vector512.FusedMultiplyAdd(b2, wv, a2); a3 = Vector512.FusedMultiplyAdd(b3, wv, a3);
                    a4 = Vector512.FusedMultiplyAdd(b4, wv, a4); a5 = Vector512.FusedMultiplyAdd(b5, wv, a5);
                    a6 = Vector512.FusedMultiplyAdd(b6, wv, a6); a7 = Vector512.FusedMultiplyAdd(b7, wv, a7);
                    a8 = Vector512.FusedMultiplyAdd(b8, wv, a8); a9 = Vector512.FusedMultiplyAdd(b9, wv, a9);
                    a10 = Vector512.FusedMultiplyAdd(b10, wv, a10); a11 = Vector512.FusedMultiplyAdd(b11, wv, a11);
                    b0 = b1; b1 = b2; b2 = b3; b3 = b4; b4 = b5; b5 = b6; b6 = b7; b7 = b8; b8 = b9; b9 = b10; b10 = b11;
                    b11 = Vector512.Create(r[12 + j]);
                }
            }
        a0.Store(acc);
        if (pixels > 1) a1.Store(acc + lda);
        if (pixels > 2) a2.Store(acc + 2 * lda);
        if (pixels > 3) a3.Store(acc + 3 * lda);
        if (pixels > 4) a4.Store(acc + 4 * lda);
        if (pixels > 5) a5.Store(acc + 5 * lda);
        if (pixels > 6) a6.Store(acc + 6 * lda);
        if (pixels > 7) a7.Store(acc + 7 * lda);
        if (pixels > 8) a8.Store(acc + 8 * lda);
        if (pixels > 9) a9.Store(acc + 9 * lda);
        if (pixels > 10) a10.Store(acc + 10 * lda);
        if (pixels > 11) a11.Store(acc + 11 * lda);
    }

    /// <summary>The weight gradient batch is cut into this many fixed chunks, summed in order (thread-count independent).</summary>
    private const int WeightChunks = 8;

    /// <summary>
    /// True where the weight gradient runs here: stride 1, output channels per group a multiple of 16 (whole register
    /// tiles of channels), images whose padded input fits one band, 256-bit FMA.
    /// </summary>
    public static bool AppliesToWeight(in ConvShape s) =>
        WeightGradient && s.Window.StrideH == 1 && s.Window.StrideW == 1 && s.GroupOut % NR == 0 && s.GroupOut > 0 && s.ColRows > 0
        && RowsPerBlock(s) >= s.OutH && Vector256.IsHardwareAccelerated && System.Runtime.Intrinsics.X86.Fma.IsSupported;

    /// <summary>
    /// dW = Σ_n dY_n · col(X_n)ᵀ without the column matrix, as dWᵀ[k, o] = Σ_p col[k, p] · dY[o, p]: a tile of 6 taps x
    /// 16 output channels keeps its 12 accumulators over every output pixel p of an image, broadcasting the 6 taps'
    /// input values straight from the padded band (at the tap's offset plus the pixel's) against 16 channels of dYᵀ.
    /// The seed's duality: the weight gradient is the cross-correlation of the input with the upstream gradient.
    /// </summary>
    public static void BackwardWeight(in ConvShape s, float* x, float* dy, float* dw)
    {
        int colRows = s.ColRows, gout = s.GroupOut, groups = s.Groups;
        var win = s.Window;
        int wp = s.Width + 2 * win.PadW, bandRows = s.OutH + (win.KernelH - 1) * win.DilationH;
        int[] taps = BandTaps(s, bandRows, wp);
        int chunks = Math.Min(s.Batch, WeightChunks);
        int partLen = groups * colRows * gout;
        float[] partials = ArrayPool<float>.Shared.Rent(Math.Max(1, chunks * partLen));
        fixed (int* pt = taps)
        fixed (float* pp = partials)
        {
            var body = new WeightBody { X = x, DY = dy, Partials = pp, Taps = pt, Shape = s, Chunks = chunks, BandRows = bandRows, Wp = wp };
            if (ParallelFor.ThreadsForMultiplyAdds((long)s.Batch * s.MacsPerImage) > 1)
                ParallelFor.ForChunks(chunks, body);
            else
                for (int c = 0; c < chunks; c++) body.Invoke(c);
            // Chunk partials summed in order, then each group's dWᵀ [k, o] turned into dW [o, k].
            for (int c = 1; c < chunks; c++)
                System.Numerics.Tensors.TensorPrimitives.Add(new ReadOnlySpan<float>(pp, partLen), new ReadOnlySpan<float>(pp + (long)c * partLen, partLen), new Span<float>(pp, partLen));
            for (int g = 0; g < groups; g++)
                for (int k = 0; k < colRows; k++)
                    for (int o = 0; o < gout; o++)
                        dw[((long)g * gout + o) * colRows + k] = pp[((long)g * colRows + k) * gout + o];
        }
        ArrayPool<int>.Shared.Return(taps);
        ArrayPool<float>.Shared.Return(partials);
    }

    private struct WeightBody : IChunkBody
    {
        public float* X, DY, Partials;
        public int* Taps;
        public ConvShape Shape;
        public int Chunks, BandRows, Wp;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public readonly void Invoke(int chunk)
        {
            ref readonly ConvShape s = ref Shape;
            int colRows = s.ColRows, gout = s.GroupOut, plane = s.OutPlane, ow = s.OutW, oh = s.OutH;
            int n0 = ParallelFor.ChunkStart(s.Batch, Chunks, chunk), n1 = ParallelFor.ChunkStart(s.Batch, Chunks, chunk + 1);
            float* part = Partials + (long)chunk * s.Groups * colRows * gout;
            new Span<float>(part, s.Groups * colRows * gout).Clear();
            // Per pixel of the image: its offset in the band, and dYᵀ (the pixel's gout channels side by side).
            int[] offsets = ArrayPool<int>.Shared.Rent(plane);
            float[] dyT = ArrayPool<float>.Shared.Rent(plane * gout);
            for (int oy = 0; oy < oh; oy++)
                for (int ox = 0; ox < ow; ox++) offsets[oy * ow + ox] = oy * Wp + ox;
            fixed (int* po = offsets)
            fixed (float* pd = dyT)
            {
                for (int n = n0; n < n1; n++)
                    for (int g = 0; g < s.Groups; g++)
                    {
                        float* band = Band(s, X, n, g, 0, BandRows, Wp);
                        float* dyg = DY + ((long)n * s.OutChannels + (long)g * gout) * plane;
                        float* pg = part + (long)g * colRows * gout;
                        RegisterTranspose.Transpose(dyg, plane, pd, gout, gout, plane);
                        if (WeightRowTiles(s))
                        {
                            var win = s.Window;
                            int kh = win.KernelH, kw = win.KernelW;
                            long channelStride = (long)BandRows * Wp, rowStride = (long)win.DilationH * Wp;
                            for (int ci = 0; ci < s.GroupIn; ci++)
                                for (int i0 = 0; i0 < kh; i0 += 2)
                                    for (int o0 = 0; o0 < gout; o0 += NR)
                                    {
                                        float* rows = band + ci * channelStride + i0 * rowStride, acc = pg + ((long)(ci * kh + i0) * kw) * gout + o0;
                                        if (kw == 5) WeightRowTile512<Const5>(Math.Min(2, kh - i0), rows, rowStride, oh, ow, Wp, pd + o0, gout, acc, gout);
                                        else WeightRowTile512<Const3>(Math.Min(2, kh - i0), rows, rowStride, oh, ow, Wp, pd + o0, gout, acc, gout);
                                    }
                            continue;
                        }
                        for (int k0 = 0; k0 < colRows; k0 += MR)
                            for (int o0 = 0; o0 < gout; o0 += NR)
                                if (Wide)
                                    BroadcastTile512(Math.Min(MR, colRows - k0), band, Taps + k0, po, plane, pd + o0, gout, pg + (long)k0 * gout + o0, gout);
                                else
                                    BroadcastTile(Math.Min(MR, colRows - k0), band, Taps + k0, po, plane, pd + o0, gout, pg + (long)k0 * gout + o0, gout);
                    }
            }
            ArrayPool<int>.Shared.Return(offsets);
            ArrayPool<float>.Shared.Return(dyT);
        }
    }

    /// <summary>
    /// Whether the channel-major weight gradient runs <see cref="WeightRowTile512{TWidth}"/>: 512-bit vectors, no column
    /// dilation, and windows 3 or 5 wide (LeNet's 5x5; a 3x3 layer the Winograd weight gradient does not take).
    /// </summary>
    private static bool WeightRowTiles(in ConvShape s) =>
        Wide && s.Window.DilationW == 1 && s.Window.KernelW is 3 or 5;

    /// <summary>
    /// dWᵀ[(channel, i0 + r, j), c] += Σ_{oy, ox} band[oy + (i0 + r)·dh, ox + j] · dYᵀ[(oy, ox), c] for kernel rows r &lt;
    /// <paramref name="rows"/> (1 or 2), every column j of the window and 16 channels c. Along an output row the taps'
    /// input values slide: tap j's value at pixel ox + 1 is tap j + 1's at ox, so each pixel costs one dY load, one new
    /// broadcast per kernel row and 2·width FMAs into as many accumulators (10 chains for a 5-wide window), where
    /// <see cref="BroadcastTile512"/> broadcasts a value per FMA. <paramref name="band"/> is kernel row i0's first padded
    /// row of the channel; with one row the second set repeats the first and is not stored.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void WeightRowTile512<TWidth>(int rows, float* band, long rowStride, int oh, int ow, int wp, float* dyT, int ldd, float* acc, int lda)
        where TWidth : struct, IConstant
    {
        int kw = TWidth.Value;
        float* second = rows > 1 ? band + rowStride : band;
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default;
        Vector512<float> c0 = default, c1 = default, c2 = default, c3 = default, c4 = default;
        for (int oy = 0; oy < oh; oy++)
        {
            float* r = band + (long)oy * wp, q = second + (long)oy * wp, d = dyT + (long)oy * ow * ldd;
            Vector512<float> b0 = Vector512.Create(r[0]), b1 = Vector512.Create(r[1]), b2 = Vector512.Create(r[2]), b3 = default, b4 = default;
            Vector512<float> e0 = Vector512.Create(q[0]), e1 = Vector512.Create(q[1]), e2 = Vector512.Create(q[2]), e3 = default, e4 = default;
            if (kw > 3)
            {
                b3 = Vector512.Create(r[3]); b4 = Vector512.Create(r[4]);
                e3 = Vector512.Create(q[3]); e4 = Vector512.Create(q[4]);
            }
            for (int ox = 0; ox < ow; ox++, d += ldd)
            {
                var y = Vector512.Load(d);
                a0 = Vector512.FusedMultiplyAdd(b0, y, a0); c0 = Vector512.FusedMultiplyAdd(e0, y, c0);
                a1 = Vector512.FusedMultiplyAdd(b1, y, a1); c1 = Vector512.FusedMultiplyAdd(e1, y, c1);
                a2 = Vector512.FusedMultiplyAdd(b2, y, a2); c2 = Vector512.FusedMultiplyAdd(e2, y, c2);
                if (kw > 3)
                {
                    a3 = Vector512.FusedMultiplyAdd(b3, y, a3); c3 = Vector512.FusedMultiplyAdd(e3, y, c3);
                    a4 = Vector512.FusedMultiplyAdd(b4, y, a4); c4 = Vector512.FusedMultiplyAdd(e4, y, c4);
                    b0 = b1; b1 = b2; b2 = b3; b3 = b4; b4 = Vector512.Create(r[ox + 5]);
                    e0 = e1; e1 = e2; e2 = e3; e3 = e4; e4 = Vector512.Create(q[ox + 5]);
                }
                else
                {
                    b0 = b1; b1 = b2; b2 = Vector512.Create(r[ox + 3]);
                    e0 = e1; e1 = e2; e2 = Vector512.Create(q[ox + 3]);
                }
            }
        }
        Accumulate(acc, a0); Accumulate(acc + lda, a1); Accumulate(acc + 2 * lda, a2);
        if (kw > 3)
        {
            Accumulate(acc + 3 * lda, a3); Accumulate(acc + 4 * lda, a4);
        }
        if (rows < 2) return;
        float* acc2 = acc + (long)kw * lda;
        Accumulate(acc2, c0); Accumulate(acc2 + lda, c1); Accumulate(acc2 + 2 * lda, c2);
        if (kw > 3)
        {
            Accumulate(acc2 + 3 * lda, c3); Accumulate(acc2 + 4 * lda, c4);
        }
    }

    /// <summary>Output pixels per vector of the pixel-major weight gradient.</summary>
    private const int PixelLanes = 16;

    /// <summary>
    /// True where <see cref="BackwardWeightByPixels"/> serves: stride 1, output channels per group that do not fill whole
    /// 16-channel tiles (LeNet's first layer has 6), images whose padded input fits one band, 512-bit vectors.
    /// </summary>
    public static bool AppliesToWeightByPixels(in ConvShape s) =>
        WeightGradient && s.Window.StrideH == 1 && s.Window.StrideW == 1 && s.GroupOut % NR != 0 && s.ColRows > 0 && s.OutPlane > 0
        && RowsPerBlock(s) >= s.OutH && Vector512.IsHardwareAccelerated;

    /// <summary>
    /// dW[o, k] = Σ_n Σ_p dY_n[o, p] · x_n[tap k + p] with the pixels p in the vector lanes: for 16 output pixels of a row,
    /// 6 output channels' dY vectors and 3 taps' input vectors (straight from the padded band) feed 18 accumulators,
    /// summed across lanes once per image. With few output channels a channel-wide tile would leave most lanes empty;
    /// rows of pixels fill them (a row's last vector is masked: its dY lanes are zero and its input lanes are zeroed
    /// so a non-finite value past the row cannot leak in). Chunks of the batch are summed in a fixed order, so results
    /// do not depend on the thread count.
    /// </summary>
    public static void BackwardWeightByPixels(in ConvShape s, float* x, float* dy, float* dw)
    {
        int colRows = s.ColRows, gout = s.GroupOut, groups = s.Groups;
        var win = s.Window;
        int wp = s.Width + 2 * win.PadW, bandRows = s.OutH + (win.KernelH - 1) * win.DilationH;
        int[] taps = BandTaps(s, bandRows, wp);
        int chunks = Math.Min(s.Batch, WeightChunks);
        int partLen = groups * gout * colRows;
        float[] partials = ArrayPool<float>.Shared.Rent(Math.Max(1, chunks * partLen));
        fixed (int* pt = taps)
        fixed (float* pp = partials)
        {
            var body = new PixelWeightBody { X = x, DY = dy, Partials = pp, Taps = pt, Shape = s, Chunks = chunks, BandRows = bandRows, Wp = wp };
            if (ParallelFor.ThreadsForMultiplyAdds((long)s.Batch * s.MacsPerImage) > 1)
                ParallelFor.ForChunks(chunks, body);
            else
                for (int c = 0; c < chunks; c++) body.Invoke(c);
            for (int c = 1; c < chunks; c++)
                System.Numerics.Tensors.TensorPrimitives.Add(new ReadOnlySpan<float>(pp, partLen), new ReadOnlySpan<float>(pp + (long)c * partLen, partLen), new Span<float>(pp, partLen));
            new ReadOnlySpan<float>(pp, partLen).CopyTo(new Span<float>(dw, partLen));
        }
        ArrayPool<int>.Shared.Return(taps);
        ArrayPool<float>.Shared.Return(partials);
    }

    private struct PixelWeightBody : IChunkBody
    {
        public float* X, DY, Partials;
        public int* Taps;
        public ConvShape Shape;
        public int Chunks, BandRows, Wp;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public readonly void Invoke(int chunk)
        {
            ref readonly ConvShape s = ref Shape;
            int colRows = s.ColRows, gout = s.GroupOut, plane = s.OutPlane, ow = s.OutW, oh = s.OutH;
            int n0 = ParallelFor.ChunkStart(s.Batch, Chunks, chunk), n1 = ParallelFor.ChunkStart(s.Batch, Chunks, chunk + 1);
            float* part = Partials + (long)chunk * s.Groups * gout * colRows;
            new Span<float>(part, s.Groups * gout * colRows).Clear();
            // dY rows copied to a stride of whole vectors, zero beyond each row: [o][oy][owp].
            int owp = (ow + PixelLanes - 1) / PixelLanes * PixelLanes;
            float[] dyPad = ArrayPool<float>.Shared.Rent(gout * oh * owp + PixelLanes);
            Array.Clear(dyPad);
            int tailLanes = ow - (owp - PixelLanes);
            var tailMask = Vector512.LessThan(Vector512.Create(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15), Vector512.Create(tailLanes)).AsSingle();
            fixed (float* pd = dyPad)
            {
                for (int n = n0; n < n1; n++)
                    for (int g = 0; g < s.Groups; g++)
                    {
                        float* band = Band(s, X, n, g, 0, BandRows, Wp);
                        float* dyg = DY + ((long)n * s.OutChannels + (long)g * gout) * plane;
                        for (int o = 0; o < gout; o++)
                            for (int oy = 0; oy < oh; oy++)
                                new ReadOnlySpan<float>(dyg + (long)o * plane + (long)oy * ow, ow).CopyTo(new Span<float>(pd + ((long)o * oh + oy) * owp, ow));
                        float* pg = part + (long)g * gout * colRows;
                        for (int o0 = 0; o0 < gout; o0 += MR)
                            for (int k0 = 0; k0 < colRows; k0 += 3)
                                PixelTile(Math.Min(MR, gout - o0), Math.Min(3, colRows - k0), band, Taps + k0, Wp, pd + (long)o0 * oh * owp, (long)oh * owp,
                                    oh, owp, tailMask, pg + (long)o0 * colRows + k0, colRows);
                    }
            }
            ArrayPool<float>.Shared.Return(dyPad);
        }
    }

    /// <summary>
    /// acc[r, t] += Σ_pixels dY[r, p] · band[taps[t] + p] for up to 6 output channels r (dY rows <paramref name="oStride"/>
    /// apart) and up to 3 taps t; missing ones repeat the last and are not stored.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PixelTile(int rows, int cols, float* band, int* taps, int wp, float* dy, long oStride, int oh, int owp, Vector512<float> tailMask, float* acc, int lda)
    {
        float* d0 = dy, d1 = dy + Math.Min(1, rows - 1) * oStride, d2 = dy + Math.Min(2, rows - 1) * oStride;
        float* d3 = dy + Math.Min(3, rows - 1) * oStride, d4 = dy + Math.Min(4, rows - 1) * oStride, d5 = dy + Math.Min(5, rows - 1) * oStride;
        float* t0 = band + taps[0], t1 = band + taps[Math.Min(1, cols - 1)], t2 = band + taps[Math.Min(2, cols - 1)];
        Vector512<float> a00 = default, a01 = default, a02 = default, a10 = default, a11 = default, a12 = default;
        Vector512<float> a20 = default, a21 = default, a22 = default, a30 = default, a31 = default, a32 = default;
        Vector512<float> a40 = default, a41 = default, a42 = default, a50 = default, a51 = default, a52 = default;
        int last = owp - PixelLanes;
        for (int oy = 0; oy < oh; oy++)
        {
            long bRow = (long)oy * wp, dRow = (long)oy * owp;
            for (int px = 0; px <= last; px += PixelLanes)
            {
                Vector512<float> b0 = Vector512.Load(t0 + bRow + px), b1 = Vector512.Load(t1 + bRow + px), b2 = Vector512.Load(t2 + bRow + px);
                if (px == last)
                {
                    b0 &= tailMask;
                    b1 &= tailMask;
                    b2 &= tailMask;
                }
                Vector512<float> y = Vector512.Load(d0 + dRow + px);
                a00 = Vector512.FusedMultiplyAdd(y, b0, a00); a01 = Vector512.FusedMultiplyAdd(y, b1, a01); a02 = Vector512.FusedMultiplyAdd(y, b2, a02);
                y = Vector512.Load(d1 + dRow + px);
                a10 = Vector512.FusedMultiplyAdd(y, b0, a10); a11 = Vector512.FusedMultiplyAdd(y, b1, a11); a12 = Vector512.FusedMultiplyAdd(y, b2, a12);
                y = Vector512.Load(d2 + dRow + px);
                a20 = Vector512.FusedMultiplyAdd(y, b0, a20); a21 = Vector512.FusedMultiplyAdd(y, b1, a21); a22 = Vector512.FusedMultiplyAdd(y, b2, a22);
                y = Vector512.Load(d3 + dRow + px);
                a30 = Vector512.FusedMultiplyAdd(y, b0, a30); a31 = Vector512.FusedMultiplyAdd(y, b1, a31); a32 = Vector512.FusedMultiplyAdd(y, b2, a32);
                y = Vector512.Load(d4 + dRow + px);
                a40 = Vector512.FusedMultiplyAdd(y, b0, a40); a41 = Vector512.FusedMultiplyAdd(y, b1, a41); a42 = Vector512.FusedMultiplyAdd(y, b2, a42);
                y = Vector512.Load(d5 + dRow + px);
                a50 = Vector512.FusedMultiplyAdd(y, b0, a50); a51 = Vector512.FusedMultiplyAdd(y, b1, a51); a52 = Vector512.FusedMultiplyAdd(y, b2, a52);
            }
        }
        // (Row by row, for the same reason as BroadcastTile: no array of accumulators.)
        AccumulateSums(acc, cols, a00, a01, a02);
        if (rows > 1) AccumulateSums(acc + lda, cols, a10, a11, a12);
        if (rows > 2) AccumulateSums(acc + 2 * lda, cols, a20, a21, a22);
        if (rows > 3) AccumulateSums(acc + 3 * lda, cols, a30, a31, a32);
        if (rows > 4) AccumulateSums(acc + 4 * lda, cols, a40, a41, a42);
        if (rows > 5) AccumulateSums(acc + 5 * lda, cols, a50, a51, a52);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AccumulateSums(float* row, int cols, Vector512<float> a0, Vector512<float> a1, Vector512<float> a2)
    {
        row[0] += Vector512.Sum(a0);
        if (cols > 1) row[1] += Vector512.Sum(a1);
        if (cols > 2) row[2] += Vector512.Sum(a2);
    }

    /// <summary>
    /// The broadcast tile shared by the channel-major paths: acc[r, c] += Σ_i band[bases[r] + steps[i]] · b[i·ldb + c]
    /// for r &lt; rows (6 at most; missing rows repeat the last base and are not stored) and 16 channels c.
    /// For the weight gradient the bases are 6 taps and i runs over the pixels (b = dYᵀ); for the forward the bases are
    /// 6 output pixels and i runs over the taps (b = Wᵀ). Either way 6 broadcasts and 2 loads feed 12 FMAs.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void BroadcastTile(int rows, float* band, int* bases, int* steps, int count, float* b, int ldb, float* acc, int lda)
    {
        float* t0 = band + bases[0], t1 = band + bases[Math.Min(1, rows - 1)], t2 = band + bases[Math.Min(2, rows - 1)];
        float* t3 = band + bases[Math.Min(3, rows - 1)], t4 = band + bases[Math.Min(4, rows - 1)], t5 = band + bases[Math.Min(5, rows - 1)];
        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector256<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        for (int i = 0; i < count; i++)
        {
            int off = steps[i];
            float* bi = b + (long)i * ldb;
            Vector256<float> b0 = Vector256.Load(bi), b1 = Vector256.Load(bi + 8), av;
            av = Vector256.Create(t0[off]); c00 = Vector256.FusedMultiplyAdd(av, b0, c00); c01 = Vector256.FusedMultiplyAdd(av, b1, c01);
            av = Vector256.Create(t1[off]); c10 = Vector256.FusedMultiplyAdd(av, b0, c10); c11 = Vector256.FusedMultiplyAdd(av, b1, c11);
            av = Vector256.Create(t2[off]); c20 = Vector256.FusedMultiplyAdd(av, b0, c20); c21 = Vector256.FusedMultiplyAdd(av, b1, c21);
            av = Vector256.Create(t3[off]); c30 = Vector256.FusedMultiplyAdd(av, b0, c30); c31 = Vector256.FusedMultiplyAdd(av, b1, c31);
            av = Vector256.Create(t4[off]); c40 = Vector256.FusedMultiplyAdd(av, b0, c40); c41 = Vector256.FusedMultiplyAdd(av, b1, c41);
            av = Vector256.Create(t5[off]); c50 = Vector256.FusedMultiplyAdd(av, b0, c50); c51 = Vector256.FusedMultiplyAdd(av, b1, c51);
        }
        // (Stored one row at a time rather than gathered into a span: collecting the accumulators in an array would
        // make the JIT keep them in memory for the whole loop.)
        Accumulate(acc, c00, c01);
        if (rows > 1) Accumulate(acc + lda, c10, c11);
        if (rows > 2) Accumulate(acc + 2 * lda, c20, c21);
        if (rows > 3) Accumulate(acc + 3 * lda, c30, c31);
        if (rows > 4) Accumulate(acc + 4 * lda, c40, c41);
        if (rows > 5) Accumulate(acc + 5 * lda, c50, c51);
    }

    /// <summary>Switch for the tiles of six pixels of one output row (tests turn it off to compare them with the general tile).</summary>
    internal static bool RowTilesByStride = true;

    /// <summary>Whether the six bases from <paramref name="bases"/> lie <paramref name="step"/> floats apart.</summary>
    private static bool EvenlySpaced(int* bases, int step)
    {
        for (int r = 1; r < MR; r++)
            if (bases[r] - bases[r - 1] != step) return false;
        return true;
    }

    /// <summary>
    /// <see cref="BroadcastTile"/> on 512-bit vectors: the 16 channels are one vector, so each step feeds 6 FMAs, and the
    /// steps alternate between two sets of 6 accumulators (12 chains in flight, enough to cover the FMA latency),
    /// added together at the end. Per two steps: 12 broadcasts and 2 loads feed 12 FMAs of 16 lanes, twice the work of
    /// the 256-bit tile's 12 FMAs of 8 lanes per step on a core that runs 512-bit FMAs at full width (AMD Zen 5).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void BroadcastTile512(int rows, float* band, int* bases, int* steps, int count, float* b, int ldb, float* acc, int lda)
    {
        float* t0 = band + bases[0], t1 = band + bases[Math.Min(1, rows - 1)], t2 = band + bases[Math.Min(2, rows - 1)];
        float* t3 = band + bases[Math.Min(3, rows - 1)], t4 = band + bases[Math.Min(4, rows - 1)], t5 = band + bases[Math.Min(5, rows - 1)];
        Vector512<float> c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default;
        Vector512<float> d0 = default, d1 = default, d2 = default, d3 = default, d4 = default, d5 = default;
        int i = 0;
        for (; i + 1 < count; i += 2)
        {
            int off = steps[i], next = steps[i + 1];
            float* bi = b + (long)i * ldb;
            Vector512<float> b0 = Vector512.Load(bi), b1 = Vector512.Load(bi + ldb);
            c0 = Vector512.FusedMultiplyAdd(Vector512.Create(t0[off]), b0, c0); d0 = Vector512.FusedMultiplyAdd(Vector512.Create(t0[next]), b1, d0);
            c1 = Vector512.FusedMultiplyAdd(Vector512.Create(t1[off]), b0, c1); d1 = Vector512.FusedMultiplyAdd(Vector512.Create(t1[next]), b1, d1);
            c2 = Vector512.FusedMultiplyAdd(Vector512.Create(t2[off]), b0, c2); d2 = Vector512.FusedMultiplyAdd(Vector512.Create(t2[next]), b1, d2);
            c3 = Vector512.FusedMultiplyAdd(Vector512.Create(t3[off]), b0, c3); d3 = Vector512.FusedMultiplyAdd(Vector512.Create(t3[next]), b1, d3);
            c4 = Vector512.FusedMultiplyAdd(Vector512.Create(t4[off]), b0, c4); d4 = Vector512.FusedMultiplyAdd(Vector512.Create(t4[next]), b1, d4);
            c5 = Vector512.FusedMultiplyAdd(Vector512.Create(t5[off]), b0, c5); d5 = Vector512.FusedMultiplyAdd(Vector512.Create(t5[next]), b1, d5);
        }
        if (i < count)
        {
            int off = steps[i];
            Vector512<float> b0 = Vector512.Load(b + (long)i * ldb);
            c0 = Vector512.FusedMultiplyAdd(Vector512.Create(t0[off]), b0, c0);
            c1 = Vector512.FusedMultiplyAdd(Vector512.Create(t1[off]), b0, c1);
            c2 = Vector512.FusedMultiplyAdd(Vector512.Create(t2[off]), b0, c2);
            c3 = Vector512.FusedMultiplyAdd(Vector512.Create(t3[off]), b0, c3);
            c4 = Vector512.FusedMultiplyAdd(Vector512.Create(t4[off]), b0, c4);
            c5 = Vector512.FusedMultiplyAdd(Vector512.Create(t5[off]), b0, c5);
        }
        Accumulate(acc, c0 + d0);
        if (rows > 1) Accumulate(acc + lda, c1 + d1);
        if (rows > 2) Accumulate(acc + 2 * lda, c2 + d2);
        if (rows > 3) Accumulate(acc + 3 * lda, c3 + d3);
        if (rows > 4) Accumulate(acc + 4 * lda, c4 + d4);
        if (rows > 5) Accumulate(acc + 5 * lda, c5 + d5);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Accumulate(float* row, Vector512<float> sum) => (Vector512.Load(row) + sum).Store(row);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Accumulate(float* row, Vector256<float> lo, Vector256<float> hi)
    {
        (Vector256.Load(row) + lo).Store(row);
        (Vector256.Load(row + 8) + hi).Store(row + 8);
    }

    /// <summary>
    /// <see cref="Tile"/> on 512-bit vectors over two output rows: out[r, h, c] = bias[r] + Σ_k a[k·6 + r] · src[h·below +
    /// taps[k] + c] for 6 channels r, rows h = 0, 1 (<paramref name="below"/> floats apart in the band; 0 repeats the
    /// first row, whose copy the caller does not keep) and 16 pixels c, stored at out + r·ldo + h·ldh.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile512(int k, float* a, float* bias, float* src, int below, int* taps, float* outTile, nint ldo, nint ldh)
    {
        Vector512<float> c00 = Vector512.Create(bias[0]), c01 = c00, c10 = Vector512.Create(bias[1]), c11 = c10;
        Vector512<float> c20 = Vector512.Create(bias[2]), c21 = c20, c30 = Vector512.Create(bias[3]), c31 = c30;
        Vector512<float> c40 = Vector512.Create(bias[4]), c41 = c40, c50 = Vector512.Create(bias[5]), c51 = c50;
        float* src2 = src + below;
        for (int p = 0; p < k; p++)
        {
            int t = taps[p];
            Vector512<float> b0 = Vector512.Load(src + t), b1 = Vector512.Load(src2 + t), av;
            av = Vector512.Create(a[0]); c00 = Vector512.FusedMultiplyAdd(av, b0, c00); c01 = Vector512.FusedMultiplyAdd(av, b1, c01);
            av = Vector512.Create(a[1]); c10 = Vector512.FusedMultiplyAdd(av, b0, c10); c11 = Vector512.FusedMultiplyAdd(av, b1, c11);
            av = Vector512.Create(a[2]); c20 = Vector512.FusedMultiplyAdd(av, b0, c20); c21 = Vector512.FusedMultiplyAdd(av, b1, c21);
            av = Vector512.Create(a[3]); c30 = Vector512.FusedMultiplyAdd(av, b0, c30); c31 = Vector512.FusedMultiplyAdd(av, b1, c31);
            av = Vector512.Create(a[4]); c40 = Vector512.FusedMultiplyAdd(av, b0, c40); c41 = Vector512.FusedMultiplyAdd(av, b1, c41);
            av = Vector512.Create(a[5]); c50 = Vector512.FusedMultiplyAdd(av, b0, c50); c51 = Vector512.FusedMultiplyAdd(av, b1, c51);
            a += MR;
        }
        c00.Store(outTile); c01.Store(outTile + ldh);
        c10.Store(outTile + ldo); c11.Store(outTile + ldo + ldh);
        c20.Store(outTile + 2 * ldo); c21.Store(outTile + 2 * ldo + ldh);
        c30.Store(outTile + 3 * ldo); c31.Store(outTile + 3 * ldo + ldh);
        c40.Store(outTile + 4 * ldo); c41.Store(outTile + 4 * ldo + ldh);
        c50.Store(outTile + 5 * ldo); c51.Store(outTile + 5 * ldo + ldh);
    }

    /// <summary>
    /// One 6 x 16 tile: out[r, c] = bias[r] + Σ_k a[k·6 + r] · src[taps[k] + c], with <paramref name="a"/> the packed
    /// weights of six output channels and <paramref name="src"/> the band position of the tile's first output pixel.
    /// The accumulators start at the bias, which saves a pass over the outputs to add it.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile(int k, float* a, float* bias, float* src, int* taps, float* outTile, nint ldo)
    {
        Vector256<float> c00 = Vector256.Create(bias[0]), c01 = c00, c10 = Vector256.Create(bias[1]), c11 = c10;
        Vector256<float> c20 = Vector256.Create(bias[2]), c21 = c20, c30 = Vector256.Create(bias[3]), c31 = c30;
        Vector256<float> c40 = Vector256.Create(bias[4]), c41 = c40, c50 = Vector256.Create(bias[5]), c51 = c50;
        for (int p = 0; p < k; p++)
        {
            float* b = src + taps[p];
            Vector256<float> b0 = Vector256.Load(b), b1 = Vector256.Load(b + 8), av;
            av = Vector256.Create(a[0]); c00 = Vector256.FusedMultiplyAdd(av, b0, c00); c01 = Vector256.FusedMultiplyAdd(av, b1, c01);
            av = Vector256.Create(a[1]); c10 = Vector256.FusedMultiplyAdd(av, b0, c10); c11 = Vector256.FusedMultiplyAdd(av, b1, c11);
            av = Vector256.Create(a[2]); c20 = Vector256.FusedMultiplyAdd(av, b0, c20); c21 = Vector256.FusedMultiplyAdd(av, b1, c21);
            av = Vector256.Create(a[3]); c30 = Vector256.FusedMultiplyAdd(av, b0, c30); c31 = Vector256.FusedMultiplyAdd(av, b1, c31);
            av = Vector256.Create(a[4]); c40 = Vector256.FusedMultiplyAdd(av, b0, c40); c41 = Vector256.FusedMultiplyAdd(av, b1, c41);
            av = Vector256.Create(a[5]); c50 = Vector256.FusedMultiplyAdd(av, b0, c50); c51 = Vector256.FusedMultiplyAdd(av, b1, c51);
            a += MR;
        }
        c00.Store(outTile); c01.Store(outTile + 8);
        c10.Store(outTile + ldo); c11.Store(outTile + ldo + 8);
        c20.Store(outTile + 2 * ldo); c21.Store(outTile + 2 * ldo + 8);
        c30.Store(outTile + 3 * ldo); c31.Store(outTile + 3 * ldo + 8);
        c40.Store(outTile + 4 * ldo); c41.Store(outTile + 4 * ldo + 8);
        c50.Store(outTile + 5 * ldo); c51.Store(outTile + 5 * ldo + 8);
    }
}
