using System.Text.RegularExpressions;
using Fovea.Vision.Training;

namespace Fovea.Cli.Tests;

/// <summary>
/// The training progress display: the live line fits every terminal width without wrapping and shows one ETA;
/// epoch lines land on their own rows; without a terminal it stays line-based. Progress values are generated.
/// </summary>
public sealed partial class TrainProgressTests
{
    [GeneratedRegex(@"\beta\b")]
    private static partial Regex Eta();

    // Progress as training reports it, from the start of a run to absurd values (huge counts, losses, throughputs).
    private static IEnumerable<(BatchProgress P, int BatchSize)> Generated(int count, int seed)
    {
        var rng = new Random(seed);
        yield return (new BatchProgress(1, 5, 0, 469, 0, 0, 0, 0), 128);
        yield return (new BatchProgress(100_000, 100_000, 1_000_000, 1_000_000, double.NaN, double.NaN, 1, double.PositiveInfinity), 1_000_000);
        yield return (new BatchProgress(1, 1, 1, 1, 1e30, 1e30, 0.5, 1e-9), 1);
        for (int i = 0; i < count; i++)
        {
            int epochs = rng.Next(1, 100_001), batches = rng.Next(1, 1_000_001);
            double loss = Math.Pow(10, rng.NextDouble() * 12 - 4);
            yield return (new BatchProgress(rng.Next(1, epochs + 1), epochs, rng.Next(0, batches + 1), batches, loss, loss,
                rng.NextDouble(), rng.NextDouble() < 0.1 ? 0 : Math.Pow(10, rng.NextDouble() * 8)), rng.Next(1, 1_000_001));
        }
    }

    [Theory]
    [InlineData(40)]
    [InlineData(80)]
    [InlineData(120)]
    public void LiveLine_FitsTheWidth_WithExactlyOneEta(int width)
    {
        foreach (var (p, batchSize) in Generated(500, width))
        {
            string text = TrainProgress.Text(p, batchSize, width);
            Assert.True(text.Length < width, $"{text.Length} >= {width}: '{text}'");
            Assert.Single(Eta().Matches(text));
            Assert.StartsWith($"epoch {p.Epoch}/{p.Epochs} ", text);
            Assert.Matches(@" +\d{1,3}% ", text);
            // From 80 columns the bar always fits; at 40 only next to short epoch counts and ETAs.
            if (width >= 80) Assert.Contains("] ", text);
        }
    }

    [Fact]
    public void LiveLine_DropsFiguresAsTheTerminalNarrows_ButNeverWraps()
    {
        var p = new BatchProgress(3, 10, 212, 469, 0.41, 0.4321, 0.852, 1234);
        string wide = TrainProgress.Text(p, 128, 200);
        foreach (var part in new[] { "epoch 3/10", "45%", "batch 212/469", "loss 0.4321", "acc 85.2%", "1234 img/s", "eta " })
            Assert.Contains(part, wide);
        string[] figures = ["batch ", "loss ", "acc ", "img/s", "eta ", "[", "%"];
        var shownWider = figures.ToHashSet();
        for (int width = 200; width >= 1; width--)
        {
            string text = TrainProgress.Text(p, 128, width);
            Assert.True(text.Length <= Math.Max(1, width - 1), $"width {width}: '{text}'");
            Assert.True(Eta().Matches(text).Count <= 1);
            // A narrower terminal never shows a figure that a wider one dropped.
            var shown = figures.Where(f => text.Contains(f, StringComparison.Ordinal)).ToHashSet();
            Assert.True(shown.IsSubsetOf(shownWider), $"width {width}: '{text}'");
            shownWider = shown;
        }
        // At 40 columns the bar, the percentage and the ETA remain; at 60 the loss is back.
        Assert.Matches(@"^epoch 3/10 \[#+\.+\]  45% eta \d+:\d\d$", TrainProgress.Text(p, 128, 40));
        Assert.Contains("loss 0.4321", TrainProgress.Text(p, 128, 60));
    }

    [Fact]
    public void LogLine_HasEveryFigureAndOneEta()
    {
        foreach (var (p, batchSize) in Generated(200, 3))
        {
            string text = TrainProgress.Text(p, batchSize, null);
            Assert.StartsWith($"epoch {p.Epoch}/{p.Epochs} batch {p.Batch}/{p.Batches} loss ", text);
            Assert.Contains(" img/s eta ", text);
            Assert.Single(Eta().Matches(text));
            Assert.DoesNotContain("[", text);
        }
    }

