namespace Fovea.Backends.Reference;

internal sealed partial class ReferenceBackend
{
    private static readonly double[] Binomial = [1, 4, 6, 4, 1];

    public Tensor PyrDown(Tensor x)
    {
        int h = x._shape[^2], w = x._shape[^1];
        return Resample("pyr_down", x, DownTaps(h), DownTaps(w), h, w, adjoint: false);
    }

    public Tensor PyrDownAdjoint(Tensor gradOutput, int height, int width)
        => Resample("pyr_down adjoint", gradOutput, DownTaps(height), DownTaps(width), height, width, adjoint: true);

    public Tensor PyrUp(Tensor x, int height, int width)
    {
        int h = x._shape[^2], w = x._shape[^1];
        CheckUpSize("pyr_up", h, w, height, width);
        return Resample("pyr_up", x, UpTaps(h, height, rows: true), UpTaps(w, width, rows: false), h, w, adjoint: false);
    }

    public Tensor PyrUpAdd(Tensor x, Tensor addend, bool negate)
    {
        int[] shape = addend._shape;
        int[] expected = (int[])x._shape.Clone();
        expected[^2] = shape[^2];
        expected[^1] = shape[^1];
        ShapeChecks.Same("pyr_up_add", shape, expected);
        if (addend.DType != x.DType) throw new DTypeException("pyr_up_add", $"x and addend must share a dtype, got {x.DType.Name()} and {addend.DType.Name()}");
        var up = Read(PyrUp(x, shape[^2], shape[^1]), shape);
        var a = Read(addend, shape);
        for (int i = 0; i < a.Length; i++) a[i] += negate ? -up[i] : up[i];
        return Write(a, (int[])shape.Clone(), x.DType);
    }

    public Tensor PyrUpAdjoint(Tensor gradOutput, int height, int width)
    {
        int oh = gradOutput._shape[^2], ow = gradOutput._shape[^1];
        CheckUpSize("pyr_up adjoint", height, width, oh, ow);
        return Resample("pyr_up adjoint", gradOutput, UpTaps(height, oh, rows: true), UpTaps(width, ow, rows: false), height, width, adjoint: true);
    }

    private static void CheckUpSize(string op, int h, int w, int oh, int ow)
    {
        if (!PyramidGeometry.IsValidUpSize(h, oh) || !PyramidGeometry.IsValidUpSize(w, ow))
            throw new ShapeException(op, $"output size must be within 1 of twice the input (|out − 2·in| = out mod 2), got [{h}, {w}] -> [{oh}, {ow}]");
    }

    // BORDER_REFLECT_101 by walking: mirror about 0 and n − 1 until inside.
    private static int Reflect(int p, int n)
    {
        if (n == 1) return 0;
        while (p < 0 || p >= n) p = p < 0 ? -p : 2 * (n - 1) - p;
        return p;
    }

    // The taps of output sample i of PyrDown along an axis of n: in[r(2i + k − 2)] with weight b_k / 16.
    private static (int In, double W)[][] DownTaps(int n)
    {
        var taps = new (int, double)[PyramidGeometry.DownSize(n)][];
        for (int i = 0; i < taps.Length; i++) taps[i] = [.. Enumerable.Range(0, 5).Select(k => (Reflect(2 * i + k - 2, n), Binomial[k] / 16))];
        return taps;
    }

    // PyrUp along an axis from n to m: the zero-inserted signal u(2s) = in[s] over 2n samples, reflected, filtered by b / 8
    // (the two axes give OpenCV's 4·b bᵀ / 256). Sample 2n of a 2n + 1 output is sample 2n − 2 along y and 2n − 1 along x.
    private static (int In, double W)[][] UpTaps(int n, int m, bool rows)
    {
        var taps = new (int, double)[m][];
        for (int y = 0; y < m; y++)
        {
            int at = y < 2 * n ? y : rows ? 2 * n - 2 : 2 * n - 1;
            taps[y] = [.. Enumerable.Range(0, 5)
                .Select(k => (P: Reflect(at + k - 2, 2 * n), W: Binomial[k] / 8))
                .Where(t => t.P % 2 == 0)
                .Select(t => (t.P / 2, t.W))];
        }
        return taps;
    }

