using System.Security.Cryptography;
using Fovea.IO;

namespace Fovea.Vision.Datasets;

/// <summary>The four Fashion-MNIST tensors.</summary>
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

    /// <summary>The directories searched, in order, for <paramref name="dataDir"/>: just that folder when it is given.</summary>
    public static IReadOnlyList<string> SearchPath(string? dataDir)
    {
        if (!string.IsNullOrEmpty(dataDir)) return [dataDir];
        var dirs = new List<string>();
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
    /// Loads the dataset. A given <paramref name="dataDir"/> is used exactly: when it lacks a file the error names the
    /// folder and each missing file (with <paramref name="download"/>, the missing files are fetched into it). Without
    /// a folder, the usual places are searched (<see cref="SearchPath"/>); when none holds the files and
    /// <paramref name="download"/> is false, one message says where it looked and how to get them.
    /// </summary>
    public static MnistData Load(string? dataDir = null, bool download = false)
    {
        if (string.IsNullOrEmpty(dataDir)) return Load(SearchPath(null), download);
        if (!HasAll(dataDir))
        {
            if (download) Download(dataDir);
            else
            {
                string missing = string.Join(", ", Files.Where(f => Find(dataDir, f.Name) is null).Select(f => f.Name[..^3] + "(.gz)"));
                string what = Directory.Exists(dataDir) ? $"the folder lacks {missing}"
                    : File.Exists(dataDir) ? "that is a file, not a folder" : "there is no such folder";
                throw new FileNotFoundException(
                    $"Fashion-MNIST not found (looked in {dataDir}, as --data asks): {what}; pass the folder with the four IDX files, or add --download to fetch them there");
            }
        }
        return Read(dataDir);
    }

    /// <summary>Loads from the first of <paramref name="searchPath"/> that holds the files.</summary>
    internal static MnistData Load(IReadOnlyList<string> searchPath, bool download)
    {
        string? dir = searchPath.FirstOrDefault(HasAll);
        if (dir is null && download) dir = Download(CacheDirectory);
        if (dir is null)
            throw new FileNotFoundException(
                $"Fashion-MNIST not found (looked in {string.Join(", ", searchPath)}); install Debian's dataset-fashion-mnist package, pass --data DIR with the four IDX files, or add --download");
        return Read(dir);
    }

    private static MnistData Read(string dir) => new(
        Idx.ReadImages(Find(dir, Files[0].Name)!), Idx.ReadLabels(Find(dir, Files[1].Name)!),
        Idx.ReadImages(Find(dir, Files[2].Name)!), Idx.ReadLabels(Find(dir, Files[3].Name)!), dir);

    /// <summary>
    /// Downloads the four official files into <paramref name="directory"/>, checking their MD5 sums. Each file gets a
    /// few attempts with a growing pause between them; an attempt fails when connecting takes too long or when no byte
    /// arrives for a while (<see cref="DownloadSettings"/>). A file is written atomically, so an interrupted download
    /// never leaves a partial file under its name. Failure is one <see cref="IOException"/> naming the URL and the reason.
    /// </summary>
    public static string Download(string directory) => Download(directory, DownloadSettings.Default);

    /// <summary>How <see cref="Download(string)"/> talks to the server; tests point it at a local one with small timeouts.</summary>
    /// <param name="BaseUrl">Where the files are, ending in '/'.</param>
    /// <param name="ConnectTimeout">Longest wait for the connection.</param>
    /// <param name="StallTimeout">Longest wait for the response headers or for the next bytes of the body.</param>
    /// <param name="Attempts">Tries per file.</param>
    /// <param name="Backoff">Pause after the first failed try, doubled after each further one.</param>
    /// <param name="FileList">The files with their MD5 sums.</param>
    internal sealed record DownloadSettings(string BaseUrl, TimeSpan ConnectTimeout, TimeSpan StallTimeout, int Attempts, TimeSpan Backoff, IReadOnlyList<(string Name, string Md5)> FileList)
    {
        public static readonly DownloadSettings Default = new(DownloadUrl, TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(20), 3, TimeSpan.FromSeconds(2), Files);
    }

    /// <summary>The largest file accepted from the server (the biggest official file is about 26 MB).</summary>
    private const long MaxDownloadBytes = 64L << 20;

    internal static string Download(string directory, DownloadSettings settings)
    {
        Directory.CreateDirectory(directory);
        using var handler = new SocketsHttpHandler { ConnectTimeout = settings.ConnectTimeout };
        using var http = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
        foreach (var (name, md5) in settings.FileList)
        {
            string target = Path.Combine(directory, name);
            if (File.Exists(target) && Md5(target) == md5) continue;
            string url = settings.BaseUrl + name;
            for (int attempt = 1; ; attempt++)
            {
                string? failure = TryDownload(http, url, target, md5, settings, out bool retryable);
                if (failure is null) break;
                if (!retryable || attempt >= settings.Attempts)
                    throw new IOException($"could not download {url}: {failure}{(attempt > 1 ? $" (after {attempt} attempts)" : "")}");
                Thread.Sleep(settings.Backoff * (1 << (attempt - 1)));
            }
        }
        return directory;
    }

    /// <summary>One attempt: null on success, else why it failed and whether another attempt may help.</summary>
    private static string? TryDownload(HttpClient http, string url, string target, string md5, DownloadSettings settings, out bool retryable)
    {
        var stall = settings.StallTimeout;
        retryable = true;
        using var timer = new CancellationTokenSource(stall);
        try
        {
            using var response = http.GetAsync(url, HttpCompletionOption.ResponseHeadersRead, timer.Token).GetAwaiter().GetResult();
            if (!response.IsSuccessStatusCode)
            {
                int code = (int)response.StatusCode;
                retryable = code >= 500 || code == 408 || code == 429;
                return $"the server answered {code} {response.ReasonPhrase}";
            }
            if (response.Content.Headers.ContentLength > MaxDownloadBytes)
            {
                retryable = false;
                return $"the server announces {response.Content.Headers.ContentLength} bytes, more than the {MaxDownloadBytes} accepted";
            }
            using var body = response.Content.ReadAsStream(timer.Token);
            string? got = null;
            AtomicFile.Write(target, file =>
            {
                using var hash = IncrementalHash.CreateHash(HashAlgorithmName.MD5);
                var buffer = new byte[81920];
                long total = 0;
                while (true)
                {
                    timer.CancelAfter(stall); // the stall clock restarts with every read that brings bytes
                    int n = body.ReadAsync(buffer, timer.Token).AsTask().GetAwaiter().GetResult();
                    if (n == 0) break;
                    total += n;
                    if (total > MaxDownloadBytes) throw new InvalidDataException($"the body runs past {MaxDownloadBytes} bytes");
                    hash.AppendData(buffer, 0, n);
                    file.Write(buffer, 0, n);
                }
                got = Convert.ToHexStringLower(hash.GetHashAndReset());
                // A wrong file must not replace anything: failing here removes the temporary file.
                if (got != md5) throw new InvalidDataException($"MD5 {got} does not match the published {md5}");
            });
            return null;
        }
        catch (OperationCanceledException) when (timer.IsCancellationRequested)
        {
            return $"no data for {stall.TotalSeconds:0.#} s";
        }
        catch (Exception e) when (e is OperationCanceledException or TimeoutException || e.InnerException is OperationCanceledException or TimeoutException)
        {
            return $"no connection within {settings.ConnectTimeout.TotalSeconds:0.#} s";
        }
        catch (HttpRequestException e)
        {
            return e.Message;
        }
        catch (InvalidDataException e)
        {
            return e.Message;
        }
        catch (IOException e) when (e is not FileNotFoundException and not DirectoryNotFoundException)
        {
            return e.Message;
        }
    }

    private static string Md5(string path)
    {
        using var fs = File.OpenRead(path);
        return Convert.ToHexStringLower(MD5.HashData(fs));
    }
}
