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
        var report = new TargetReport(target.Name) { NextIndex = options.Start };
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
            report.NextIndex = index + 1;
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
        var (failure, isNew) = report.Count(verdict.Signature, kind, verdict.Detail, index);
        if (isNew) log.WriteLine($"  {target.Name} input {index}: new failure: {verdict.Signature}: {verdict.Detail}");
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
