namespace Fovea.Vision.Datasets;

/// <summary>
/// MNIST (LeCun, Cortes and Burges: handwritten digits, 28x28 gray, 10 classes, 60,000 train / 10,000 test), in the
/// same IDX files as Fashion-MNIST. An explicit directory is used exactly; otherwise the files are looked up in
/// <c>$FOVEA_DATA</c>, <c>$FOVEA_DATA/mnist</c> and the user cache (<c>~/.cache/fovea/mnist</c>). Downloaded only when
/// asked, from the mirror torchvision uses, with the published MD5 sums checked.
/// </summary>
public static class Mnist
{
    /// <summary>Class names, index = label.</summary>
    public static readonly string[] Classes = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];

    /// <summary>The mirror used by the download (yann.lecun.com no longer serves the files reliably).</summary>
    public const string DownloadUrl = "https://ossci-datasets.s3.amazonaws.com/mnist/";

    /// <summary>The official files and their published MD5 sums.</summary>
    internal static readonly DownloadSettings DownloadDefaults = DownloadSettings.For(DownloadUrl,
    [
        ("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
        ("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
        ("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
        ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c"),
    ]);

    private static readonly IdxDatasetFiles Files = new("MNIST", "mnist", null, null, DownloadDefaults);

    /// <summary>The per-user cache folder for downloads.</summary>
    public static string CacheDirectory => Files.CacheDirectory;

    /// <summary>The directories searched, in order, for <paramref name="dataDir"/>: just that folder when it is given.</summary>
    public static IReadOnlyList<string> SearchPath(string? dataDir) => Files.SearchPath(dataDir);

    /// <summary>The first directory holding all four files (raw or .gz), or null.</summary>
    public static string? Locate(string? dataDir) => Files.Locate(dataDir);

    /// <summary>
    /// Loads the dataset: from <paramref name="dataDir"/> exactly when given (its missing files named, or fetched
    /// into it with <paramref name="download"/>), else from the first folder of <see cref="SearchPath"/> that holds
    /// the files (or the cache, downloaded, with <paramref name="download"/>).
    /// </summary>
    public static MnistData Load(string? dataDir = null, bool download = false) => Files.Load(dataDir, download);

    /// <summary>Downloads the four official files into <paramref name="directory"/>, checking their MD5 sums (see <see cref="FashionMnist.Download(string)"/>).</summary>
    public static string Download(string directory) => DatasetDownload.Run(directory, DownloadDefaults);

    /// <summary>Downloads with explicit settings (tests point them at a local server).</summary>
    internal static string Download(string directory, DownloadSettings settings) => DatasetDownload.Run(directory, settings);
}
