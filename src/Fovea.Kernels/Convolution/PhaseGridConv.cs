using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Fovea.Kernels;

/// <summary>
/// Float32 convolution forward for stride 2 in both directions, output rows shorter than 64 pixels and few weights (a
/// ResNet's first downsampling layer: 3x3 stride 2 from 56² onto 28²), on AVX-512 and on AVX2.
/// <para>
/// Output (oy, ox) reads, for tap (i, j), the zero-padded input at (2·oy + i, 2·ox + j): the phase plane of rows i mod 2
/// and columns j mod 2 (the padded image's even or odd rows, even or odd columns, Wph = ⌈padded width / 2⌉ wide) at
/// (oy + ⌊i/2⌋, ox + ⌊j/2⌋). Number the outputs on a grid as wide as a phase plane, g = oy·Wph + ox: then tap (c, i, j)
/// of any run of consecutive grid points is as many consecutive floats of its phase plane, from g + ⌊i/2⌋·Wph + ⌊j/2⌋.
/// The register tile is 6 consecutive grid points x 64 output channels with AVX-512, x 16 with AVX2 (Yᵀ = col(X)ᵀ · Wᵀ,
/// as in <see cref="PixelRowGemmConv{TKernel}"/>): per tap, 6 broadcasts read where the phases lie
/// (<see cref="SgemmKernel6x64.RunInputRows"/>, <see cref="SgemmKernel6x16.RunInputRows{TSpacing}"/>), 4 (2) aligned loads of the
/// packed weights, 24 (12) FMAs; nothing is gathered per output pixel. The grid's columns past the output row (one in
/// 29 at 28²) and its points past the last output are computed and dropped. The implicit GEMM instead gathers every other input column into its B slivers (576 floats per
/// output pixel for a 64-channel 3x3 layer).
/// </para>
/// <para>
/// Work items are bands of grid tiles of one image, as many as the threads share evenly, taken in image and row order
/// (the split of the layers around it, so a thread mostly reads what it wrote). An item writes the phase rows its band
/// reads, every channel, into its thread's scratch; then, per K block of taps, each tile's 6 points (read from L1 for
/// every sliver) against every sliver of the packed weights (streamed from L2) into a per-thread Yᵀ (with AVX2, whose
/// 16-channel slivers of a K block together outgrow a 32 KiB L1, each sliver against every tile instead, the sliver
/// staying in L1); then Yᵀ is
/// transposed 16 x 16 (8 x 8) in registers and each channel's row pieces are stored with the bias, residual and ReLU (the
/// operations of <see cref="ConvEpilogue"/>). Each output is computed by the same operations whatever the thread count.
/// </para>
/// </summary>
internal static unsafe class PhaseGridConv
{
    private const int MR = 6;

    /// <summary>Fewest output channels this path takes: one AVX-512 tile's width (four AVX2 tiles).</summary>
    private const int MinOutChannels = 64;

    /// <summary>
    /// Whether this process runs the AVX-512 tile (6 x 64) rather than the AVX2 one (6 x 16): the GEMM's choice, a static
    /// read-only field fixed for the process (which the JIT may fold), read where it is needed rather than copied.
    /// </summary>
    private static bool Wide => Gemm.Selected == GemmKernelKind.Vector512;

    /// <summary>Output channels a register tile spans: 64 with AVX-512, 16 with AVX2.</summary>
    private static int NR => Wide ? 64 : 16;

    /// <summary>
    /// Whether this machine (as this process sees it) has the instructions of either form: AVX-512, or AVX2 with FMA (the
    /// GEMM's Vector256 tile). Without them the dispatch takes the other paths.
    /// </summary>
    internal static bool Supported => Gemm.Selected switch
    {
        GemmKernelKind.Vector512 => Avx512F.IsSupported,
        GemmKernelKind.Vector256 => Avx2.IsSupported,
        _ => false,
    };

    /// <summary>Whether the dispatch may take this path; tests switch it off to compare with the others.</summary>
    internal static bool Enabled = true;

