namespace Fovea.NN;

/// <summary>How a loss combines its per-element values.</summary>
public enum Reduction
{
    /// <summary>No reduction: one loss per element (per sample for class losses).</summary>
    None,
    /// <summary>The mean (for class losses with weights: the weighted mean, Σ wₙlₙ / Σ wₙ, as PyTorch).</summary>
    Mean,
    /// <summary>The sum.</summary>
    Sum,
}

public static partial class Functional
{
    private static Tensor Reduce(Tensor loss, Reduction reduction) => reduction switch
    {
        Reduction.None => loss,
        Reduction.Sum => loss.Sum(),
        _ => loss.Mean(),
    };

    /// <summary>Mean squared error: lᵢ = (xᵢ − yᵢ)² (the seeds' Euclidean loss). Input and target must have the same shape.</summary>
    public static Tensor MseLoss(Tensor input, Tensor target, Reduction reduction = Reduction.Mean)
    {
        ShapeChecks.LossSame("mse_loss", input.Shape, target.Shape);
        return Reduce(input.Sub(target).Square(), reduction);
    }

    /// <summary>Mean absolute error: lᵢ = |xᵢ − yᵢ| (gradient sign(x − y), 0 where they are equal).</summary>
    public static Tensor L1Loss(Tensor input, Tensor target, Reduction reduction = Reduction.Mean)
    {
        ShapeChecks.LossSame("l1_loss", input.Shape, target.Shape);
        return Reduce(input.Sub(target).Abs(), reduction);
    }

    /// <summary>
    /// Huber loss: with d = x − y, l = ½d² where |d| &lt; δ, else δ(|d| − ½δ): quadratic near zero, linear
    /// (gradient ±δ) in the tails, continuous with a continuous derivative at |d| = δ.
    /// </summary>
    public static Tensor HuberLoss(Tensor input, Tensor target, Reduction reduction = Reduction.Mean, double delta = 1.0)
    {
        if (!(delta > 0)) throw new ArgumentOutOfRangeException(nameof(delta), delta, "huber_loss: delta must be positive");
        ShapeChecks.LossSame("huber_loss", input.Shape, target.Shape);
        var d = input.Sub(target);
        var a = d.Abs();
        var loss = Tensor.Where(a.Lt(delta), d.Square().Mul(0.5), a.Sub(0.5 * delta).Mul(delta));
        return Reduce(loss, reduction);
    }

    /// <summary>
    /// Binary cross-entropy on logits, l = −w·[p·y·log σ(x) + (1 − y)·log(1 − σ(x))] with p the positive
    /// weight, computed stably as (1 − y)·x + (1 + (p − 1)·y)·softplus(−x) (never forming log σ).
    /// <paramref name="posWeight"/> broadcasts along the last (class) dim; <paramref name="weight"/> broadcasts against the input.
    /// </summary>
    public static Tensor BinaryCrossEntropyWithLogits(Tensor input, Tensor target, Tensor? weight = null, Tensor? posWeight = null, Reduction reduction = Reduction.Mean)
    {
        ShapeChecks.LossSame("binary_cross_entropy_with_logits", input.Shape, target.Shape);
        var softplusNeg = LogOnePlusExp(input.Neg());
        var logWeight = posWeight is null ? softplusNeg : posWeight.Sub(1).Mul(target).Add(1).Mul(softplusNeg);
        var loss = target.Neg().Add(1).Mul(input).Add(logWeight);
        if (weight is not null) loss = loss.Mul(weight);
        return Reduce(loss, reduction);
    }

    /// <summary>
    /// Negative log-likelihood of class indices: lₙ = −w[tₙ]·x[n, tₙ] for log-probabilities x [N, C, d1, ...]
    /// (or [C]) and Int32 targets [N, d1, ...] (or 0-d). Targets equal to <paramref name="ignoreIndex"/> contribute
    /// nothing; the mean is Σ lₙ / Σ w[tₙ] over the targets not ignored (NaN when all are ignored, as PyTorch).
    /// </summary>
    public static Tensor NllLoss(Tensor input, Tensor target, Tensor? weight = null, int ignoreIndex = -100, Reduction reduction = Reduction.Mean) =>
        Nll("nll_loss", input, target, weight, ignoreIndex, reduction);

