namespace Fovea.Vision.Datasets;

/// <summary>
/// Where the four IDX files of an MNIST-format dataset (MNIST, Fashion-MNIST) are found, read and downloaded: an
/// explicit directory is used exactly; otherwise <c>$FOVEA_DATA</c>, <c>$FOVEA_DATA/&lt;folder&gt;</c>, the Debian
/// package's directory and the user cache are searched in that order. Files may be raw or gzip.
/// </summary>
/// <param name="Name">The dataset's name in messages ("MNIST").</param>
/// <param name="Folder">Its folder name under <c>$FOVEA_DATA</c> and the cache ("mnist").</param>
/// <param name="PackageDirectory">Where a system package installs the files, or null.</param>
/// <param name="PackageHint">How to install that package, for the not-found message, or null.</param>
/// <param name="Download">The official mirror and the published MD5 sums of the four .gz files (train images, train labels, test images, test labels).</param>
internal sealed record IdxDatasetFiles(string Name, string Folder, string? PackageDirectory, string? PackageHint, DownloadSettings Download)
{
    /// <summary>The per-user cache folder for downloads.</summary>
    public string CacheDirectory => Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "fovea", Folder);

    /// <summary>The directories searched, in order, for <paramref name="dataDir"/>: just that folder when it is given.</summary>
    public IReadOnlyList<string> SearchPath(string? dataDir)
    {
        if (!string.IsNullOrEmpty(dataDir)) return [dataDir];
        var dirs = new List<string>();
        if (Environment.GetEnvironmentVariable("FOVEA_DATA") is { Length: > 0 } env)
        {
            dirs.Add(env);
            dirs.Add(Path.Combine(env, Folder));
        }
        if (PackageDirectory is not null) dirs.Add(PackageDirectory);
        dirs.Add(CacheDirectory);
        return dirs;
    }

    /// <summary>The first directory holding all four files (raw or .gz), or null.</summary>
    public string? Locate(string? dataDir) => SearchPath(dataDir).FirstOrDefault(HasAll);

    private bool HasAll(string dir) => Download.FileList.All(f => Find(dir, f.Name) is not null);

    private static string? Find(string dir, string gzName)
    {
        string gz = Path.Combine(dir, gzName);
        if (File.Exists(gz)) return gz;
        string raw = Path.Combine(dir, gzName[..^3]);
        return File.Exists(raw) ? raw : null;
    }

    /// <summary>
    /// Loads the dataset. A given <paramref name="dataDir"/> is used exactly: when it lacks a file the error names the
    /// folder and each missing file (with <paramref name="download"/>, the files are fetched into it). Without a
    /// folder, <see cref="SearchPath"/> is searched; when none holds the files and <paramref name="download"/> is
    /// false, one message says where it looked and how to get them.
    /// </summary>
    public MnistData Load(string? dataDir, bool download)
    {
        if (string.IsNullOrEmpty(dataDir)) return Load(SearchPath(null), download);
        if (!HasAll(dataDir))
        {
            if (download) DatasetDownload.Run(dataDir, Download);
            else
            {
                string missing = string.Join(", ", Download.FileList.Where(f => Find(dataDir, f.Name) is null).Select(f => f.Name[..^3] + "(.gz)"));
                string what = Directory.Exists(dataDir) ? $"the folder lacks {missing}"
                    : File.Exists(dataDir) ? "that is a file, not a folder" : "there is no such folder";
                throw new FileNotFoundException(
                    $"{Name} not found (looked in {dataDir}, as --data asks): {what}; pass the folder with the four IDX files, or add --download to fetch them there");
            }
        }
        return Read(dataDir);
    }

    /// <summary>Loads from the first of <paramref name="searchPath"/> that holds the files.</summary>
    public MnistData Load(IReadOnlyList<string> searchPath, bool download)
    {
        string? dir = searchPath.FirstOrDefault(HasAll);
        if (dir is null && download) dir = DatasetDownload.Run(CacheDirectory, Download);
        if (dir is null)
            throw new FileNotFoundException(
                $"{Name} not found (looked in {string.Join(", ", searchPath)}); {(PackageHint is null ? "" : PackageHint + ", ")}pass --data DIR with the four IDX files, or add --download");
        return Read(dir);
    }

    private MnistData Read(string dir)
    {
        var f = Download.FileList;
        return new(Idx.ReadImages(Find(dir, f[0].Name)!), Idx.ReadLabels(Find(dir, f[1].Name)!),
            Idx.ReadImages(Find(dir, f[2].Name)!), Idx.ReadLabels(Find(dir, f[3].Name)!), dir);
    }
}
