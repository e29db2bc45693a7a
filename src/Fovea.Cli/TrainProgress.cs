using System.Diagnostics;
using System.Globalization;
using Fovea.Training;

namespace Fovea.Cli;

/// <summary>
/// How <c>fovea train</c> shows its batches. On a terminal of known width: one line, rewritten in place and always
/// shorter than the terminal (fields are dropped as it narrows, so it never wraps), with finished epochs printed as
/// ordinary lines above it. Anywhere else (a pipe, a file, CI, a terminal that reports no width): a plain line every
/// tenth of an epoch. Either way there is one ETA, the rest of the current epoch.
/// </summary>
internal sealed class TrainProgress : IProgress<BatchProgress>, IDisposable
{
    // Enough for a smooth display without spending time on the terminal between fast batches.
    private static readonly TimeSpan LiveInterval = TimeSpan.FromMilliseconds(100);

    private readonly TextWriter _out;
    private readonly int _batchSize;
    private readonly Func<int>? _width;
    private readonly Stopwatch _sinceDraw = new();
    private int _drawnLength;

    /// <summary>Shows batches on <paramref name="o"/>: live, rewriting one line, when <paramref name="width"/> (the terminal's columns) is given, else as log lines.</summary>
    internal TrainProgress(TextWriter o, int batchSize, Func<int>? width)
    {
        _out = o;
        _batchSize = batchSize;
        _width = width;
    }

    /// <summary>The live line when <paramref name="o"/> is a terminal with a known width, else the line-based log.</summary>
    public static TrainProgress For(TextWriter o, int batchSize) =>
        Terminal.IsLive(o) && Terminal.Width() > 0 ? new(o, batchSize, Terminal.Width) : new(o, batchSize, null);

    /// <summary>True when batches are shown on one line rewritten in place.</summary>
    public bool IsLive => _width is not null;

    /// <summary>Shows one finished batch.</summary>
    public void Report(BatchProgress p)
    {
        if (_width is null)
        {
            int every = Math.Max(1, p.Batches / 10);
            if (p.Batch % every == 0 || p.Batch == p.Batches) _out.WriteLine(Text(p, _batchSize, null));
            return;
        }
        if (_sinceDraw.IsRunning && _sinceDraw.Elapsed < LiveInterval && p.Batch != p.Batches) return;
        int width = _width();
        if (width <= 0) return; // the terminal stopped reporting a width: keep the last line rather than guess
        string text = Text(p, _batchSize, width);
        // Spaces over the rest of the previous line instead of an escape sequence: works on every terminal.
        _out.Write("\r" + text.PadRight(_drawnLength));
        _out.Flush();
        _drawnLength = text.Length;
        _sinceDraw.Restart();
    }

    /// <summary>Prints a whole line (an epoch's summary) above the live line, which the next batch draws again.</summary>
    public void WriteLine(string line)
    {
        Clear();
        _out.WriteLine(line);
    }

    /// <summary>Removes the live line, so that what follows starts on a clean line.</summary>
    public void Dispose() => Clear();

    private void Clear()
    {
        if (_drawnLength == 0) return;
        _out.Write("\r" + new string(' ', _drawnLength) + "\r");
        _out.Flush();
        _drawnLength = 0;
        _sinceDraw.Reset();
    }

    /// <summary>
    /// The text for one batch. <paramref name="width"/> null: every figure, for a log line. Otherwise the live line for a
    /// terminal that many columns wide: a bar and a percentage are added, and figures are dropped (throughput first,
    /// then the batch counter, accuracy, loss, the bar, the ETA) until it is shorter than <paramref name="width"/>, so the
    /// terminal never wraps it; below about 15 columns it is cut.
    /// </summary>
    internal static string Text(BatchProgress p, int batchSize, int? width)
    {
        var c = CultureInfo.InvariantCulture;
        string epoch = string.Create(c, $"epoch {p.Epoch}/{p.Epochs}");
        string batch = string.Create(c, $"batch {p.Batch}/{p.Batches}");
        string loss = string.Create(c, $"loss {p.RunningLoss:0.0000}");
        string acc = string.Create(c, $"acc {100 * p.RunningAccuracy:0.0}%");
        string speed = string.Create(c, $"{p.SamplesPerSecond:0} img/s");
        string eta = "eta " + Eta(p, batchSize);
        if (width is null) return string.Join(' ', epoch, batch, loss, acc, speed, eta);

        double done = p.Batches > 0 ? Math.Clamp((double)p.Batch / p.Batches, 0, 1) : 0;
        string percent = string.Create(c, $"{(int)(100 * done),3}%");
        // In display order; the rank says which goes first when the line is too long (higher goes earlier).
        var fields = new List<(string Text, int Rank)> { (epoch, 0), (percent, 1), (batch, 6), (loss, 4), (acc, 5), (speed, 7), (eta, 2) };
        bool bar = true;
        int max = Math.Max(1, width.Value - 1); // the last column stays empty: some terminals wrap as soon as it is written
        const int minBar = 8, maxBar = 32;
        while (true)
        {
            int fixedLength = fields.Sum(f => f.Text.Length) + fields.Count - 1;
            if (fixedLength + (bar ? minBar + 1 : 0) <= max) break;
            int drop = fields.FindIndex(f => f.Rank == fields.Max(g => g.Rank));
            // The bar ranks 3: it goes after the batch counter, accuracy and loss but before the ETA.
            if (bar && fields[drop].Rank < 4) bar = false;
            else if (fields[drop].Rank > 0) fields.RemoveAt(drop);
            else break;
        }
        var parts = fields.Select(f => f.Text).ToList();
        if (bar)
        {
            int fixedLength = parts.Sum(s => s.Length) + parts.Count;
            int inner = Math.Min(maxBar, max - fixedLength) - 2;
            int filled = (int)Math.Round(done * inner);
            parts.Insert(1, "[" + new string('#', filled) + new string('.', inner - filled) + "]");
        }
        string line = string.Join(' ', parts);
        return line.Length <= max ? line : line[..max];
    }

    // The rest of the current epoch at the throughput so far.
    private static string Eta(BatchProgress p, int batchSize)
    {
        if (!(p.SamplesPerSecond > 0)) return "-:--";
        double seconds = Math.Max(0, p.Batches - p.Batch) * (double)batchSize / p.SamplesPerSecond;
        if (!double.IsFinite(seconds) || seconds >= 100 * 3600) return ">99h";
        var t = TimeSpan.FromSeconds(Math.Round(seconds));
        return t.TotalHours >= 1
            ? string.Create(CultureInfo.InvariantCulture, $"{(int)t.TotalHours}:{t.Minutes:00}:{t.Seconds:00}")
            : string.Create(CultureInfo.InvariantCulture, $"{t.Minutes}:{t.Seconds:00}");
    }
}
