namespace Fovea.Onnx.Import;

internal static partial class OnnxOperators
{
    /// <summary>
    /// Resize (opset 10+) and Upsample (7–9) of the last two dims of [N, C, H, W], nearest or linear. Each axis is a
    /// linear map, so y = A_h · x · A_wᵀ with A [out, in] built from ONNX's coordinate transform (x_orig of an output
    /// index x with scale s = out/in, or the given scale): half_pixel (x + ½)/s − ½, pytorch_half_pixel (the same, 0
    /// when out = 1), align_corners x·(in − 1)/(out − 1), asymmetric x/s. Nearest rounds x_orig by nearest_mode;
    /// linear weighs ⌊x_orig⌋ and the next index by distance, x_orig clamped to [0, in − 1]. Differentiable to any order.
    /// </summary>
    private static OnnxKernel Resize(OnnxNode n)
    {
        string mode = n.String("mode", "nearest");
        if (mode is not ("nearest" or "linear")) throw n.Unsupported("mode", mode, "expected nearest or linear");
        string transform = n.Opset >= 11 ? n.String("coordinate_transformation_mode", "half_pixel") : "asymmetric";
        if (transform is not ("half_pixel" or "pytorch_half_pixel" or "align_corners" or "asymmetric"))
            throw n.Unsupported("coordinate_transformation_mode", transform, "expected half_pixel, pytorch_half_pixel, align_corners or asymmetric");
        string nearest = n.Opset >= 11 ? n.String("nearest_mode", "round_prefer_floor") : "floor";
        if (nearest is not ("round_prefer_floor" or "round_prefer_ceil" or "floor" or "ceil"))
            throw n.Unsupported("nearest_mode", nearest, "expected round_prefer_floor, round_prefer_ceil, floor or ceil");
        if (n.Opset >= 11)
        {
            n.Float("cubic_coeff_a", -0.75f);
            if (n.Int("exclude_outside", 0) != 0) throw n.Unsupported("exclude_outside", 1L, "applies to cubic mode only");
            n.Float("extrapolation_value", 0);
        }
        if (n.Opset >= 18)
        {
            if (n.Int("antialias", 0) != 0) throw n.Unsupported("antialias", 1L, "anti-aliased resizing is not supported");
            if (n.Ints("axes") is { } axes) throw n.Unsupported("axes", axes, "give scales or sizes for every dim");
            string policy = n.String("keep_aspect_ratio_policy", "stretch");
            if (policy != "stretch") throw n.Unsupported("keep_aspect_ratio_policy", policy, "only stretch is supported");
        }
        return (run, i) =>
        {
            var x = Spatial(run, i, n);
            // Opset 10: inputs (X, scales); 11+: (X, roi, scales, sizes), roi used only by tf_crop_and_resize.
            var scalesValue = n.Opset == 10 ? (i.Length > 1 ? i[1] : null) : i.Length > 2 ? i[2] : null;
            var sizesValue = n.Opset >= 11 && i.Length > 3 ? i[3] : null;
            double[]? scales = scalesValue is not null && scalesValue.Shape.Aggregate(1, (a, d) => a * d) > 0 ? scalesValue.AsReals() : null;
            long[]? sizes = sizesValue?.AsIntegers($"{n.Where}: sizes");
            return One(ResizeSpatial(n, x, scales, sizes, mode, transform, nearest));
        };
    }

    /// <summary>Upsample (opset 7–9): scales as an attribute (7–8) or input (9), nearest or (bi)linear, asymmetric coordinates.</summary>
    private static OnnxKernel Upsample(OnnxNode n)
    {
        string mode = n.String("mode", "nearest");
        if (mode == "bilinear") mode = "linear";
        if (mode is not ("nearest" or "linear")) throw n.Unsupported("mode", mode, "expected nearest or linear");
        double[]? attrScales = n.Opset < 9 ? n.Floats("scales")?.Select(v => (double)v).ToArray() : null;
        if (n.Opset < 9 && attrScales is null) throw n.Error("attribute 'scales' is required");
        return (run, i) =>
        {
            var x = Spatial(run, i, n);
            var scales = attrScales ?? (i.Length > 1 ? i[1] : null)?.AsReals() ?? throw n.Error("input 1 (scales) is required");
            return One(ResizeSpatial(n, x, scales, null, mode, "asymmetric", "floor"));
        };
    }

    private static Tensor ResizeSpatial(OnnxNode n, Tensor x, double[]? scales, long[]? sizes, string mode, string transform, string nearest)
    {
        var shape = x.Shape;
        if ((scales is null) == (sizes is null)) throw n.Error("give exactly one of scales and sizes");
        if ((scales?.Length ?? sizes!.Length) != 4) throw n.Error($"scales or sizes must have 4 values for an input [N, C, H, W]");
        var outSize = new int[2];
        var scale = new double[2];
        for (int d = 0; d < 4; d++)
        {
            long size = sizes is not null ? sizes[d] : (long)Math.Floor(shape[d] * scales![d]);
            if (d < 2)
            {
                if (size != shape[d]) throw n.Error($"resizing dim {d} ({shape[d]} to {size}) is not supported; only H and W may change");
                continue;
            }
            if (size < 1 || size > 1 << 20) throw n.Error($"output size {size} for dim {d} is invalid");
            outSize[d - 2] = (int)size;
            scale[d - 2] = sizes is not null ? (double)size / shape[d] : scales![d];
        }
        var ah = ResizeMatrix(shape[2], outSize[0], scale[0], mode, transform, nearest, x.DType);
        var aw = ResizeMatrix(shape[3], outSize[1], scale[1], mode, transform, nearest, x.DType);
        return ah.MatMul(x).MatMul(aw.T);
    }

    /// <summary>[out, in]: row o holds the weights with which output o mixes the inputs along one axis.</summary>
    private static Tensor ResizeMatrix(int inSize, int outSize, double scale, string mode, string transform, string nearest, DType dtype)
    {
        var m = new double[outSize * inSize];
        for (int o = 0; o < outSize; o++)
        {
            double src = transform switch
            {
                "half_pixel" => (o + 0.5) / scale - 0.5,
                "pytorch_half_pixel" => outSize > 1 ? (o + 0.5) / scale - 0.5 : 0,
                "align_corners" => outSize > 1 ? o * (inSize - 1.0) / (outSize - 1.0) : 0,
                _ => o / scale,
            };
            if (mode == "nearest")
            {
                double rounded = nearest switch
                {
                    "floor" => Math.Floor(src),
                    "ceil" => Math.Ceiling(src),
                    "round_prefer_ceil" => Math.Floor(src + 0.5),
                    _ => src - Math.Floor(src) == 0.5 ? Math.Floor(src) : Math.Round(src, MidpointRounding.AwayFromZero),
                };
                m[o * inSize + (int)Math.Clamp(rounded, 0, inSize - 1)] = 1;
            }
            else
            {
                double c = Math.Clamp(src, 0, inSize - 1);
                int i0 = (int)Math.Floor(c);
                int i1 = Math.Min(i0 + 1, inSize - 1);
                double l1 = c - i0;
                m[o * inSize + i0] += 1 - l1;
                m[o * inSize + i1] += l1;
            }
        }
        return dtype == DType.Float64 ? Tensor.FromArray(m, outSize, inSize) : Tensor.FromArray(Array.ConvertAll(m, v => (float)v), outSize, inSize);
    }
}
