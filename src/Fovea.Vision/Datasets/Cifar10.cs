using System.Formats.Tar;
using System.IO.Compression;
using System.Text;
using Fovea.IO;

namespace Fovea.Vision.Datasets;

/// <summary>The CIFAR-10 tensors: images float32 [N, 3, 32, 32] in [0, 1] (R, G, B), labels int32 [N], the class names.</summary>
public sealed record Cifar10Data(Tensor TrainImages, Tensor TrainLabels, Tensor TestImages, Tensor TestLabels, IReadOnlyList<string> Classes, string Directory);

/// <summary>
/// CIFAR-10 (Krizhevsky, 2009: 32x32 colour photographs, 10 classes, 50,000 train / 10,000 test) in its official
/// binary format: <c>data_batch_1.bin</c> … <c>data_batch_5.bin</c> and <c>test_batch.bin</c>, each 10,000 records of
/// 3,073 bytes (the label byte, then 1,024 red, 1,024 green and 1,024 blue bytes, rows top to bottom), and
/// <c>batches.meta.txt</c> with the class names, one a line. A given directory is used exactly (the files in it or in
/// its <c>cifar-10-batches-bin</c> sub-folder); otherwise <c>$FOVEA_DATA</c>, <c>$FOVEA_DATA/cifar10</c> and the user
/// cache are searched. Nothing is downloaded unless asked: then <c>cifar-10-binary.tar.gz</c> is fetched, its published
/// MD5 checked, and the seven files unpacked.
/// </summary>
public static class Cifar10
{
    /// <summary>Class names, index = label (as the official <c>batches.meta.txt</c> lists them).</summary>
    public static readonly string[] Classes = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"];

    /// <summary>Where the official archive is published.</summary>
    public const string DownloadUrl = "https://www.cs.toronto.edu/~kriz/";

    /// <summary>The official archive of the binary version.</summary>
    public const string ArchiveName = "cifar-10-binary.tar.gz";

    /// <summary>The archive's published MD5 sum.</summary>
    public const string ArchiveMd5 = "c32a1d4ab5d03f1284b67883e8d87530";

    /// <summary>The folder the archive unpacks into.</summary>
    public const string BatchFolder = "cifar-10-batches-bin";

    /// <summary>Bytes of one record: a label byte and 3 x 32 x 32 pixel bytes.</summary>
    public const int RecordBytes = 1 + ImageBytes;

    /// <summary>Records in each official batch file.</summary>
    public const int RecordsPerBatch = 10_000;

    private const int ImageBytes = 3 * 32 * 32;

    /// <summary>The names of the batch files: five training batches, then the test batch.</summary>
    public static readonly string[] BatchFiles = ["data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin", "test_batch.bin"];

    /// <summary>The class-name file.</summary>
    public const string MetaFile = "batches.meta.txt";

    /// <summary>The download of the archive (170,498,071 bytes).</summary>
    internal static readonly DownloadSettings DownloadDefaults = DownloadSettings.For(DownloadUrl, [(ArchiveName, ArchiveMd5)], maxBytes: 256L << 20);

