using System.Globalization;

namespace Fovea.Training;

/// <summary>The per-epoch figure that early stopping and keeping the best checkpoint watch.</summary>
public enum TrainingMetric
{
    /// <summary>Mean validation loss (lower is better).</summary>
    ValidationLoss,

    /// <summary>Validation accuracy (higher is better).</summary>
    ValidationAccuracy,

    /// <summary>Mean training loss (lower is better).</summary>
    TrainLoss,

    /// <summary>Training accuracy (higher is better).</summary>
    TrainAccuracy,
}

/// <summary>
/// A metric and its direction: <see cref="Maximize"/> null takes the metric's natural one (losses down, accuracies
/// up). An epoch improves on the best so far when it beats it by more than <see cref="MinDelta"/>; a NaN never does.
/// </summary>
/// <param name="Metric">The figure watched.</param>
/// <param name="Maximize">True: higher is better; false: lower is better; null: the metric's natural direction.</param>
/// <param name="MinDelta">The least change that counts as an improvement (non-negative).</param>
public sealed record MonitoredMetric(TrainingMetric Metric = TrainingMetric.ValidationLoss, bool? Maximize = null, double MinDelta = 0)
{
    /// <summary>The names <see cref="Parse"/> accepts, as in the metrics file.</summary>
    public static IReadOnlyList<string> Names { get; } = ["val_loss", "val_accuracy", "train_loss", "train_accuracy"];

    /// <summary>Whether higher values are better.</summary>
    public bool Maximizes => Maximize ?? Metric is TrainingMetric.ValidationAccuracy or TrainingMetric.TrainAccuracy;

    /// <summary>The metric's name (<see cref="Names"/>) with its direction, e.g. <c>val_loss (min)</c>.</summary>
    public override string ToString() => $"{Names[(int)Metric]} ({(Maximizes ? "max" : "min")})";

    /// <summary>The watched value of <paramref name="epoch"/>.</summary>
    public double Value(EpochResult epoch) => Metric switch
    {
        TrainingMetric.ValidationLoss => epoch.ValidationLoss,
        TrainingMetric.ValidationAccuracy => epoch.ValidationAccuracy,
        TrainingMetric.TrainLoss => epoch.TrainLoss,
        TrainingMetric.TrainAccuracy => epoch.TrainAccuracy,
        _ => throw new ArgumentOutOfRangeException(nameof(epoch), Metric, "unknown metric"),
    };

    /// <summary>Whether <paramref name="value"/> improves on <paramref name="best"/> (NaN: nothing yet) by more than <see cref="MinDelta"/>.</summary>
    public bool Improves(double value, double best)
    {
        if (double.IsNaN(value)) return false;
        if (double.IsNaN(best)) return true;
        return Maximizes ? value > best + MinDelta : value < best - MinDelta;
    }

    /// <summary>The index in <paramref name="history"/> of the best epoch (the first of equals), or -1 when no epoch has a value.</summary>
    public int BestIndex(IReadOnlyList<EpochResult> history)
    {
        int best = -1;
        for (int i = 0; i < history.Count; i++)
            if (Improves(Value(history[i]), best < 0 ? double.NaN : Value(history[best]))) best = i;
        return best;
    }

    /// <summary>
    /// Parses <c>val_loss</c>, <c>val_accuracy</c>, <c>train_loss</c> or <c>train_accuracy</c>, optionally followed by
    /// <c>:min</c> or <c>:max</c> to choose the direction.
    /// </summary>
    /// <exception cref="ArgumentException">The text names no metric or direction.</exception>
    public static MonitoredMetric Parse(string text)
    {
        var parts = text.Split(':');
        int index = Array.IndexOf([.. Names], parts[0].Trim().ToLowerInvariant());
        if (index < 0 || parts.Length > 2)
            throw new ArgumentException($"'{text}' is not a metric ({string.Join(", ", Names)}, optionally with :min or :max)");
        bool? maximize = parts.Length == 1 ? null : parts[1].Trim().ToLowerInvariant() switch
        {
            "max" => true,
            "min" => false,
            _ => throw new ArgumentException($"'{text}': the direction after ':' must be min or max"),
        };
        return new MonitoredMetric((TrainingMetric)index, maximize);
    }

    /// <summary>The value formatted for messages.</summary>
    internal static string Format(double value) => value.ToString("0.####", CultureInfo.InvariantCulture);
}
