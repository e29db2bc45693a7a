namespace Fovea.Onnx.Tests;

/// <summary>
/// One small model per operator and attribute variant, written here with the generated protobuf classes, run in ONNX
/// Runtime and in Fovea on the same input: the outputs agree to 1e-4 relative.
/// </summary>
public sealed class OperatorTests
{
    private static readonly Random Seeds = new(7);

    private static float[] Rand(params int[] shape) => OrtAgreement.RandomValues(new Random(shape.Aggregate(17, (a, d) => a * 31 + d)), shape);

    private static float[] Positive(params int[] shape) => [.. Rand(shape).Select(v => Math.Abs(v) + 0.5f)];

    private static long[] L(params int[] v) => [.. v.Select(x => (long)x)];

    private static OnnxModelBuilder Model(int opset, string input, params long[] shape) => new OnnxModelBuilder(opset).Input(input, shape);

    // ---- Convolution ----

    public static TheoryData<string, int, (string, object)[]> ConvCases => new()
    {
        { "plain", 13, [] },
        { "pads symmetric, stride 2", 13, [("pads", L(1, 1, 1, 1)), ("strides", L(2, 2))] },
        { "pads asymmetric", 13, [("pads", L(0, 1, 2, 0))] },
        { "dilations", 11, [("dilations", L(2, 2)), ("pads", L(2, 2, 2, 2))] },
        { "auto_pad SAME_UPPER stride 2", 11, [("auto_pad", "SAME_UPPER"), ("strides", L(2, 2))] },
        { "auto_pad SAME_LOWER stride 2", 11, [("auto_pad", "SAME_LOWER"), ("strides", L(2, 2))] },
        { "auto_pad VALID", 7, [("auto_pad", "VALID")] },
        { "kernel_shape given, opset 21", 21, [("kernel_shape", L(3, 3)), ("strides", L(1, 2))] },
    };

    [Theory]
    [MemberData(nameof(ConvCases))]
    public void Conv(string variant, int opset, (string, object)[] attributes)
    {
        var b = Model(opset, "x", -1, 4, 9, 8).Initializer("w", Rand(6, 4, 3, 3), 6, 4, 3, 3).Initializer("b", Rand(6), 6)
            .Node("Conv", ["x", "w", "b"], ["y"], attributes).Output("y");
        OrtAgreement.Check($"Conv {variant}", b, ("x", [2, 4, 9, 8]));
    }

    [Theory]
    // Uneven pads on sizes where the start's pads at both ends give as many windows (CNTK's ResNet-18: 1, 1, 0, 0 on its
    // stride-2 layers, 3, 3, 2, 2 on its 7x7 stem), so the convolution reads the input in place; and 0, 0, 1, 1, where
    // they do not (one window fewer), so the input is zero-padded first.
    [InlineData(new long[] { 1, 1, 0, 0 }, 3)]
    [InlineData(new long[] { 3, 3, 2, 2 }, 7)]
    [InlineData(new long[] { 0, 0, 1, 1 }, 3)]
    [InlineData(new long[] { 2, 1, 1, 0 }, 5)]
    public void Conv_with_asymmetric_pads_at_stride_2(long[] pads, int kernel)
    {
        var b = Model(8, "x", -1, 3, 16, 14).Initializer("w", Rand(5, 3, kernel, kernel), 5, 3, kernel, kernel).Initializer("b", Rand(5), 5)
            .Node("Conv", ["x", "w", "b"], ["y"], [("strides", L(2, 2)), ("pads", pads)]).Output("y");
        OrtAgreement.Check($"Conv pads {string.Join(' ', pads)}", b, ("x", [2, 3, 16, 14]));
    }

    [Fact]
    public void ConvGroupedWithoutBias()
    {
        var b = Model(13, "x", -1, 4, 7, 7).Initializer("w", Rand(8, 2, 3, 3), 8, 2, 3, 3)
            .Node("Conv", ["x", "w"], ["y"], ("group", 2L), ("pads", L(1, 1, 1, 1))).Output("y");
        OrtAgreement.Check("Conv group 2, no bias", b, ("x", [2, 4, 7, 7]));
    }

