using Fovea.Vision.Datasets;

namespace Fovea.Cli;

/// <summary>
/// <c>fovea export-images</c>: writes a built-in dataset (Fashion-MNIST, MNIST, CIFAR-10) as an image folder, one
/// sub-folder per class, so the folder tools (<c>fovea train --data</c>, eval, predict) can be tried on real files.
/// </summary>
public static class ExportImagesCommand
{
    private static readonly string[] Datasets = ["fashion-mnist", "mnist", "cifar10"];
    private static readonly string[] Splits = ["test", "train"];
    private static readonly string[] Formats = ["jpg", "png", "bmp"];

    /// <summary>The command.</summary>
    public static Command Command { get; } = new("export-images",
        "--dataset fashion-mnist|mnist|cifar10 -o DIR [--split test|train] [--per-class N (default: all)] [--format jpg|png|bmp] [--quality Q] [--data DIR] [--download] [--force]",
        "Write a dataset as an image folder (one sub-folder per class) for training on folders", (a, o) =>
        {
            string dataset = a.Choice("--dataset", null, Datasets) ?? throw new UsageException("export-images: --dataset is required (fashion-mnist, mnist or cifar10)");
            string split = a.Choice("--split", "test", Splits);
            string format = a.Choice("--format", "jpg", Formats);
            int perClassCount = a.Int("--per-class", 0, 0, int.MaxValue); // 0: every image
            int? perClass = perClassCount == 0 ? null : perClassCount;
            int quality = a.Int("--quality", 95, 1, 100);
            string? data = PathArgs.InputFolder(a.Option("--data"));
            bool download = a.Flag("--download");
            bool force = a.Flag("--force");
            string dir = a.Option("--out", "-o") ?? throw new UsageException("export-images: -o DIR (the output folder) is required");
            a.Done();
            return Run(dataset, split, format, perClass, quality, data, download, force, PathArgs.OutputFolder(dir), o);
        });

    /// <summary>Loads the dataset and writes the folder; prints one line per class and the total.</summary>
    public static int Run(string dataset, string split, string format, int? perClass, int quality, string? data, bool download, bool force, string dir, TextWriter o)
    {
        if (Directory.Exists(dir) && Directory.EnumerateFileSystemEntries(dir).Any() && !force)
            throw new IOException($"{dir} is not empty; choose an empty or new folder, or pass --force to write into it");
        Tensor images, labels;
        IReadOnlyList<string> classes;
        if (dataset == "cifar10")
        {
            var d = Cifar10.Load(data, download);
            (images, labels, classes) = split == "test" ? (d.TestImages, d.TestLabels, d.Classes) : (d.TrainImages, d.TrainLabels, d.Classes);
        }
        else
        {
            var d = dataset == "mnist" ? Mnist.Load(data, download) : FashionMnist.Load(data, download);
            classes = dataset == "mnist" ? Mnist.Classes : FashionMnist.Classes;
            (images, labels) = split == "test" ? (d.TestImages, d.TestLabels) : (d.TrainImages, d.TrainLabels);
        }
        var type = format switch { "png" => ImageFileType.Png, "bmp" => ImageFileType.Bmp, _ => ImageFileType.Jpeg };
        var written = ImageFolderExport.Write(dir, images, labels, classes, type, perClass, quality, force);
        for (int c = 0; c < classes.Count; c++)
            o.WriteLine($"{ImageFolderExport.FolderName(classes[c])}: {written[c]} images");
        o.WriteLine($"wrote {written.Sum()} {format} images of {dataset} ({split}) into {dir}");
        return 0;
    }
}
