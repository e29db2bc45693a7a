using System.Globalization;
using Fovea.Vision.Datasets;
using Fovea.Vision.Transforms;
using Fovea.Vision.Training;
using Spectre.Console;

namespace Fovea.Cli;

/// <summary><c>fovea eval</c>: test accuracy, per-class accuracy and the confusion matrix of a checkpoint.</summary>
public static class EvalCommand
{
    /// <summary>The command.</summary>
    public static Command Command { get; } = new("eval", "--checkpoint FILE [FILE ...] [--data DIR] [--download] [--strict]",
        "Evaluate a checkpoint (or the average of several: an ensemble) on the test set or an image folder: accuracy, per-class accuracy, confusion matrix", (a, o) =>
        {
            string checkpoint = a.Option("--checkpoint") ?? throw new UsageException("eval: --checkpoint FILE is required");
            string? data = a.Option("--data");
            bool download = a.Flag("--download"), strict = a.Flag("--strict");
            var more = a.Positionals();
            return Run([checkpoint, .. more], data, download, o, strict);
        });

    /// <summary>Evaluates <paramref name="checkpoint"/> and prints the tables to <paramref name="o"/>.</summary>
    public static int Run(string checkpoint, string? dataDir, bool download, TextWriter o) => Run([checkpoint], dataDir, download, o);

    /// <summary>
    /// Evaluates <paramref name="checkpoints"/> (several: each alone and their softmax average) on the data their
    /// checkpoint names, or on the image folder <paramref name="dataDir"/>, and prints the tables to <paramref name="o"/>.
    /// </summary>
    public static int Run(IReadOnlyList<string> checkpoints, string? dataDir, bool download, TextWriter o, bool strict = false)
    {
        foreach (var c in checkpoints) PathArgs.InputFile(c);
        PathArgs.InputFolder(dataDir);
        var models = checkpoints.Select(OnnxModelFile.LoadTrained).ToList();
        try
        {
            Ensemble.CheckCompatible(models);
        }
        catch (ArgumentException e)
        {
            throw new UsageException($"eval: {e.Message}");
        }
        var model = models[0];
        IEnumerable<(Tensor Input, Tensor Target)> batches;
        ImageDataset? images = null;
        bool folder = model.Dataset == TrainOptions.FolderDataset
                      || (dataDir is not null && TrainOptions.IsImageFolder(dataDir));
        if (folder)
        {
            if (dataDir is null) throw new UsageException($"eval: {model.Path} was trained on an image folder; name the folder to evaluate with --data DIR");
            images = model.FolderDataset(dataDir, strict);
            images.ImageSkipped += s => o.WriteLine($"skipped {s.Path}: {s.Reason}");
            o.WriteLine($"images from {dataDir}, prepared as in training: {Describe(model.InputPreprocessing)}");
            batches = images.Loader(256, workers: Math.Max(1, Environment.ProcessorCount - 1));
        }
        else if (model.Dataset == "cifar10")
        {
            var data = Cifar10.Load(dataDir, download);
            o.WriteLine($"data from {data.Directory}");
            batches = model.TestBatches(data.TestImages, data.TestLabels);
        }
        else
        {
            var data = model.Dataset == "mnist" ? Mnist.Load(dataDir, download) : FashionMnist.Load(dataDir, download);
            o.WriteLine($"data from {data.Directory}");
            batches = model.TestBatches(data.TestImages, data.TestLabels);
        }

        EvaluationResult r;
        if (models.Count == 1)
        {
            r = model.Evaluate(batches);
            o.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{model.ModelName} after {model.Epoch} epochs, {r.Count:N0} test images: accuracy {100 * r.Accuracy:0.00}%, loss {r.Loss:0.0000}"));
        }
        else
        {
            var e = Ensemble.Evaluate(models, batches);
            for (int i = 0; i < models.Count; i++)
                o.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{models[i].Path}: {models[i].ModelName} after {models[i].Epoch} epochs: accuracy {100 * e.Members[i].Accuracy:0.00}%, loss {e.Members[i].Loss:0.0000}"));
            r = e.Combined;
            o.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"ensemble of {models.Count} (mean of the softmax outputs), {r.Count:N0} test images: accuracy {100 * r.Accuracy:0.00}%, loss {r.Loss:0.0000}; {100 * e.Gain:+0.00;-0.00;0.00} points over the best single model ({100 * e.BestMemberAccuracy:0.00}%)"));
        }
        if (images is { SkippedCount: > 0 } skipped)
            o.WriteLine($"{skipped.SkippedCount} image(s) could not be decoded and were skipped (--strict makes that an error)");
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

    /// <summary>The preprocessing in words: channels, resize, crop, normalization.</summary>
    internal static string Describe(Preprocessing p) => string.Create(CultureInfo.InvariantCulture,
        $"{(p.Channels == 1 ? "gray" : "RGB")}, shorter side {p.ShorterSide}, center crop {p.CropSize}x{p.CropSize}, mean {string.Join("/", p.Mean.Select(v => v.ToString("0.###", CultureInfo.InvariantCulture)))}, std {string.Join("/", p.Std.Select(v => v.ToString("0.###", CultureInfo.InvariantCulture)))}");
}