    [Fact]
    public void ConvDepthwise()
    {
        var b = Model(13, "x", -1, 4, 7, 7).Initializer("w", Rand(4, 1, 3, 3), 4, 1, 3, 3)
            .Node("Conv", ["x", "w"], ["y"], ("group", 4L)).Output("y");
        OrtAgreement.Check("Conv depthwise", b, ("x", [1, 4, 7, 7]));
    }

    public static TheoryData<string, (string, object)[]> ConvTransposeCases => new()
    {
        { "stride 2", [("strides", L(2, 2))] },
        { "stride 2 pads 1 output_padding 1", [("strides", L(2, 2)), ("pads", L(1, 1, 1, 1)), ("output_padding", L(1, 1))] },
        { "asymmetric pads", [("strides", L(2, 2)), ("pads", L(0, 1, 1, 0))] },
        { "output_shape", [("strides", L(2, 2)), ("output_shape", L(10, 11))] },
        { "dilations group 2", [("dilations", L(2, 2)), ("group", 2L)] },
        { "auto_pad SAME_UPPER", [("strides", L(2, 2)), ("auto_pad", "SAME_UPPER")] },
    };

    [Theory]
    [MemberData(nameof(ConvTransposeCases))]
    public void ConvTranspose(string variant, (string, object)[] attributes)
    {
        var b = Model(13, "x", -1, 4, 5, 5).Initializer("w", Rand(4, 3, 3, 3), 4, 3, 3, 3).Initializer("b", Rand(attributes.Any(a => a.Item1 == "group") ? 6 : 3), attributes.Any(a => a.Item1 == "group") ? 6 : 3)
            .Node("ConvTranspose", ["x", "w", "b"], ["y"], attributes).Output("y");
        OrtAgreement.Check($"ConvTranspose {variant}", b, ("x", [2, 4, 5, 5]));
    }

    [Theory]
    [InlineData(9)]
    [InlineData(15)]
    public void BatchNormalization(int opset)
    {
        var b = Model(opset, "x", -1, 3, 4, 5).Initializer("s", Rand(3), 3).Initializer("bias", Rand(3), 3)
            .Initializer("mean", Rand(3), 3).Initializer("var", Positive(3), 3)
            .Node("BatchNormalization", ["x", "s", "bias", "mean", "var"], ["y"], ("epsilon", 1e-3f), ("momentum", 0.8f)).Output("y");
        OrtAgreement.Check($"BatchNormalization opset {opset}", b, ("x", [2, 3, 4, 5]));
    }

    [Fact]
    public void BatchNormalizationOpset7WithSpatial()
    {
        var b = Model(7, "x", -1, 3, 4, 5).Initializer("s", Rand(3), 3).Initializer("bias", Rand(3), 3)
            .Initializer("mean", Rand(3), 3).Initializer("var", Positive(3), 3)
            .Node("BatchNormalization", ["x", "s", "bias", "mean", "var"], ["y"], ("spatial", 1L)).Output("y");
        OrtAgreement.Check("BatchNormalization opset 7 spatial", b, ("x", [2, 3, 4, 5]));
    }

    // ---- Activations ----

    [Theory]
    [InlineData("Relu")]
    [InlineData("Sigmoid")]
    [InlineData("Tanh")]
    [InlineData("LeakyRelu")]
    [InlineData("Elu")]
    [InlineData("Identity")]
    public void Activation(string op)
    {
        var b = Model(13, "x", -1, 3, 4).Node(op, ["x"], ["y"]).Output("y");
        OrtAgreement.Check(op, b, ("x", [2, 3, 4]));
    }

    [Fact]
    public void ActivationAttributes()
    {
        OrtAgreement.Check("LeakyRelu alpha 0.2", Model(13, "x", -1, 5).Node("LeakyRelu", ["x"], ["y"], ("alpha", 0.2f)).Output("y"), ("x", [3, 5]));
        OrtAgreement.Check("Elu alpha 0.5", Model(13, "x", -1, 5).Node("Elu", ["x"], ["y"], ("alpha", 0.5f)).Output("y"), ("x", [3, 5]));
    }

    [Theory]
    [InlineData("per channel [C,1,1]", new[] { 3, 1, 1 })]
    [InlineData("shared [1]", new[] { 1 })]
    public void PRelu(string variant, int[] slopeShape)
    {
        var b = Model(9, "x", -1, 3, 4, 4).Initializer("a", Rand(slopeShape), [.. slopeShape.Select(d => (long)d)])
            .Node("PRelu", ["x", "a"], ["y"]).Output("y");
        OrtAgreement.Check($"PRelu {variant}", b, ("x", [2, 3, 4, 4]));
    }

