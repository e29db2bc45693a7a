using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Fovea.Fuzz;

/// <summary>How a run is set up.</summary>
/// <param name="Inputs">Mutants per target.</param>
/// <param name="Seed">The run seed; with the target's name and the input index it fixes each mutant.</param>
/// <param name="Limits">Time and memory limits of one call.</param>
/// <param name="SaveDirectory">Where failing inputs go, one folder per target.</param>
/// <param name="Start">The first input index (to rerun one input of an earlier run: <c>--start I --inputs 1</c>).</param>
/// <param name="SavedPerClass">How many inputs of each distinct failure are saved.</param>
public sealed record FuzzOptions(long Inputs, ulong Seed, OracleLimits Limits, string SaveDirectory, long Start = 0, int SavedPerClass = 5);

/// <summary>One distinct failure of a target: the inputs that share a <see cref="Verdict.Signature"/>.</summary>
public sealed class FailureClass(string signature, string kind, string detail, long firstIndex)
{
    /// <summary>Kind, exception type and first frame.</summary>
    public string Signature { get; } = signature;

    /// <summary>The exception type's name, "hang" or "memory".</summary>
    public string Kind { get; } = kind;

    /// <summary>The first input's detail line.</summary>
    public string Detail { get; } = detail;

    /// <summary>The first input's index.</summary>
    public long FirstIndex { get; } = firstIndex;

    /// <summary>How many inputs failed this way.</summary>
    public int Count { get; set; }

    /// <summary>Where the inputs were saved.</summary>
    public List<string> Saved { get; } = [];
}

/// <summary>What a target did over a run.</summary>
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

    /// <summary>Failures by kind: exception type name, "hang" or "memory".</summary>
    public SortedDictionary<string, int> FailuresByKind { get; } = new(StringComparer.Ordinal);

    /// <summary>Distinct failures, by signature, in the order they were found.</summary>
    public Dictionary<string, FailureClass> Distinct { get; } = [];

    /// <summary>Wall time of the target.</summary>
    public TimeSpan Elapsed { get; set; }

    /// <summary>The largest resident size seen while the target ran.</summary>
    public long PeakRssBytes { get; set; }

    /// <summary>Why the target did not run (its format is refused, no seeds), or null.</summary>
    public string? Skipped { get; set; }

    /// <summary>Why the target stopped early (a hang or a runaway allocation), or null.</summary>
    public string? Stopped { get; set; }

    /// <summary>Whether a loader thread is still running in the process (after a runaway: nothing more can run safely).</summary>
    public bool Runaway { get; set; }

    /// <summary>All failures.</summary>
    public int Failures => FailuresByKind.Values.Sum();

    /// <summary>The summary line.</summary>
    public string Summary()
    {
        if (Skipped is not null) return $"{Name,-14} skipped: {Skipped}";
        var line = new StringBuilder().Append(CultureInfo.InvariantCulture, $"{Name,-14} inputs {Inputs,7}  accepted {Accepted,7}  rejected {Rejected,7}  failures {Failures,5}");
        if (Failures > 0) line.Append(CultureInfo.InvariantCulture, $" [{string.Join(", ", FailuresByKind.Select(kv => $"{kv.Key} {kv.Value}"))}]");
        line.Append(CultureInfo.InvariantCulture, $"  distinct {Distinct.Count}  peak RSS {PeakRssBytes / (1024.0 * 1024.0):F0} MB  {Elapsed.TotalSeconds:F1} s");
        if (Stopped is not null) line.Append(CultureInfo.InvariantCulture, $"  STOPPED: {Stopped}");
        return line.ToString();
    }
}

/// <summary>
/// Runs a target: checks that every seed loads, then feeds it <see cref="FuzzOptions.Inputs"/> mutants through the
/// <see cref="Oracle"/>, saving failing inputs with the reason next to them. A hang or a runaway allocation stops the
/// target, since the loader's thread cannot be stopped.
/// </summary>
public sealed class FuzzRunner(FuzzOptions options, TextWriter log)
{
    /// <summary>Runs <paramref name="target"/>, writing its input files under <paramref name="workDirectory"/>.</summary>
    public TargetReport Run(FuzzTarget target, string workDirectory)
    {
        var report = new TargetReport(target.Name);
        var clock = Stopwatch.StartNew();
        IReadOnlyList<byte[]> seeds = target.Seeds();
        if (seeds.Count == 0)
        {
            report.Skipped = "no seed files";
            return report;
        }
        Directory.CreateDirectory(workDirectory);
        string inputPath = Path.Combine(workDirectory, "input" + target.Extension);
        long peak = 0;

        // Every seed must load: a rejected seed means the target tests nothing but the first check.
        var refused = new List<(int Seed, Verdict Verdict)>();
        for (int i = 0; i < seeds.Count; i++)
        {
            File.WriteAllBytes(inputPath, seeds[i]);
            var verdict = Oracle.Run(target.Load, inputPath, options.Limits);
            peak = Math.Max(peak, MemoryProbe.PeakRss());
            if (verdict.Outcome == Outcome.Accepted) continue;
            if (verdict.Outcome == Outcome.Rejected) refused.Add((i, verdict));
            else Record(report, target, SeedMutant(seeds, i), -1 - i, verdict);
            if (verdict.StopsTarget) return Finish(report, clock, peak, verdict);
        }
        if (target.FormatMayBeRefused && refused.Count == seeds.Count)
        {
            report.Skipped = $"the format is refused ({refused[0].Verdict.Detail})";
            return report;
        }
        foreach (var (i, verdict) in refused)
            Record(report, target, SeedMutant(seeds, i), -1 - i,
                verdict with { Outcome = Outcome.WrongException, Signature = "seed rejected", Detail = $"valid seed file {i} was rejected: {verdict.Detail}", Exception = null });

        var mutator = new Mutator(seeds, target.HotLength, target.SafetensorsHeader);
        for (long index = options.Start; index < options.Start + options.Inputs; index++)
        {
            var mutant = mutator.Mutate(FuzzRandom.ForInput(options.Seed, target.Name, index));
            File.WriteAllBytes(inputPath, mutant.Data);
            var verdict = Oracle.Run(target.Load, inputPath, options.Limits);
            report.Inputs++;
            if (MemoryProbe.PerCallPeak) peak = Math.Max(peak, MemoryProbe.PeakRss());
            switch (verdict.Outcome)
            {
                case Outcome.Accepted: report.Accepted++; break;
                case Outcome.Rejected: report.Rejected++; break;
                default: Record(report, target, mutant, index, verdict); break;
            }
            if (verdict.StopsTarget) return Finish(report, clock, peak, verdict);
        }
        return Finish(report, clock, peak, null);
    }

