using Fovea.Kernels.Fft;
using Fovea.Kernels.Filtering;
using Fovea.Kernels.Matching;

namespace Fovea.Backends.Cpu;

internal sealed partial class CpuBackend
{
    public Tensor PyrDown(Tensor x)
    {
        EnsureAllowed();
        x = PyramidInput("pyr_down", x);
        int h = x._shape[^2], w = x._shape[^1], oh = PyramidGeometry.DownSize(h), ow = PyramidGeometry.DownSize(w);
        var y = Tensor.Allocate(x.DType, WithPlane(x._shape, oh, ow), clear: false);
        int planes = Planes(x, h, w);
        if (x.DType == DType.Float32)
        {
            // The OpenCV-exact SIMD kernel, one plane at a time (each splits its rows over threads when large).
            for (int p = 0; p < planes; p++) PyrKernels.PyrDown(Plane<float>(x, p, h * w), w, h, PlaneOut<float>(y, p, oh * ow));
        }
        else
        {
            PyrAxisOperator.ApplyPlanes(In<double>(x), Out<double>(y), planes, PyrAxisOperator.Down(h), PyrAxisOperator.Down(w), transpose: false);
        }
        return y;
    }

    public Tensor PyrDownAdjoint(Tensor gradOutput, int height, int width)
    {
        EnsureAllowed();
        var g = PyramidInput("pyr_down adjoint", gradOutput);
        return Adjoint(g, PyrAxisOperator.Down(height), PyrAxisOperator.Down(width));
    }

    public Tensor PyrUp(Tensor x, int height, int width)
    {
        EnsureAllowed();
        return Up("pyr_up", x, height, width, null, false);
    }

    public Tensor PyrUpAdd(Tensor x, Tensor addend, bool negate)
    {
        EnsureAllowed();
        return Up("pyr_up_add", x, addend._shape[^2], addend._shape[^1], addend, negate);
    }

    public Tensor PyrUpAdjoint(Tensor gradOutput, int height, int width)
    {
        EnsureAllowed();
        var g = PyramidInput("pyr_up adjoint", gradOutput);
        return Adjoint(g, PyrAxisOperator.Up(height, g._shape[^2], rows: true), PyrAxisOperator.Up(width, g._shape[^1], rows: false));
    }

    private static Tensor Up(string op, Tensor x, int oh, int ow, Tensor? addend, bool negate)
    {
        x = PyramidInput(op, x);
        int h = x._shape[^2], w = x._shape[^1];
        if (!PyramidGeometry.IsValidUpSize(h, oh) || !PyramidGeometry.IsValidUpSize(w, ow))
            throw new ShapeException(op, $"output size must be within 1 of twice the input (|out − 2·in| = out mod 2), got [{h}, {w}] -> [{oh}, {ow}]");
        int[] outShape = WithPlane(x._shape, oh, ow);
        if (addend is not null)
        {
            ShapeChecks.Same(op, addend._shape, outShape);
            if (addend.DType != x.DType) throw new DTypeException(op, $"x and addend must share a dtype, got {x.DType.Name()} and {addend.DType.Name()}");
            addend = addend.ContiguousRaw();
        }
        var y = Tensor.Allocate(x.DType, outShape, clear: false);
        int planes = Planes(x, h, w), n = oh * ow;
        if (x.DType == DType.Float32)
        {
            // The fused kernel: the band (or collapse step) is written in the same pass as the upsampling.
            var combine = addend is null ? PyrUpCombine.Store : negate ? PyrUpCombine.Subtract : PyrUpCombine.Add;
            for (int p = 0; p < planes; p++)
                PyrKernels.PyrUp(Plane<float>(x, p, h * w), w, h, PlaneOut<float>(y, p, n), ow, oh,
                    addend is null ? default : Plane<float>(addend, p, n), combine);
            return y;
        }
        var yd = Out<double>(y);
        PyrAxisOperator.ApplyPlanes(In<double>(x), yd, planes, PyrAxisOperator.Up(h, oh, rows: true), PyrAxisOperator.Up(w, ow, rows: false), transpose: false);
        if (addend is not null)
        {
            var a = In<double>(addend);
            for (int i = 0; i < yd.Length; i++) yd[i] = negate ? a[i] - yd[i] : a[i] + yd[i];
        }
        return y;
    }

    private static Tensor Adjoint(Tensor g, PyrAxisOperator opY, PyrAxisOperator opX)
    {
        if (g._shape[^2] != opY.OutLength || g._shape[^1] != opX.OutLength)
            throw new ShapeException("pyramid adjoint", $"expects planes of [{opY.OutLength}, {opX.OutLength}], got {ShapeChecks.Format(g._shape)}");
        var y = Tensor.Allocate(g.DType, WithPlane(g._shape, opY.InLength, opX.InLength), clear: false);
        int planes = Planes(g, opY.OutLength, opX.OutLength);
        if (g.DType == DType.Float32) PyrAxisOperator.ApplyPlanes(In<float>(g), Out<float>(y), planes, opY, opX, transpose: true);
        else PyrAxisOperator.ApplyPlanes(In<double>(g), Out<double>(y), planes, opY, opX, transpose: true);
        return y;
    }

    public Tensor SeparableFilter2d(Tensor x, Tensor kernelX, Tensor kernelY)
    {
        EnsureAllowed();
        x = VisionPlanes("separable_filter2d", x, DType.Float32);
        var kx = FilterTaps("separable_filter2d", kernelX).ToArray();
        var ky = FilterTaps("separable_filter2d", kernelY).ToArray();
        int h = x._shape[^2], w = x._shape[^1], n = h * w;
        var y = Tensor.Allocate(DType.Float32, (int[])x._shape.Clone(), clear: false);
        for (int p = 0, planes = Planes(x, h, w); p < planes; p++)
            SeparableFilter.Apply(Plane<float>(x, p, n), w, h, kx, ky, PlaneOut<float>(y, p, n));
        return y;
    }

