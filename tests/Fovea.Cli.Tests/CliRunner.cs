namespace Fovea.Cli.Tests;

/// <summary>Runs the <c>fovea</c> command line in process, as the tests' one way to call it (<c>using static</c>).</summary>
internal static class CliRunner
{
    /// <summary>Runs <paramref name="args"/>; returns the exit code and what was written to stdout and stderr.</summary>
    public static (int Code, string Out, string Err) Run(params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int code = CommandLine.Run(args, o, e);
        return (code, o.ToString(), e.ToString());
    }
}
