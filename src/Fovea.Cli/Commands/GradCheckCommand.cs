namespace Fovea.Cli;

/// <summary><c>fovea gradcheck</c>: runs the gradient-check table, one row per op, then "N passed, M failed".</summary>
public static class GradCheckCommand
{
    /// <summary>The command.</summary>
    public static Command Command { get; } = new("gradcheck", "[--filter TEXT]", "Check every differentiable op's first and second derivatives numerically (float64), vision ops included", (a, o) =>
    {
        string? filter = a.Option("--filter");
        a.Done();
        return Run(o, filter);
    });

    /// <summary>Runs the rows whose name contains <paramref name="filter"/> (all when null).</summary>
    public static int Run(TextWriter o, string? filter = null)
    {
        int passed = 0, failed = 0;
        var rows = GradCheckTable.Cases.Concat(Fovea.Vision.VisionGradCheckTable.Cases)
            .Where(c => filter is null || c.Name.Contains(filter, StringComparison.OrdinalIgnoreCase));
        foreach (var (c, first, second) in GradCheckTable.Run(rows))
        {
            bool ok = first.Passed && (second?.Passed ?? true);
            if (ok) passed++; else failed++;
            string secondText = second is null ? "n/a" : second.Passed ? "ok" : "FAILED";
            o.WriteLine($"{(ok ? "ok  " : "FAIL")}  {c.Name,-40} grad {(first.Passed ? "ok" : "FAILED"),-6} gradgrad {secondText}");
            if (!first.Passed) o.WriteLine("      " + first.ToString().Replace("\n", "\n      "));
            if (second is { Passed: false }) o.WriteLine("      " + second.ToString().Replace("\n", "\n      "));
        }
        o.WriteLine($"{passed} passed, {failed} failed");
        return failed == 0 ? 0 : 1;
    }
}
