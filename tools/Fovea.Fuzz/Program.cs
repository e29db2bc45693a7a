using System.Globalization;
using System.Text.Json;
using Fovea.Fuzz;

// Fovea's loader fuzzer: mutates valid seed files of every format Fovea reads and checks that each loader returns
// or throws InvalidDataException, within the time limit and a memory budget. Exit code 1 when anything failed.

const string Usage = """
    usage: dotnet run --project tools/Fovea.Fuzz -c Release -- [options]
      --target NAME[,NAME]|all   targets to fuzz (default all); --list names them
      --inputs N                 mutants per target (default 1000)
      --seed S                   run seed (default 1): the same seed gives the same inputs
      --start I                  first input index (default 0)
      --time-limit-ms MS         wall time one load may take (default 2000)
      --memory-cap-mb MB         memory one load may take whatever it produced (default 2048)
      --save-failures DIR        where failing inputs are saved (default a new temporary folder)
      --replay FILE              run one saved input through --target's loader and show what happens
      --max-restarts N           after a hang, go on in a fresh process at most N times per target (default 20)
      --in-process               run the targets in this process (by default each runs in child processes, so a
                                 hang, a bomb or a crash cannot disturb the measurements of other inputs; here the
                                 first hang stops the target)
    """;

// Internal: how the parent tells a child where to put its result.
const string ReportOption = "--report-file";

var opts = new Dictionary<string, string>(StringComparer.Ordinal);
bool list = false;
for (int i = 0; i < args.Length; i++)
{
    string a = args[i];
    if (a is "-h" or "--help") { Console.WriteLine(Usage); return 0; }
    if (a == "--list") { list = true; continue; }
    if (a == "--in-process") { opts[a] = ""; continue; }
    if (i + 1 >= args.Length || a is not ("--target" or "--inputs" or "--seed" or "--start" or "--time-limit-ms" or "--memory-cap-mb" or "--save-failures" or "--replay" or "--max-restarts" or ReportOption))
        return UsageError($"unknown option or missing value: {a}");
    opts[a] = args[++i];
}
if (list)
{
    foreach (var t in Targets.All) Console.WriteLine(t.Name);
    return 0;
}