    // Forward: out[p, oy, ox] = Σ wy·wx·in[p, iy, ix] over the taps; adjoint: in[p, iy, ix] += wy·wx·out[p, oy, ox].
    // srcH, srcW are the forward operator's input extents.
    private static Tensor Resample(string op, Tensor x, (int In, double W)[][] tapsY, (int In, double W)[][] tapsX, int srcH, int srcW, bool adjoint)
    {
        if (x.DType is not (DType.Float32 or DType.Float64)) throw new DTypeException(op, $"expects float32 or float64, got {x.DType.Name()}");
        int oh = tapsY.Length, ow = tapsX.Length;
        (int inH, int inW) = adjoint ? (oh, ow) : (srcH, srcW);
        (int outH, int outW) = adjoint ? (srcH, srcW) : (oh, ow);
        if (x.Rank < 2 || x._shape[^2] != inH || x._shape[^1] != inW)
            throw new ShapeException(op, $"expects planes of [{inH}, {inW}], got {ShapeChecks.Format(x._shape)}");
        var src = Read(x, x._shape);
        int[] shape = (int[])x._shape.Clone();
        shape[^2] = outH;
        shape[^1] = outW;
        int planes = inH * inW == 0 ? 0 : src.Length / (inH * inW);
        var dst = new double[planes * outH * outW];
        for (int p = 0; p < planes; p++)
            for (int oy = 0; oy < oh; oy++)
                for (int ox = 0; ox < ow; ox++)
                    foreach (var (iy, wy) in tapsY[oy])
                        foreach (var (ix, wx) in tapsX[ox])
                        {
                            if (adjoint) dst[(p * srcH + iy) * srcW + ix] += wy * wx * src[(p * oh + oy) * ow + ox];
                            else dst[(p * oh + oy) * ow + ox] += wy * wx * src[(p * srcH + iy) * srcW + ix];
                        }
        return Write(dst, shape, x.DType);
    }

    public Tensor SeparableFilter2d(Tensor x, Tensor kernelX, Tensor kernelY)
    {
        if (x.DType != DType.Float32) throw new DTypeException("separable_filter2d", $"expects float32, got {x.DType.Name()}");
        foreach (var k in new[] { kernelX, kernelY })
            if (k.DType != DType.Float32 || k.Rank != 1 || k._shape[0] % 2 == 0)
                throw new ShapeException("separable_filter2d", $"kernels must be 1-d float32 of odd length, got {ShapeChecks.Format(k._shape)} ({k.DType.Name()})");
        int h = x._shape[^2], w = x._shape[^1];
        var src = Read(x, x._shape);
        var kx = Read(kernelX, kernelX._shape);
        var ky = Read(kernelY, kernelY._shape);
        int rx = kx.Length / 2, ry = ky.Length / 2;
        var dst = new double[src.Length];
        for (int p = 0; p < src.Length / (h * w); p++)
            for (int y = 0; y < h; y++)
                for (int x0 = 0; x0 < w; x0++)
                {
                    double acc = 0;
                    for (int i = 0; i < ky.Length; i++)
                        for (int j = 0; j < kx.Length; j++)
                            acc += ky[i] * kx[j] * src[(p * h + Reflect(y + i - ry, h)) * w + Reflect(x0 + j - rx, w)];
                    dst[(p * h + y) * w + x0] = acc;
                }
        return Write(dst, (int[])x._shape.Clone(), DType.Float32);
    }

