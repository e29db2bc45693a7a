using System.Diagnostics;
using System.Text.Json;

namespace Fovea.Fuzz;

/// <summary>A target's counts, as a child process hands them to the parent.</summary>
public sealed record TargetSummary(string Name, long Inputs, int Failures, int Distinct, bool Stopped, string? Crashed = null)
{
    /// <summary>The counts of <paramref name="report"/>.</summary>
    public static TargetSummary Of(TargetReport report) =>
        new(report.Name, report.Inputs, report.Failures, report.Distinct.Count, report.Stopped is not null);
}

/// <summary>
/// Runs one target in a child process of this program. A hung loader thread cannot be stopped, and one that keeps
/// allocating would count against every later input, since allocation and resident size are per process; a stack
/// overflow or a native crash ends the process. In its own process a target can only spoil its own run, and a crash
/// is reported with the input that caused it.
/// </summary>
public static class Isolated
{
    /// <summary>Where a child reports for a target whose work folder is <paramref name="workDirectory"/>.</summary>
    public static string ReportFile(string workDirectory) => Path.Combine(workDirectory, "report.json");

    /// <summary>Runs <paramref name="target"/> with this run's <paramref name="args"/> and returns its counts.</summary>
    /// <remarks>
    /// The child writes its input files into <paramref name="workDirectory"/> (the folder of its report file), where
    /// the input of a crash is found.
    /// </remarks>
    public static TargetSummary Run(FuzzTarget target, string[] args, string workDirectory, string saveDirectory, string reportOption)
    {
        Directory.CreateDirectory(workDirectory);
        string reportFile = ReportFile(workDirectory);
        var start = new ProcessStartInfo(Environment.ProcessPath ?? "dotnet") { UseShellExecute = false };
        // Under `dotnet Fovea.Fuzz.dll` the process is the dotnet host, which needs the program's path first.
        if (Path.GetFileNameWithoutExtension(start.FileName) == "dotnet") start.ArgumentList.Add(typeof(Isolated).Assembly.Location);
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] is "--target" or "--save-failures") { i++; continue; }
            start.ArgumentList.Add(args[i]);
        }
        foreach (string a in new[] { "--in-process", "--target", target.Name, "--save-failures", saveDirectory, reportOption, reportFile })
            start.ArgumentList.Add(a);
        using var child = Process.Start(start) ?? throw new InvalidOperationException($"cannot start a child process for {target.Name}");
        child.WaitForExit();
        if (File.Exists(reportFile))
            return JsonSerializer.Deserialize<List<TargetSummary>>(File.ReadAllText(reportFile))![0];

        // No report: the process died while loading the input still lying in its work folder.
        string input = Path.Combine(workDirectory, "input" + target.Extension);
        string why = $"the process ended with exit code {child.ExitCode} ({(child.ExitCode > 128 ? $"signal {child.ExitCode - 128}" : "no report")})";
        if (File.Exists(input))
        {
            string dir = Path.Combine(saveDirectory, target.Name);
            Directory.CreateDirectory(dir);
            string saved = Path.Combine(dir, "crash" + target.Extension);
            File.Copy(input, saved, overwrite: true);
            File.WriteAllText(Path.Combine(dir, "crash.txt"), $"target: {target.Name}\nfailure: crash\ndetail: {why} while loading this input\n"
                + $"reproduce: dotnet run --project tools/Fovea.Fuzz -c Release -- --target {target.Name} --replay {saved}\n");
            why += $" while loading {saved}";
        }
        return new TargetSummary(target.Name, 0, 1, 1, true, why);
    }
}
