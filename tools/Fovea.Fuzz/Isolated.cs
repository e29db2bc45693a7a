using System.Diagnostics;
using System.Globalization;

namespace Fovea.Fuzz;

/// <summary>
/// Runs one target in child processes of this program. A hung loader thread cannot be stopped, and one that keeps
/// allocating would count against every later input, since allocation and resident size are per process; a stack
/// overflow or a native crash ends the process. In its own process a target can only spoil its own run: after a hang
/// the parent starts a fresh child at the next input, and a crash is reported with the input that caused it.
/// </summary>
public static class Isolated
{
    /// <summary>The options a parent sets for each child; the rest of its command line is passed on.</summary>
    private static readonly string[] ChildOptions = ["--target", "--save-failures", "--start", "--inputs"];

    /// <summary>
    /// Runs inputs [<paramref name="start"/>, <paramref name="start"/> + <paramref name="inputs"/>) of
    /// <paramref name="target"/> with this run's other <paramref name="args"/>, going on after a hang at most
    /// <paramref name="maxRestarts"/> times, and returns the merged report. The child writes its inputs and its
    /// report into <paramref name="workDirectory"/>.
    /// </summary>
    public static TargetReport Run(FuzzTarget target, string[] args, long start, long inputs, int maxRestarts,
        string workDirectory, string saveDirectory, string reportOption, TextWriter log)
    {
        Directory.CreateDirectory(workDirectory);
        string reportFile = Path.Combine(workDirectory, "report.json");
        long end = start + inputs;
        TargetReport? merged = null;
        while (true)
        {
            File.Delete(reportFile);
            var run = Child(target, args, start, end - start, workDirectory, saveDirectory, reportOption, reportFile);
            if (merged is null) merged = run;
            else merged.Add(run);
            if (run.Stopped is null || run.Skipped is not null || run.Distinct.Values.Any(f => f.Kind == "crash") || run.NextIndex >= end) break;
            if (merged.Restarts == maxRestarts)
            {
                merged.Stopped += $" (after {maxRestarts} restarts)";
                break;
            }
            log.WriteLine($"  {target.Name}: {run.Stopped}; going on at input {run.NextIndex} in a fresh process");
            merged.Restarts++;
            merged.Stopped = null;
            start = run.NextIndex;
        }
        return merged;
    }

    private static TargetReport Child(FuzzTarget target, string[] args, long start, long inputs, string workDirectory, string saveDirectory, string reportOption, string reportFile)
    {
        var info = new ProcessStartInfo(Environment.ProcessPath ?? "dotnet") { UseShellExecute = false };
        // Under `dotnet Fovea.Fuzz.dll` the process is the dotnet host, which needs the program's path first.
        if (Path.GetFileNameWithoutExtension(info.FileName) == "dotnet") info.ArgumentList.Add(typeof(Isolated).Assembly.Location);
        for (int i = 0; i < args.Length; i++)
        {
            if (ChildOptions.Contains(args[i])) { i++; continue; }
            info.ArgumentList.Add(args[i]);
        }
        foreach (string a in new[] { "--in-process", "--target", target.Name, "--save-failures", saveDirectory, reportOption, reportFile,
                     "--start", start.ToString(CultureInfo.InvariantCulture), "--inputs", inputs.ToString(CultureInfo.InvariantCulture) })
            info.ArgumentList.Add(a);
        var clock = Stopwatch.StartNew();
        using var child = Process.Start(info) ?? throw new InvalidOperationException($"cannot start a child process for {target.Name}");
        child.WaitForExit();
        if (File.Exists(reportFile)) return TargetReport.FromJson(File.ReadAllText(reportFile));

        // No report: the process died while loading the input still lying in its work folder.
        var report = new TargetReport(target.Name) { NextIndex = start, Elapsed = clock.Elapsed };
        string why = $"the process ended with exit code {child.ExitCode}{(child.ExitCode > 128 ? $" (signal {child.ExitCode - 128})" : "")} and no report";
        var (failure, _) = report.Count("crash", "crash", why, -1);
        string input = Path.Combine(workDirectory, "input" + target.Extension);
        if (File.Exists(input))
        {
            string dir = Path.Combine(saveDirectory, target.Name);
            Directory.CreateDirectory(dir);
            string saved = Path.Combine(dir, $"crash-{DateTime.UtcNow:HHmmssfff}{target.Extension}");
            File.Copy(input, saved, overwrite: true);
            File.WriteAllText(Path.ChangeExtension(saved, ".txt"), $"target: {target.Name}\nfailure: crash\ndetail: {why}, while loading this input\n"
                + $"reproduce: dotnet run --project tools/Fovea.Fuzz -c Release -- --target {target.Name} --replay {saved}\n");
            failure.Saved.Add(saved);
        }
        report.Stopped = $"crash: {why}";
        return report;
    }
}
