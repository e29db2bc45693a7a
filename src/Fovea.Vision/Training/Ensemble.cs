using Fovea.Training;

namespace Fovea.Vision.Training;

/// <summary>What <see cref="Ensemble.Evaluate"/> measured: each member alone and the average of their softmax outputs.</summary>
/// <param name="Members">Each model's own evaluation, in the order given (loss: cross-entropy of its logits).</param>
/// <param name="Combined">The ensemble's: the prediction is the arg-max of the mean probability; the loss is the mean −log of the mean probability of the true class.</param>
public sealed record EnsembleResult(IReadOnlyList<EvaluationResult> Members, EvaluationResult Combined)
{
    /// <summary>The best member's accuracy.</summary>
    public double BestMemberAccuracy => Members.Max(m => m.Accuracy);

    /// <summary>The ensemble's accuracy less the best member's.</summary>
    public double Gain => Combined.Accuracy - BestMemberAccuracy;
}

/// <summary>
/// Model ensembles (AlexNet's test-time trick): several models trained on the same classes, each run on the same
/// inputs, their softmax outputs averaged, p̄ = (1/M) Σₘ softmax(zₘ), and the class of largest p̄ predicted.
/// </summary>
public static class Ensemble
{
    /// <summary>
    /// Refuses models that cannot be averaged: other class names, or inputs prepared differently (channels, size,
    /// preprocessing), since each batch is fed to all of them.
    /// </summary>
    public static void CheckCompatible(IReadOnlyList<TrainedModel> models)
    {
        if (models.Count == 0) throw new ArgumentException("an ensemble needs at least one model");
        var first = models[0];
        foreach (var m in models.Skip(1))
        {
            if (!m.ClassNames.SequenceEqual(first.ClassNames))
                throw new ArgumentException($"{m.Path} has classes {string.Join(", ", m.ClassNames)}, {first.Path} has {string.Join(", ", first.ClassNames)}: an ensemble averages the same classes");
            if (m.InputChannels != first.InputChannels || m.InputSize != first.InputSize || !Equals(m.InputPreprocessing, first.InputPreprocessing))
                throw new ArgumentException($"{m.Path} takes {m.InputChannels}x{m.InputSize}x{m.InputSize} inputs prepared as {m.InputPreprocessing.ToJson()}, {first.Path} takes {first.InputChannels}x{first.InputSize}x{first.InputSize} prepared as {first.InputPreprocessing.ToJson()}: an ensemble feeds them the same inputs");
        }
    }

    /// <summary>Evaluates every model and their average over <paramref name="batches"/> (targets index the models' outputs), in one pass over the data.</summary>
    public static EnsembleResult Evaluate(IReadOnlyList<TrainedModel> models, IEnumerable<(Tensor Input, Tensor Target)> batches)
    {
        CheckCompatible(models);
        int k = models[0].ClassNames.Length;
        var confusions = models.Select(_ => new int[k, k]).ToList();
        var losses = new double[models.Count];
        var combined = new int[k, k];
        double combinedLoss = 0;
        using var _ = GradMode.Disable();
        foreach (var (x, y) in batches)
        {
            var targets = y.To(DType.Int32).Contiguous().ToArray<int>();
            Tensor? sum = null;
            for (int m = 0; m < models.Count; m++)
            {
                var logits = models[m].Model.Forward(x);
                var p = NN.Functional.Softmax(logits.To(DType.Float64), 1);
                losses[m] += NN.Functional.CrossEntropy(logits, y, reduction: NN.Reduction.Sum).ToScalar();
                Evaluation.Accumulate(confusions[m], targets, Classification.Predictions(logits));
                sum = sum is null ? p : sum.Add(p);
            }
            var mean = sum!.Mul(1.0 / models.Count);
            Evaluation.Accumulate(combined, targets, Classification.Predictions(mean));
            var probs = mean.Contiguous().ToArray<double>();
            for (int i = 0; i < targets.Length; i++) combinedLoss -= Math.Log(Math.Max(probs[i * k + targets[i]], double.Epsilon));
        }
        int n = Evaluation.Total(combined);
        var members = confusions.Select((c, m) => new EvaluationResult(n == 0 ? double.NaN : losses[m] / n, c)).ToList();
        return new EnsembleResult(members, new EvaluationResult(n == 0 ? double.NaN : combinedLoss / n, combined));
    }
}
