using System.Text.Json;
using Fovea.NN;
using static Fovea.Tests.NN.ConvFixtures;
using F = Fovea.NN.Functional;

namespace Fovea.Tests.NN;

/// <summary>Values, gradients and (for conv) second derivatives against PyTorch 1.13 in float64.</summary>
public class ConvFixtureTests
{
    private const double Tol = 1e-9;

    public static TheoryData<string> Conv2dNames => Names("conv2d.json");
    public static TheoryData<string> ConvTransposeNames => Names("conv_transpose2d.json");
    public static TheoryData<string> PoolNames => Names("pooling.json");
    public static TheoryData<string> UpsampleNames => Names("upsample.json");

    /// <summary>Builds the op a fixture case names, applied to its inputs in order.</summary>
    private static Func<Tensor[], Tensor> Op(JsonElement c)
    {
        var a = c.GetProperty("args");
        string op = c.GetProperty("op").GetString()!;
        switch (op)
        {
            case "conv2d":
                var mode = a.GetProperty("padding_mode").GetString() switch
                {
                    "reflect" => PaddingMode.Reflect,
                    "replicate" => PaddingMode.Replicate,
                    "circular" => PaddingMode.Circular,
                    _ => PaddingMode.Zeros,
                };
                return x => F.Conv2d(x[0], x[1], x.Length > 2 ? x[2] : null, Pair(a, "stride", 1), Pair(a, "padding", 0), Pair(a, "dilation", 1), Int(a, "groups", 1), mode);
            case "conv_transpose2d":
                return x => F.ConvTranspose2d(x[0], x[1], x.Length > 2 ? x[2] : null, Pair(a, "stride", 1), Pair(a, "padding", 0),
                    Pair(a, "output_padding", 0), Pair(a, "dilation", 1), Int(a, "groups", 1));
            case "max_pool2d":
                return x => F.MaxPool2d(x[0], Pair(a, "kernel_size", 1), a.TryGetProperty("stride", out _) ? Pair(a, "stride", 1) : null,
                    Pair(a, "padding", 0), Pair(a, "dilation", 1), Bool(a, "ceil_mode", false));
            case "avg_pool2d":
                return x => F.AvgPool2d(x[0], Pair(a, "kernel_size", 1), a.TryGetProperty("stride", out _) ? Pair(a, "stride", 1) : null,
                    Pair(a, "padding", 0), Bool(a, "ceil_mode", false), Bool(a, "count_include_pad", true));
            case "adaptive_avg_pool2d":
                return x => F.AdaptiveAvgPool2d(x[0], Pair(a, "output_size", 1));
            case "interpolate":
                var m = a.GetProperty("mode").GetString() == "bilinear" ? InterpolationMode.Bilinear : InterpolationMode.Nearest;
                Size2d? size = a.TryGetProperty("size", out _) ? Pair(a, "size", 1) : null;
                double? scale = a.TryGetProperty("scale_factor", out var sf) ? sf.GetDouble() : null;
                bool? align = a.TryGetProperty("align_corners", out var ac) ? ac.GetBoolean() : null;
                return x => F.Interpolate(x[0], size, scale, m, align);
            default:
                throw new InvalidOperationException($"unknown fixture op {op}");
        }
    }

    private static void CheckCase(string file, string name)
    {
        var c = Case(file, name);
        var names = c.GetProperty("inputs").EnumerateObject().Select(p => p.Name).ToArray();
        var inputs = names.Select(n => T(c.GetProperty("inputs").GetProperty(n)).RequiresGrad_()).ToArray();
        var y = Op(c)(inputs);
        AssertClose(T(c.GetProperty("output")), y, Tol, $"{name}: output");
        var gy = T(c.GetProperty("grad_output"));
        var grads = Fovea.Autograd.Grad([y], inputs, [gy]);
        for (int i = 0; i < names.Length; i++)
            AssertClose(T(c.GetProperty("grads").GetProperty(names[i])), grads[i]!, Tol, $"{name}: d/d{names[i]}");
    }

    [Theory, MemberData(nameof(Conv2dNames))]
    public void Conv2d_matches_pytorch(string name) => CheckCase("conv2d.json", name);

    [Theory, MemberData(nameof(ConvTransposeNames))]
    public void ConvTranspose2d_matches_pytorch(string name) => CheckCase("conv_transpose2d.json", name);

    [Theory, MemberData(nameof(PoolNames))]
    public void Pooling_matches_pytorch(string name) => CheckCase("pooling.json", name);

    [Theory, MemberData(nameof(UpsampleNames))]
    public void Interpolate_matches_pytorch(string name) => CheckCase("upsample.json", name);

    [Theory, MemberData(nameof(PoolNames))]
    public void MaxPool_indices_match_pytorch(string name)
    {
        var c = Case("pooling.json", name);
        if (c.GetProperty("op").GetString() != "max_pool2d") return;
        var a = c.GetProperty("args");
        var x = T(c.GetProperty("inputs").GetProperty("x"));
        var (_, indices) = F.MaxPool2dWithIndices(x, Pair(a, "kernel_size", 1), a.TryGetProperty("stride", out _) ? Pair(a, "stride", 1) : null,
            Pair(a, "padding", 0), Pair(a, "dilation", 1), Bool(a, "ceil_mode", false));
        Assert.Equal(TI(c.GetProperty("indices")).ToArray<int>(), indices.ToArray<int>());
    }

    /// <summary>Double backward: the gradient of Σ v·(first gradients) with respect to the inputs and the upstream gradient.</summary>
    [Theory]
    [InlineData("conv2d.json", "conv2d 3x3 bias")]
    [InlineData("conv2d.json", "conv2d stride 2 padding 1")]
    [InlineData("conv2d.json", "conv2d groups 2")]
    [InlineData("conv_transpose2d.json", "conv_transpose2d stride 2 padding 1 output_padding 1")]
    public void Second_derivatives_match_pytorch(string file, string name)
    {
        var c = Case(file, name);
        var second = c.GetProperty("second");
        var names = c.GetProperty("inputs").EnumerateObject().Select(p => p.Name).ToArray();
        var inputs = names.Select(n => T(c.GetProperty("inputs").GetProperty(n)).RequiresGrad_()).ToArray();
        var gy = T(c.GetProperty("grad_output")).RequiresGrad_();
        var y = Op(c)(inputs);
        var grads = Fovea.Autograd.Grad([y], inputs, [gy], createGraph: true);
        Tensor s = Tensor.Zeros([], DType.Float64);
        for (int i = 0; i < names.Length; i++) s = s + (grads[i]! * T(second.GetProperty("v").GetProperty(names[i]))).Sum();
        var all = inputs.Append(gy).ToArray();
        var gg = Fovea.Autograd.Grad([s], all, allowUnused: true);
        var allNames = names.Append("grad_output").ToArray();
        for (int i = 0; i < all.Length; i++)
            AssertClose(T(second.GetProperty("grads").GetProperty(allNames[i])), gg[i] ?? Tensor.ZerosLike(all[i]), Tol, $"{name}: d²/d{allNames[i]}");
    }
}
