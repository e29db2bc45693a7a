using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace Fovea.Cli.Tests;

/// <summary>The top level of <c>fovea</c>: any exception becomes one line and exit 1 (a trace only with FOVEA_DEBUG=1).</summary>
public sealed class TopLevelTests
{
    // The command throws what the fault makes, so the exception has a real stack trace to print or to hide.
    private static (int Code, string Out, string Err) RunWith(Func<Exception> fault, bool debug, params string[] extra)
    {
        var failing = new Command("fail", "", "throws", (a, _) =>
        {
            a.Done();
            throw fault();
        });
        var o = new StringWriter();
        var e = new StringWriter();
        int code = CommandLine.Run(["fail", .. extra], o, e, [failing], debug);
        return (code, o.ToString(), e.ToString());
    }

    // One of each kind a command could let escape: the library's documented failures and faults that never should.
    public static TheoryData<string> Faults => new()
    {
        nameof(NullReferenceException), nameof(IndexOutOfRangeException), nameof(KeyNotFoundException), nameof(OverflowException),
        nameof(DivideByZeroException), nameof(FormatException), nameof(JsonException), nameof(InvalidCastException),
        nameof(InvalidDataException), nameof(IOException), nameof(ArgumentException), nameof(InvalidOperationException),
        nameof(OutOfMemoryException), nameof(AggregateException), nameof(TypeInitializationException), nameof(Exception),
    };

    // The message has several lines and a trailing blank one, as exceptions built from other messages often do.
    private const string Message = "first line of the message\n   second line\n";

    private static Exception Make(string kind) => kind switch
    {
        nameof(NullReferenceException) => new NullReferenceException(Message),
        nameof(IndexOutOfRangeException) => new IndexOutOfRangeException(Message),
        nameof(KeyNotFoundException) => new KeyNotFoundException(Message),
        nameof(OverflowException) => new OverflowException(Message),
        nameof(DivideByZeroException) => new DivideByZeroException(Message),
        nameof(FormatException) => new FormatException(Message),
        nameof(JsonException) => new JsonException(Message),
        nameof(InvalidCastException) => new InvalidCastException(Message),
        nameof(InvalidDataException) => new InvalidDataException(Message),
        nameof(IOException) => new IOException(Message),
        nameof(ArgumentException) => new ArgumentException(Message),
        nameof(InvalidOperationException) => new InvalidOperationException(Message),
        nameof(OutOfMemoryException) => new OutOfMemoryException(Message),
        nameof(AggregateException) => new AggregateException(new NullReferenceException(Message)),
        nameof(TypeInitializationException) => new TypeInitializationException("Some.Type", new KeyNotFoundException(Message)),
        _ => new Exception(Message),
    };

    [Theory]
    [MemberData(nameof(Faults))]
    public void AnyException_IsOneLineAndExitOne(string kind)
    {
        var (code, output, err) = RunWith(() => Make(kind), debug: false);
        Assert.Equal(1, code);
        Assert.Equal("", output);
        Assert.Equal(1, err.Count(c => c == '\n'));
        Assert.StartsWith("fovea: ", err);
        Assert.Contains("first line of the message", err);
        Assert.DoesNotContain("second line", err);
        Assert.DoesNotContain("   at ", err);
        if (kind == nameof(OutOfMemoryException)) Assert.StartsWith("fovea: out of memory", err);
    }

    [Theory]
    [MemberData(nameof(Faults))]
    public void Debug_AddsTheStackTraceAfterTheLine(string kind)
    {
        var (code, _, err) = RunWith(() => Make(kind), debug: true);
        Assert.Equal(1, code);
        var lines = err.Split('\n');
        Assert.StartsWith("fovea: ", lines[0]);
        Assert.Contains(lines.Skip(1), l => l.TrimStart().StartsWith("at ", StringComparison.Ordinal));
        Assert.Contains(Make(kind).GetType().FullName!, err);
    }

    [Fact]
    public void UnexpectedFaults_NameTheirTypeAndHowToSeeMore()
    {
        var (_, _, err) = RunWith(() => new NullReferenceException(), debug: false);
        Assert.Contains(nameof(NullReferenceException), err);
        Assert.Contains("FOVEA_DEBUG=1", err);
        // Failures with a message meant for the user are shown as they are.
        (_, _, err) = RunWith(() => new InvalidDataException("x.png: truncated at byte 12"), debug: false);
        Assert.Equal("fovea: x.png: truncated at byte 12", err.TrimEnd());
    }

    [Fact]
    public void UsageErrors_StayExitTwoWithoutATrace()
    {
        var (code, _, err) = RunWith(() => new UsageException("fail: bad value"), debug: true);
        Assert.Equal(2, code);
        Assert.Equal("fovea: fail: bad value", err.TrimEnd());
    }

    [Theory]
    [InlineData("1", true)]
    [InlineData("true", true)]
    [InlineData("TRUE", true)]
    [InlineData(" 1 ", true)]
    [InlineData("0", false)]
    [InlineData("", false)]
    [InlineData(null, false)]
    [InlineData("no", false)]
    public void FoveaDebug_IsReadFromItsValue(string? value, bool debug) => Assert.Equal(debug, CommandLine.IsDebug(value));

