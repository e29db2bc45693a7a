namespace Fovea.Cli;

/// <summary>
/// <c>fovea gradcheck</c>: runs the gradient-check table, one row per op: first and second derivatives against
/// central differences, and forward mode against reverse mode (⟨J·v, u⟩ = ⟨v, Jᵀ·u⟩ for random u, v), then
/// "N passed, M failed".
/// </summary>
public static class GradCheckCommand
{
    /// <summary>The command.</summary>
    public static Command Command { get; } = new("gradcheck", "[--filter TEXT]", "Check every differentiable op's first and second derivatives numerically and its forward mode against reverse mode (float64), vision ops included", (a, o) =>
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
        o.WriteLine("op                                                grad    gradgrad  jvp     <J v, u> (forward) = <v, J^T u> (reverse)");
        foreach (var (c, first, second) in GradCheckTable.Run(rows))
        {
            var (jvp, jvpError) = CheckForwardMode(c);
            bool ok = first.Passed && (second?.Passed ?? true) && (jvp?.Passed ?? false);
            if (ok) passed++; else failed++;
            string secondText = second is null ? "n/a" : second.Passed ? "ok" : "FAILED";
            string jvpText = jvp is null ? "FAILED" : jvp.Passed ? "ok" : "FAILED";
            string products = jvp is null ? jvpError! : FormattableString.Invariant($"{jvp.Forward,22:G15} = {jvp.Reverse,-22:G15}");
            o.WriteLine($"{(ok ? "ok  " : "FAIL")}  {c.Name,-48} {(first.Passed ? "ok" : "FAILED"),-7} {secondText,-9} {jvpText,-7} {products}");
            if (!first.Passed) o.WriteLine("      " + first.ToString().Replace("\n", "\n      "));
            if (second is { Passed: false }) o.WriteLine("      " + second.ToString().Replace("\n", "\n      "));
            if (jvp is { Passed: false }) o.WriteLine("      " + jvp);
        }
        o.WriteLine($"{passed} passed, {failed} failed");
        return failed == 0 ? 0 : 1;
    }

    /// <summary>The forward-versus-reverse check of one row, or the reason it could not run (an op without a forward-mode rule).</summary>
    private static (ForwardModeCheckResult? Result, string? Error) CheckForwardMode(GradCheckCase c)
    {
        try
        {
            return (ForwardModeCheck.Check(c.Function, c.Inputs(1)), null);
        }
        catch (InvalidOperationException e)
        {
            return (null, e.Message);
        }
    }
}
