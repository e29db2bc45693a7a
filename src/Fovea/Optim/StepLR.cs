namespace Fovea.Optim;

/// <summary>
/// Multiplies every group's learning rate by <see cref="Gamma"/> once every <see cref="StepSize"/> epochs
/// (<c>torch.optim.lr_scheduler.StepLR</c>): lr = base_lr · γ^⌊epoch / step_size⌋.
/// </summary>
public sealed class StepLR : LRScheduler
{
    /// <summary>Decays the learning rate of <paramref name="optimizer"/> by <paramref name="gamma"/> every <paramref name="stepSize"/> epochs.</summary>
    public StepLR(Optimizer optimizer, int stepSize, double gamma = 0.1, int lastEpoch = -1) : base("StepLR", optimizer, lastEpoch)
    {
        if (stepSize <= 0) throw new ArgumentOutOfRangeException(nameof(stepSize), stepSize, $"StepLR: stepSize must be > 0, got {stepSize}");
        if (!(gamma >= 0) || double.IsInfinity(gamma)) throw new ArgumentOutOfRangeException(nameof(gamma), gamma, $"StepLR: gamma must be a finite number >= 0, got {gamma}");
        StepSize = stepSize;
        Gamma = gamma;
        InitialStep();
    }

    /// <summary>Epochs between decays.</summary>
    public int StepSize { get; private set; }

    /// <summary>Multiplicative decay factor.</summary>
    public double Gamma { get; private set; }

    /// <inheritdoc/>
    protected override double[] ChainedLr()
    {
        var lrs = GroupLrs();
        if (LastEpoch == 0 || LastEpoch % StepSize != 0) return lrs;
        for (int i = 0; i < lrs.Length; i++) lrs[i] *= Gamma;
        return lrs;
    }

    /// <inheritdoc/>
    protected override double[]? ClosedFormLr()
    {
        var lrs = new double[BaseLrs.Count];
        for (int i = 0; i < lrs.Length; i++) lrs[i] = BaseLrs[i] * Math.Pow(Gamma, LastEpoch / StepSize);
        return lrs;
    }

    /// <inheritdoc/>
    protected override void WriteOptions(IDictionary<string, double> state)
    {
        state["step_size"] = StepSize;
        state["gamma"] = Gamma;
    }

    /// <inheritdoc/>
    protected override void ReadOptions(IReadOnlyDictionary<string, double> state)
    {
        StepSize = (int)Read(state, "step_size");
        Gamma = Read(state, "gamma");
    }
}
