namespace Fovea.Ops;

/// <summary>
/// Local response normalisation across channels (Krizhevsky et al. 2012, §3.3), with PyTorch's semantics
/// (<c>torch.nn.functional.local_response_norm</c>): for x [N, C, ...],
/// y_c = x_c · D_c^−β with D_c = k + (α/n)·S_c and S_c = Σ x_{c'}² over c' = c − ⌊n/2⌋ … c + ⌊(n−1)/2⌋,
/// channels outside 0 … C−1 counting as zero (PyTorch pads the squares by ⌊n/2⌋ before and ⌊(n−1)/2⌋ after
/// and averages with a window of n, so α is divided by n). With W the window sum (S = W(x²)) and Wᵀ its adjoint
/// (the window reflected: c' − ⌊(n−1)/2⌋ … c' + ⌊n/2⌋):
/// backward dx = g·D^−β + 2x·Wᵀ(−β·(α/n)·g·x·D^(−β−1)); forward mode dy = t·D^−β − β·(α/n)·x·D^(−β−1)·W(2x·t).
/// Forward and plain backward run the backend's fused <see cref="Backends.IBackend.LocalResponseNormForward"/> and
/// <see cref="Backends.IBackend.LocalResponseNormBackward"/> (the node saves x and D); when the backward is itself
/// differentiated (createGraph) it is written with tensor ops on x, so second derivatives work, and so is the forward mode.
/// </summary>
internal sealed class LocalResponseNormFunction(int size, double alpha, double beta, double k) : Function
{
    public override string Name => "LocalResponseNorm";

    /// <summary>Channels before c in c's window (⌊n/2⌋).</summary>
    private int Before => size / 2;

    /// <summary>Channels after c in c's window (⌊(n−1)/2⌋).</summary>
    private int After => (size - 1) / 2;

    protected override Tensor Forward(Tensor[] x)
    {
        var (y, d) = Backends.Backend.Current.LocalResponseNormForward(x[0], size, alpha, beta, k);
        SaveForBackward(x[0], d);
        // D is this node's alone: its buffer goes back to the pool now when nothing will run backward (inference would
        // otherwise fault in a fresh one, as large as the input, every call), or once the backward is done with it.
        StoragePool.Recycle(d);
        return y;
    }

    protected override Tensor?[] Backward(Tensor g)
    {
        var x = Saved[0];
        if (!GradMode.IsEnabled && g.DType == x.DType)
            return [Backends.Backend.Current.LocalResponseNormBackward(g, x, Saved[1], size, alpha, beta)];
        // With createGraph the denominator is recomputed from x, so the second derivative sees its dependence on x.
        var d = Denominator(x);
        var inner = g.Mul(x).Mul(d.Pow(-beta - 1)).Mul(-beta * alpha / size);
        return [g.Mul(d.Pow(-beta)).Add(x.Mul(2).Mul(WindowSum(inner, After, Before)))];
    }

    protected override Tensor? Jvp(Tensor[] x, Tensor y, Tensor?[] t)
    {
        if (t[0] is not { } tx) return null;
        var d = Denominator(x[0]);
        var dd = WindowSum(x[0].Mul(tx).Mul(2), Before, After).Mul(alpha / size);
        return tx.Mul(d.Pow(-beta)).Sub(x[0].Mul(d.Pow(-beta - 1)).Mul(dd).Mul(beta));
    }

    /// <summary>D = k + (α/n)·W(x²).</summary>
    private Tensor Denominator(Tensor x) => WindowSum(x.Square(), Before, After).Mul(alpha / size).Add(k);

    /// <summary>
    /// out_c = Σ a_{c'} for c' = c − <paramref name="before"/> … c + <paramref name="after"/> along dim 1, zero outside
    /// the channels: the squares padded with zeros and summed over the n shifted slices (differentiable).
    /// </summary>
    private static Tensor WindowSum(Tensor a, int before, int after)
    {
        int channels = a.Size(1);
        var parts = new List<Tensor>(3);
        if (before > 0) parts.Add(Tensor.Zeros(PaddedShape(a, before), a.DType));
        parts.Add(a);
        if (after > 0) parts.Add(Tensor.Zeros(PaddedShape(a, after), a.DType));
        var padded = parts.Count == 1 ? a : Tensor.Cat(parts, 1);
        var sum = padded.Narrow(1, 0, channels);
        for (int j = 1; j <= before + after; j++) sum = sum.Add(padded.Narrow(1, j, channels));
        return sum;
    }

    private static int[] PaddedShape(Tensor a, int channels)
    {
        var shape = a.Shape;
        shape[1] = channels;
        return shape;
    }
}
