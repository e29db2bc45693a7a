using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Fovea.Kernels;

/// <summary>
/// Float32 convolution forward for column stride 2 and few input channels (a network's stem: ResNet's 7x7 stride-2
/// layer on 3-channel images), with the output pixels of a row in the vector lanes and nothing packed but the weights.
/// <para>
/// Output pixel ox reads input column 2·ox + kx − pad for tap kx, every other column: no 16 consecutive floats of the
/// input feed 16 consecutive outputs. So each input row (zero-padded) is first split into its two column phases, the
/// even columns and the odd ones; then tap kx of outputs ox … ox + 15 is the 16 consecutive floats of phase kx mod 2
/// from position ox + ⌊kx / 2⌋, one vector load. The register tile is 3 output channels x 7 vectors (112 pixels, a
/// 224-wide image's output row): per tap 7 loads, 3 weight broadcasts and 21 FMAs. The implicit GEMM instead packs
/// each column value into its B slivers first (147 floats per output pixel for the stem, written and read again).
/// Measured on a 2-core AMD EPYC (Zen 5), the two paths alternating call by call, medians of 330 calls each, one / two
/// threads: the stem (3@224² → 64, 7x7) 1.55 → 1.39 / 0.79 → 0.68 ms; with 1 input channel 0.55 → 0.48 / 0.32 → 0.26,
/// with 4 1.89 → 1.69 / 1.02 → 0.88. Inside the exported ResNet-18 at batch 1 (300 forwards each, alternating): 1.65 →
/// 1.45 ms / 0.84 → 0.78 ms.
/// </para>
/// Work items are (image, block of output rows); each thread splits the rows its block reads into its own scratch, so
/// nothing is shared but the input. Each output is computed by the same operations whatever the thread count.
/// </summary>
internal static unsafe class PhaseRowConv
{
    /// <summary>Output channels per register tile.</summary>
    internal const int MR = 3;

    /// <summary>Vectors of 16 output pixels per register tile: a segment of 112 pixels of one output row.</summary>
    internal const int Vectors = 7;

    /// <summary>Output pixels per segment (<see cref="Vectors"/> x 16).</summary>
    internal const int SegmentWidth = Vectors * 16;

    /// <summary>
    /// Most input channels this path takes (images: gray, RGB, RGBA, the counts measured above). Each tile reads its
    /// taps' rows from L1 for every group of output channels; with many input channels a block's split rows outgrow L1,
    /// where the implicit GEMM's packed slivers do not.
    /// </summary>
    internal const int MaxInChannels = 4;

    /// <summary>Output rows per work item.</summary>
    internal const int RowsPerItem = 8;

    /// <summary>Whether the dispatch may take this path; tests switch it off to compare with the others.</summary>
    internal static bool Enabled = true;

    [ThreadStatic] private static float[]? _phases;

    /// <summary>
    /// True where this path runs: AVX-512, one group, column stride 2, no dilation, at most <see cref="MaxInChannels"/>
    /// input channels, at least 16 output channels, and output rows that fill at least 85% of the 112-pixel segments
    /// they take (a row of 100 pixels fills 89% of one; the lanes past the row are computed and dropped).
    /// </summary>
    public static bool Applies(in ConvShape s) =>
        Enabled && Vector512.IsHardwareAccelerated && s.Groups == 1 && s.Window.StrideW == 2 && s.Window.DilationH == 1 && s.Window.DilationW == 1
        && s.InChannels > 0 && s.InChannels <= MaxInChannels && s.OutChannels >= 16 && s.OutH > 0 && s.OutW > 0
        && 100L * s.OutW >= 85L * Segments(s.OutW) * SegmentWidth;

    private static int Segments(int outW) => (outW + SegmentWidth - 1) / SegmentWidth;

    /// <summary>Floats of one column phase of a padded input row: every position a segment's taps read, rounded to 16.</summary>
    private static int PhaseLength(in ConvShape s) => (Segments(s.OutW) * SegmentWidth + (s.Window.KernelW - 1) / 2 + 15) & ~15;

    /// <summary>
    /// y = conv(x, w) + bias for contiguous NCHW buffers; <paramref name="bias"/> may be null; then the
    /// <paramref name="epilogue"/> on each row piece as it is copied out of the tile.
    /// </summary>
    public static void Forward(in ConvShape s, float* x, float* w, float* bias, float* y, ConvEpilogue epilogue = default)
    {
        using var plan = new Plan(s, x, w, bias, y, epilogue);
        var body = plan.Body;
        int items = s.Batch * body.Blocks;
        if (ParallelFor.ThreadsForMultiplyAdds((long)s.Batch * s.MacsPerImage) <= 1)
            for (int i = 0; i < items; i++) body.Invoke(i);
        else
            ParallelFor.ForChunks(items, body);
    }

