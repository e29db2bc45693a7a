namespace Fovea.Optim;

/// <summary>
/// Cosine annealing (<c>torch.optim.lr_scheduler.CosineAnnealingLR</c>, SGDR without restarts):
/// lr = η_min + (base_lr − η_min)·(1 + cos(π·epoch / T_max)) / 2, applied in PyTorch's recursive form
/// lr_t = η_min + (lr_{t−1} − η_min)·(1 + cos(π t / T_max)) / (1 + cos(π (t − 1) / T_max)), so that other
/// changes to the rate carry through. Past T_max the rate climbs back, with period 2·T_max.
/// </summary>
public sealed class CosineAnnealingLR : LRScheduler
{
    /// <summary>Anneals the learning rate of <paramref name="optimizer"/> to <paramref name="etaMin"/> over <paramref name="tMax"/> epochs.</summary>
    public CosineAnnealingLR(Optimizer optimizer, int tMax, double etaMin = 0, int lastEpoch = -1) : base("CosineAnnealingLR", optimizer, lastEpoch)
    {
        if (tMax <= 0) throw new ArgumentOutOfRangeException(nameof(tMax), tMax, $"CosineAnnealingLR: tMax must be > 0, got {tMax}");
        if (!(etaMin >= 0) || double.IsInfinity(etaMin)) throw new ArgumentOutOfRangeException(nameof(etaMin), etaMin, $"CosineAnnealingLR: etaMin must be a finite number >= 0, got {etaMin}");
        TMax = tMax;
        EtaMin = etaMin;
        InitialStep();
    }

    /// <summary>Epochs of one half cosine period.</summary>
    public int TMax { get; private set; }

    /// <summary>The lowest learning rate.</summary>
    public double EtaMin { get; private set; }

    /// <inheritdoc/>
    protected override double[] ChainedLr()
    {
        var lrs = GroupLrs();
        int t = LastEpoch;
        if (t == 0) return lrs;
        if (StepCount == 1 && t > 0) return ClosedFormLr()!;
        if ((t - 1 - TMax) % (2 * TMax) == 0)
        {
            // Just past a minimum the ratio below would divide by 1 + cos(π) = 0: add the first rise directly.
            for (int i = 0; i < lrs.Length; i++) lrs[i] += (BaseLrs[i] - EtaMin) * (1 - Math.Cos(Math.PI / TMax)) / 2;
            return lrs;
        }
        double ratio = (1 + Math.Cos(Math.PI * t / TMax)) / (1 + Math.Cos(Math.PI * (t - 1) / TMax));
        for (int i = 0; i < lrs.Length; i++) lrs[i] = ratio * (lrs[i] - EtaMin) + EtaMin;
        return lrs;
    }

    /// <inheritdoc/>
    protected override double[]? ClosedFormLr()
    {
        var lrs = new double[BaseLrs.Count];
        for (int i = 0; i < lrs.Length; i++)
            lrs[i] = EtaMin + (BaseLrs[i] - EtaMin) * (1 + Math.Cos(Math.PI * LastEpoch / TMax)) / 2;
        return lrs;
    }

    /// <inheritdoc/>
    protected override void WriteOptions(IDictionary<string, double> state)
    {
        state["t_max"] = TMax;
        state["eta_min"] = EtaMin;
    }

    /// <inheritdoc/>
    protected override void ReadOptions(IReadOnlyDictionary<string, double> state)
    {
        TMax = (int)Read(state, "t_max");
        EtaMin = Read(state, "eta_min");
    }
}