    private static Tensor Nll(string op, Tensor input, Tensor target, Tensor? weight, int ignoreIndex, Reduction reduction)
    {
        CheckClassTargets(op, input, target, weight, ignoreIndex);
        bool unbatched = input.Rank == 1;
        var x = unbatched ? input.Unsqueeze(0) : input;
        var t = unbatched ? target.Reshape(1) : target;
        var valid = t.Ne(ignoreIndex);
        var safe = Tensor.Where(valid, t, Tensor.Zeros([], DType.Int32));
        var picked = x.Gather(1, safe.Unsqueeze(1)).Squeeze(1);
        var w = valid.To(x.DType);
        if (weight is not null) w = w.Mul(weight.IndexSelect(0, safe.Reshape(-1)).Reshape(t.Shape));
        var loss = picked.Mul(w).Neg();
        return reduction switch
        {
            Reduction.None => unbatched ? loss.Reshape() : loss,
            Reduction.Sum => loss.Sum(),
            _ => loss.Sum().Div(w.Sum()),
        };
    }

    /// <summary>
    /// Cross-entropy of logits x [N, C, d1, ...] (or [C]) against either Int32 class indices [N, d1, ...] or class
    /// probabilities of x's shape: LogSoftmax over dim 1 followed by the negative log-likelihood.
    /// With label smoothing ε the target becomes (1 − ε)·target + ε/C, which for class indices PyTorch computes as
    /// (1 − ε)·nll + (ε/C)·Σ_c −w_c·log p_c, whose mean divides by Σ w[tₙ] (by the count without weights) over the
    /// targets not ignored. <paramref name="ignoreIndex"/> applies to class indices only.
    /// </summary>
    public static Tensor CrossEntropy(Tensor input, Tensor target, Tensor? weight = null, int ignoreIndex = -100,
        Reduction reduction = Reduction.Mean, double labelSmoothing = 0)
    {
        const string op = "cross_entropy";
        if (!(labelSmoothing >= 0 && labelSmoothing <= 1))
            throw new ArgumentOutOfRangeException(nameof(labelSmoothing), labelSmoothing, "cross_entropy: label smoothing must be in [0, 1]");
        if (input.Rank == 0) throw new ShapeException(op, "expected input [N, C] or [C], got a 0-d tensor");
        int classDim = input.Rank == 1 ? 0 : 1;
        int classes = input.Size(classDim);
        var logp = LogSoftmax(input, classDim);
        Tensor? wb = null;
        if (weight is not null)
        {
            ShapeChecks.ClassVector(op, "weight", weight.Shape, classes);
            var shape = new int[input.Rank];
            Array.Fill(shape, 1);
            shape[classDim] = classes;
            wb = weight.Reshape(shape);
        }
        if (target.DType.IsFloating())
        {
            ShapeChecks.LossSame(op + " (class probabilities)", input.Shape, target.Shape);
            var y = labelSmoothing > 0 ? target.Mul(1 - labelSmoothing).Add(labelSmoothing / classes) : target;
            var term = logp.Mul(y);
            if (wb is not null) term = term.Mul(wb);
            var perSample = term.Sum(classDim).Neg();
            return Reduce(perSample, reduction);
        }
        var nll = Nll(op, logp, target, weight, ignoreIndex, reduction);
        if (labelSmoothing == 0) return nll;
        var valid = target.Ne(ignoreIndex);
        var smooth = (wb is null ? logp : logp.Mul(wb)).Sum(classDim).Neg();
        smooth = Tensor.Where(valid, smooth, Tensor.Zeros([], smooth.DType));
        Tensor reduced;
        if (reduction == Reduction.None) reduced = smooth;
        else if (reduction == Reduction.Sum) reduced = smooth.Sum();
        else if (weight is null) reduced = smooth.Sum().Div(valid.To(smooth.DType).Sum());
        else
        {
            var safe = Tensor.Where(valid, target, Tensor.Zeros([], DType.Int32));
            var wt = weight.IndexSelect(0, safe.Reshape(-1)).Mul(valid.Reshape(-1).To(weight.DType));
            reduced = smooth.Sum().Div(wt.Sum());
        }
        return nll.Mul(1 - labelSmoothing).Add(reduced.Mul(labelSmoothing / classes));
    }