    /// <summary>
    /// The weights packed for the tiles and the work items over them: <see cref="Body"/> computes any
    /// <see cref="RowsPerItem"/> output rows of an image (<see cref="IConvRows"/>), which <see cref="Forward"/> and the
    /// fused stem and pooling (<see cref="ConvMaxPool"/>) call. Disposing returns the packed weights.
    /// </summary>
    internal readonly struct Plan : IDisposable
    {
        private readonly float[] _packed;
        private readonly GCHandle _pin;

        /// <summary>The work items; <c>Y</c> is the constructor's y (null where only <see cref="Body.Rows"/> is called).</summary>
        public readonly Body Body;

        public Plan(in ConvShape s, float* x, float* w, float* bias, float* y, ConvEpilogue epilogue)
        {
            int k = s.OutChannels, taps = s.ColRows, groups = (k + MR - 1) / MR;
            // Weights as [group of MR channels][tap][MR] (channels past the last are zero), and the bias padded alike.
            _packed = ArrayPool<float>.Shared.Rent(groups * taps * MR + groups * MR);
            Array.Clear(_packed, 0, groups * taps * MR + groups * MR);
            for (int o = 0; o < k; o++)
            {
                int g = o / MR, m = o % MR;
                for (int t = 0; t < taps; t++) _packed[((long)g * taps + t) * MR + m] = w[(long)o * taps + t];
                if (bias is not null) _packed[(long)groups * taps * MR + o] = bias[o];
            }
            _pin = GCHandle.Alloc(_packed, GCHandleType.Pinned);
            float* pw = (float*)_pin.AddrOfPinnedObject();
            Body = new Body
            {
                X = x,
                Y = y,
                Weights = pw,
                Bias = pw + (long)groups * taps * MR,
                Epilogue = epilogue,
                Shape = s,
                Groups = groups,
                Blocks = (s.OutH + RowsPerItem - 1) / RowsPerItem,
                PhaseLength = PhaseLength(s),
                RowsIn = (RowsPerItem - 1) * s.Window.StrideH + s.Window.KernelH,
            };
        }

        public void Dispose()
        {
            _pin.Free();
            ArrayPool<float>.Shared.Return(_packed);
        }
    }

    /// <summary>This thread's scratch of at least <paramref name="length"/> floats (pinned, 64-byte aligned).</summary>
    private static float* Scratch(int length) =>
        ThreadScratch.Floats(ref _phases, length);

    internal struct Body : IChunkBody, IConvRows
    {
        public float* X, Y, Weights, Bias;
        public ConvEpilogue Epilogue;
        public ConvShape Shape;
        public int Groups, Blocks, PhaseLength, RowsIn;

        public readonly int RowsPerCall => RowsPerItem;

        /// <summary>Not in this kernel: its rows have the pixels in the lanes, where the pooling's own pass is as direct.</summary>
        public readonly bool RowMaxima(int n, int oy0, int oy1, in Window2d pool, int poolW, float* dst, long channelStride) => false;

        /// <summary>Work item (image, block of <see cref="RowsPerItem"/> output rows), written into y.</summary>
        public readonly void Invoke(int item)
        {
            ref readonly ConvShape s = ref Shape;
            int n = item / Blocks, oy0 = item % Blocks * RowsPerItem, oy1 = Math.Min(s.OutH, oy0 + RowsPerItem);
            Rows(n, oy0, oy1, Y + (long)n * s.OutChannels * s.OutPlane + (long)oy0 * s.OutW, s.OutPlane);
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public readonly void Rows(int n, int oy0, int oy1, float* dst, long dstPlane)
        {
            ref readonly ConvShape s = ref Shape;
            var win = s.Window;
            int c = s.InChannels, h = s.Height, wIn = s.Width, q = PhaseLength, rowsIn = RowsIn;
            int iyTop = oy0 * win.StrideH - win.PadH, rowsRead = (oy1 - oy0 - 1) * win.StrideH + win.KernelH;
            // The input rows of these outputs, zero-padded and split: row r of channel ci at phases + (ci·rowsIn + r)·2q,
            // its even columns (padded coordinates) first, then its odd ones.
            float* phases = Scratch(c * rowsIn * 2 * q);
            for (int ci = 0; ci < c; ci++)
                for (int r = 0; r < rowsRead; r++)
                {
                    float* even = phases + ((long)ci * rowsIn + r) * 2 * q;
                    int iy = iyTop + r;
                    if (iy < 0 || iy >= h)
                    {
                        new Span<float>(even, 2 * q).Clear();
                        continue;
                    }
                    ColumnPhases.SplitRow(X + (((long)n * c + ci) * h + iy) * wIn, wIn, win.PadW, 2, q, even, q);
                }

            int k = s.OutChannels, outW = s.OutW, segments = Segments(outW);
            float* tile = stackalloc float[MR * Vectors * 16 + 16];
            tile = (float*)(((nint)tile + 63) & ~(nint)63);
            for (int oy = oy0; oy < oy1; oy++)
                for (int seg = 0; seg < segments; seg++)
                    for (int g = 0; g < Groups; g++)
                    {
                        float* rows = phases + (long)(oy - oy0) * win.StrideH * 2 * q + seg * SegmentWidth;
                        Tile(rows, q, rowsIn, c, win.KernelH, win.KernelW, Weights + (long)g * s.ColRows * MR, Bias + g * MR, tile);
                        int x0 = seg * SegmentWidth;
                        for (int m = 0; m < MR; m++)
                        {
                            int o = g * MR + m;
                            if (o >= k) break;
                            float* to = dst + o * dstPlane + (long)(oy - oy0) * outW + x0;
                            int width = Math.Min(SegmentWidth, outW - x0);
                            if (Epilogue.IsNone) new ReadOnlySpan<float>(tile + m * SegmentWidth, width).CopyTo(new Span<float>(to, width));
                            else Epilogue.Copy(tile + m * SegmentWidth, to, width);
                        }
                    }
        }
    }

