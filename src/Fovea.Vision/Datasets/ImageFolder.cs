namespace Fovea.Vision.Datasets;

/// <summary>One image file of a folder dataset and its class index.</summary>
/// <param name="Path">The file.</param>
/// <param name="Label">Index into the dataset's class names.</param>
public readonly record struct ImageFile(string Path, int Label);

/// <summary>
/// A dataset of image files laid out one sub-folder per class (torchvision's ImageFolder): the class names are the
/// sub-folders' names in ordinal order, class i is the i-th. Images are PNG, JPEG and BMP files (by extension:
/// .png, .jpg, .jpeg, .bmp, any case), found in the class folder and its sub-folders; other files are ignored and
/// counted, and folders whose name starts with '.' are skipped. When the root holds <c>train/</c> and <c>val/</c>
/// (and optionally <c>test/</c>) folders, those are the splits, each with the class folders inside (the classes are
/// train's; val and test may lack some but not add any). Otherwise a seeded, stratified fraction of each class is set
/// aside for validation. Nothing is decoded here: <see cref="ImageDataset"/> decodes as the loader asks.
/// </summary>
public sealed class ImageFolder
{
    /// <summary>The file extensions taken as images (lower case, with the dot).</summary>
    public static readonly IReadOnlyList<string> ImageExtensions = [".png", ".jpg", ".jpeg", ".bmp"];

    /// <summary>The folder given.</summary>
    public string Root { get; }

    /// <summary>Class names, index = label.</summary>
    public IReadOnlyList<string> Classes { get; }

    /// <summary>The training images, in class order then path order.</summary>
    public IReadOnlyList<ImageFile> Train { get; }

    /// <summary>The validation images (from <c>val/</c>, or the stratified split; empty for a fraction of 0).</summary>
    public IReadOnlyList<ImageFile> Validation { get; }

    /// <summary>The test images from <c>test/</c> (empty when there is none).</summary>
    public IReadOnlyList<ImageFile> Test { get; }

    /// <summary>True when the splits come from <c>train/</c> and <c>val/</c> folders, false when validation was split off.</summary>
    public bool HasSplitFolders { get; }

    /// <summary>Files skipped because their extension is not an image's.</summary>
    public int IgnoredFiles { get; }

    /// <summary>Things the user should know: class folders without images, ignored files.</summary>
    public IReadOnlyList<string> Notes { get; }

    private ImageFolder(string root, IReadOnlyList<string> classes, IReadOnlyList<ImageFile> train, IReadOnlyList<ImageFile> validation,
        IReadOnlyList<ImageFile> test, bool splitFolders, int ignored, IReadOnlyList<string> notes)
    {
        (Root, Classes, Train, Validation, Test, HasSplitFolders, IgnoredFiles, Notes) = (root, classes, train, validation, test, splitFolders, ignored, notes);
    }

    /// <summary>
    /// Scans <paramref name="root"/>. Without <c>train/</c> and <c>val/</c> folders, round(<paramref name="validationFraction"/>
    /// · n) images of each class of n (at most n − 1) go to validation, chosen by a permutation seeded with
    /// <paramref name="seed"/> and the class index, so the split is the same on every run.
    /// </summary>
    /// <exception cref="DirectoryNotFoundException">The root does not exist or is a file.</exception>
    /// <exception cref="InvalidDataException">No class folders, no images at all, or a val/test class that train lacks.</exception>
    public static ImageFolder Open(string root, double validationFraction = 0.2, ulong seed = 0)
    {
        ArgumentNullException.ThrowIfNull(root);
        if (!(validationFraction is >= 0 and < 1))
            throw new ArgumentOutOfRangeException(nameof(validationFraction), validationFraction, "the validation fraction must be in [0, 1)");
        if (!Directory.Exists(root))
            throw new DirectoryNotFoundException(File.Exists(root) ? $"{root}: that is a file, not a folder of class folders" : $"{root}: there is no such folder");
        var notes = new List<string>();
        int ignored = 0;
        string train = Path.Combine(root, "train"), val = Path.Combine(root, "val"), test = Path.Combine(root, "test");
        if (Directory.Exists(train) && Directory.Exists(val))
        {
            var classes = ClassFolders(train);
            var trainFiles = Scan(train, classes, classes, notes, ref ignored, "train");
            var valFiles = Scan(val, ClassFolders(val), classes, notes, ref ignored, "val");
            var testFiles = Directory.Exists(test) ? Scan(test, ClassFolders(test), classes, notes, ref ignored, "test") : [];
            if (trainFiles.Count == 0) throw new InvalidDataException($"{train}: no images ({Extensions}) in any class folder");
            AddIgnoredNote(notes, ignored);
            return new ImageFolder(root, classes, trainFiles, valFiles, testFiles, true, ignored, notes);
        }
        {
            var classes = ClassFolders(root);
            var all = Scan(root, classes, classes, notes, ref ignored, null);
            if (all.Count == 0) throw new InvalidDataException($"{root}: no images ({Extensions}) in any class folder");
            var (trainFiles, valFiles) = StratifiedSplit(all, classes.Count, validationFraction, seed);
            AddIgnoredNote(notes, ignored);
            return new ImageFolder(root, classes, trainFiles, valFiles, [], false, ignored, notes);
        }
    }

