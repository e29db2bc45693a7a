using System.Globalization;
using Fovea.Vision.Datasets;
using Fovea.Vision.Training;
using Spectre.Console;

namespace Fovea.Cli;

/// <summary><c>fovea eval</c>: test accuracy, per-class accuracy and the confusion matrix of a checkpoint.</summary>
public static class EvalCommand
{
    /// <summary>The command.</summary>
    public static Command Command { get; } = new("eval", "--checkpoint FILE [--data DIR] [--download]",
        "Evaluate a checkpoint (or an .onnx model) on the test set: accuracy, per-class accuracy, confusion matrix", (a, o) =>
        {
            string checkpoint = a.Option("--checkpoint") ?? throw new UsageException("eval: --checkpoint FILE is required");
            string? data = a.Option("--data");
            bool download = a.Flag("--download");
            a.Done();
            return Run(checkpoint, data, download, o);
        });

    /// <summary>Evaluates <paramref name="checkpoint"/> and prints the tables to <paramref name="o"/>.</summary>
    public static int Run(string checkpoint, string? dataDir, bool download, TextWriter o)
    {
        PathArgs.InputFile(checkpoint);
        PathArgs.InputFolder(dataDir);
        var model = OnnxModelFile.LoadTrained(checkpoint);
        var data = FashionMnist.Load(dataDir, download);
        o.WriteLine($"data from {data.Directory}");
        var r = model.Evaluate(data);
        o.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{model.ModelName} after {model.Epoch} epochs, {r.Count:N0} test images: accuracy {100 * r.Accuracy:0.00}%, loss {r.Loss:0.0000}"));
        var console = Terminal.For(o);

        var perClass = new Table().Title("per-class accuracy").AddColumns("label", "class", "accuracy", "images");
        var acc = r.PerClassAccuracy;
        for (int i = 0; i < r.Classes; i++)
        {
            int count = 0;
            for (int j = 0; j < r.Classes; j++) count += r.Confusion[i, j];
            perClass.AddRow(model.ClassLabels[i].ToString(CultureInfo.InvariantCulture), Markup.Escape(model.ClassNames[i]),
                double.IsNaN(acc[i]) ? "-" : (100 * acc[i]).ToString("0.0", CultureInfo.InvariantCulture) + "%", count.ToString(CultureInfo.InvariantCulture));
        }
        console.Write(perClass);

        var confusion = new Table().Title("confusion matrix (rows: true class, columns: predicted)");
        confusion.AddColumn("true \\ predicted");
        for (int j = 0; j < r.Classes; j++) confusion.AddColumn(new TableColumn(model.ClassLabels[j].ToString(CultureInfo.InvariantCulture)).RightAligned());
        for (int i = 0; i < r.Classes; i++)
        {
            var cells = new List<string> { Markup.Escape($"{model.ClassLabels[i]} {model.ClassNames[i]}") };
            for (int j = 0; j < r.Classes; j++)
                cells.Add(i == j ? $"[bold]{r.Confusion[i, j]}[/]" : r.Confusion[i, j].ToString(CultureInfo.InvariantCulture));
            confusion.AddRow(cells.ToArray());
        }
        console.Write(confusion);
        return 0;
    }
}