    /// <summary>
    /// One tile: output channels g·3 … g·3 + 2 (weights <paramref name="w"/>, [tap][3]; bias <paramref name="b"/>, which
    /// seeds the sums) over the 112 pixels whose first tap row starts at <paramref name="rows"/>, every tap in the
    /// order (channel, ky, kx); the sums go to <paramref name="result"/>, channel after channel, 112 floats each.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile(float* rows, int q, int rowsIn, int c, int kh, int kw, float* w, float* b, float* result)
    {
        Vector512<float> b0 = Vector512.Create(b[0]), b1 = Vector512.Create(b[1]), b2 = Vector512.Create(b[2]);
        Vector512<float> a00 = b0, a01 = b0, a02 = b0, a03 = b0, a04 = b0, a05 = b0, a06 = b0;
        Vector512<float> a10 = b1, a11 = b1, a12 = b1, a13 = b1, a14 = b1, a15 = b1, a16 = b1;
        Vector512<float> a20 = b2, a21 = b2, a22 = b2, a23 = b2, a24 = b2, a25 = b2, a26 = b2;
        for (int ci = 0; ci < c; ci++)
            for (int ky = 0; ky < kh; ky++)
            {
                float* row = rows + ((long)ci * rowsIn + ky) * 2 * q;
                for (int kx = 0; kx < kw; kx++, w += MR)
                {
                    float* p = row + (kx & 1) * q + (kx >> 1);
                    Vector512<float> w0 = Vector512.Create(w[0]), w1 = Vector512.Create(w[1]), w2 = Vector512.Create(w[2]), v;
                    v = Vector512.Load(p); a00 = Vector512.FusedMultiplyAdd(w0, v, a00); a10 = Vector512.FusedMultiplyAdd(w1, v, a10); a20 = Vector512.FusedMultiplyAdd(w2, v, a20);
                    v = Vector512.Load(p + 16); a01 = Vector512.FusedMultiplyAdd(w0, v, a01); a11 = Vector512.FusedMultiplyAdd(w1, v, a11); a21 = Vector512.FusedMultiplyAdd(w2, v, a21);
                    v = Vector512.Load(p + 32); a02 = Vector512.FusedMultiplyAdd(w0, v, a02); a12 = Vector512.FusedMultiplyAdd(w1, v, a12); a22 = Vector512.FusedMultiplyAdd(w2, v, a22);
                    v = Vector512.Load(p + 48); a03 = Vector512.FusedMultiplyAdd(w0, v, a03); a13 = Vector512.FusedMultiplyAdd(w1, v, a13); a23 = Vector512.FusedMultiplyAdd(w2, v, a23);
                    v = Vector512.Load(p + 64); a04 = Vector512.FusedMultiplyAdd(w0, v, a04); a14 = Vector512.FusedMultiplyAdd(w1, v, a14); a24 = Vector512.FusedMultiplyAdd(w2, v, a24);
                    v = Vector512.Load(p + 80); a05 = Vector512.FusedMultiplyAdd(w0, v, a05); a15 = Vector512.FusedMultiplyAdd(w1, v, a15); a25 = Vector512.FusedMultiplyAdd(w2, v, a25);
                    v = Vector512.Load(p + 96); a06 = Vector512.FusedMultiplyAdd(w0, v, a06); a16 = Vector512.FusedMultiplyAdd(w1, v, a16); a26 = Vector512.FusedMultiplyAdd(w2, v, a26);
                }
            }
        a00.Store(result); a01.Store(result + 16); a02.Store(result + 32); a03.Store(result + 48); a04.Store(result + 64); a05.Store(result + 80); a06.Store(result + 96);
        a10.Store(result + 112); a11.Store(result + 128); a12.Store(result + 144); a13.Store(result + 160); a14.Store(result + 176); a15.Store(result + 192); a16.Store(result + 208);
        a20.Store(result + 224); a21.Store(result + 240); a22.Store(result + 256); a23.Store(result + 272); a24.Store(result + 288); a25.Store(result + 304); a26.Store(result + 320);
    }
}