    private static Mutant SeedMutant(IReadOnlyList<byte[]> seeds, int index) => new(seeds[index], index, [$"seed file {index} unchanged"]);

    private static TargetReport Finish(TargetReport report, Stopwatch clock, long peak, Verdict? stop)
    {
        report.Elapsed = clock.Elapsed;
        // Without a per-call peak the process-wide one is all there is (it includes earlier targets).
        report.PeakRssBytes = MemoryProbe.PerCallPeak ? peak : Process.GetCurrentProcess().PeakWorkingSet64;
        if (stop is not null)
        {
            report.Stopped = $"{stop.Signature}: {stop.Detail}";
            report.Runaway = stop.Runaway;
        }
        return report;
    }

    private void Record(TargetReport report, FuzzTarget target, Mutant mutant, long index, Verdict verdict)
    {
        string kind = verdict.Outcome switch
        {
            Outcome.Hang => "hang",
            Outcome.Memory => "memory",
            _ => verdict.Exception?.GetType().Name ?? verdict.Signature,
        };
        report.FailuresByKind[kind] = report.FailuresByKind.GetValueOrDefault(kind) + 1;
        if (!report.Distinct.TryGetValue(verdict.Signature, out var failure))
        {
            report.Distinct[verdict.Signature] = failure = new FailureClass(verdict.Signature, kind, verdict.Detail, index);
            log.WriteLine($"  {target.Name} input {index}: new failure: {verdict.Signature}: {verdict.Detail}");
        }
        failure.Count++;
        if (failure.Saved.Count < options.SavedPerClass) failure.Saved.Add(Save(target, mutant, index, verdict));
    }

    private string Save(FuzzTarget target, Mutant mutant, long index, Verdict verdict)
    {
        string dir = Path.Combine(options.SaveDirectory, target.Name);
        Directory.CreateDirectory(dir);
        string stem = Path.Combine(dir, $"{(index < 0 ? $"seed{-1 - index}" : index.ToString("D7", CultureInfo.InvariantCulture))}-{verdict.Outcome.ToString().ToLowerInvariant()}");
        string file = stem + target.Extension;
        File.WriteAllBytes(file, mutant.Data);
        var reason = new StringBuilder();
        reason.AppendLine(CultureInfo.InvariantCulture, $"target: {target.Name}");
        reason.AppendLine(CultureInfo.InvariantCulture, $"reproduce: dotnet run --project tools/Fovea.Fuzz -c Release -- --target {target.Name} --replay {file}");
        if (index >= 0) reason.AppendLine(CultureInfo.InvariantCulture, $"regenerate: dotnet run --project tools/Fovea.Fuzz -c Release -- --target {target.Name} --seed {options.Seed} --start {index} --inputs 1");
        reason.AppendLine(CultureInfo.InvariantCulture, $"failure: {verdict.Signature}");
        reason.AppendLine(CultureInfo.InvariantCulture, $"detail: {verdict.Detail}");
        reason.AppendLine(CultureInfo.InvariantCulture, $"time: {verdict.Elapsed.TotalMilliseconds:F0} ms, allocated {verdict.AllocatedBytes} bytes, resident growth {verdict.RssGrowthBytes?.ToString(CultureInfo.InvariantCulture) ?? "unknown"} bytes");
        reason.AppendLine(CultureInfo.InvariantCulture, $"made from seed file {mutant.SeedIndex} by:");
        foreach (string step in mutant.Steps) reason.AppendLine("  " + step);
        if (verdict.Exception is { } e) reason.AppendLine().AppendLine(e.ToString());
        File.WriteAllText(stem + ".txt", reason.ToString());
        return file;
    }
}