    /// <summary>Most grid tiles per band: a Yᵀ of 32 x 6 points x 128 channels is 96 KiB.</summary>
    private const int MaxTilesPerBand = 32;

    /// <summary>
    /// Largest packed weights this path takes: every band reads all of them from L2 (ResNet-18's 64 → 128 3x3 layer:
    /// 295 KB). With more (its 128 → 256 layer, 1.2 MB) the pixel rows' split by output channels reads less.
    /// </summary>
    internal const long MaxWeightBytes = 512 * 1024;

    /// <summary>Fewest grid tiles per image: with fewer, the bands are too short for the threads to share.</summary>
    internal const int MinTiles = 64;

    /// <summary>0, 1, …, 15: lane numbers, for the masks of a row piece's last group.</summary>
    private static readonly Vector512<int> Lanes = Vector512.Create(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);

    [ThreadStatic] private static float[]? _yT;

    [ThreadStatic] private static float[]? _band;

    /// <summary>
    /// True where this path runs: AVX-512 or AVX2 (<see cref="Supported"/>), one group, stride 2 in both directions, no
    /// dilation, output rows shorter than 64 pixels, at least 16 input channels and 64 output channels, at least 4 taps a channel (a 1x1 window's one tap
    /// leaves the phase rows and the stores dominant: 0.18 against 0.12 ms for ResNet-18's 64@56² → 128 shortcut on
    /// one thread), packed weights of at most <see cref="MaxWeightBytes"/> and at least <see cref="MinTiles"/> tiles an
    /// image.
    /// </summary>
    public static bool Applies(in ConvShape s)
    {
        if (!Enabled || !Supported || s.Groups != 1 || s.Window.StrideH != 2 || s.Window.StrideW != 2
            || s.Window.DilationH != 1 || s.Window.DilationW != 1 || s.OutH <= 0 || s.OutW <= 0 || s.OutW >= 64
            || s.OutChannels < MinOutChannels || s.InChannels < 16 || s.Window.KernelH * s.Window.KernelW < 4)
            return false;
        var g = Grid.Of(s);
        return PackedLength(s) * sizeof(float) <= MaxWeightBytes && g.TilesPerImage >= MinTiles;
    }

    /// <summary>Floats of Wᵀ packed for this process's tile (<see cref="PixelRowGemmConv{TKernel}.PackedLength"/>).</summary>
    private static long PackedLength(in ConvShape s) =>
        Wide ? PixelRowGemmConv<SgemmKernel6x64>.PackedLength(s) : PixelRowGemmConv<SgemmKernel6x16>.PackedLength(s);

    /// <summary>The K block depth Wᵀ is packed in for this process's tile (<see cref="PixelRowGemmConv{TKernel}.BlockDepth"/>).</summary>
    private static int BlockDepth(int colRows) =>
        Wide ? PixelRowGemmConv<SgemmKernel6x64>.BlockDepth(colRows) : PixelRowGemmConv<SgemmKernel6x16>.BlockDepth(colRows);

    /// <summary>
    /// Wᵀ packed once for this process's tile and kept with <paramref name="prepared"/>
    /// (<see cref="PreparedConvWeights.GemmWT{TKernel}"/>): what <see cref="Forward"/> takes as its packed weights.
    /// </summary>
    public static float* PreparedWeights(PreparedConvWeights prepared, in ConvShape s, float* w) =>
        Wide ? prepared.GemmWT<SgemmKernel6x64>(s, w) : prepared.GemmWT<SgemmKernel6x16>(s, w);

    /// <summary>The grid of a call: its width (a phase plane's), length and tiles per image.</summary>
    private readonly record struct Grid(int Width, int Length, int TilesPerImage)
    {
        public static Grid Of(in ConvShape s)
        {
            int wph = (s.Width + 2 * s.Window.PadW + 1) / 2, length = (s.OutH - 1) * wph + s.OutW;
            return new Grid(wph, length, (length + MR - 1) / MR);
        }
    }

