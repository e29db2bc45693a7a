using Fovea.NN;
using TorchSharp;
using F = Fovea.NN.Functional;

namespace Fovea.Bench;

/// <summary>
/// Float32 conv2d forward, and forward + backward (gradients for input, weight and bias), against TorchSharp's
/// <c>conv2d</c> (oneDNN) on the same data and thread count: the LeNet-5 layers and two VGG-style 3x3 layers.
/// </summary>
public sealed class Conv2dCase(string label, int n, int c, int h, int w, int o, int k, int pad, bool backward) : BenchCase
{
    private Tensor? _x, _w, _b, _gy;
    private torch.Tensor? _tx, _tw, _tb, _tgy;

    /// <inheritdoc/>
    public override string Name => $"conv2d_{(backward ? "fwdbwd" : "fwd")}_{label}";

    /// <inheritdoc/>
    public override string[] ExtraColumns => ["fovea_gflops"];

    /// <summary>The shapes the layers issue names, forward and forward + backward.</summary>
    public static IEnumerable<BenchCase> All()
    {
        foreach (bool bwd in new[] { false, true })
        {
            yield return new Conv2dCase("lenet_c1_64x1x28x28_6_5x5p2", 64, 1, 28, 28, 6, 5, 2, bwd);
            yield return new Conv2dCase("lenet_c3_64x6x14x14_16_5x5", 64, 6, 14, 14, 16, 5, 0, bwd);
            yield return new Conv2dCase("vgg_32x64x56x56_64_3x3p1", 32, 64, 56, 56, 64, 3, 1, bwd);
            yield return new Conv2dCase("vgg_32x128x28x28_128_3x3p1", 32, 128, 28, 28, 128, 3, 1, bwd);
        }
    }

    /// <inheritdoc/>
    public override void Setup(int threads)
    {
        if (_x is not null) return;
        var g = new Generator(7);
        _x = Tensor.Randn([n, c, h, w], g).RequiresGrad_(backward);
        _w = Tensor.Randn([o, c, k, k], g).Mul(0.1).Detach().RequiresGrad_(backward);
        _b = Tensor.Randn([o], g).Detach().RequiresGrad_(backward);
        int oh = h + 2 * pad - k + 1, ow = w + 2 * pad - k + 1;
        _gy = Tensor.Randn([n, o, oh, ow], g);
        _tx = torch.tensor(_x.ToArray<float>(), [n, c, h, w]).requires_grad_(backward);
        _tw = torch.tensor(_w.ToArray<float>(), [o, c, k, k]).requires_grad_(backward);
        _tb = torch.tensor(_b.ToArray<float>(), [o]).requires_grad_(backward);
        _tgy = torch.tensor(_gy.ToArray<float>(), [n, o, oh, ow]);
    }

    /// <inheritdoc/>
    public override void RunFovea()
    {
        if (!backward)
        {
            using var _ = GradMode.Disable();
            Harness.HandBack(F.Conv2d(_x!, _w!, _b, padding: pad));
            return;
        }
        var y = F.Conv2d(_x!, _w!, _b, padding: pad);
        Harness.HandBack([y, .. Autograd.Grad([y], [_x!, _w!, _b!], [_gy!])]);
    }

    /// <inheritdoc/>
    public override void RunAnchor()
    {
        using var scope = torch.NewDisposeScope();
        if (!backward)
        {
            using var _ = torch.no_grad();
            torch.nn.functional.conv2d(_tx!, _tw!, _tb, padding: [pad, pad]);
            return;
        }
        var y = torch.nn.functional.conv2d(_tx!, _tw!, _tb, padding: [pad, pad]);
        torch.autograd.grad([y], [_tx!, _tw!, _tb!], [_tgy!]);
    }

    /// <inheritdoc/>
    public override string[] Extra(int threads, double foveaMs, double anchorMs)
    {
        int oh = h + 2 * pad - k + 1, ow = w + 2 * pad - k + 1;
        double flops = 2.0 * n * o * oh * ow * c * k * k * (backward ? 3 : 1);
        return [Harness.F(flops / (foveaMs * 1e-3) / 1e9, "0.0")];
    }

    /// <inheritdoc/>
    public override void Dispose()
    {
        _tx?.Dispose();
        _tw?.Dispose();
        _tb?.Dispose();
        _tgy?.Dispose();
        base.Dispose();
    }
}

/// <summary>
/// Max pooling, forward (gradients off: no indices) and forward + backward, against TorchSharp's <c>max_pool2d</c>:
/// the 2x2 windows of LeNet and VGG, and ResNet's stem (3x3, stride 2, padding 1, over 64 x 112² at batch 1).
/// </summary>
public sealed class MaxPool2dCase(string label, int n, int c, int h, int w, bool backward, int kernel = 2, int stride = 2, int padding = 0) : BenchCase
{
    private Tensor? _x, _gy;
    private torch.Tensor? _tx, _tgy;

    /// <inheritdoc/>
    public override string Name => $"maxpool{kernel}x{kernel}{(kernel == 2 && stride == 2 ? "" : $"s{stride}")}_{(backward ? "fwdbwd" : "fwd")}_{label}";

    private int OutH => (h + 2 * padding - kernel) / stride + 1;

    private int OutW => (w + 2 * padding - kernel) / stride + 1;

    /// <summary>The LeNet-5 pooling layer, a VGG-sized one, and ResNet-18's stem pooling at batch 1.</summary>
    public static IEnumerable<BenchCase> All()
    {
        foreach (bool bwd in new[] { false, true })
        {
            yield return new MaxPool2dCase("lenet_64x6x28x28", 64, 6, 28, 28, bwd);
            yield return new MaxPool2dCase("vgg_32x64x56x56", 32, 64, 56, 56, bwd);
            yield return new MaxPool2dCase("resnet18_stem_1x64x112x112", 1, 64, 112, 112, bwd, kernel: 3, stride: 2, padding: 1);
        }
    }

    /// <inheritdoc/>
    public override void Setup(int threads)
    {
        if (_x is not null) return;
        var g = new Generator(11);
        _x = Tensor.Randn([n, c, h, w], g).RequiresGrad_(backward);
        _gy = Tensor.Randn([n, c, OutH, OutW], g);
        _tx = torch.tensor(_x.ToArray<float>(), [n, c, h, w]).requires_grad_(backward);
        _tgy = torch.tensor(_gy.ToArray<float>(), [n, c, OutH, OutW]);
    }

    /// <inheritdoc/>
    public override void RunFovea()
    {
        if (!backward)
        {
            using var _ = GradMode.Disable();
            Harness.HandBack(F.MaxPool2d(_x!, kernel, stride, padding));
            return;
        }
        var y = F.MaxPool2d(_x!, kernel, stride, padding);
        Harness.HandBack([y, .. Autograd.Grad([y], [_x!], [_gy!])]);
    }

    /// <inheritdoc/>
    public override void RunAnchor()
    {
        using var scope = torch.NewDisposeScope();
        if (!backward)
        {
            using var _ = torch.no_grad();
            torch.nn.functional.max_pool2d(_tx!, [kernel, kernel], [stride, stride], [padding, padding]);
            return;
        }
        torch.autograd.grad([torch.nn.functional.max_pool2d(_tx!, [kernel, kernel], [stride, stride], [padding, padding])], [_tx!], [_tgy!]);
    }

    /// <inheritdoc/>
    public override void Dispose()
    {
        _tx?.Dispose();
        _tgy?.Dispose();
        base.Dispose();
    }
}