    [Fact]
    public void FoveaDebug_InTheEnvironmentOfTheRealProcess_AddsTheTrace()
    {
        string dir = Path.Combine(Path.GetTempPath(), $"fovea-debug-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        try
        {
            // Writing the graph to a directory fails in the command; the same failure with and without the variable.
            string[] args = ["graph", "-o", dir];
            var (plainCode, plainErr) = RunProcess(args, null);
            var (debugCode, debugErr) = RunProcess(args, "1");
            Assert.Equal((1, 1), (plainCode, debugCode));
            Assert.Single(plainErr.TrimEnd().Split('\n'));
            Assert.Contains("is a directory", plainErr);
            Assert.StartsWith(plainErr.TrimEnd(), debugErr);
            Assert.Contains("   at ", debugErr);
        }
        finally { Directory.Delete(dir); }
    }

    private static (int Code, string Err) RunProcess(string[] args, string? debug)
    {
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.ArgumentList.Add(typeof(CommandLine).Assembly.Location);
        foreach (var a in args) start.ArgumentList.Add(a);
        start.Environment.Remove("FOVEA_DEBUG");
        if (debug is not null) start.Environment["FOVEA_DEBUG"] = debug;
        using var p = Process.Start(start)!;
        var err = p.StandardError.ReadToEndAsync();
        p.StandardOutput.ReadToEnd();
        Assert.True(p.WaitForExit(60_000), "fovea did not finish");
        return (p.ExitCode, err.Result);
    }
}

/// <summary>Tests that change <see cref="Threading.MaxDegreeOfParallelism"/> run alone, then put it back.</summary>
[CollectionDefinition(nameof(GlobalThreads), DisableParallelization = true)]
public sealed class GlobalThreads;

/// <summary><c>--threads</c>: a usage error when not a positive integer, lowered with a note above four per core.</summary>
[Collection(nameof(GlobalThreads))]
public sealed class ThreadsOptionTests
{
    private static (int Code, string Out, string Err, int Threads) RunThreads(string value)
    {
        int before = Threading.MaxDegreeOfParallelism;
        try
        {
            var o = new StringWriter();
            var e = new StringWriter();
            // A command that does nothing heavy: the gradient-check table filtered down to no rows.
            int code = CommandLine.Run(["--threads", value, "gradcheck", "--filter", "no-such-op"], o, e);
            return (code, o.ToString(), e.ToString(), Threading.MaxDegreeOfParallelism);
        }
        finally { Threading.MaxDegreeOfParallelism = before; }
    }

    [Fact]
    public void ValuesUpToTheCap_AreUsedAsGiven()
    {
        var rng = new Random(7);
        int[] values = [1, CommandLine.MaxThreads, .. Enumerable.Range(0, 5).Select(_ => rng.Next(1, CommandLine.MaxThreads + 1))];
        foreach (int n in values)
        {
            var (code, _, err, threads) = RunThreads(n.ToString(CultureInfo.InvariantCulture));
            Assert.Equal(0, code);
            Assert.Equal("", err);
            Assert.Equal(n, threads);
        }
    }

    [Fact]
    public void ValuesAboveTheCap_AreLoweredWithOneNote()
    {
        var rng = new Random(8);
        long[] values = [CommandLine.MaxThreads + 1L, 5000, int.MaxValue, long.MaxValue, .. Enumerable.Range(0, 5).Select(_ => rng.NextInt64(CommandLine.MaxThreads + 1L, long.MaxValue))];
        foreach (long n in values)
        {
            var (code, output, err, threads) = RunThreads(n.ToString(CultureInfo.InvariantCulture));
            Assert.Equal(0, code);
            Assert.Equal(CommandLine.MaxThreads, threads);
            Assert.Equal($"fovea: --threads {n} is more than four per core; using {CommandLine.MaxThreads}", err.TrimEnd());
            Assert.Contains("0 passed, 0 failed", output);
        }
        Assert.Equal(4 * Environment.ProcessorCount, CommandLine.MaxThreads);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("-4")]
    [InlineData("two")]
    [InlineData("1.5")]
    [InlineData("")]
    [InlineData("99999999999999999999999")]
    public void BadValues_AreUsageErrors(string value)
    {
        var (code, _, err, _) = RunThreads(value);
        Assert.Equal(2, code);
        Assert.Equal($"fovea: --threads needs a positive integer, got '{value}'", err.TrimEnd());
    }

    [Fact]
    public void MissingValue_IsAUsageError()
    {
        foreach (var args in new[] { new[] { "--threads" }, ["demo", "--threads"], ["--threads", "--help"] })
        {
            var e = new StringWriter();
            Assert.Equal(2, CommandLine.Run(args, new StringWriter(), e));
            Assert.Contains("--threads needs a value", e.ToString());
        }
    }
}