string targetArg = opts.GetValueOrDefault("--target", "all");
var targets = new List<FuzzTarget>();
foreach (string name in targetArg == "all" ? Targets.All.Select(t => t.Name) : targetArg.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
{
    var target = Targets.Find(name);
    if (target is null) return UsageError($"unknown target '{name}' (one of: all, {string.Join(", ", Targets.All.Select(t => t.Name))})");
    targets.Add(target);
}
if (!TryNumber("--inputs", 1000, 1, out long inputs) || !TryNumber("--start", 0, 0, out long start)
    || !TryNumber("--time-limit-ms", 2000, 1, out long timeLimitMs) || !TryNumber("--memory-cap-mb", 2048, 1, out long capMb)
    || !TryNumber("--max-restarts", 20, 0, out long maxRestarts))
    return 2;
if (!ulong.TryParse(opts.GetValueOrDefault("--seed", "1"), NumberStyles.Integer, CultureInfo.InvariantCulture, out ulong seed))
    return UsageError($"--seed {opts["--seed"]}: expected a non-negative integer");
var limits = new OracleLimits(TimeSpan.FromMilliseconds(timeLimitMs), capMb << 20);

if (opts.TryGetValue("--replay", out string? replay))
{
    if (targets.Count != 1) return UsageError("--replay needs exactly one --target");
    if (!File.Exists(replay)) return UsageError($"--replay {replay}: file not found");
    var verdict = Oracle.Run(targets[0].Load, replay, limits);
    Console.WriteLine($"{targets[0].Name} {replay}: {verdict.Signature}");
    Console.WriteLine($"  {verdict.Detail}");
    Console.WriteLine($"  {verdict.Elapsed.TotalMilliseconds:F0} ms, allocated {verdict.AllocatedBytes / 1048576.0:F1} MB, resident growth {(verdict.RssGrowthBytes is { } g ? $"{g / 1048576.0:F1} MB" : "unknown")}");
    if (verdict.Exception is { } e) Console.WriteLine(e);
    return verdict.IsFailure ? 1 : 0;
}

string saveDir = Path.GetFullPath(opts.GetValueOrDefault("--save-failures")
    ?? Path.Combine(Path.GetTempPath(), $"fovea-fuzz-failures-{DateTime.UtcNow:yyyyMMdd-HHmmss}-{Environment.ProcessId}"));
// A child runs one target in the work folder its parent chose, next to its report file.
bool child = opts.TryGetValue(ReportOption, out string? reportFile);
string workDir = child ? Path.GetDirectoryName(Path.GetFullPath(reportFile!))!
    : Path.Combine(Path.GetTempPath(), $"fovea-fuzz-work-{Environment.ProcessId}-{Guid.NewGuid():N}");
var options = new FuzzOptions(inputs, seed, limits, saveDir, start);
if (!child)
{
    Console.WriteLine($"Fovea fuzz: seed {seed}, inputs {start}..{start + inputs - 1} per target, time limit {timeLimitMs} ms, memory cap {capMb} MB, failures saved to {saveDir}");
    if (!MemoryProbe.PerCallPeak) Console.WriteLine("note: no per-call resident-size peak here (Linux /proc/self/clear_refs): only managed allocation is checked per input");
}

var reports = new List<TargetReport>();
if (opts.ContainsKey("--in-process"))
{
    // A child prints only its new failures as they come; its parent prints the summary.
    var runner = new FuzzRunner(options, Console.Out);
    try
    {
        foreach (var target in targets)
        {
            var report = runner.Run(target, child ? workDir : Path.Combine(workDir, target.Name));
            reports.Add(report);
            if (!child) Print(report);
            // A loader still allocating on its abandoned thread makes every later measurement meaningless.
            if (report.Runaway && !child && target != targets[^1])
            {
                Console.WriteLine($"stopping: a {target.Name} load is still running and growing; the remaining targets were not run");
                break;
            }
        }
    }
    finally
    {
        if (!child) DeleteWorkDirectory();
    }
    if (child)
    {
        File.WriteAllText(reportFile!, reports[0].ToJson());
        return 0;
    }
}
else
{
    foreach (var target in targets)
    {
        var report = Isolated.Run(target, args, start, inputs, (int)maxRestarts, Path.Combine(workDir, target.Name), saveDir, ReportOption, Console.Out);
        reports.Add(report);
        Print(report);
    }
    DeleteWorkDirectory();
}

int failures = reports.Sum(r => r.Failures);
bool incomplete = reports.Count < targets.Count || reports.Any(r => r.Stopped is not null);
Console.WriteLine($"total: {reports.Sum(r => r.Inputs)} inputs, {failures} failures, {reports.Sum(r => r.Distinct.Count)} distinct"
    + (failures > 0 ? $"; inputs saved under {saveDir}" : ""));
return failures > 0 || incomplete ? 1 : 0;

void Print(TargetReport report)
{
    Console.WriteLine(report.Summary());
    foreach (var failure in report.Distinct.Values)
    {
        Console.WriteLine($"    {failure.Count,6} x {failure.Signature}");
        Console.WriteLine($"             first: input {failure.FirstIndex}: {failure.Detail}{(failure.Saved.Count > 0 ? $" ({failure.Saved[0]})" : "")}");
    }
}

void DeleteWorkDirectory()
{
    try { if (Directory.Exists(workDir)) Directory.Delete(workDir, recursive: true); }
    catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
}

int UsageError(string message)
{
    Console.Error.WriteLine($"fovea-fuzz: {message}");
    Console.Error.WriteLine(Usage);
    return 2;
}

bool TryNumber(string option, long fallback, long min, out long value)
{
    value = fallback;
    if (!opts.TryGetValue(option, out string? text)) return true;
    if (long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out value) && value >= min) return true;
    UsageError($"{option} {text}: expected an integer of at least {min}");
    return false;
}