    [Theory]
    [InlineData("Softmax", 11, 1)]
    [InlineData("Softmax", 11, 2)]
    [InlineData("Softmax", 13, 1)]
    [InlineData("Softmax", 13, -1)]
    [InlineData("LogSoftmax", 11, 1)]
    [InlineData("LogSoftmax", 13, 1)]
    public void Softmax(string op, int opset, int axis)
    {
        var b = Model(opset, "x", -1, 3, 4).Node(op, ["x"], ["y"], ("axis", (long)axis)).Output("y");
        OrtAgreement.Check($"{op} opset {opset} axis {axis}", b, ("x", [2, 3, 4]));
    }

    [Theory]
    [InlineData("Softmax", 9)]
    [InlineData("Softmax", 13)]
    [InlineData("LogSoftmax", 9)]
    [InlineData("LogSoftmax", 13)]
    public void SoftmaxDefaultAxis(string op, int opset)
    {
        var b = Model(opset, "x", -1, 3, 4).Node(op, ["x"], ["y"]).Output("y");
        OrtAgreement.Check($"{op} opset {opset} default axis", b, ("x", [2, 3, 4]));
    }

    // ---- Pooling ----

    public static TheoryData<string, int, (string, object)[]> MaxPoolCases => new()
    {
        { "2x2 stride 2", 12, [("kernel_shape", L(2, 2)), ("strides", L(2, 2))] },
        { "3x3 stride 2 pads 1", 12, [("kernel_shape", L(3, 3)), ("strides", L(2, 2)), ("pads", L(1, 1, 1, 1))] },
        { "ceil_mode", 12, [("kernel_shape", L(3, 3)), ("strides", L(2, 2)), ("ceil_mode", 1L)] },
        { "dilations", 12, [("kernel_shape", L(2, 2)), ("dilations", L(2, 2))] },
        { "asymmetric pads", 12, [("kernel_shape", L(3, 3)), ("strides", L(2, 2)), ("pads", L(0, 1, 1, 0))] },
        // Asymmetric: as the start's pads at both ends, rounding down or up (CNTK's ResNet stem has pads 1, 1, 0, 0) …
        { "pads 1 1 0 0", 8, [("kernel_shape", L(3, 3)), ("strides", L(2, 2)), ("pads", L(1, 1, 0, 0))] },
        { "pads 0 0 1 1", 8, [("kernel_shape", L(3, 3)), ("strides", L(2, 2)), ("pads", L(0, 0, 1, 1))] },
        { "pads 1 0 2 1 ceil_mode", 12, [("kernel_shape", L(3, 3)), ("strides", L(2, 2)), ("pads", L(1, 0, 2, 1)), ("ceil_mode", 1L)] },
        // … unless that would change the output size (a padded copy then).
        { "pads 0 0 2 2", 12, [("kernel_shape", L(3, 3)), ("strides", L(2, 2)), ("pads", L(0, 0, 2, 2))] },
        { "auto_pad SAME_UPPER", 12, [("kernel_shape", L(3, 3)), ("strides", L(2, 2)), ("auto_pad", "SAME_UPPER")] },
        { "default stride 1, opset 8", 8, [("kernel_shape", L(2, 3))] },
    };

    [Theory]
    [MemberData(nameof(MaxPoolCases))]
    public void MaxPool(string variant, int opset, (string, object)[] attributes)
    {
        var b = Model(opset, "x", -1, 3, 9, 8).Node("MaxPool", ["x"], ["y"], attributes).Output("y");
        OrtAgreement.Check($"MaxPool {variant}", b, ("x", [2, 3, 9, 8]));
    }