    public Tensor MatchTemplate(Tensor image, Tensor template, TemplateMatchMethod method, Tensor? output = null)
    {
        foreach (var t in new[] { image, template })
        {
            if (t.Rank != 2 || t.Numel == 0) throw new ShapeException("match_template", $"expects non-empty planes [H, W], got {ShapeChecks.Format(t._shape)}");
            if (t.DType != DType.Float32) throw new DTypeException("match_template", $"expects float32, got {t.DType.Name()}");
        }
        int h = image._shape[0], w = image._shape[1], th = template._shape[0], tw = template._shape[1];
        if (th > h || tw > w)
            throw new ShapeException("match_template", $"template must fit inside the image, got template {ShapeChecks.Format(template._shape)} and image {ShapeChecks.Format(image._shape)}");
        if (!Enum.IsDefined(method)) throw new ArgumentOutOfRangeException(nameof(method), method, "match_template: unknown method.");
        var scores = MatchTemplateOutput.Prepare(output, image, template);
        var img = Read(image, image._shape);
        var tpl = Read(template, template._shape);
        int n = th * tw, oh = h - th + 1, ow = w - tw + 1;
        double tMean = tpl.Sum() / n, tEnergy = tpl.Sum(v => v * v), tVar = tpl.Sum(v => (v - tMean) * (v - tMean));
        const double flatEpsilon = 10 * 1.1920928955078125e-7;
        var dst = new double[oh * ow];
        for (int y = 0; y < oh; y++)
            for (int x = 0; x < ow; x++)
            {
                double iSum = 0, iEnergy = 0, cross = 0, sq = 0;
                for (int j = 0; j < th; j++)
                    for (int i = 0; i < tw; i++)
                    {
                        double v = img[(y + j) * w + x + i], t = tpl[j * tw + i];
                        iSum += v;
                        iEnergy += v * v;
                        cross += v * t;
                        sq += (t - v) * (t - v);
                    }
                double iMean = iSum / n, centred = 0, iVar = 0;
                if (method is TemplateMatchMethod.CCoeff or TemplateMatchMethod.CCoeffNormed)
                    for (int j = 0; j < th; j++)
                        for (int i = 0; i < tw; i++)
                        {
                            double v = img[(y + j) * w + x + i] - iMean;
                            centred += v * (tpl[j * tw + i] - tMean);
                            iVar += v * v;
                        }
                double energies = Math.Sqrt(tEnergy * iEnergy);
                dst[y * ow + x] = method switch
                {
                    TemplateMatchMethod.SqDiff => sq,
                    TemplateMatchMethod.SqDiffNormed => energies > 0 ? Math.Min(sq / energies, 1) : 1,
                    TemplateMatchMethod.CCorr => cross,
                    TemplateMatchMethod.CCorrNormed => energies > 0 ? Math.Clamp(cross / energies, -1, 1) : 0,
                    TemplateMatchMethod.CCoeff => centred,
                    _ => tVar <= flatEpsilon * tEnergy || iVar <= Math.Min(0.5, flatEpsilon * iEnergy)
                        ? 0
                        : Math.Clamp(centred / Math.Sqrt(tVar * iVar), -1, 1),
                };
            }
        for (int i = 0; i < dst.Length; i++) SetFromDouble(scores, scores.Offset + i, dst[i]);
        if (output is not null) scores.Storage.BumpVersion();
        return scores;
    }

    public (Tensor Re, Tensor Im) Fft2d(Tensor re, Tensor im, bool inverse)
    {
        ShapeChecks.Same("fft2d", re._shape, im._shape);
        if (re.DType != DType.Float64 || im.DType != DType.Float64)
            throw new DTypeException("fft2d", $"expects float64 real and imaginary parts, got {re.DType.Name()} and {im.DType.Name()}");
        if (re.Rank < 2) throw new ShapeException("fft2d", $"expects planes in the last two dims, got {ShapeChecks.Format(re._shape)}");
        int h = re._shape[^2], w = re._shape[^1];
        var r = Read(re, re._shape);
        var i = Read(im, im._shape);
        if (h * w > 0)
        {
            // The definition, one axis at a time: along x (lines of step 1), then along y (lines of step w).
            for (int p = 0; p < r.Length / (h * w); p++)
            {
                for (int y = 0; y < h; y++) Dft(r, i, (p * h + y) * w, 1, w, inverse);
                for (int x = 0; x < w; x++) Dft(r, i, p * h * w + x, w, h, inverse);
            }
        }
        return (Write(r, (int[])re._shape.Clone(), DType.Float64), Write(i, (int[])im._shape.Clone(), DType.Float64));
    }

    // X[k] = Σ_j x[j] e^{∓2πi jk/n} (÷ n for the inverse) on the line start + j·step, in place.
    private static void Dft(double[] re, double[] im, int start, int step, int n, bool inverse)
    {
        var outRe = new double[n];
        var outIm = new double[n];
        double sign = inverse ? 1 : -1;
        for (int k = 0; k < n; k++)
            for (int j = 0; j < n; j++)
            {
                // jk mod n keeps the angle small, so the twiddle is exact to rounding however long the line.
                double angle = sign * 2 * Math.PI * ((long)j * k % n) / n;
                double c = Math.Cos(angle), s = Math.Sin(angle);
                double a = re[start + j * step], b = im[start + j * step];
                outRe[k] += a * c - b * s;
                outIm[k] += a * s + b * c;
            }
        for (int k = 0; k < n; k++)
        {
            re[start + k * step] = inverse ? outRe[k] / n : outRe[k];
            im[start + k * step] = inverse ? outIm[k] / n : outIm[k];
        }
    }
}
