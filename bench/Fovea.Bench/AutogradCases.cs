using TorchSharp;

namespace Fovea.Bench;

/// <summary>
/// Per-op overhead of the autograd engine: a 1,000-op elementwise chain on 1-element tensors, forward and
/// backward, Fovea against TorchSharp (PyTorch eager). Almost no arithmetic: what is timed is the cost of
/// recording a node, and of walking the graph back.
/// </summary>
public sealed class AutogradChainCase(int ops) : BenchCase
{
    /// <inheritdoc/>
    public override string Name => $"autograd_chain_{ops}";

    /// <inheritdoc/>
    public override string[] ExtraColumns => ["fovea_us_per_op"];

    /// <summary>The 1,000-op case the autograd issue names.</summary>
    public static IEnumerable<BenchCase> All() => [new AutogradChainCase(1000)];

    /// <inheritdoc/>
    public override void RunFovea()
    {
        var x = Tensor.Scalar(0.5).RequiresGrad_();
        var y = x;
        for (int i = 0; i < ops / 2; i++) y = (y * 1.0001).Add(0.001);
        y.Backward();
    }

    /// <inheritdoc/>
    public override void RunAnchor()
    {
        using var scope = torch.NewDisposeScope();
        var x = torch.tensor(0.5f).requires_grad_(true);
        var y = x;
        for (int i = 0; i < ops / 2; i++) y = (y * 1.0001f).add(0.001f);
        y.backward();
    }

    /// <inheritdoc/>
    public override string[] Extra(int threads, double foveaMs, double anchorMs) => [Harness.F(foveaMs * 1e3 / ops, "0.00")];
}
