using Fovea.NN;
using TorchSharp;

namespace Fovea.Bench;

/// <summary>
/// Normalisations along channels and rows on float32, forward only and forward + backward of sum(y·g) into the input,
/// against TorchSharp's functional form of the same op: softmax over the channels of (32, 64, 56, 56) (a segmentation
/// head's), local response normalisation across those channels (AlexNet's: n = 5, α = 1e-4, β = 0.75, k = 2), and
/// layer normalisation over the last dim of (32, 3136, 64) (a 56² feature map of 64 channels as tokens, with γ and β).
/// </summary>
public sealed class ChannelOpCase(ChannelOpCase.Op op, bool backward) : BenchCase
{
    /// <summary>The op a case runs.</summary>
    public enum Op
    {
        /// <summary>Softmax over dim 1.</summary>
        Softmax,

        /// <summary>Local response normalisation, size 5.</summary>
        Lrn,

        /// <summary>Layer normalisation over the last dim, with weight and bias.</summary>
        LayerNorm,
    }

    private static readonly int[] Shape4 = [32, 64, 56, 56];
    private static readonly int[] Tokens = [32, 3136, 64];
    private Tensor? _x, _g, _w, _b;
    private torch.Tensor? _tx, _tg, _tw, _tb;

    private int[] Shape => op == Op.LayerNorm ? Tokens : Shape4;

    /// <inheritdoc/>
    public override string Name => $"{op.ToString().ToLowerInvariant()}_{string.Join('x', Shape)}_{(backward ? "fwd_bwd" : "fwd")}";

    /// <summary>Each op forward, then forward + backward.</summary>
    public static IEnumerable<BenchCase> All() =>
        Enum.GetValues<Op>().SelectMany(op => new BenchCase[] { new ChannelOpCase(op, false), new ChannelOpCase(op, true) });

    /// <inheritdoc/>
    public override void Setup(int threads)
    {
        if (_x is not null) return;
        var x = Tensor.Randn(Shape, new Generator(1));
        _g = Tensor.Randn(Shape, new Generator(2));
        _x = backward ? x.RequiresGrad_() : x;
        _tx = torch.tensor(x.ToArray<float>(), Shape.Select(d => (long)d).ToArray()).requires_grad_(backward);
        _tg = torch.tensor(_g.ToArray<float>(), Shape.Select(d => (long)d).ToArray());
        if (op == Op.LayerNorm)
        {
            var w = Tensor.Uniform([64], 0.5, 1.5, new Generator(3));
            var b = Tensor.Uniform([64], -0.5, 0.5, new Generator(4));
            _w = backward ? w.RequiresGrad_() : w;
            _b = backward ? b.RequiresGrad_() : b;
            _tw = torch.tensor(w.ToArray<float>(), [64]).requires_grad_(backward);
            _tb = torch.tensor(b.ToArray<float>(), [64]).requires_grad_(backward);
        }
    }

    private Tensor ForwardFovea() => op switch
    {
        Op.Softmax => Functional.Softmax(_x!, 1),
        Op.Lrn => Functional.LocalResponseNorm(_x!, 5, 1e-4, 0.75, 2.0),
        _ => Functional.LayerNorm(_x!, [64], _w, _b),
    };

    private torch.Tensor ForwardAnchor() => op switch
    {
        Op.Softmax => torch.nn.functional.softmax(_tx!, 1),
        Op.Lrn => torch.nn.functional.local_response_norm(_tx!, 5, 1e-4, 0.75, 2.0),
        _ => torch.nn.functional.layer_norm(_tx!, [64], _tw, _tb),
    };

    /// <inheritdoc/>
    public override void RunFovea()
    {
        if (!backward)
        {
            using (GradMode.Disable()) Harness.HandBack(ForwardFovea());
            return;
        }
        foreach (var t in new[] { _x, _w, _b })
        {
            if (t?.Grad is { } last) Harness.HandBack(last);
            if (t is not null) t.Grad = null;
        }
        var y = ForwardFovea();
        y.Backward(_g);
        Harness.HandBack(y);
    }

    /// <inheritdoc/>
    public override void RunAnchor()
    {
        using var scope = torch.NewDisposeScope();
        if (!backward)
        {
            using (torch.no_grad()) ForwardAnchor();
            return;
        }
        _tx!.grad?.zero_();
        _tw?.grad?.zero_();
        _tb?.grad?.zero_();
        ForwardAnchor().backward([_tg!]);
    }

    /// <inheritdoc/>
    public override void Dispose()
    {
        foreach (var t in new[] { _tx, _tg, _tw, _tb }) t?.Dispose();
        base.Dispose();
    }
}