    /// <summary>
    /// y = conv(x, w) + bias for contiguous NCHW buffers, then the <paramref name="epilogue"/>; <paramref name="bias"/>
    /// may be null; <paramref name="packedWT"/> is Wᵀ packed by <see cref="PixelRowGemmConv{TKernel}.PackWeights"/> for
    /// this process's tile (<see cref="PreparedWeights"/>), or null to pack it for this call.
    /// </summary>
    public static void Forward(in ConvShape s, float* x, float* w, float* bias, float* y, float* packedWT, ConvEpilogue epilogue = default)
    {
        var win = s.Window;
        var grid = Grid.Of(s);
        int c = s.InChannels, colRows = s.ColRows, wph = grid.Width;
        int threads = ParallelFor.ThreadsForMultiplyAdds((long)s.Batch * s.MacsPerImage);
        // Bands per image: at most MaxTilesPerBand tiles each, and over the batch a whole number a thread, at least two.
        int bands = (grid.TilesPerImage + MaxTilesPerBand - 1) / MaxTilesPerBand;
        if (threads > 1)
        {
            int total = Math.Max(s.Batch * bands, 2 * threads);
            total = (total + threads - 1) / threads * threads;
            bands = Math.Min(grid.TilesPerImage, (total + s.Batch - 1) / s.Batch);
        }
        // Every band's phase planes are as tall as the tallest band needs: its output rows and the window's extra rows.
        // (A last tile's points past the band read on into the next plane, or the slack after the last: values dropped.)
        int bandRows = 0;
        for (int band = 0; band < bands; band++)
        {
            var (g0, g1) = BandPoints(grid, bands, band);
            bandRows = Math.Max(bandRows, (g1 - 1) / wph - g0 / wph + 1);
        }
        bandRows += (win.KernelH - 1) / 2;
        int rowPhases = Math.Min(win.KernelH, 2), colPhases = Math.Min(win.KernelW, 2);
        long plane = (long)bandRows * wph;
        float[]? packed = packedWT is null ? ArrayPool<float>.Shared.Rent((int)PackedLength(s) + 16) : null;
        int[] offsets = ArrayPool<int>.Shared.Rent(colRows);
        // Tap (channel, i, j) reads band plane (channel, i mod 2, j mod 2) from ⌊i/2⌋ rows and ⌊j/2⌋ columns past the point.
        for (int ci = 0, t = 0; ci < c; ci++)
            for (int i = 0; i < win.KernelH; i++)
                for (int j = 0; j < win.KernelW; j++, t++)
                    offsets[t] = (int)(((ci * rowPhases + (i & 1)) * colPhases + (j & 1)) * plane + i / 2 * wph + j / 2);
        fixed (float* pk = packed)
        fixed (int* po = offsets)
        {
            float* b = packedWT;
            if (b is null)
            {
                b = (float*)(((nint)pk + 63) & ~(nint)63);
                if (Wide) PixelRowGemmConv<SgemmKernel6x64>.PackWeights(s, w, b);
                else PixelRowGemmConv<SgemmKernel6x16>.PackWeights(s, w, b);
            }
            var body = new BandBody
            {
                X = x,
                PackedWT = b,
                Offsets = po,
                Bias = bias,
                Y = y,
                Epilogue = epilogue,
                Shape = s,
                Grid = grid,
                Bands = bands,
                BandRows = bandRows,
                RowPhases = rowPhases,
                ColPhases = colPhases,
                Kc = BlockDepth(colRows),
                NPad = (s.OutChannels + NR - 1) / NR * NR,
            };
            int items = s.Batch * bands;
            if (threads <= 1 || items <= 1)
                for (int i = 0; i < items; i++) body.Invoke(i);
            else
                ParallelFor.ForChunks(items, body);
        }
        if (packed is not null) ArrayPool<float>.Shared.Return(packed);
        ArrayPool<int>.Shared.Return(offsets);
    }

