using System.Diagnostics;
using System.Globalization;
using Fovea.Vision.Retrieval;

namespace Fovea.Cli;

/// <summary>
/// <c>fovea index</c>: embeds image files with a network's layer into an image index file (<c>--add</c> appends to
/// one); <c>fovea index export</c> writes an index's vectors to <c>.npy</c> and its paths to a text file.
/// </summary>
public static class IndexCommand
{
    /// <summary>The command.</summary>
    public static Command Command { get; } = new("index",
        InspectionArgs.ModelUsage + " [--layer NAME] [--float16] [--add] [--root DIR] [--batch N] -o INDEX.fvi (DIR | IMAGE...)  |  fovea index export INDEX.fvi -o VECTORS.npy",
        "Embed images (L2-normalised features of a layer) into one searchable index file; export its vectors to .npy", (a, o) =>
        {
            if (a.Flag("export"))
            {
                string npy = InspectionArgs.Output(a, "index export");
                string file = PathArgs.InputFile(a.Positionals(1, "one index file")[0]);
                return Export(file, npy, o);
            }
            var model = InspectionArgs.Model(a, "index");
            string? layer = a.Option("--layer");
            if (layer is not null) InspectionArgs.Layer(model, layer, "index");
            bool half = a.Flag("--float16"), add = a.Flag("--add");
            int batch = a.Int("--batch", 64, 1, 4096);
            string? rootOption = PathArgs.InputFolder(a.Option("--root"));
            string output = InspectionArgs.Output(a, "index");
            var inputs = a.Positionals();
            // One folder and no --root: the paths are relative to that folder.
            string root = Path.GetFullPath(rootOption ?? (inputs.Count == 1 && Directory.Exists(inputs[0]) ? inputs[0] : Directory.GetCurrentDirectory()));
            var files = InspectionArgs.ImageFiles(inputs, root, "index");
            if (add && !File.Exists(output)) throw new UsageException($"index: --add needs an existing index, and {output} does not exist");
            return Build(new ImageEmbedder(model, layer), files, root, half ? VectorStorage.Float16 : VectorStorage.Float32, add, batch, output, o);
        });

    /// <summary>Builds (or, with <paramref name="add"/>, extends) the index and saves it atomically.</summary>
    public static int Build(ImageEmbedder embedder, IReadOnlyList<string> files, string root, VectorStorage storage, bool add, int batch, string output, TextWriter o)
    {
        using var index = add ? ImageIndex.Open(output) : embedder.CreateIndex(root, storage);
        if (add)
        {
            if (index.Info.Model != embedder.Model.Identity || index.Info.Layer != embedder.Layer)
                throw new UsageException($"index: {output} holds vectors of {index.Info.Model} layer '{index.Info.Layer}', not {embedder.Model.Identity} layer '{embedder.Layer}'");
            if (index.Info.ModelSha256 is { } sha && sha != embedder.Model.FileSha256())
                throw new UsageException($"index: {output} was built with another checkpoint file (SHA-256 {sha[..12]}…)");
            if (index.Info.Root is { } stored && !string.Equals(stored, root, StringComparison.Ordinal))
                throw new UsageException($"index: {output} holds paths relative to {stored}; run from there or give --root {stored}");
            var present = index.Paths.ToHashSet(StringComparer.Ordinal);
            int before = files.Count;
            files = files.Where(f => !present.Contains(f)).Distinct(StringComparer.Ordinal).ToList();
            if (before != files.Count) o.WriteLine($"{before - files.Count} image(s) already in the index, skipped");
        }
        var clock = Stopwatch.StartNew();
        var progress = new Progress(o);
        embedder.AddFiles(index, root, files, batch, progress.Report);
        progress.Done();
        double embedSeconds = clock.Elapsed.TotalSeconds;
        index.Save(output);
        o.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"wrote {output}: {index.Count} vectors of {index.Dimension} ({index.Storage}) from {embedder.Model.Identity} layer '{embedder.Layer}'; " +
            $"{files.Count} image(s) embedded in {embedSeconds:0.0} s ({files.Count / Math.Max(embedSeconds, 1e-9):0} images/s)"));
        return 0;
    }

    /// <summary>Writes the vectors as .npy and the paths, one per line, next to it as NAME.paths.txt.</summary>
    public static int Export(string indexFile, string npy, TextWriter o)
    {
        using var index = ImageIndex.Open(indexFile);
        index.ExportNpy(npy);
        string paths = Path.ChangeExtension(npy, null) + ".paths.txt";
        Fovea.IO.AtomicFile.WriteAllLines(paths, index.Paths);
        o.WriteLine($"wrote {npy}: [{index.Count}, {index.Dimension}] {(index.Storage == VectorStorage.Float16 ? "float16" : "float32")}, and {paths} (row i is line i)");
        return 0;
    }

    // One line that updates in place on a terminal; elsewhere a line at each tenth.
    private sealed class Progress(TextWriter o)
    {
        private readonly bool _live = Terminal.IsLive(o);
        private int _lastTenth = -1;

        public void Report(int done, int total)
        {
            int tenth = total == 0 ? 10 : 10 * done / total;
            if (_live) o.Write($"\rembedding {done}/{total} images");
            else if (tenth != _lastTenth) o.WriteLine($"embedded {done}/{total} images");
            _lastTenth = tenth;
        }

        public void Done()
        {
            if (_live) o.WriteLine();
        }
    }
}