    /// <summary>
    /// Multi-class hinge loss (the multiclass SVM loss): lₙ = (1/C)·Σ_{i≠tₙ} w[tₙ]·max(0, margin − x[n, tₙ] + x[n, i])ᵖ
    /// for scores x [N, C] (or [C]) and Int32 targets [N] (or 0-d), p ∈ {1, 2}. The mean is over samples.
    /// </summary>
    public static Tensor MultiMarginLoss(Tensor input, Tensor target, int p = 1, double margin = 1, Tensor? weight = null, Reduction reduction = Reduction.Mean)
    {
        const string op = "multi_margin_loss";
        if (p is not (1 or 2)) throw new ArgumentOutOfRangeException(nameof(p), p, "multi_margin_loss: only p = 1 and p = 2 are supported");
        if (input.Rank > 2) throw new ShapeException(op, $"expected input [N, C] or [C], got {ShapeChecks.Format(input.Shape)}");
        int classes = CheckClassTargets(op, input, target, weight, null);
        bool unbatched = input.Rank == 1;
        var x = unbatched ? input.Unsqueeze(0) : input;
        var t = unbatched ? target.Reshape(1) : target;
        var column = t.Unsqueeze(1);
        var scoreOfTarget = x.Gather(1, column);
        var others = Tensor.Arange(classes, DType.Int32).Reshape(1, classes).Ne(column);
        // Relu's derivative is 0 at 0, matching PyTorch's "z > 0" rule at the hinge.
        var hinge = x.Sub(scoreOfTarget).Add(margin).Relu();
        if (p == 2) hinge = hinge.Square();
        hinge = Tensor.Where(others, hinge, Tensor.Zeros([], hinge.DType));
        var loss = hinge.Sum(1).Div(classes);
        if (weight is not null) loss = loss.Mul(weight.IndexSelect(0, t));
        if (unbatched && reduction == Reduction.None) return loss.Reshape();
        return Reduce(loss, reduction);
    }

    /// <summary>Checks shapes and dtype of class-index targets and that every target is a class or the ignore index; returns C.</summary>
    private static int CheckClassTargets(string op, Tensor input, Tensor target, Tensor? weight, int? ignoreIndex)
    {
        if (target.DType != DType.Int32)
            throw new DTypeException(op, $"class-index targets must be int32, got {target.DType.Name()} (for class probabilities use cross_entropy with a floating target)");
        int classes = ShapeChecks.ClassTargets(op, input.Shape, target.Shape);
        if (weight is not null) ShapeChecks.ClassVector(op, "weight", weight.Shape, classes);
        var values = target.Contiguous().AsSpan<int>();
        for (int i = 0; i < values.Length; i++)
        {
            int v = values[i];
            if ((v >= 0 && v < classes) || v == ignoreIndex) continue;
            string valid = ignoreIndex is { } ig ? $"0 to {classes - 1}, or the ignore index {ig}" : $"0 to {classes - 1}";
            throw new ArgumentException($"{op}: target {v} at {PositionOf(i, target.Shape)} is out of range for {classes} classes (valid: {valid})");
        }
        return classes;
    }

    private static string PositionOf(int flat, int[] shape)
    {
        var idx = new int[shape.Length];
        for (int d = shape.Length - 1; d >= 0; d--)
        {
            idx[d] = flat % shape[d];
            flat /= shape[d];
        }
        return "index " + ShapeChecks.Format(idx);
    }
}