    [Fact]
    public void Eta_IsTheRestOfTheEpoch_InHoursWhenLong()
    {
        // 400 batches of 100 images left at 10 images per second: 4000 s.
        Assert.EndsWith("eta 1:06:40", TrainProgress.Text(new BatchProgress(1, 2, 100, 500, 1, 1, 0.5, 10), 100, null));
        Assert.EndsWith("eta 0:40", TrainProgress.Text(new BatchProgress(1, 2, 496, 500, 1, 1, 0.5, 10), 100, null));
        Assert.EndsWith("eta -:--", TrainProgress.Text(new BatchProgress(1, 2, 0, 500, 0, 0, 0, 0), 100, null));
    }

    /// <summary>
    /// Plays what the live display writes on a terminal <paramref name="width"/> columns wide: carriage returns go
    /// back to column 0, newlines start a row, and writing past the last column wraps (which must not happen).
    /// </summary>
    private static (List<string> Rows, int Wraps) Terminal(string written, int width)
    {
        var rows = new List<char[]> { new char[width] };
        int col = 0, wraps = 0;
        foreach (char c in written)
        {
            if (c == '\r') col = 0;
            else if (c == '\n') { rows.Add(new char[width]); col = 0; }
            else
            {
                if (col == width) { wraps++; rows.Add(new char[width]); col = 0; }
                rows[^1][col++] = c;
            }
        }
        return (rows.Select(r => new string(r).TrimEnd('\0', ' ')).ToList(), wraps);
    }

    [Theory]
    [InlineData(40)]
    [InlineData(80)]
    [InlineData(120)]
    public void LiveDisplay_NeverWraps_AndEpochLinesAreNotSplicedIntoTheBar(int width)
    {
        var o = new StringWriter();
        var epochLines = new List<string>();
        using (var progress = new TrainProgress(o, 64, () => width))
        {
            Assert.True(progress.IsLive);
            for (int epoch = 1; epoch <= 3; epoch++)
            {
                for (int b = 1; b <= 50; b++)
                {
                    progress.Report(new BatchProgress(epoch, 3, b, 50, 1.0 / b, 1.0 / b, 0.5, 100 * b));
                    if (b % 10 == 0) Thread.Sleep(110); // past the refresh interval, so intermediate lines are drawn too
                }
                string line = $"epoch {epoch}/3: loss 0.1, acc 90%"; // shorter than 40 columns, so any wrap is the live line's
                epochLines.Add(line);
                progress.WriteLine(line);
            }
            progress.Report(new BatchProgress(4, 4, 5, 50, 1, 1, 0.5, 100));
        }
        var (rows, wraps) = Terminal(o.ToString(), width);
        Assert.Equal(0, wraps);
        // Each epoch line is a row of its own, exactly; after the end the live line is gone.
        Assert.Equal(epochLines, rows.Where(r => r.Length > 0).ToList());
        Assert.True(o.ToString().Split('\r').Length > 3 * 6, "the live line was not redrawn during the epoch");
    }

    [Fact]
    public void WithoutATerminal_ProgressIsLineBased()
    {
        var o = new StringWriter();
        using (var progress = new TrainProgress(o, 10, null))
        {
            Assert.False(progress.IsLive);
            for (int b = 1; b <= 100; b++) progress.Report(new BatchProgress(1, 1, b, 100, 1, 1, 0.5, 1000));
            progress.WriteLine("epoch 1/1: done");
        }
        string text = o.ToString();
        Assert.DoesNotContain("\r", text.Replace("\r\n", "\n"));
        var lines = text.Replace("\r\n", "\n").TrimEnd().Split('\n');
        Assert.Equal(11, lines.Length); // every tenth of the epoch, then the epoch line
        Assert.All(lines[..10], l => Assert.StartsWith("epoch 1/1 batch ", l));
        Assert.Equal("epoch 1/1: done", lines[^1]);
        // A StringWriter is never the terminal, whatever the console is.
        Assert.False(TrainProgress.For(new StringWriter(), 10).IsLive);
    }
}
