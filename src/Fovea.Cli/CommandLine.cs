using System.Globalization;
using System.Reflection;
using Fovea.Vision.Imaging;

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
/// Errors are one line on stderr and a non-zero exit code (2: the command line, 1: anything else); a stack trace only
/// when the environment variable <c>FOVEA_DEBUG</c> is 1.
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
        SummaryCommand.Command,
        ExportCommand.Command,
        ToyCommand.Command,
        InpaintCommand.Command,
        PyramidCommand.Command,
        BlendCommand.Command,
        SteerCommand.Command,
        MatchCommand.Command,
        DenoiseCommand.Command,
        CompressCommand.Command,
        FiltersCommand.Command,
        ActivationsCommand.Command,
        SaliencyCommand.Command,
        TopImagesCommand.Command,
        IndexCommand.Command,
        SearchCommand.Command,
        ExportImagesCommand.Command,
        AllReduceCommand.Command,
    ];

    /// <summary>The most threads <c>--threads</c> sets: four per processor. More only adds switching and memory
    /// (each kernel call splits its work into that many chunks), so a larger request is lowered with a note.</summary>
    public static int MaxThreads => 4 * Environment.ProcessorCount;

    /// <summary>Options every command accepts, wherever they stand on the line; each applies its value before the command runs.</summary>
    private static readonly GlobalOption[] GlobalOptions =
    [
        new("--threads", "N", $"Threads a kernel may use (default: all cores; at most {MaxThreads}, four per core)", SetThreads),
        new("--max-pixels", "N", string.Create(CultureInfo.InvariantCulture,
            $"Largest image (width x height) a command reads (default: {ImageIO.DefaultMaxPixels:N0}, 8192 x 8192)"), SetMaxPixels),
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
        lines.Add("  help        Show this help (fovea <command> --help: that command's usage)");
        lines.Add("");
        lines.Add("Global options:");
        foreach (var g in GlobalOptions) lines.Add($"  {g.Name + " " + g.Value,-16} {g.Help}");
        lines.Add("");
        lines.Add("Errors are one line on stderr; exit code 2 for a mistake in the command line, 1 for any other failure.");
        lines.Add("FOVEA_DEBUG=1 in the environment adds the stack trace.");
        return string.Join(Environment.NewLine, lines);
    }

    /// <summary>Runs the command line; returns the process exit code.</summary>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr) =>
        Run(args, stdout, stderr, Commands, IsDebug(Environment.GetEnvironmentVariable("FOVEA_DEBUG")));

    /// <summary>
    /// Runs the command line against <paramref name="commands"/>. Every failure is one line on
    /// <paramref name="stderr"/> ("fovea: ..."), exit code 2 for a <see cref="UsageException"/> and 1 for anything
    /// else; with <paramref name="debug"/> the stack trace follows that line.
    /// </summary>
    internal static int Run(string[] args, TextWriter stdout, TextWriter stderr, IReadOnlyList<Command> commands, bool debug)
    {
        try
        {
            var rest = ApplyGlobalOptions(args, stderr);
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
            var command = commands.FirstOrDefault(c => c.Name == rest[0])
                ?? throw new UsageException($"unknown command '{rest[0]}' (run 'fovea help')");
            if (rest.Skip(1).Any(a => a is "--help" or "-h"))
            {
                stdout.WriteLine($"{command.Name}: {command.Summary}");
                stdout.WriteLine($"Usage: fovea {command.Name} {command.Usage}".TrimEnd());
                return 0;
            }
            return command.Run(new Args(command.Name, rest.Skip(1)), stdout);
        }
        catch (Exception e) when (e is UsageException or Fovea.Vision.Training.TrainOptionException)
        {
            // A training option that contradicts the checkpoint or the model is a mistake in the command line too.
            stderr.WriteLine($"fovea: {OneLine(e.Message)}");
            return 2;
        }
        catch (Exception e)
        {
            stderr.WriteLine($"fovea: {Describe(e)}");
            if (debug) stderr.WriteLine(e);
            return 1;
        }
    }

    /// <summary>True for the values of <c>FOVEA_DEBUG</c> that ask for stack traces: <c>1</c> or <c>true</c>.</summary>
    internal static bool IsDebug(string? value) =>
        value is not null && (value.Trim() == "1" || value.Trim().Equals("true", StringComparison.OrdinalIgnoreCase));

    /// <summary>Applies the global options and returns the other arguments in order.</summary>
    private static List<string> ApplyGlobalOptions(string[] args, TextWriter stderr)
    {
        var rest = new List<string>();
        for (int i = 0; i < args.Length; i++)
        {
            var option = GlobalOptions.FirstOrDefault(g => g.Name == args[i]);
            if (option is null)
            {
                rest.Add(args[i]);
                continue;
            }
            if (i + 1 >= args.Length || args[i + 1].StartsWith("--", StringComparison.Ordinal))
                throw new UsageException($"{option.Name} needs a value ({option.Value})");
            option.Apply(args[++i], stderr);
        }
        return rest;
    }

    private static void SetThreads(string value, TextWriter stderr)
    {
        if (!long.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out long threads) || threads < 1)
            throw new UsageException($"--threads needs a positive integer, got '{value}'");
        if (threads > MaxThreads)
        {
            stderr.WriteLine($"fovea: --threads {threads} is more than four per core; using {MaxThreads}");
            threads = MaxThreads;
        }
        Threading.MaxDegreeOfParallelism = (int)threads;
    }

    private static void SetMaxPixels(string value, TextWriter stderr)
    {
        if (!long.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out long pixels) || pixels < 1 || pixels > ImageIO.MaxPixelsLimit)
            throw new UsageException($"--max-pixels needs an integer from 1 to {ImageIO.MaxPixelsLimit}, got '{value}'");
        ImageIO.MaxPixels = pixels;
    }

    // Failures the commands expect (a bad file, a refused value) already carry a message for the user. Anything else
    // is a fault in Fovea: its type goes with the message, so that a report of the one line says what happened.
    private static string Describe(Exception e)
    {
        while (e is AggregateException { InnerExceptions.Count: 1 } or TypeInitializationException or TargetInvocationException
               && e.InnerException is not null)
            e = e.InnerException;
        string message = OneLine(e.Message);
        if (message.Length == 0) message = e.GetType().Name;
        return e switch
        {
            OutOfMemoryException => $"out of memory ({message})",
            ArgumentException or InvalidOperationException or IOException or InvalidDataException
                or UnauthorizedAccessException or NotSupportedException => message,
            _ => $"unexpected {e.GetType().Name}: {message} (FOVEA_DEBUG=1 prints the stack trace)",
        };
    }

    private static string OneLine(string message) => message.Trim().Split('\n')[0].TrimEnd();

    /// <summary>An option that every command accepts.</summary>
    /// <param name="Name">What the user types, e.g. <c>--threads</c>.</param>
    /// <param name="Value">The value's placeholder in help.</param>
    /// <param name="Help">One line for the help.</param>
    /// <param name="Apply">Takes the value (and where to write a note); throws <see cref="UsageException"/> for a bad one.</param>
    private sealed record GlobalOption(string Name, string Value, string Help, Action<string, TextWriter> Apply);
}

/// <summary>A mistake in the command line itself (exit code 2).</summary>
public sealed class UsageException(string message) : Exception(message);
