using Fovea.Kernels;

namespace Fovea.Backends;

/// <summary>Stride, zero padding, dilation and groups of a 2-d convolution (the kernel size comes from the weight).</summary>
public readonly record struct Conv2dGeometry(int StrideH, int StrideW, int PadH, int PadW, int DilationH, int DilationW, int Groups)
{
    /// <summary>The sliding window for a kernel of <paramref name="kh"/> x <paramref name="kw"/>.</summary>
    public Window2d Window(int kh, int kw) => new(kh, kw, StrideH, StrideW, PadH, PadW, DilationH, DilationW);

    /// <summary>The kernel-level shape of x [N, C, H, W] convolved with w [O, C/groups, KH, KW] into [N, O, oh, ow].</summary>
    public ConvShape Shape(int[] x, int[] w, int oh, int ow) => new(x[0], x[1], x[2], x[3], w[0], Groups, Window(w[2], w[3]), oh, ow);
}

/// <summary>A pooling window with its output size (already resolved with ceil_mode) and the average-pool divisor rule.</summary>
public readonly record struct Pool2dGeometry(Window2d Window, int OutH, int OutW, bool CountIncludePad = true);
