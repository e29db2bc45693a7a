using Fovea.Kernels;

namespace Fovea.Backends;

/// <summary>Builds <see cref="Pool2dGeometry"/> from plain sizes, so layers above the backends never name the kernels' window type.</summary>
internal static class PoolWindows
{
    /// <summary>A pooling geometry: window, stride, padding and dilation per axis, the resolved output size and the divisor rule.</summary>
    public static Pool2dGeometry Geometry(int kernelH, int kernelW, int strideH, int strideW, int padH, int padW, int dilationH, int dilationW,
        int outH, int outW, bool countIncludePad) =>
        new(new Window2d(kernelH, kernelW, strideH, strideW, padH, padW, dilationH, dilationW), outH, outW, countIncludePad);
}