    [Theory]
    // Even sizes, where these asymmetric pads give as many windows as the start's pads at both ends (rounding down for
    // 1, 1, 0, 0 as in CNTK's ResNet-18 stem, up for 0, 0, 1, 1): the pooling runs without a padded copy.
    [InlineData(new long[] { 1, 1, 0, 0 }, 0L)]
    [InlineData(new long[] { 0, 0, 1, 1 }, 0L)]
    [InlineData(new long[] { 1, 0, 0, 1 }, 1L)]
    public void MaxPool_with_asymmetric_pads_on_even_sizes(long[] pads, long ceilMode)
    {
        var b = Model(12, "x", -1, 3, 12, 10).Node("MaxPool", ["x"], ["y"],
            [("kernel_shape", L(3, 3)), ("strides", L(2, 2)), ("pads", pads), ("ceil_mode", ceilMode)]).Output("y");
        OrtAgreement.Check($"MaxPool pads {string.Join(' ', pads)} ceil {ceilMode}", b, ("x", [2, 3, 12, 10]));
    }

    public static TheoryData<string, (string, object)[]> AveragePoolCases => new()
    {
        { "2x2 stride 2", [("kernel_shape", L(2, 2)), ("strides", L(2, 2))] },
        { "pads 1 count_include_pad 0", [("kernel_shape", L(3, 3)), ("strides", L(2, 2)), ("pads", L(1, 1, 1, 1))] },
        { "pads 1 count_include_pad 1", [("kernel_shape", L(3, 3)), ("strides", L(2, 2)), ("pads", L(1, 1, 1, 1)), ("count_include_pad", 1L)] },
        { "asymmetric pads count_include_pad 0", [("kernel_shape", L(3, 3)), ("pads", L(0, 1, 2, 0))] },
        { "asymmetric pads count_include_pad 1", [("kernel_shape", L(3, 3)), ("pads", L(0, 1, 2, 0)), ("count_include_pad", 1L)] },
        { "asymmetric pads ceil_mode", [("kernel_shape", L(3, 3)), ("strides", L(2, 2)), ("pads", L(1, 0, 2, 1)), ("ceil_mode", 1L)] },
        { "ceil_mode", [("kernel_shape", L(3, 3)), ("strides", L(2, 2)), ("ceil_mode", 1L)] },
    };

    [Theory]
    [MemberData(nameof(AveragePoolCases))]
    public void AveragePool(string variant, (string, object)[] attributes)
    {
        var b = Model(12, "x", -1, 3, 9, 8).Node("AveragePool", ["x"], ["y"], attributes).Output("y");
        OrtAgreement.Check($"AveragePool {variant}", b, ("x", [2, 3, 9, 8]));
    }

    [Theory]
    [InlineData("GlobalAveragePool")]
    [InlineData("GlobalMaxPool")]
    public void GlobalPool(string op)
    {
        OrtAgreement.Check(op, Model(13, "x", -1, 3, 5, 6).Node(op, ["x"], ["y"]).Output("y"), ("x", [2, 3, 5, 6]));
    }

    [Fact]
    public void Lrn()
    {
        var b = Model(13, "x", -1, 7, 4, 4).Node("LRN", ["x"], ["y"], ("size", 3L), ("alpha", 0.01f), ("beta", 0.75f), ("bias", 2f)).Output("y");
        OrtAgreement.Check("LRN size 3", b, ("x", [2, 7, 4, 4]));
        var defaults = Model(13, "x", -1, 7, 4, 4).Node("LRN", ["x"], ["y"], ("size", 5L)).Output("y");
        OrtAgreement.Check("LRN size 5 defaults", defaults, ("x", [2, 7, 4, 4]));
    }

    // ---- Linear algebra and arithmetic ----

    public static TheoryData<string, bool, bool, float, float, int[]> GemmCases => new()
    {
        { "layer (transB)", false, true, 1f, 1f, [5] },
        { "transA", true, false, 1f, 1f, [5] },
        { "alpha beta", false, false, 0.5f, 2f, [1, 5] },
        { "C matrix", true, true, 1.5f, 0.25f, [3, 5] },
        { "C scalar", false, true, 1f, 1f, [1] },
    };

    [Theory]
    [MemberData(nameof(GemmCases))]
    public void Gemm(string variant, bool transA, bool transB, float alpha, float beta, int[] cShape)
    {
        int[] aShape = transA ? [4, 3] : [3, 4];
        long[] bShape = transB ? [5, 4] : [4, 5];
        var b = new OnnxModelBuilder(13).Input("a", [.. aShape.Select(d => (long)d)])
            .Initializer("b", Rand([.. bShape.Select(d => (int)d)]), bShape).Initializer("c", Rand(cShape), [.. cShape.Select(d => (long)d)])
            .Node("Gemm", ["a", "b", "c"], ["y"], ("transA", transA ? 1L : 0L), ("transB", transB ? 1L : 0L), ("alpha", alpha), ("beta", beta)).Output("y");
        OrtAgreement.Check($"Gemm {variant}", b, ("a", aShape));
    }

