using System.Security.Cryptography;

namespace Fovea.Vision.Datasets;

/// <summary>The four Fashion-MNIST tensors.</summary>
public sealed record MnistData(Tensor TrainImages, Tensor TrainLabels, Tensor TestImages, Tensor TestLabels, string Directory);

/// <summary>
/// Fashion-MNIST (Zalando, 28x28 gray, 10 classes, 60,000 train / 10,000 test). Looked up in order: an explicit
/// directory, <c>$FOVEA_DATA</c>, Debian's <c>dataset-fashion-mnist</c> package, the user cache; downloaded into
/// the cache with the published MD5 sums checked only when asked.
/// </summary>
public static class FashionMnist
{
    /// <summary>Class names, index = label.</summary>
    public static readonly string[] Classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

    /// <summary>Where Debian's dataset-fashion-mnist package installs the files.</summary>
    public const string DebianDirectory = "/usr/share/datasets/fashion-mnist";

    /// <summary>The official mirror used by the download.</summary>
    public const string DownloadUrl = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/";

    private static readonly (string Name, string Md5)[] Files =
    [
        ("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
        ("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe"),
        ("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79"),
        ("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310"),
    ];

    /// <summary>The per-user cache folder for downloads.</summary>
    public static string CacheDirectory =>
        Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "fovea", "fashion-mnist");

    /// <summary>The directories searched, in order, for <paramref name="dataDir"/>.</summary>
    public static IReadOnlyList<string> SearchPath(string? dataDir)
    {
        var dirs = new List<string>();
        if (!string.IsNullOrEmpty(dataDir)) dirs.Add(dataDir);
        if (Environment.GetEnvironmentVariable("FOVEA_DATA") is { Length: > 0 } env)
        {
            dirs.Add(env);
            dirs.Add(Path.Combine(env, "fashion-mnist"));
        }
        dirs.Add(DebianDirectory);
        dirs.Add(CacheDirectory);
        return dirs;
    }

    /// <summary>The first directory holding all four files (raw or .gz), or null.</summary>
    public static string? Locate(string? dataDir) => SearchPath(dataDir).FirstOrDefault(HasAll);

    private static bool HasAll(string dir) => Files.All(f => Find(dir, f.Name) is not null);

    private static string? Find(string dir, string gzName)
    {
        string gz = Path.Combine(dir, gzName);
        if (File.Exists(gz)) return gz;
        string raw = Path.Combine(dir, gzName[..^3]);
        return File.Exists(raw) ? raw : null;
    }

    /// <summary>
    /// Loads the dataset. Without the files and without <paramref name="download"/>, throws one message saying
    /// where it looked and how to get them.
    /// </summary>
    public static MnistData Load(string? dataDir = null, bool download = false) => Load(SearchPath(dataDir), download);

    /// <summary>Loads from the first of <paramref name="searchPath"/> that holds the files.</summary>
    internal static MnistData Load(IReadOnlyList<string> searchPath, bool download)
    {
        string? dir = searchPath.FirstOrDefault(HasAll);
        if (dir is null && download) dir = Download(CacheDirectory);
        if (dir is null)
            throw new FileNotFoundException(
                $"Fashion-MNIST not found (looked in {string.Join(", ", searchPath)}); install Debian's dataset-fashion-mnist package, pass --data DIR with the four IDX files, or add --download");
        return new MnistData(
            Idx.ReadImages(Find(dir, Files[0].Name)!), Idx.ReadLabels(Find(dir, Files[1].Name)!),
            Idx.ReadImages(Find(dir, Files[2].Name)!), Idx.ReadLabels(Find(dir, Files[3].Name)!), dir);
    }

    /// <summary>Downloads the four official files into <paramref name="directory"/>, checking their MD5 sums.</summary>
    public static string Download(string directory)
    {
        Directory.CreateDirectory(directory);
        using var http = new HttpClient { Timeout = TimeSpan.FromMinutes(5) };
        foreach (var (name, md5) in Files)
        {
            string target = Path.Combine(directory, name);
            if (File.Exists(target) && Md5(target) == md5) continue;
            string temp = target + ".part";
            try
            {
                using (var response = http.GetAsync(DownloadUrl + name, HttpCompletionOption.ResponseHeadersRead).GetAwaiter().GetResult())
                {
                    response.EnsureSuccessStatusCode();
                    using var fs = File.Create(temp);
                    response.Content.ReadAsStream().CopyTo(fs);
                }
                string got = Md5(temp);
                if (got != md5) throw new InvalidDataException($"{DownloadUrl + name}: MD5 {got} does not match the published {md5}");
                File.Move(temp, target, overwrite: true);
            }
            catch (HttpRequestException e)
            {
                throw new IOException($"could not download {DownloadUrl + name}: {e.Message}", e);
            }
            finally
            {
                if (File.Exists(temp)) File.Delete(temp);
            }
        }
        return directory;
    }

    private static string Md5(string path)
    {
        using var fs = File.OpenRead(path);
        return Convert.ToHexStringLower(MD5.HashData(fs));
    }
}
