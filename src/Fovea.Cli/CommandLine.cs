namespace Fovea.Cli;

/// <summary>One <c>fovea</c> subcommand: its name, one line of help, and what it runs.</summary>
/// <param name="Name">What the user types.</param>
/// <param name="Usage">Arguments, shown in help.</param>
/// <param name="Summary">One line for the help table.</param>
/// <param name="Run">Runs with the arguments after the name; returns the exit code.</param>
public sealed record Command(string Name, string Usage, string Summary, Func<Args, TextWriter, int> Run);

/// <summary>
/// The <c>fovea</c> command: parses the command and options, calls the library, prints results.
/// Each command lives in its own file under Commands/ and is listed once in <see cref="Commands"/>.
/// Errors are one line on stderr and a non-zero exit code; never a stack trace.
/// </summary>
public static class CommandLine
{
    /// <summary>Every command, in help order.</summary>
    public static IReadOnlyList<Command> Commands { get; } =
    [
        DemoCommand.Command,
        GradCheckCommand.Command,
        GraphCommand.Command,
        TrainCommand.Command,
        EvalCommand.Command,
        PredictCommand.Command,
        ToyCommand.Command,
        InpaintCommand.Command,
        PyramidCommand.Command,
        BlendCommand.Command,
        SteerCommand.Command,
        MatchCommand.Command,
    ];

    /// <summary>The help text.</summary>
    public static string Help()
    {
        var lines = new List<string>
        {
            "fovea — deep learning and multi-scale vision for .NET, in pure C#",
            "",
            "Usage: fovea <command> [options]      (no command: this help and the demo)",
            "",
            "Commands:",
        };
        foreach (var c in Commands)
        {
            lines.Add($"  {c.Name,-11} {c.Summary}");
            if (c.Usage.Length > 0) lines.Add($"  {"",-11}   fovea {c.Name} {c.Usage}");
        }
        lines.Add("  help        Show this help");
        lines.Add("");
        lines.Add("Global options:");
        lines.Add("  --threads N   Threads a kernel may use (default: all cores)");
        return string.Join(Environment.NewLine, lines);
    }

    /// <summary>Runs the command line; returns the process exit code.</summary>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        try
        {
            var rest = new List<string>();
            for (int i = 0; i < args.Length; i++)
            {
                if (args[i] == "--threads")
                {
                    if (i + 1 >= args.Length || !int.TryParse(args[i + 1], out int threads) || threads < 1)
                        throw new UsageException("--threads needs a positive integer");
                    Threading.MaxDegreeOfParallelism = threads;
                    i++;
                }
                else rest.Add(args[i]);
            }
            if (rest.Count == 0)
            {
                stdout.WriteLine(Help());
                stdout.WriteLine();
                return DemoCommand.Command.Run(new Args("demo", []), stdout);
            }
            if (rest[0] is "help" or "--help" or "-h")
            {
                stdout.WriteLine(Help());
                return 0;
            }
            var command = Commands.FirstOrDefault(c => c.Name == rest[0])
                ?? throw new UsageException($"unknown command '{rest[0]}' (run 'fovea help')");
            return command.Run(new Args(command.Name, rest.Skip(1)), stdout);
        }
        catch (Exception e) when (e is UsageException or ArgumentException or InvalidOperationException or IOException
                                      or InvalidDataException or UnauthorizedAccessException or NotSupportedException)
        {
            stderr.WriteLine($"fovea: {OneLine(e.Message)}");
            return e is UsageException ? 2 : 1;
        }
    }

    private static string OneLine(string message)
    {
        int nl = message.IndexOf('\n');
        return nl < 0 ? message : message[..nl].TrimEnd();
    }
}

/// <summary>A mistake in the command line itself (exit code 2).</summary>
public sealed class UsageException(string message) : Exception(message);