    [Theory]
    [InlineData("2-d", new[] { 3, 4 }, new[] { 4, 5 })]
    [InlineData("batched broadcast", new[] { 2, 3, 4 }, new[] { 4, 5 })]
    [InlineData("vector", new[] { 2, 3, 4 }, new[] { 4 })]
    public void MatMul(string variant, int[] a, int[] w)
    {
        var b = new OnnxModelBuilder(13).Input("a", [.. a.Select(d => (long)d)]).Initializer("w", Rand(w), [.. w.Select(d => (long)d)])
            .Node("MatMul", ["a", "w"], ["y"]).Output("y");
        OrtAgreement.Check($"MatMul {variant}", b, ("a", a));
    }

    [Theory]
    [InlineData("Add")]
    [InlineData("Sub")]
    [InlineData("Mul")]
    [InlineData("Div")]
    public void Broadcasting(string op)
    {
        var b = Model(13, "x", -1, 3, 4, 5).Initializer("c", Positive(3, 1, 5), 3, 1, 5).Node(op, ["x", "c"], ["y"]).Output("y");
        OrtAgreement.Check($"{op} broadcast [N,3,4,5] with [3,1,5]", b, ("x", [2, 3, 4, 5]));
        var two = new OnnxModelBuilder(7).Input("x", 4, 1).Input("z", 3).Node(op, ["x", "z"], ["y"]).Output("y");
        OrtAgreement.Check($"{op} two inputs [4,1] with [3], opset 7", two.ToBytes(),
            [("x", Rand(4, 1), [4, 1]), ("z", Positive(3), [3])]);
    }

    [Fact]
    public void Sum()
    {
        var b = new OnnxModelBuilder(13).Input("x", 2, 3).Initializer("c", Rand(3), 3).Initializer("d", Rand(2, 1), 2, 1)
            .Node("Sum", ["x", "c", "d"], ["y"]).Output("y");
        OrtAgreement.Check("Sum of three, broadcasting", b, ("x", [2, 3]));
    }

    [Theory]
    [InlineData(7)]
    [InlineData(12)]
    public void Dropout(int opset)
    {
        var b = Model(opset, "x", -1, 6).Node("Dropout", ["x"], ["y"], opset < 12 ? [("ratio", 0.3f)] : []).Output("y");
        OrtAgreement.Check($"Dropout opset {opset} (inference)", b, ("x", [3, 6]));
    }

    [Theory]
    [InlineData(9)]
    [InlineData(13)]
    public void Clip(int opset)
    {
        var b = Model(opset, "x", -1, 6);
        if (opset < 11) b.Node("Clip", ["x"], ["y"], ("min", -0.3f), ("max", 0.4f));
        else b.Initializer("lo", [-0.3f]).Initializer("hi", [0.4f]).Node("Clip", ["x", "lo", "hi"], ["y"]);
        OrtAgreement.Check($"Clip opset {opset} ({(opset < 11 ? "attributes" : "inputs")})", b.Output("y"), ("x", [3, 6]));
        var onlyMax = Model(13, "x", -1, 6).Initializer("hi", [0.2f]).Node("Clip", ["x", "", "hi"], ["y"]).Output("y");
        if (opset >= 11) OrtAgreement.Check("Clip opset 13 max only", onlyMax, ("x", [3, 6]));
    }

    [Theory]
    [InlineData(13, true)]
    [InlineData(13, false)]
    [InlineData(18, true)]
    public void ReduceMean(int opset, bool keep)
    {
        var b = Model(opset, "x", -1, 3, 4, 5);
        if (opset < 18) b.Node("ReduceMean", ["x"], ["y"], ("axes", L(2, -1)), ("keepdims", keep ? 1L : 0L));
        else b.Int64Initializer("axes", [2, -1], 2).Node("ReduceMean", ["x", "axes"], ["y"], ("keepdims", keep ? 1L : 0L));
        OrtAgreement.Check($"ReduceMean opset {opset} keepdims {(keep ? 1 : 0)}", b.Output("y"), ("x", [2, 3, 4, 5]));
        OrtAgreement.Check($"ReduceMean opset {opset} all axes", Model(opset, "x", -1, 3).Node("ReduceMean", ["x"], ["y"]).Output("y"), ("x", [2, 3]));
    }

