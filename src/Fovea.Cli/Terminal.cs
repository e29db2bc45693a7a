using System.Globalization;
using Spectre.Console;

namespace Fovea.Cli;

/// <summary>Where Spectre.Console output goes: the real terminal, or a plain, colourless writer (tests, pipes, CI).</summary>
internal static class Terminal
{
    /// <summary>True when <paramref name="o"/> is the process's stdout and that is an interactive terminal.</summary>
    public static bool IsLive(TextWriter o) =>
        ReferenceEquals(o, Console.Out) && !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive;

    /// <summary>
    /// The terminal's width in columns, or 0 when unknown (no terminal, or one that reports no size, as under
    /// <c>script</c> without a tty): the size the terminal reports, else <c>COLUMNS</c> from the environment.
    /// </summary>
    public static int Width()
    {
        try
        {
            if (Console.WindowWidth is > 0 and var width) return width;
        }
        catch (IOException) { }
        catch (PlatformNotSupportedException) { }
        return int.TryParse(Environment.GetEnvironmentVariable("COLUMNS"), NumberStyles.None, CultureInfo.InvariantCulture, out int columns) ? columns : 0;
    }

    /// <summary>A console that renders into <paramref name="o"/>: the terminal itself when live, else plain text 200 columns wide.</summary>
    public static IAnsiConsole For(TextWriter o)
    {
        if (IsLive(o)) return AnsiConsole.Console;
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
            Out = new AnsiConsoleOutput(o),
        });
        console.Profile.Width = 200;
        return console;
    }
}
