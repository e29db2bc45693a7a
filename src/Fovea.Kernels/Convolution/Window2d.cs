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