    /// <summary>The per-user cache folder for downloads.</summary>
    public static string CacheDirectory => Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "fovea", "cifar10");

    /// <summary>The directories searched, in order, for <paramref name="dataDir"/>: just that folder when it is given.</summary>
    public static IReadOnlyList<string> SearchPath(string? dataDir)
    {
        if (!string.IsNullOrEmpty(dataDir)) return [dataDir];
        var dirs = new List<string>();
        if (Environment.GetEnvironmentVariable("FOVEA_DATA") is { Length: > 0 } env)
        {
            dirs.Add(env);
            dirs.Add(Path.Combine(env, "cifar10"));
        }
        dirs.Add(CacheDirectory);
        return dirs;
    }

    /// <summary>The folder holding the six batch files: <paramref name="dir"/> itself or its <see cref="BatchFolder"/>, or null.</summary>
    private static string? BatchDirectory(string dir)
    {
        foreach (string d in new[] { dir, Path.Combine(dir, BatchFolder) })
            if (BatchFiles.All(f => File.Exists(Path.Combine(d, f)))) return d;
        return null;
    }

    /// <summary>The first folder of the search path holding the batch files (or its <see cref="BatchFolder"/>), or null.</summary>
    public static string? Locate(string? dataDir) => SearchPath(dataDir).Select(BatchDirectory).FirstOrDefault(d => d is not null);

    /// <summary>
    /// Loads the dataset. A given <paramref name="dataDir"/> is used exactly; when it lacks the files the error names
    /// the folder and the missing files (with <paramref name="download"/>, the archive is fetched and unpacked there).
    /// Without a folder the search path is used (with <paramref name="download"/>, the cache is filled when no folder
    /// holds the files).
    /// </summary>
    public static Cifar10Data Load(string? dataDir = null, bool download = false)
    {
        var searched = SearchPath(dataDir);
        string? dir = searched.Select(BatchDirectory).FirstOrDefault(d => d is not null);
        if (dir is null && download) dir = BatchDirectory(Download(string.IsNullOrEmpty(dataDir) ? CacheDirectory : dataDir));
        if (dir is null)
        {
            if (!string.IsNullOrEmpty(dataDir))
            {
                string what = Directory.Exists(dataDir) ? $"the folder (and its {BatchFolder}) lacks {string.Join(", ", BatchFiles.Where(f => !File.Exists(Path.Combine(dataDir, f))))}"
                    : File.Exists(dataDir) ? "that is a file, not a folder" : "there is no such folder";
                throw new FileNotFoundException($"CIFAR-10 not found (looked in {dataDir}, as --data asks): {what}; pass the folder with the binary batches, or add --download to fetch them there");
            }
            throw new FileNotFoundException($"CIFAR-10 not found (looked in {string.Join(", ", searched)}); pass --data DIR with the binary batches ({BatchFolder}), or add --download");
        }
        return Read(dir, RecordsPerBatch);
    }

    /// <summary>Reads the six batches of <paramref name="dir"/>, each of exactly <paramref name="records"/> records, and the class names.</summary>
    internal static Cifar10Data Read(string dir, int records)
    {
        var train = BatchFiles[..5].Select(f => ReadBatch(Path.Combine(dir, f), records)).ToArray();
        var (testImages, testLabels) = ReadBatch(Path.Combine(dir, BatchFiles[5]), records);
        string meta = Path.Combine(dir, MetaFile);
        var classes = File.Exists(meta) ? ReadClassNames(meta) : Classes;
        return new Cifar10Data(Tensor.Cat(train.Select(t => t.Images).ToArray()), Tensor.Cat(train.Select(t => t.Labels).ToArray()),
            testImages, testLabels, classes, dir);
    }

    /// <summary>
    /// Reads one batch file of exactly <paramref name="records"/> records (10,000 in the official files): images
    /// float32 [records, 3, 32, 32] in [0, 1], labels int32 [records]. The file's length is checked before anything is
    /// allocated; a cut file, extra bytes or a label above 9 is an <see cref="InvalidDataException"/> naming the file,
    /// the record and the byte offset.
    /// </summary>
    public static (Tensor Images, Tensor Labels) ReadBatch(string path, int records = RecordsPerBatch)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentOutOfRangeException.ThrowIfLessThan(records, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(records, Array.MaxLength / ImageBytes);
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: file not found", path);
        long expected = (long)records * RecordBytes;
        long length = new FileInfo(path).Length;
        if (length < expected)
            throw new InvalidDataException($"{path}: truncated at byte {length}: record {length / RecordBytes} of {records} is incomplete (a CIFAR-10 batch holds {records} records of {RecordBytes} bytes, {expected} bytes)");
        if (length > expected)
            throw new InvalidDataException($"{path}: {length - expected} bytes of trailing data after the {records} records of {RecordBytes} bytes (from byte {expected})");
        var bytes = new byte[expected];
        using (var file = File.OpenRead(path))
        {
            int got = file.ReadAtLeast(bytes, bytes.Length, throwOnEndOfStream: false);
            if (got < bytes.Length) throw new InvalidDataException($"{path}: truncated at byte {got} while reading (the file shrank)");
        }
        var labels = new int[records];
        var pixels = new float[(long)records * ImageBytes];
        Span<float> level = stackalloc float[256];
        for (int k = 0; k < 256; k++) level[k] = k / 255f;
        for (int r = 0; r < records; r++)
        {
            long offset = (long)r * RecordBytes;
            int label = bytes[offset];
            if (label >= Classes.Length)
                throw new InvalidDataException($"{path}: record {r} (byte {offset}) has label {label}, not below {Classes.Length}");
            labels[r] = label;
            var src = bytes.AsSpan((int)offset + 1, ImageBytes);
            var dst = pixels.AsSpan(r * ImageBytes, ImageBytes);
            for (int i = 0; i < ImageBytes; i++) dst[i] = level[src[i]];
        }
        return (Tensor.FromArray(pixels, records, 3, 32, 32), Tensor.FromArray(labels, records));
    }

    /// <summary>The class names of a <c>batches.meta.txt</c>: exactly ten non-empty lines (blank lines at the end are allowed).</summary>
    public static string[] ReadClassNames(string path)
    {
        var info = new FileInfo(path);
        if (!info.Exists) throw new FileNotFoundException($"{path}: file not found", path);
        if (info.Length > 4096) throw new InvalidDataException($"{path}: {info.Length} bytes is too long for ten class names");
        string text;
        try
        {
            text = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(File.ReadAllBytes(path));
        }
        catch (DecoderFallbackException)
        {
            throw new InvalidDataException($"{path}: the class names are not UTF-8 text");
        }
        var lines = text.Replace("\r", "", StringComparison.Ordinal).Split('\n').Select(l => l.Trim()).ToList();
        while (lines.Count > 0 && lines[^1].Length == 0) lines.RemoveAt(lines.Count - 1);
        if (lines.Count != Classes.Length || lines.Any(l => l.Length == 0 || l.Any(char.IsControl)))
            throw new InvalidDataException($"{path}: expected {Classes.Length} class names, one a line, found {lines.Count} lines");
        return [.. lines];
    }

    /// <summary>
    /// Downloads <c>cifar-10-binary.tar.gz</c> into <paramref name="directory"/> (MD5 checked, with the timeouts and
    /// retries of every dataset download), unpacks its seven files into <paramref name="directory"/>/<see cref="BatchFolder"/>
    /// and deletes the archive. Returns <paramref name="directory"/>.
    /// </summary>
    public static string Download(string directory) => Download(directory, DownloadDefaults);

    /// <summary>Downloads with explicit settings (tests point them at a local server).</summary>
    internal static string Download(string directory, DownloadSettings settings)
    {
        DatasetDownload.Run(directory, settings);
        string archive = Path.Combine(directory, settings.FileList[0].Name);
        Extract(archive, Path.Combine(directory, BatchFolder));
        File.Delete(archive);
        return directory;
    }

    /// <summary>
    /// Unpacks the batch files and <c>batches.meta.txt</c> of the archive into <paramref name="target"/>, each
    /// written atomically. Entries are matched by file name only (their folders ignored, so no entry can write outside
    /// <paramref name="target"/>), anything else is skipped, and each file is refused when larger than the official one.
    /// </summary>
    internal static void Extract(string archive, string target)
    {
        Directory.CreateDirectory(target);
        var wanted = new HashSet<string>(BatchFiles.Append(MetaFile), StringComparer.Ordinal);
        var found = new HashSet<string>(StringComparer.Ordinal);
        string? oversized = null;
        try
        {
            using var file = File.OpenRead(archive);
            using var gzip = new GZipStream(file, CompressionMode.Decompress);
            using var tar = new TarReader(gzip);
            while (tar.GetNextEntry() is { } entry)
            {
                string name = Path.GetFileName(entry.Name.Replace('\\', '/').TrimEnd('/'));
                if (entry.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile) || !wanted.Contains(name) || entry.DataStream is null) continue;
                long limit = name == MetaFile ? 4096 : (long)RecordsPerBatch * RecordBytes;
                if (entry.Length > limit)
                {
                    oversized = $"{archive}: entry {name} is {entry.Length} bytes, more than the {limit} of the official file";
                    break;
                }
                AtomicFile.Write(Path.Combine(target, name), s => entry.DataStream.CopyTo(s));
                found.Add(name);
            }
        }
        catch (Exception e) when (e is InvalidDataException or FormatException or EndOfStreamException)
        {
            throw new InvalidDataException($"{archive}: not a readable tar.gz archive ({e.Message})", e);
        }
        if (oversized is not null) throw new InvalidDataException(oversized);
        var missing = BatchFiles.Where(f => !found.Contains(f)).ToArray();
        if (missing.Length > 0) throw new InvalidDataException($"{archive}: the archive lacks {string.Join(", ", missing)}");
    }
}
