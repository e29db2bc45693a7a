using Fovea.NN;
using Fovea.Training;

namespace Fovea.Vision.Training;

/// <summary>What an evaluation pass measured: mean loss, accuracy, and the confusion matrix (rows = true class, columns = predicted).</summary>
public sealed class EvaluationResult(double loss, int[,] confusion)
{
    /// <summary>Mean cross-entropy over the samples.</summary>
    public double Loss { get; } = loss;

    /// <summary>counts[true, predicted].</summary>
    public int[,] Confusion { get; } = confusion;

    /// <summary>Number of classes.</summary>
    public int Classes => Confusion.GetLength(0);

    /// <summary>Number of samples.</summary>
    public int Count { get; } = Evaluation.Total(confusion);

    /// <summary>Fraction of samples whose top prediction is the label.</summary>
    public double Accuracy => Evaluation.Accuracy(Confusion);

    /// <summary>Per-class recall: correct / samples of that class (NaN for a class with no samples).</summary>
    public double[] PerClassAccuracy => Evaluation.PerClassAccuracy(Confusion);
}

/// <summary>Evaluation helpers: accuracy, per-class accuracy, confusion matrix, top-k predictions with softmax probabilities.</summary>
public static class Evaluation
{
    /// <summary>The arg-max class of each row of <paramref name="logits"/> [N, K] (<see cref="Classification.Predictions"/>).</summary>
    public static int[] Predictions(Tensor logits) => Classification.Predictions(logits);

    /// <summary>How many rows of <paramref name="logits"/> have their maximum at the label in <paramref name="targets"/> (<see cref="Classification.Correct"/>).</summary>
    public static int Correct(Tensor logits, Tensor targets) => Classification.Correct(logits, targets);

    /// <summary>Adds each (target, prediction) pair to <paramref name="confusion"/>[target, prediction].</summary>
    public static void Accumulate(int[,] confusion, ReadOnlySpan<int> targets, ReadOnlySpan<int> predictions)
    {
        for (int i = 0; i < targets.Length; i++) confusion[targets[i], predictions[i]]++;
    }

    /// <summary>The confusion matrix of <paramref name="targets"/> against <paramref name="predictions"/>.</summary>
    public static int[,] ConfusionMatrix(ReadOnlySpan<int> targets, ReadOnlySpan<int> predictions, int classes)
    {
        if (targets.Length != predictions.Length) throw new ArgumentException($"ConfusionMatrix: {targets.Length} targets but {predictions.Length} predictions");
        var m = new int[classes, classes];
        Accumulate(m, targets, predictions);
        return m;
    }

    /// <summary>The number of samples counted in <paramref name="confusion"/>.</summary>
    public static int Total(int[,] confusion)
    {
        int t = 0;
        foreach (int v in confusion) t += v;
        return t;
    }

    /// <summary>Trace / total of <paramref name="confusion"/> (0 when empty).</summary>
    public static double Accuracy(int[,] confusion)
    {
        int total = Total(confusion), diag = 0;
        for (int i = 0; i < confusion.GetLength(0); i++) diag += confusion[i, i];
        return total == 0 ? 0 : (double)diag / total;
    }

    /// <summary>Per-class recall (diagonal / row sum; NaN for an empty row).</summary>
    public static double[] PerClassAccuracy(int[,] confusion)
    {
        int k = confusion.GetLength(0);
        var acc = new double[k];
        for (int i = 0; i < k; i++)
        {
            int row = 0;
            for (int j = 0; j < k; j++) row += confusion[i, j];
            acc[i] = row == 0 ? double.NaN : (double)confusion[i, i] / row;
        }
        return acc;
    }

    /// <summary>
    /// Runs <paramref name="model"/> in eval mode without gradients over <paramref name="batches"/>; returns the mean
    /// cross-entropy and the confusion matrix over <paramref name="classes"/> classes. Restores the training mode after.
    /// </summary>
    public static EvaluationResult Evaluate(Module<Tensor, Tensor> model, IEnumerable<(Tensor Input, Tensor Target)> batches, int classes)
    {
        bool wasTraining = model.Training;
        model.Eval();
        try
        {
            using var _ = GradMode.Disable();
            var loss = new CrossEntropyLoss(reduction: Reduction.Sum);
            var confusion = new int[classes, classes];
            double lossSum = 0;
            foreach (var (x, y) in batches)
            {
                var logits = model.Forward(x);
                lossSum += loss.Forward(logits, y).ToScalar();
                Accumulate(confusion, y.To(DType.Int32).Contiguous().ToArray<int>(), Predictions(logits));
            }
            int n = Total(confusion);
            return new EvaluationResult(n == 0 ? double.NaN : lossSum / n, confusion);
        }
        finally
        {
            model.Train(wasTraining);
        }
    }

    /// <summary>The <paramref name="k"/> most probable classes of one sample's logits [K] or [1, K], with softmax probabilities, best first.</summary>
    public static IReadOnlyList<(int Class, double Probability)> TopK(Tensor logits, int k)
    {
        var v = logits.Detach().To(DType.Float64).Contiguous().ToArray<double>();
        if (v.Length == 0) throw new ArgumentException("TopK: empty logits");
        double max = v.Max(), sum = 0;
        var p = new double[v.Length];
        for (int i = 0; i < v.Length; i++) sum += p[i] = Math.Exp(v[i] - max);
        return Enumerable.Range(0, v.Length).OrderByDescending(i => p[i]).ThenBy(i => i).Take(Math.Min(k, v.Length))
            .Select(i => (i, p[i] / sum)).ToList();
    }
}
