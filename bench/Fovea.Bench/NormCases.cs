using Fovea.NN;
using TorchSharp;

namespace Fovea.Bench;

/// <summary>
/// Batch normalisation in training mode on float32 (32, 64, 56, 56): <see cref="BatchNorm2d"/> against
/// <c>torch.nn.BatchNorm2d</c>, forward only, and forward + backward of sum(y·g) into the input, γ and β.
/// </summary>
public sealed class BatchNorm2dCase(bool backward) : BenchCase
{
    private const int N = 32, C = 64, H = 56, W = 56;
    private BatchNorm2d? _bn;
    private Tensor? _x, _g;
    private torch.nn.Module<torch.Tensor, torch.Tensor>? _tbn;
    private torch.Tensor? _tx, _tg;

    /// <inheritdoc/>
    public override string Name => backward ? "batchnorm2d_32x64x56x56_fwd_bwd" : "batchnorm2d_32x64x56x56_fwd";

    /// <summary>Forward, then forward + backward.</summary>
    public static IEnumerable<BenchCase> All() => [new BatchNorm2dCase(false), new BatchNorm2dCase(true)];

    /// <inheritdoc/>
    public override void Setup(int threads)
    {
        if (_bn is not null) return;
        _bn = new BatchNorm2d(C);
        var x = Tensor.Randn([N, C, H, W], new Generator(1));
        _g = Tensor.Randn([N, C, H, W], new Generator(2));
        _x = backward ? x.RequiresGrad_() : x;
        _tbn = torch.nn.BatchNorm2d(C);
        _tx = torch.tensor(x.ToArray<float>(), [N, C, H, W]).requires_grad_(backward);
        _tg = torch.tensor(_g.ToArray<float>(), [N, C, H, W]);
    }

    /// <inheritdoc/>
    public override void RunFovea()
    {
        if (!backward)
        {
            using (GradMode.Disable()) Harness.HandBack(_bn!.Forward(_x!));
            return;
        }
        // TorchSharp zeroes the input's gradient where it lies; Fovea's backward stores a new one, so the last one
        // goes back to the pool.
        if (_x!.Grad is { } last) Harness.HandBack(last);
        _x.Grad = null;
        _bn!.ZeroGrad();
        var y = _bn.Forward(_x);
        y.Backward(_g);
        Harness.HandBack(y);
    }

    /// <inheritdoc/>
    public override void RunAnchor()
    {
        using var scope = torch.NewDisposeScope();
        if (!backward)
        {
            using (torch.no_grad()) _tbn!.forward(_tx!);
            return;
        }
        _tx!.grad?.zero_();
        _tbn!.zero_grad();
        _tbn.forward(_tx).backward([_tg!]);
    }

    /// <inheritdoc/>
    public override void Dispose()
    {
        _tbn?.Dispose();
        _tx?.Dispose();
        _tg?.Dispose();
        base.Dispose();
    }
}