    // ---- Shapes ----

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(-1)]
    public void Flatten(int axis)
    {
        var b = Model(13, "x", -1, 3, 4, 5).Node("Flatten", ["x"], ["y"], ("axis", (long)axis)).Output("y");
        OrtAgreement.Check($"Flatten axis {axis}", b, ("x", [2, 3, 4, 5]));
    }

    [Fact]
    public void ReshapeWithZeroAndMinusOne()
    {
        var b = Model(13, "x", -1, 3, 4, 5).Int64Initializer("s", [0, -1, 10], 3).Node("Reshape", ["x", "s"], ["y"]).Output("y");
        OrtAgreement.Check("Reshape [0, -1, 10]", b, ("x", [2, 3, 4, 5]));
    }

    [Fact]
    public void ShapeGatherUnsqueezeConcatReshapeChain()
    {
        // What exporters emit for x.view(x.size(0), -1): the batch size read from the input's shape at run time.
        var b = Model(11, "x", -1, 3, 4, 5)
            .Node("Shape", ["x"], ["shape"])
            .Node("Constant", [], ["zero"], ("value", IntScalar(0)))
            .Node("Gather", ["shape", "zero"], ["n"], ("axis", 0L))
            .Node("Unsqueeze", ["n"], ["n1"], ("axes", L(0)))
            .Node("Constant", [], ["minus1"], ("value", IntVector(-1)))
            .Node("Concat", ["n1", "minus1"], ["target"], ("axis", 0L))
            .Node("Reshape", ["x", "target"], ["y"]).Output("y");
        OrtAgreement.Check("Shape-Gather-Unsqueeze-Concat-Reshape flatten (opset 11)", b, ("x", [3, 3, 4, 5]));
        var v13 = Model(13, "x", -1, 3, 4, 5)
            .Node("Shape", ["x"], ["shape"])
            .Int64Initializer("zero", [0])
            .Node("Gather", ["shape", "zero"], ["n"])
            .Int64Initializer("ax", [0], 1)
            .Node("Unsqueeze", ["n", "ax"], ["n1"])
            .Int64Initializer("minus1", [-1], 1)
            .Node("Concat", ["n1", "minus1"], ["target"], ("axis", 0L))
            .Node("Reshape", ["x", "target"], ["y"]).Output("y");
        OrtAgreement.Check("Shape-Gather-Unsqueeze-Concat-Reshape flatten (opset 13)", v13, ("x", [2, 3, 4, 5]));
    }

    private static Protobuf.TensorProto IntScalar(long v)
    {
        var t = new Protobuf.TensorProto { DataType = (int)Protobuf.TensorProto.Types.DataType.Int64 };
        t.Int64Data.Add(v);
        return t;
    }

    private static Protobuf.TensorProto IntVector(params long[] v)
    {
        var t = new Protobuf.TensorProto { DataType = (int)Protobuf.TensorProto.Types.DataType.Int64 };
        t.Dims.Add(v.Length);
        t.Int64Data.AddRange(v);
        return t;
    }

    [Theory]
    [InlineData(null)]
    [InlineData(new[] { 0, 2, 3, 1 })]
    public void Transpose(int[]? perm)
    {
        var b = Model(13, "x", 2, 3, 4, 5).Node("Transpose", ["x"], ["y"], perm is null ? [] : [("perm", L(perm))]).Output("y");
        OrtAgreement.Check($"Transpose {(perm is null ? "default" : string.Join(",", perm))}", b, ("x", [2, 3, 4, 5]));
    }

    [Fact]
    public void ConcatAlongChannels()
    {
        var b = Model(13, "x", -1, 3, 4).Initializer("c", Rand(2, 2, 4), 2, 2, 4).Node("Concat", ["x", "c", "x"], ["y"], ("axis", 1L)).Output("y");
        OrtAgreement.Check("Concat axis 1", b, ("x", [2, 3, 4]));
        var neg = Model(13, "x", -1, 3, 4).Node("Concat", ["x", "x"], ["y"], ("axis", -1L)).Output("y");
        OrtAgreement.Check("Concat axis -1", neg, ("x", [2, 3, 4]));
    }

    [Theory]
    [InlineData(11, true)]
    [InlineData(13, true)]
    [InlineData(13, false)]
    [InlineData(18, false)]
    public void Split(int opset, bool sizes)
    {
        var b = Model(opset, "x", -1, 6, 4);
        (string, object)[] attrs = opset >= 18 && !sizes ? [("axis", 1L), ("num_outputs", 3L)] : opset < 13 && sizes ? [("axis", 1L), ("split", L(1, 2, 3))] : [("axis", 1L)];
        string[] inputs = opset >= 13 && sizes ? ["x", "sizes"] : ["x"];
        if (opset >= 13 && sizes) b.Int64Initializer("sizes", [1, 2, 3], 3);
        b.Node("Split", inputs, ["a", "b", "c"], attrs).Node("Concat", ["c", "a", "b"], ["y"], ("axis", 1L)).Output("y");
        OrtAgreement.Check($"Split opset {opset} {(sizes ? "sizes" : "equal")}", b, ("x", [2, 6, 4]));
    }

    [Theory]
    [InlineData(11)]
    [InlineData(13)]
    public void SqueezeUnsqueeze(int opset)
    {
        var b = Model(opset, "x", -1, 1, 4, 1);
        if (opset < 13) b.Node("Squeeze", ["x"], ["s"], ("axes", L(1, 3))).Node("Unsqueeze", ["s"], ["y"], ("axes", L(0, -1)));
        else b.Int64Initializer("sq", [1, 3], 2).Int64Initializer("un", [0, -1], 2).Node("Squeeze", ["x", "sq"], ["s"]).Node("Unsqueeze", ["s", "un"], ["y"]);
        OrtAgreement.Check($"Squeeze then Unsqueeze opset {opset} ({(opset < 13 ? "attributes" : "inputs")})", b.Output("y"), ("x", [2, 1, 4, 1]));
        var all = Model(opset, "x", 1, 3, 1).Node("Squeeze", ["x"], ["y"]).Output("y");
        OrtAgreement.Check($"Squeeze all size-1 dims opset {opset}", all, ("x", [1, 3, 1]));
    }

    [Fact]
    public void ConstantAndGatherOnTensor()
    {
        var c = OnnxModelBuilder.FloatTensor("", Rand(3, 4), [3, 4]);
        var b = Model(13, "x", 3, 4).Node("Constant", [], ["c"], ("value", c)).Node("Mul", ["x", "c"], ["m"])
            .Int64Initializer("idx", [2, 0], 2).Node("Gather", ["m", "idx"], ["y"], ("axis", 1L)).Output("y");
        OrtAgreement.Check("Constant tensor, Gather on a tensor", b, ("x", [3, 4]));
        var scalar = Model(13, "x", 3, 4).Node("Constant", [], ["c"], ("value_float", 2.5f)).Node("Add", ["x", "c"], ["y"]).Output("y");
        OrtAgreement.Check("Constant value_float", scalar, ("x", [3, 4]));
    }

    [Fact]
    public void SliceOnTensor()
    {
        var b = Model(13, "x", -1, 6, 8).Int64Initializer("st", [1, -6], 2).Int64Initializer("en", [5, 100], 2)
            .Int64Initializer("ax", [1, 2], 2).Int64Initializer("sp", [2, 1], 2).Node("Slice", ["x", "st", "en", "ax", "sp"], ["y"]).Output("y");
        OrtAgreement.Check("Slice with steps and negative starts", b, ("x", [2, 6, 8]));
    }

    public static TheoryData<string, int, string, int[]> PadCases => new()
    {
        { "constant", 13, "constant", [0, 0, 1, 2, 0, 0, 2, 1] },
        { "reflect", 13, "reflect", [0, 0, 2, 1, 0, 0, 1, 2] },
        { "edge", 13, "edge", [0, 1, 1, 0, 0, 1, 0, 2] },
        { "constant opset 7 (attributes)", 7, "constant", [0, 0, 1, 1, 0, 0, 1, 1] },
        { "reflect opset 7 (attributes)", 7, "reflect", [0, 0, 1, 2, 0, 0, 2, 1] },
        { "negative (crop)", 13, "constant", [0, 0, -1, 1, 0, 0, 1, -2] },
    };

    [Theory]
    [MemberData(nameof(PadCases))]
    public void Pad(string variant, int opset, string mode, int[] pads)
    {
        var b = Model(opset, "x", -1, 3, 5, 6);
        if (opset < 11) b.Node("Pad", ["x"], ["y"], ("mode", mode), ("pads", L(pads)), ("value", 0.5f));
        else b.Int64Initializer("p", L(pads), pads.Length).Initializer("v", [0.5f]).Node("Pad", ["x", "p", "v"], ["y"], ("mode", mode));
        OrtAgreement.Check($"Pad {variant}", b.Output("y"), ("x", [2, 3, 5, 6]));
    }

    public static TheoryData<string, int, (string, object)[], float[]?, long[]?> ResizeCases => new()
    {
        { "nearest asymmetric floor x2", 13, [("mode", "nearest"), ("coordinate_transformation_mode", "asymmetric"), ("nearest_mode", "floor")], [1, 1, 2, 2], null },
        { "nearest default (half_pixel, round_prefer_floor) to sizes", 13, [("mode", "nearest")], null, [2, 3, 7, 9] },
        { "linear half_pixel x2", 13, [("mode", "linear")], [1, 1, 2, 2], null },
        { "linear align_corners to sizes", 13, [("mode", "linear"), ("coordinate_transformation_mode", "align_corners")], null, [2, 3, 7, 11] },
        { "linear pytorch_half_pixel x0.5", 11, [("mode", "linear"), ("coordinate_transformation_mode", "pytorch_half_pixel")], [1, 1, 0.5f, 0.5f], null },
        { "linear asymmetric x1.5", 19, [("mode", "linear"), ("coordinate_transformation_mode", "asymmetric")], [1, 1, 1.5f, 1.5f], null },
        { "opset 10 nearest x2", 10, [("mode", "nearest")], [1, 1, 2, 2], null },
        { "opset 10 linear x2", 10, [("mode", "linear")], [1, 1, 2, 3], null },
    };

    [Theory]
    [MemberData(nameof(ResizeCases))]
    public void Resize(string variant, int opset, (string, object)[] attributes, float[]? scales, long[]? sizes)
    {
        var b = Model(opset, "x", -1, 3, 5, 6);
        string[] inputs;
        if (opset == 10)
        {
            b.Initializer("scales", scales!, 4);
            inputs = ["x", "scales"];
        }
        else if (scales is not null)
        {
            // Opset 11-12 require the roi input; an empty one is ignored outside tf_crop_and_resize.
            b.Initializer("roi", [], 0).Initializer("scales", scales, 4);
            inputs = ["x", opset < 13 ? "roi" : "", "scales"];
        }
        else
        {
            b.Int64Initializer("sizes", sizes!, 4);
            inputs = ["x", "", "", "sizes"];
        }
        b.Node("Resize", inputs, ["y"], attributes).Output("y");
        OrtAgreement.Check($"Resize {variant}", b, ("x", [2, 3, 5, 6]));
    }

    [Theory]
    [InlineData(7, "nearest")]
    [InlineData(7, "linear")]
    [InlineData(9, "nearest")]
    [InlineData(9, "linear")]
    public void Upsample(int opset, string mode)
    {
        var b = Model(opset, "x", -1, 3, 4, 5);
        if (opset < 9) b.Node("Upsample", ["x"], ["y"], ("mode", mode), ("scales", new[] { 1f, 1f, 2f, 3f }));
        else b.Initializer("s", [1f, 1f, 2f, 2f], 4).Node("Upsample", ["x", "s"], ["y"], ("mode", mode));
        OrtAgreement.Check($"Upsample opset {opset} {mode}", b.Output("y"), ("x", [2, 3, 4, 5]));
    }

    [Fact]
    public void CastOnShapes()
    {
        var b = Model(13, "x", -1, 3, 4).Node("Shape", ["x"], ["s"]).Node("Cast", ["s"], ["f"], ("to", 1L))
            .Node("Cast", ["f"], ["i"], ("to", 7L)).Node("Reshape", ["x", "i"], ["y"]).Output("y");
        OrtAgreement.Check("Cast on shapes", b, ("x", [2, 3, 4]));
    }
}
