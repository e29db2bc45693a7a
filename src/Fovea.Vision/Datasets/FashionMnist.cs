namespace Fovea.Vision.Datasets;

/// <summary>The four tensors of an MNIST-format dataset (images float32 [N, 1, 28, 28] in [0, 1], labels int32 [N]).</summary>
public sealed record MnistData(Tensor TrainImages, Tensor TrainLabels, Tensor TestImages, Tensor TestLabels, string Directory);

/// <summary>
/// Fashion-MNIST (Zalando, 28x28 gray, 10 classes, 60,000 train / 10,000 test). An explicit directory is used exactly;
/// otherwise the files are looked up in <c>$FOVEA_DATA</c>, Debian's <c>dataset-fashion-mnist</c> package and the user
/// cache. Downloaded (into the explicit directory, else the cache) with the published MD5 sums checked only when asked.
/// </summary>
public static class FashionMnist
{
    /// <summary>Class names, index = label.</summary>
    public static readonly string[] Classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

    /// <summary>Where Debian's dataset-fashion-mnist package installs the files.</summary>
    public const string DebianDirectory = "/usr/share/datasets/fashion-mnist";

    /// <summary>The official mirror used by the download.</summary>
    public const string DownloadUrl = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/";

    /// <summary>The official files and their published MD5 sums; the default download settings.</summary>
    internal static readonly DownloadSettings DownloadDefaults = DownloadSettings.For(DownloadUrl,
    [
        ("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
        ("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe"),
        ("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79"),
        ("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310"),
    ]);

    private static readonly IdxDatasetFiles Files = new("Fashion-MNIST", "fashion-mnist", DebianDirectory,
        "install Debian's dataset-fashion-mnist package", DownloadDefaults);

    /// <summary>The per-user cache folder for downloads.</summary>
    public static string CacheDirectory => Files.CacheDirectory;

    /// <summary>The directories searched, in order, for <paramref name="dataDir"/>: just that folder when it is given.</summary>
    public static IReadOnlyList<string> SearchPath(string? dataDir) => Files.SearchPath(dataDir);

    /// <summary>The first directory holding all four files (raw or .gz), or null.</summary>
    public static string? Locate(string? dataDir) => Files.Locate(dataDir);

    /// <summary>
    /// Loads the dataset. A given <paramref name="dataDir"/> is used exactly: when it lacks a file the error names the
    /// folder and each missing file (with <paramref name="download"/>, the missing files are fetched into it). Without
    /// a folder, the usual places are searched (<see cref="SearchPath"/>); when none holds the files and
    /// <paramref name="download"/> is false, one message says where it looked and how to get them.
    /// </summary>
    public static MnistData Load(string? dataDir = null, bool download = false) => Files.Load(dataDir, download);

    /// <summary>Loads from the first of <paramref name="searchPath"/> that holds the files.</summary>
    internal static MnistData Load(IReadOnlyList<string> searchPath, bool download) => Files.Load(searchPath, download);

    /// <summary>
    /// Downloads the four official files into <paramref name="directory"/>, checking their MD5 sums. Each file gets a
    /// few attempts with a growing pause between them; an attempt fails when connecting takes too long or when no byte
    /// arrives for a while. A file is written atomically, so an interrupted download never leaves a partial file under
    /// its name. Failure is one <see cref="IOException"/> naming the URL and the reason.
    /// </summary>
    public static string Download(string directory) => DatasetDownload.Run(directory, DownloadDefaults);

    /// <summary>Downloads with explicit settings (tests point them at a local server).</summary>
    internal static string Download(string directory, DownloadSettings settings) => DatasetDownload.Run(directory, settings);
}