    /// <summary>Grid points [g0, g1) of band <paramref name="band"/>: whole tiles, the last band ending at the grid's end.</summary>
    private static (int G0, int G1) BandPoints(Grid grid, int bands, int band) =>
        (ParallelFor.ChunkStart(grid.TilesPerImage, bands, band) * MR, Math.Min(grid.Length, ParallelFor.ChunkStart(grid.TilesPerImage, bands, band + 1) * MR));

    /// <summary>Item (image, band): the band's outputs for every output channel.</summary>
    private struct BandBody : IChunkBody
    {
        public float* X, PackedWT, Bias, Y;
        public int* Offsets;
        public ConvEpilogue Epilogue;
        public ConvShape Shape;
        public Grid Grid;
        public int Bands, BandRows, RowPhases, ColPhases, Kc, NPad;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public readonly void Invoke(int item)
        {
            ref readonly ConvShape s = ref Shape;
            int n = item / Bands, band = item % Bands, wph = Grid.Width, nPad = NPad, colRows = s.ColRows;
            var (g0, g1) = BandPoints(Grid, Bands, band);
            int rowBase = g0 / wph;
            long plane = (long)BandRows * wph;
            float* phases = ThreadScratch.Floats(ref _band, s.InChannels * RowPhases * ColPhases * plane + 64); // a last tile's points past the band read into the slack
            WritePhases(X + (long)n * s.InChannels * s.Height * s.Width, phases, rowBase);
            // The band's points from its first tile's first point on: point g is at g − rowBase·Wph in every plane.
            int tiles = (g1 - g0 + MR - 1) / MR, points = tiles * MR;
            float* yT = ThreadScratch.Floats(ref _yT, (long)(points + 16) * nPad); // the last 16-point transpose reads up to 15 rows past the band
            float* a0 = phases + (g0 - rowBase * wph);
            for (int p0 = 0; p0 < colRows; p0 += Kc)
            {
                int kcb = Math.Min(Kc, colRows - p0);
                float* b = PackedWT + (long)nPad * p0;
                float beta = p0 == 0 ? 0f : 1f;
                if (Wide)
                {
                    for (int t = 0; t < tiles; t++)
                        for (int j = 0; j < nPad; j += 64)
                            SgemmKernel6x64.RunInputRows(kcb, a0 + t * MR, Offsets + p0, b + (long)j * kcb, yT + (long)t * MR * nPad + j, nPad, beta);
                }
                else
                {
                    for (int j = 0; j < nPad; j += 16)
                        for (int t = 0; t < tiles; t++)
                            SgemmKernel6x16.RunInputRows<Const1>(kcb, a0 + t * MR, Offsets + p0, b + (long)j * kcb, yT + (long)t * MR * nPad + j, nPad, beta);
                }
            }
            if (Wide) WriteOutputs<Lanes512>(yT, n, g0, g1);
            else WriteOutputs<Lanes256>(yT, n, g0, g1);
        }