    public Tensor MatchTemplate(Tensor image, Tensor template, TemplateMatchMethod method, Tensor? output = null)
    {
        EnsureAllowed();
        // The caller's tensors, for the output's aliasing check (the planes below may be copies).
        var (callerImage, callerTemplate) = (image, template);
        image = MatchPlane(image, "image");
        template = MatchPlane(template, "template");
        int h = image._shape[0], w = image._shape[1], th = template._shape[0], tw = template._shape[1];
        if (th > h || tw > w)
            throw new ShapeException("match_template", $"template must fit inside the image, got template {ShapeChecks.Format(template._shape)} and image {ShapeChecks.Format(image._shape)}");
        var score = method switch
        {
            TemplateMatchMethod.SqDiff => TemplateScore.SqDiff,
            TemplateMatchMethod.SqDiffNormed => TemplateScore.SqDiffNormed,
            TemplateMatchMethod.CCorr => TemplateScore.CCorr,
            TemplateMatchMethod.CCorrNormed => TemplateScore.CCorrNormed,
            TemplateMatchMethod.CCoeff => TemplateScore.CCoeff,
            TemplateMatchMethod.CCoeffNormed => TemplateScore.CCoeffNormed,
            _ => throw new ArgumentOutOfRangeException(nameof(method), method, "match_template: unknown method."),
        };
        var y = MatchTemplateOutput.Prepare(output, callerImage, callerTemplate);
        TemplateMatching.Match(In<float>(image), w, h, In<float>(template), tw, th, score, Out<float>(y));
        if (output is not null) y.Storage.BumpVersion();
        return y;
    }

    public (Tensor Re, Tensor Im) Fft2d(Tensor re, Tensor im, bool inverse)
    {
        EnsureAllowed();
        ShapeChecks.Same("fft2d", re._shape, im._shape);
        if (re.DType != DType.Float64 || im.DType != DType.Float64)
            throw new DTypeException("fft2d", $"expects float64 real and imaginary parts, got {re.DType.Name()} and {im.DType.Name()}");
        if (re.Rank < 2) throw new ShapeException("fft2d", $"expects planes in the last two dims, got {ShapeChecks.Format(re._shape)}");
        var outRe = Copy(re);
        var outIm = Copy(im);
        int h = re._shape[^2], w = re._shape[^1], n = h * w;
        if (n == 0) return (outRe, outIm);
        Span<double> r = Out<double>(outRe), i = Out<double>(outIm);
        for (int p = 0, planes = re.Numel / n; p < planes; p++)
        {
            if (inverse) Fft.Inverse2D(r.Slice(p * n, n), i.Slice(p * n, n), w, h);
            else Fft.Forward2D(r.Slice(p * n, n), i.Slice(p * n, n), w, h);
        }
        return (outRe, outIm);
    }

    private static Tensor Copy(Tensor t)
    {
        var c = Tensor.Allocate(t.DType, (int[])t._shape.Clone(), clear: false);
        Backend.Cpu.Assign(c, t);
        return c;
    }

    private static Tensor PyramidInput(string op, Tensor x)
    {
        if (x.DType is not (DType.Float32 or DType.Float64)) throw FloatingOnly(op, x.DType);
        if (x.Rank < 2 || x._shape[^2] < 1 || x._shape[^1] < 1)
            throw new ShapeException(op, $"expects non-empty planes in the last two dims, got {ShapeChecks.Format(x._shape)}");
        return x.ContiguousRaw();
    }

    private static Tensor VisionPlanes(string op, Tensor x, DType dtype)
    {
        if (x.DType != dtype) throw new DTypeException(op, $"expects {dtype.Name()}, got {x.DType.Name()}");
        if (x.Rank < 2 || x._shape[^2] < 1 || x._shape[^1] < 1)
            throw new ShapeException(op, $"expects non-empty planes in the last two dims, got {ShapeChecks.Format(x._shape)}");
        return x.ContiguousRaw();
    }

    private static ReadOnlySpan<float> FilterTaps(string op, Tensor k)
    {
        if (k.DType != DType.Float32 || k.Rank != 1 || k._shape[0] % 2 == 0)
            throw new ShapeException(op, $"kernels must be 1-d float32 of odd length, got {ShapeChecks.Format(k._shape)} ({k.DType.Name()})");
        return In<float>(k.ContiguousRaw());
    }

    private static Tensor MatchPlane(Tensor t, string name)
    {
        if (t.Rank != 2 || t.Numel == 0)
            throw new ShapeException("match_template", $"{name} must be a non-empty plane [H, W], got {ShapeChecks.Format(t._shape)}");
        return VisionPlanes("match_template", t, DType.Float32);
    }

    private static int[] WithPlane(int[] shape, int h, int w)
    {
        int[] s = (int[])shape.Clone();
        s[^2] = h;
        s[^1] = w;
        return s;
    }

    private static int Planes(Tensor x, int h, int w) => x.Numel / (h * w);

    private static ReadOnlySpan<T> In<T>(Tensor t) where T : unmanaged => t.Storage.As<T>().AsSpan(t.Offset, t.Numel);

    private static Span<T> Out<T>(Tensor t) where T : unmanaged => t.Storage.As<T>().AsSpan(t.Offset, t.Numel);

    private static ReadOnlySpan<T> Plane<T>(Tensor t, int p, int n) where T : unmanaged => t.Storage.As<T>().AsSpan(t.Offset + p * n, n);

    private static Span<T> PlaneOut<T>(Tensor t, int p, int n) where T : unmanaged => t.Storage.As<T>().AsSpan(t.Offset + p * n, n);
}
