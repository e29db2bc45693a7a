using Fovea.Kernels;

namespace Fovea.Backends.Reference;

internal sealed partial class ReferenceBackend
{
    private static double[] ReadAll(Tensor t) => Read(t, t._shape);

    public Tensor Conv2d(Tensor x, Tensor w, Tensor? bias, Conv2dGeometry geometry)
    {
        var s = geometry.Shape(x._shape, w._shape);
        var y = ConvReference.Forward(s, ReadAll(x), ReadAll(w), bias is null ? [] : ReadAll(bias));
        return Write(y, [s.Batch, s.OutChannels, s.OutH, s.OutW], x.DType);
    }

    public Tensor Conv2dBackwardInput(Tensor gradOutput, Tensor w, int[] inputShape, Conv2dGeometry geometry)
    {
        var s = geometry.Shape(inputShape, w._shape, gradOutput._shape[2], gradOutput._shape[3]);
        return Write(ConvReference.BackwardInput(s, ReadAll(gradOutput), ReadAll(w)), (int[])inputShape.Clone(), gradOutput.DType);
    }

    public Tensor Conv2dBackwardWeight(Tensor x, Tensor gradOutput, int[] weightShape, Conv2dGeometry geometry)
    {
        var s = geometry.Shape(x._shape, weightShape, gradOutput._shape[2], gradOutput._shape[3]);
        return Write(ConvReference.BackwardWeight(s, ReadAll(x), ReadAll(gradOutput)), (int[])weightShape.Clone(), x.DType);
    }

    public (Tensor Values, Tensor Indices) MaxPool2d(Tensor x, Pool2dGeometry geometry)
    {
        var (oh, ow) = geometry.OutputSize(x._shape[2], x._shape[3]);
        int[] shape = [x._shape[0], x._shape[1], oh, ow];
        var (v, i) = ConvReference.MaxPool(ReadAll(x), x._shape[0] * x._shape[1], x._shape[2], x._shape[3], geometry.Window, oh, ow);
        return (Write(v, shape, x.DType), Tensor.FromArray(i, shape));
    }

    public Tensor MaxPool2dValues(Tensor x, Pool2dGeometry geometry) => MaxPool2d(x, geometry).Values;

    public Tensor MaxPool2dBackward(Tensor gradOutput, Tensor indices, int[] inputShape)
    {
        var g = ReadAll(gradOutput);
        var idx = ReadAll(indices);
        int inPlane = inputShape[2] * inputShape[3], outPlane = gradOutput._shape[2] * gradOutput._shape[3];
        var dx = new double[inputShape[0] * inputShape[1] * inPlane];
        for (int k = 0; k < g.Length; k++)
        {
            // An index outside its plane would land in a neighbouring plane of the flat buffer: reject it.
            if (idx[k] < 0 || idx[k] >= inPlane)
                throw new ArgumentOutOfRangeException(nameof(indices), $"max_pool2d backward: index {idx[k]} is outside a plane of {inPlane} elements");
            dx[k / outPlane * inPlane + (int)idx[k]] += g[k];
        }
        return Write(dx, (int[])inputShape.Clone(), gradOutput.DType);
    }

    public Tensor AvgPool2d(Tensor x, Pool2dGeometry geometry)
    {
        var (oh, ow) = geometry.OutputSize(x._shape[2], x._shape[3]);
        var y = ConvReference.AvgPool(ReadAll(x), x._shape[0] * x._shape[1], x._shape[2], x._shape[3], geometry.Window, geometry.CountIncludePad, oh, ow);
        return Write(y, [x._shape[0], x._shape[1], oh, ow], x.DType);
    }

    public Tensor AvgPool2dBackward(Tensor gradOutput, int[] inputShape, Pool2dGeometry geometry)
    {
        // The adjoint by definition: output (oy, ox) spreads g / divisor over the in-bounds part of its window.
        var g = ReadAll(gradOutput);
        var win = geometry.Window;
        int h = inputShape[2], w = inputShape[3];
        var (oh, ow) = geometry.OutputSize(h, w);
        var dx = new double[inputShape[0] * inputShape[1] * h * w];
        for (int p = 0; p < inputShape[0] * inputShape[1]; p++)
            for (int oy = 0; oy < oh; oy++)
                for (int ox = 0; ox < ow; ox++)
                {
                    int ys = oy * win.StrideH - win.PadH, xs = ox * win.StrideW - win.PadW;
                    int ye = Math.Min(ys + win.KernelH, h + win.PadH), xe = Math.Min(xs + win.KernelW, w + win.PadW);
                    int count = 0;
                    for (int iy = Math.Max(ys, 0); iy < Math.Min(ye, h); iy++)
                        for (int ix = Math.Max(xs, 0); ix < Math.Min(xe, w); ix++) count++;
                    int divisor = geometry.CountIncludePad ? (ye - ys) * (xe - xs) : count;
                    if (divisor == 0) continue;
                    for (int iy = Math.Max(ys, 0); iy < Math.Min(ye, h); iy++)
                        for (int ix = Math.Max(xs, 0); ix < Math.Min(xe, w); ix++)
                            dx[(p * h + iy) * w + ix] += g[(p * oh + oy) * ow + ox] / divisor;
                }
        return Write(dx, (int[])inputShape.Clone(), gradOutput.DType);
    }
}
