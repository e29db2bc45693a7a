using System.Globalization;

namespace Fovea.NN;

/// <summary>
/// Base of the loss modules: <c>loss.Forward(input, target)</c> returns the loss reduced by <see cref="Reduction"/>.
/// Class weights and positive weights are registered as buffers, so they follow <see cref="Module.To"/>.
/// </summary>
public abstract class Loss(Reduction reduction) : Module
{
    /// <summary>How per-element losses are combined.</summary>
    public Reduction Reduction { get; } = reduction;

    /// <summary>Computes the loss of <paramref name="input"/> against <paramref name="target"/>.</summary>
    public abstract Tensor Forward(Tensor input, Tensor target);

    /// <summary>Registers an optional buffer and returns whether it was given.</summary>
    private protected bool OptionalBuffer(string name, Tensor? value)
    {
        if (value is null) return false;
        RegisterBuffer(name, value);
        return true;
    }

    /// <inheritdoc/>
    public override string Describe() => $"{GetType().Name}(reduction={Reduction})";
}

/// <summary>Mean squared error (the Euclidean loss).</summary>
public sealed class MSELoss(Reduction reduction = Reduction.Mean) : Loss(reduction)
{
    /// <inheritdoc/>
    public override Tensor Forward(Tensor input, Tensor target) => Functional.MseLoss(input, target, Reduction);
}

/// <summary>Mean absolute error.</summary>
public sealed class L1Loss(Reduction reduction = Reduction.Mean) : Loss(reduction)
{
    /// <inheritdoc/>
    public override Tensor Forward(Tensor input, Tensor target) => Functional.L1Loss(input, target, Reduction);
}

/// <summary>Huber loss with threshold δ.</summary>
public sealed class HuberLoss(Reduction reduction = Reduction.Mean, double delta = 1.0) : Loss(reduction)
{
    /// <summary>Where the loss turns from quadratic to linear.</summary>
    public double Delta { get; } = delta;

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input, Tensor target) => Functional.HuberLoss(input, target, Reduction, Delta);
}

/// <summary>Binary cross-entropy on logits with optional element weights and per-class positive weights.</summary>
public sealed class BCEWithLogitsLoss : Loss
{
    private readonly bool _hasWeight, _hasPosWeight;

    /// <summary>Creates the loss; <paramref name="posWeight"/> broadcasts along the last dim.</summary>
    public BCEWithLogitsLoss(Tensor? weight = null, Reduction reduction = Reduction.Mean, Tensor? posWeight = null) : base(reduction)
    {
        _hasWeight = OptionalBuffer("weight", weight);
        _hasPosWeight = OptionalBuffer("pos_weight", posWeight);
    }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input, Tensor target) =>
        Functional.BinaryCrossEntropyWithLogits(input, target, _hasWeight ? GetBuffer("weight") : null, _hasPosWeight ? GetBuffer("pos_weight") : null, Reduction);
}

/// <summary>Negative log-likelihood of class indices (input: log-probabilities).</summary>
public sealed class NLLLoss : Loss
{
    private readonly bool _hasWeight;

    /// <summary>Targets equal to this contribute nothing.</summary>
    public int IgnoreIndex { get; }

    /// <summary>Creates the loss with optional class weights [C].</summary>
    public NLLLoss(Tensor? weight = null, int ignoreIndex = -100, Reduction reduction = Reduction.Mean) : base(reduction)
    {
        _hasWeight = OptionalBuffer("weight", weight);
        IgnoreIndex = ignoreIndex;
    }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input, Tensor target) =>
        Functional.NllLoss(input, target, _hasWeight ? GetBuffer("weight") : null, IgnoreIndex, Reduction);
}

/// <summary>Cross-entropy of logits against class indices or class probabilities, with label smoothing.</summary>
public sealed class CrossEntropyLoss : Loss
{
    private readonly bool _hasWeight;

    /// <summary>Class-index targets equal to this contribute nothing.</summary>
    public int IgnoreIndex { get; }

    /// <summary>ε: the target becomes (1 − ε)·target + ε/C.</summary>
    public double LabelSmoothing { get; }

    /// <summary>Creates the loss with optional class weights [C].</summary>
    public CrossEntropyLoss(Tensor? weight = null, int ignoreIndex = -100, Reduction reduction = Reduction.Mean, double labelSmoothing = 0) : base(reduction)
    {
        if (!(labelSmoothing >= 0 && labelSmoothing <= 1))
            throw new ArgumentOutOfRangeException(nameof(labelSmoothing), labelSmoothing, "CrossEntropyLoss: label smoothing must be in [0, 1]");
        _hasWeight = OptionalBuffer("weight", weight);
        IgnoreIndex = ignoreIndex;
        LabelSmoothing = labelSmoothing;
    }

    /// <inheritdoc/>
    public override string Describe() => string.Create(CultureInfo.InvariantCulture, $"CrossEntropyLoss(reduction={Reduction}, label_smoothing={LabelSmoothing})");

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input, Tensor target) =>
        Functional.CrossEntropy(input, target, _hasWeight ? GetBuffer("weight") : null, IgnoreIndex, Reduction, LabelSmoothing);
}

/// <summary>The multiclass SVM hinge loss, p = 1 or 2.</summary>
public sealed class MultiMarginLoss : Loss
{
    private readonly bool _hasWeight;

    /// <summary>The exponent p.</summary>
    public int P { get; }

    /// <summary>The margin by which the target's score should beat every other.</summary>
    public double Margin { get; }

    /// <summary>Creates the loss with optional class weights [C].</summary>
    public MultiMarginLoss(int p = 1, double margin = 1, Tensor? weight = null, Reduction reduction = Reduction.Mean) : base(reduction)
    {
        if (p is not (1 or 2)) throw new ArgumentOutOfRangeException(nameof(p), p, "MultiMarginLoss: only p = 1 and p = 2 are supported");
        P = p;
        Margin = margin;
        _hasWeight = OptionalBuffer("weight", weight);
    }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input, Tensor target) =>
        Functional.MultiMarginLoss(input, target, P, Margin, _hasWeight ? GetBuffer("weight") : null, Reduction);
}