    private static string Extensions => string.Join(", ", ImageExtensions);

    private static void AddIgnoredNote(List<string> notes, int ignored)
    {
        if (ignored > 0) notes.Add($"{ignored} file{(ignored == 1 ? "" : "s")} without an image extension ({Extensions}) ignored");
    }

    /// <summary>The class folder names of <paramref name="dir"/>, ordinal order, hidden ones skipped.</summary>
    private static List<string> ClassFolders(string dir)
    {
        var names = Directory.EnumerateDirectories(dir).Select(Path.GetFileName).OfType<string>()
            .Where(n => !n.StartsWith('.')).Order(StringComparer.Ordinal).ToList();
        if (names.Count == 0)
            throw new InvalidDataException($"{dir}: no class folders; an image folder holds one sub-folder per class (e.g. {dir}/cat/1.jpg, {dir}/dog/2.jpg)");
        return names;
    }

    /// <summary>The images of the class folders <paramref name="present"/> of <paramref name="dir"/>, labelled by their index in <paramref name="classes"/>.</summary>
    private static List<ImageFile> Scan(string dir, List<string> present, List<string> classes, List<string> notes, ref int ignored, string? split)
    {
        var files = new List<ImageFile>();
        foreach (string name in present)
        {
            int label = classes.IndexOf(name);
            if (label < 0)
                throw new InvalidDataException($"{Path.Combine(dir, name)}: class '{name}' of {split} is not among train's classes ({string.Join(", ", classes)})");
            string folder = Path.Combine(dir, name);
            int images = 0;
            foreach (string path in EnumerateFiles(folder).Order(StringComparer.Ordinal))
            {
                if (IsImage(path))
                {
                    files.Add(new ImageFile(path, label));
                    images++;
                }
                else ignored++;
            }
            if (images == 0) notes.Add($"{folder}: no images ({Extensions}) for class '{name}'");
        }
        return files;
    }

    /// <summary>Every file under <paramref name="folder"/>, skipping folders and files whose name starts with '.'.</summary>
    private static IEnumerable<string> EnumerateFiles(string folder)
    {
        foreach (string f in Directory.EnumerateFiles(folder))
            if (!Path.GetFileName(f).StartsWith('.')) yield return f;
        foreach (string d in Directory.EnumerateDirectories(folder))
            if (!Path.GetFileName(d).StartsWith('.'))
                foreach (string f in EnumerateFiles(d)) yield return f;
    }

    /// <summary>Whether <paramref name="path"/>'s extension is an image's.</summary>
    public static bool IsImage(string path) => ImageExtensions.Contains(Path.GetExtension(path).ToLowerInvariant());

    private static (List<ImageFile> Train, List<ImageFile> Validation) StratifiedSplit(List<ImageFile> all, int classes, double fraction, ulong seed)
    {
        var train = new List<ImageFile>();
        var val = new List<ImageFile>();
        for (int c = 0; c < classes; c++)
        {
            var members = all.Where(f => f.Label == c).ToList();
            int n = members.Count;
            int take = n < 2 ? 0 : Math.Min(n - 1, (int)Math.Round(fraction * n, MidpointRounding.ToEven));
            var chosen = new bool[n];
            var perm = new Generator(Generator.Hash(seed, (ulong)c)).Permutation(n);
            for (int i = 0; i < take; i++) chosen[perm[i]] = true;
            for (int i = 0; i < n; i++) (chosen[i] ? val : train).Add(members[i]);
        }
        return (train, val);
    }
}
