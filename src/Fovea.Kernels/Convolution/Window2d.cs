namespace Fovea.Kernels;

/// <summary>
/// A sliding 2-d window: kernel size, stride, zero padding (the same on both sides of a dim) and dilation.
/// Output position (oy, ox) reads input rows <c>oy·StrideH − PadH + i·DilationH</c> for i in [0, KernelH)
/// and the matching columns; positions outside the input are padding.
/// </summary>
public readonly record struct Window2d(int KernelH, int KernelW, int StrideH, int StrideW, int PadH, int PadW, int DilationH, int DilationW)
{
    /// <summary>True for the 1x1, stride 1, no padding window, whose im2col is the input itself.</summary>
    public bool IsPointwise => KernelH == 1 && KernelW == 1 && StrideH == 1 && StrideW == 1 && PadH == 0 && PadW == 0;

    /// <summary>Kernel elements per channel (KernelH·KernelW).</summary>
    public int KernelSize => KernelH * KernelW;

    /// <summary>
    /// The offset of each tap of this window over <paramref name="channels"/> channels from the window's corner, taps
    /// k = (channel, i, j) in that order (im2col's row order): channel·<paramref name="channelStride"/> +
    /// i·DilationH·<paramref name="rowStride"/> + j·DilationW. Nested loops rather than k's quotients: a 512-channel
    /// 3x3 window has 4,608 taps, and four integer divisions each cost about 30 µs a call.
    /// </summary>
    public void TapOffsets(int channels, int channelStride, int rowStride, Span<int> taps)
    {
        int k = 0;
        for (int ci = 0; ci < channels; ci++)
            for (int i = 0; i < KernelH; i++)
                for (int j = 0, at = ci * channelStride + i * DilationH * rowStride; j < KernelW; j++, at += DilationW)
                    taps[k++] = at;
    }

    /// <summary>
    /// Output size of this window over a <paramref name="height"/> x <paramref name="width"/> input, by
    /// <see cref="OutputLength"/> in each dim.
    /// </summary>
    public (int H, int W) OutputSize(int height, int width, bool ceilMode = false) =>
        (OutputLength(height, KernelH, StrideH, PadH, DilationH, ceilMode), OutputLength(width, KernelW, StrideW, PadW, DilationW, ceilMode));

    /// <summary>
    /// Output length of a sliding window along one dim (PyTorch's formula): ⌊(n + 2p − d·(k − 1) − 1) / s⌋ + 1, or
    /// with <paramref name="ceilMode"/> rounded up, except that the last window must still start inside the input
    /// or its left padding (a window starting in the right padding would see padding only). 0 when the dilated
    /// kernel is larger than the padded input. Callers check that kernel, stride and dilation are positive and the
    /// padding non-negative.
    /// </summary>
    public static int OutputLength(int size, int kernel, int stride, int padding, int dilation, bool ceilMode = false)
    {
        int room = size + 2 * padding - (dilation * (kernel - 1) + 1);
        if (room < 0) return 0;
        int length = (ceilMode ? (room + stride - 1) / stride : room / stride) + 1;
        if (ceilMode && (length - 1) * stride >= size + padding) length--;
        return length;
    }
}

/// <summary>
/// Geometry of one batched 2-d convolution: x [Batch, InChannels, Height, Width] and weight
/// [OutChannels, InChannels / Groups, KernelH, KernelW] give y [Batch, OutChannels, OutH, OutW].
/// </summary>
public readonly record struct ConvShape(int Batch, int InChannels, int Height, int Width, int OutChannels, int Groups, Window2d Window, int OutH, int OutW)
{
    /// <summary>Input channels per group.</summary>
    public int GroupIn => InChannels / Groups;

    /// <summary>Output channels per group.</summary>
    public int GroupOut => OutChannels / Groups;

    /// <summary>Rows of one group's im2col matrix (GroupIn·KernelH·KernelW).</summary>
    public int ColRows => GroupIn * Window.KernelSize;

    /// <summary>Output pixels per image (OutH·OutW): the columns of the im2col matrix.</summary>
    public int OutPlane => OutH * OutW;

    /// <summary>Multiply-adds of one image's forward pass.</summary>
    public long MacsPerImage => (long)OutChannels * OutPlane * ColRows;
}
