using System.Globalization;

namespace Fovea.Vision.Training;

/// <summary>One line of a chart: a name for the legend, a colour, and y values at the given x values.</summary>
public sealed record Series(string Name, Rgb Color, double[] X, double[] Y, bool Points = false);

/// <summary>Line charts on a <see cref="Canvas"/>: axes with ticks and labels, a title and a legend.</summary>
public static class Charts
{
    /// <summary>
    /// Draws <paramref name="series"/> into the rectangle (x, y, w, h) of <paramref name="canvas"/> with
    /// <paramref name="title"/> above. Axis ranges cover every value unless given.
    /// </summary>
    public static void Line(Canvas canvas, int x, int y, int w, int h, string title, IReadOnlyList<Series> series,
        (double Min, double Max)? xRange = null, (double Min, double Max)? yRange = null, bool integerX = false)
    {
        const int scale = 2;
        int left = x + 52, right = x + w - 10, top = y + 24, bottom = y + h - 30;
        canvas.Text(x + (w - Canvas.TextWidth(title, scale)) / 2, y + 6, title, Rgb.Black, scale);
        var xs = series.SelectMany(s => s.X).Where(double.IsFinite).DefaultIfEmpty(0).ToArray();
        var ys = series.SelectMany(s => s.Y).Where(double.IsFinite).DefaultIfEmpty(0).ToArray();
        var (x0, x1) = xRange ?? (xs.Min(), xs.Max());
        var (y0, y1) = yRange ?? Pad(ys.Min(), ys.Max());
        if (x1 <= x0) x1 = x0 + 1;
        if (y1 <= y0) y1 = y0 + 1;
        int Px(double v) => left + (int)Math.Round((v - x0) / (x1 - x0) * (right - left));
        int Py(double v) => bottom - (int)Math.Round((v - y0) / (y1 - y0) * (bottom - top));

        // Grid and tick labels.
        foreach (double t in Ticks(y0, y1, 5))
        {
            int py = Py(t);
            canvas.Line(left, py, right, py, Rgb.Grid);
            string label = Format(t, y1 - y0);
            canvas.Text(left - 6 - Canvas.TextWidth(label, scale), py - 5, label, Rgb.Black, scale);
        }
        foreach (double t in Ticks(x0, x1, 6))
        {
            if (integerX && Math.Abs(t - Math.Round(t)) > 1e-9) continue;
            int px = Px(t);
            canvas.Line(px, top, px, bottom, Rgb.Grid);
            string label = Format(t, x1 - x0);
            canvas.Text(px - Canvas.TextWidth(label, scale) / 2, bottom + 6, label, Rgb.Black, scale);
        }
        canvas.Line(left, bottom, right, bottom, Rgb.Black);
        canvas.Line(left, top, left, bottom, Rgb.Black);

        foreach (var s in series)
        {
            int n = Math.Min(s.X.Length, s.Y.Length);
            for (int i = 0; i < n; i++)
            {
                if (!double.IsFinite(s.Y[i])) continue;
                int px = Px(s.X[i]), py = Py(Math.Clamp(s.Y[i], y0 - (y1 - y0), y1 + (y1 - y0)));
                if (s.Points) canvas.Disc(px, py, 3, s.Color);
                else if (i + 1 < n && double.IsFinite(s.Y[i + 1]))
                    canvas.Line(px, py, Px(s.X[i + 1]), Py(Math.Clamp(s.Y[i + 1], y0 - (y1 - y0), y1 + (y1 - y0))), s.Color, 2);
                if (!s.Points && n == 1) canvas.Disc(px, py, 3, s.Color);
            }
        }

        // Legend, top right inside the plot.
        int ly = top + 6;
        foreach (var s in series)
        {
            int lw = Canvas.TextWidth(s.Name, scale);
            canvas.Fill(right - lw - 26, ly + 3, right - lw - 12, ly + 7, s.Color);
            canvas.Text(right - lw - 6, ly, s.Name, Rgb.Black, scale);
            ly += 14;
        }
    }

    private static (double, double) Pad(double lo, double hi)
    {
        double span = hi - lo;
        if (span <= 0) span = Math.Max(Math.Abs(hi), 1) * 0.1;
        return (lo - 0.05 * span, hi + 0.05 * span);
    }

    /// <summary>About <paramref name="count"/> round tick values (1, 2 or 5 times a power of ten apart) inside [lo, hi].</summary>
    public static IEnumerable<double> Ticks(double lo, double hi, int count)
    {
        double raw = (hi - lo) / Math.Max(1, count);
        double mag = Math.Pow(10, Math.Floor(Math.Log10(raw)));
        double norm = raw / mag;
        double step = (norm < 1.5 ? 1 : norm < 3.5 ? 2 : norm < 7.5 ? 5 : 10) * mag;
        double first = Math.Ceiling(lo / step - 1e-9) * step;
        for (double t = first; t <= hi + 1e-9 * step; t += step) yield return Math.Abs(t) < 1e-12 * step ? 0 : t;
    }

    private static string Format(double v, double span) =>
        v.ToString(span >= 10 ? "0" : span >= 1 ? "0.#" : span >= 0.1 ? "0.##" : "0.###", CultureInfo.InvariantCulture);

    /// <summary>The training curves: loss (train and test) on the left, accuracy in percent on the right, against the epoch.</summary>
    public static Canvas TrainingCurves(IReadOnlyList<EpochMetrics> history)
    {
        var canvas = new Canvas(900, 340);
        double[] ep = history.Select(m => (double)m.Epoch).ToArray();
        (double, double) xr = (Math.Min(ep.DefaultIfEmpty(1).Min(), 1) - (ep.Length <= 1 ? 1 : 0), Math.Max(ep.DefaultIfEmpty(1).Max(), 1) + (ep.Length <= 1 ? 1 : 0));
        Line(canvas, 0, 0, 450, 340, "LOSS BY EPOCH", [
            new Series("TRAIN", Rgb.Blue, ep, history.Select(m => m.TrainLoss).ToArray()),
            new Series("TEST", Rgb.Orange, ep, history.Select(m => m.TestLoss).ToArray()),
        ], xr, integerX: true);
        Line(canvas, 450, 0, 450, 340, "ACCURACY % BY EPOCH", [
            new Series("TRAIN", Rgb.Blue, ep, history.Select(m => 100 * m.TrainAccuracy).ToArray()),
            new Series("TEST", Rgb.Orange, ep, history.Select(m => 100 * m.TestAccuracy).ToArray()),
        ], xr, integerX: true);
        return canvas;
    }
}
