using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Fovea.Fuzz;

/// <summary>One distinct failure of a target: the inputs that share a <see cref="Verdict.Signature"/>.</summary>
public sealed class FailureClass(string signature, string kind, string detail, long firstIndex)
{
    /// <summary>Kind, exception type, first frame and message.</summary>
    public string Signature { get; } = signature;

    /// <summary>The exception type's name, "hang", "memory" or "crash".</summary>
    public string Kind { get; } = kind;

    /// <summary>The first input's detail line.</summary>
    public string Detail { get; } = detail;

    /// <summary>The first input's index (negative for a seed file).</summary>
    public long FirstIndex { get; } = firstIndex;

    /// <summary>How many inputs failed this way.</summary>
    public int Count { get; set; }

    /// <summary>Where the inputs were saved.</summary>
    public List<string> Saved { get; init; } = [];
}

/// <summary>What a target did over a run (or, merged, over several runs of consecutive input ranges).</summary>
public sealed class TargetReport(string name)
{
    /// <summary>The target.</summary>
    public string Name { get; } = name;

    /// <summary>Inputs run (fewer than asked when the target was stopped).</summary>
    public long Inputs { get; set; }

    /// <summary>Inputs loaded.</summary>
    public long Accepted { get; set; }

    /// <summary>Inputs refused with <see cref="InvalidDataException"/>.</summary>
    public long Rejected { get; set; }

    /// <summary>Failures by kind: exception type name, "hang", "memory" or "crash".</summary>
    public SortedDictionary<string, int> FailuresByKind { get; init; } = new(StringComparer.Ordinal);

    /// <summary>Distinct failures, by signature, in the order they were found.</summary>
    public Dictionary<string, FailureClass> Distinct { get; init; } = [];

    /// <summary>The index after the last input run: where a run that was stopped goes on.</summary>
    public long NextIndex { get; set; }

    /// <summary>Wall time of the target.</summary>
    public TimeSpan Elapsed { get; set; }

    /// <summary>The largest resident size seen while the target ran.</summary>
    public long PeakRssBytes { get; set; }

    /// <summary>Why the target did not run (its format is refused, no seeds), or null.</summary>
    public string? Skipped { get; set; }

    /// <summary>Why the target stopped before its last input (a hang, a runaway allocation, a crash), or null.</summary>
    public string? Stopped { get; set; }

    /// <summary>How many times the target was stopped and went on in a fresh process.</summary>
    public int Restarts { get; set; }

    /// <summary>Whether a loader thread is still running in the process (after a runaway: nothing more can run safely).</summary>
    public bool Runaway { get; set; }

    /// <summary>All failures.</summary>
    public int Failures => FailuresByKind.Values.Sum();

    /// <summary>Counts one failure under <paramref name="kind"/> and <paramref name="signature"/>; returns its class and whether it is new.</summary>
    public (FailureClass Class, bool New) Count(string signature, string kind, string detail, long index)
    {
        FailuresByKind[kind] = FailuresByKind.GetValueOrDefault(kind) + 1;
        bool isNew = !Distinct.TryGetValue(signature, out var failure);
        if (isNew) Distinct[signature] = failure = new FailureClass(signature, kind, detail, index);
        failure!.Count++;
        return (failure, isNew);
    }

    /// <summary>Adds a later run of the same target (inputs from <see cref="NextIndex"/> on) to this one.</summary>
    public void Add(TargetReport later)
    {
        Inputs += later.Inputs;
        Accepted += later.Accepted;
        Rejected += later.Rejected;
        foreach (var (kind, n) in later.FailuresByKind) FailuresByKind[kind] = FailuresByKind.GetValueOrDefault(kind) + n;
        foreach (var (signature, failure) in later.Distinct)
        {
            if (Distinct.TryGetValue(signature, out var mine))
            {
                mine.Count += failure.Count;
                mine.Saved.AddRange(failure.Saved);
            }
            else Distinct[signature] = failure;
        }
        NextIndex = later.NextIndex;
        Elapsed += later.Elapsed;
        PeakRssBytes = Math.Max(PeakRssBytes, later.PeakRssBytes);
        Skipped ??= later.Skipped;
        Stopped = later.Stopped;
        Runaway = later.Runaway;
    }

    /// <summary>The report as JSON (how a child process hands it to its parent).</summary>
    public string ToJson() => JsonSerializer.Serialize(this);

    /// <summary>A report written by <see cref="ToJson"/>.</summary>
    public static TargetReport FromJson(string json) =>
        JsonSerializer.Deserialize<TargetReport>(json) ?? throw new InvalidDataException("empty fuzz report");

    /// <summary>The summary line.</summary>
    public string Summary()
    {
        if (Skipped is not null) return $"{Name,-14} skipped: {Skipped}";
        var line = new StringBuilder().Append(CultureInfo.InvariantCulture, $"{Name,-14} inputs {Inputs,7}  accepted {Accepted,7}  rejected {Rejected,7}  failures {Failures,5}");
        if (Failures > 0) line.Append(CultureInfo.InvariantCulture, $" [{string.Join(", ", FailuresByKind.Select(kv => $"{kv.Key} {kv.Value}"))}]");
        line.Append(CultureInfo.InvariantCulture, $"  distinct {Distinct.Count}  peak RSS {PeakRssBytes / (1024.0 * 1024.0):F0} MB  {Elapsed.TotalSeconds:F1} s");
        if (Restarts > 0) line.Append(CultureInfo.InvariantCulture, $"  ({Restarts} restarts after a hang or crash)");
        if (Stopped is not null) line.Append(CultureInfo.InvariantCulture, $"  STOPPED: {Stopped}");
        return line.ToString();
    }
}