        /// <summary>
        /// The phase rows of image <paramref name="x"/> from phase row <paramref name="rowBase"/> on, <see cref="BandRows"/>
        /// of them in each (channel, row phase, column phase) plane of <paramref name="phases"/>; rows outside the padded
        /// image are zero.
        /// </summary>
        private readonly void WritePhases(float* x, float* phases, int rowBase)
        {
            ref readonly ConvShape s = ref Shape;
            int h = s.Height, w = s.Width, padH = s.Window.PadH, padW = s.Window.PadW, wph = Grid.Width, rows = BandRows;
            long plane = (long)rows * wph;
            // One padded input row: zeros left of the image and from its right edge on, so the split reads no edge cases.
            int rowLength = 2 * wph + 32;
            float* buffer = stackalloc float[rowLength + 16];
            float* row = (float*)(((nint)buffer + 63) & ~(nint)63);
            new Span<float>(row, rowLength).Clear();
            // AVX-512's lane selections (AVX2 shuffles instead, below).
            var even = Vector512.Create(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
            var odd = Vector512.Create(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
            for (int ci = 0; ci < s.InChannels; ci++)
            {
                float* src = x + (long)ci * h * w;
                for (int a = 0; a < RowPhases; a++)
                    for (int r = 0; r < rows; r++)
                    {
                        float* d0 = phases + ((long)ci * RowPhases + a) * ColPhases * plane + (long)r * wph, d1 = d0 + plane;
                        int iy = 2 * (rowBase + r) + a - padH;
                        if (iy < 0 || iy >= h)
                        {
                            new Span<float>(d0, wph).Clear();
                            if (ColPhases > 1) new Span<float>(d1, wph).Clear();
                            continue;
                        }
                        // A few hundred bytes: copied inline (Buffer.MemoryCopy's call took 4% of the layer's samples on AVX2).
                        float* from = src + (long)iy * w, to = row + padW;
                        int e = 0;
                        for (; e <= w - 8; e += 8) Vector256.Load(from + e).Store(to + e);
                        for (; e < w; e++) to[e] = from[e];
                        // A vector may run on into the plane's next rows (written after this one), never past its end.
                        int t = 0, width = Wide ? 16 : 8, vectorEnd = (int)Math.Min(wph, plane - (long)r * wph - (width - 1));
                        if (Wide)
                            for (; t < vectorEnd; t += 16)
                            {
                                var lo = Vector512.Load(row + 2 * t);
                                var hi = Vector512.Load(row + 2 * t + 16);
                                Avx512F.PermuteVar16x32x2(lo, even, hi).Store(d0 + t);
                                if (ColPhases > 1) Avx512F.PermuteVar16x32x2(lo, odd, hi).Store(d1 + t);
                            }
                        else
                            for (; t < vectorEnd; t += 8)
                            {
                                // Per 128-bit half, the even (odd) floats of both loads; then the 64-bit pairs in order.
                                var lo = Vector256.Load(row + 2 * t);
                                var hi = Vector256.Load(row + 2 * t + 8);
                                Avx2.Permute4x64(Avx.Shuffle(lo, hi, 0x88).AsDouble(), 0xD8).AsSingle().Store(d0 + t);
                                if (ColPhases > 1) Avx2.Permute4x64(Avx.Shuffle(lo, hi, 0xDD).AsDouble(), 0xD8).AsSingle().Store(d1 + t);
                            }
                        for (; t < wph; t++)
                        {
                            d0[t] = row[2 * t];
                            if (ColPhases > 1) d1[t] = row[2 * t + 1];
                        }
                    }
            }
        }

        /// <summary>
        /// y[n, o, oy, ox] = epilogue(Yᵀ[point, o] + bias[o]) for the band's points that are outputs: Yᵀ transposed
        /// <typeparamref name="TLanes"/>' width of points x as many channels at a time into a row per channel (its bias
        /// added), then each row stored a row piece at a time with the residual and the ReLU (the grid's extra columns
        /// skipped).
        /// </summary>
        private readonly void WriteOutputs<TLanes>(float* yT, int n, int g0, int g1)
            where TLanes : struct, IOutputLanes
        {
            ref readonly ConvShape s = ref Shape;
            int k = s.OutChannels, ow = s.OutW, wph = Grid.Width, plane = s.OutPlane, points = g1 - g0, nPad = NPad, width = TLanes.Width;
            const int stride = MaxTilesPerBand * MR + 16;
            float* rows = stackalloc float[16 * stride + 16];
            rows = (float*)(((nint)rows + 63) & ~(nint)63);
            float* residual = Epilogue.ResidualAt(Y);
            bool relu = Epilogue.Relu;
            for (int o0 = 0; o0 < k; o0 += width)
            {
                for (int q = 0; q < points; q += width)
                    TLanes.Transpose(yT + (long)q * nPad + o0, nPad, rows + q, stride);
                for (int o = o0; o < Math.Min(k, o0 + width); o++)
                {
                    float* row = rows + (o - o0) * stride;
                    if (Bias is not null) TLanes.AddBias(row, points, Bias[o]);
                    long yPlane = ((long)n * k + o) * plane;
                    for (int q = 0; q < points;)
                    {
                        int g = g0 + q, oy = g / wph, ox = g - oy * wph;
                        if (ox >= ow)
                        {
                            q += wph - ox;
                            continue;
                        }
                        int len = Math.Min(ow - ox, points - q);
                        long at = yPlane + (long)oy * ow + ox;
                        TLanes.StorePiece(row + q, Y + at, residual == null ? null : residual + at, len, relu);
                        q += len;
                    }
                }
            }
        }
    }

    /// <summary>The vector width <see cref="BandBody"/> stores its outputs with: its transpose, bias and row-piece stores.</summary>
    private interface IOutputLanes
    {
        /// <summary>Floats a vector holds: points and channels per transpose.</summary>
        static abstract int Width { get; }

        /// <summary>dst[j·dstStride + i] = src[i·srcStride + j] for i, j &lt; <see cref="Width"/>.</summary>
        static abstract void Transpose(float* src, long srcStride, float* dst, long dstStride);

        /// <summary>row[q] += bias for the first <paramref name="points"/> points, a whole vector at a time.</summary>
        static abstract void AddBias(float* row, int points, float bias);

        /// <summary>
        /// dst[l] = epilogue(src[l]) for l &lt; <paramref name="len"/>: the residual's value added where there is one, then
        /// the ReLU, with <see cref="ConvEpilogue"/>'s operations on every output.
        /// </summary>
        static abstract void StorePiece(float* src, float* dst, float* residual, int len, bool relu);
    }

    /// <summary>AVX-512: 16 x 16 transposes, each row piece 16 at a time, the last group masked.</summary>
    private readonly struct Lanes512 : IOutputLanes
    {
        public static int Width => 16;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Transpose(float* src, long srcStride, float* dst, long dstStride) => RegisterTranspose.Transpose16(src, srcStride, dst, dstStride);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void AddBias(float* row, int points, float bias)
        {
            var add = Vector512.Create(bias);
            for (int q = 0; q < points; q += 16) (Vector512.Load(row + q) + add).Store(row + q);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void StorePiece(float* src, float* dst, float* residual, int len, bool relu)
        {
            var zero = Vector512<float>.Zero;
            for (int l = 0; l < len; l += 16)
            {
                var mask = Vector512.LessThan(Lanes, Vector512.Create(len - l)).AsSingle();
                var v = Vector512.Load(src + l);
                if (residual != null) v += Avx512F.MaskLoad(residual + l, mask, zero);
                if (relu) v = Avx512F.Max(zero, v) + zero;
                Avx512F.MaskStore(dst + l, mask, v);
            }
        }
    }

    /// <summary>
    /// AVX2: 8 x 8 transposes, each row piece 8 at a time and its last few outputs one by one (<see cref="ConvEpilogue.Value"/>):
    /// AVX2's masked store is microcoded on AMD's cores (with it, as AVX-512 stores its last group, the output pass took
    /// 10% of the layer's samples on a Zen 3; without it 6%).
    /// </summary>
    private readonly struct Lanes256 : IOutputLanes
    {
        public static int Width => 8;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Transpose(float* src, long srcStride, float* dst, long dstStride) => RegisterTranspose.Transpose8(src, srcStride, dst, dstStride);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void AddBias(float* row, int points, float bias)
        {
            var add = Vector256.Create(bias);
            for (int q = 0; q < points; q += 8) (Vector256.Load(row + q) + add).Store(row + q);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void StorePiece(float* src, float* dst, float* residual, int len, bool relu)
        {
            var zero = Vector256<float>.Zero;
            int l = 0;
            for (; l <= len - 8; l += 8)
            {
                var v = Vector256.Load(src + l);
                if (residual != null) v += Vector256.Load(residual + l);
                if (relu) v = Avx.Max(zero, v) + zero;
                v.Store(dst + l);
            }
            for (; l < len; l++) dst[l] = ConvEpilogue.Value(src[l], residual == null ? 0f : residual[l], residual != null, relu);
        }
    }
}
