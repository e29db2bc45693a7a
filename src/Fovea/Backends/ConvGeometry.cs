using Fovea.Kernels;

namespace Fovea.Backends;

/// <summary>Stride, zero padding, dilation and groups of a 2-d convolution (the kernel size comes from the weight).</summary>
public readonly record struct Conv2dGeometry(int StrideH, int StrideW, int PadH, int PadW, int DilationH, int DilationW, int Groups)
{
    /// <summary>The sliding window for a kernel of <paramref name="kh"/> x <paramref name="kw"/>.</summary>
    public Window2d Window(int kh, int kw) => new(kh, kw, StrideH, StrideW, PadH, PadW, DilationH, DilationW);

    /// <summary>
    /// Output size of a <paramref name="kernelH"/> x <paramref name="kernelW"/> convolution over an
    /// <paramref name="inH"/> x <paramref name="inW"/> input: ⌊(n + 2p − d·(k − 1) − 1) / s⌋ + 1 in each dim
    /// (0 where the dilated kernel is larger than the padded input).
    /// </summary>
    public (int H, int W) OutputSize(int inH, int inW, int kernelH, int kernelW) => Window(kernelH, kernelW).OutputSize(inH, inW);

    /// <summary>The kernel-level shape of x [N, C, H, W] convolved with w [O, C/groups, KH, KW] into [N, O, oh, ow].</summary>
    public ConvShape Shape(int[] x, int[] w, int oh, int ow) => new(x[0], x[1], x[2], x[3], w[0], Groups, Window(w[2], w[3]), oh, ow);

    /// <summary>The kernel-level shape of x [N, C, H, W] convolved with w [O, C/groups, KH, KW], with the output size from <see cref="OutputSize"/>.</summary>
    public ConvShape Shape(int[] x, int[] w)
    {
        var (oh, ow) = OutputSize(x[2], x[3], w[2], w[3]);
        return Shape(x, w, oh, ow);
    }
}

/// <summary>
/// A 2-d pooling window: kernel size, stride, padding (the same on both sides of a dim), dilation, the output
/// rounding (<see cref="CeilMode"/>) and the average-pool divisor rule (<see cref="CountIncludePad"/>).
/// </summary>
public readonly record struct Pool2dGeometry(int KernelH, int KernelW, int StrideH, int StrideW, int PadH, int PadW, int DilationH, int DilationW,
    bool CeilMode = false, bool CountIncludePad = true)
{
    /// <summary>The sliding window the kernels walk.</summary>
    public Window2d Window => new(KernelH, KernelW, StrideH, StrideW, PadH, PadW, DilationH, DilationW);

    /// <summary>
    /// Output size over an <paramref name="inH"/> x <paramref name="inW"/> input: ⌊(n + 2p − d·(k − 1) − 1) / s⌋ + 1
    /// in each dim, or with <see cref="CeilMode"/> rounded up while the last window still starts inside the input or
    /// its left padding (PyTorch's rule); 0 where the dilated kernel is larger than the padded input.
    /// </summary>
    public (int H, int W) OutputSize(int inH, int inW) => Window.OutputSize(inH, inW, CeilMode);
}
