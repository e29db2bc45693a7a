using System.Security.Cryptography;
using Fovea.IO;

namespace Fovea.Vision.Datasets;

/// <summary>How a dataset download talks to the server; tests point it at a local one with small timeouts.</summary>
/// <param name="BaseUrl">Where the files are, ending in '/'.</param>
/// <param name="ConnectTimeout">Longest wait for the connection.</param>
/// <param name="StallTimeout">Longest wait for the response headers or for the next bytes of the body.</param>
/// <param name="Attempts">Tries per file.</param>
/// <param name="Backoff">Pause after the first failed try, doubled after each further one.</param>
/// <param name="FileList">The files with their MD5 sums.</param>
/// <param name="MaxBytes">The largest file accepted from the server.</param>
internal sealed record DownloadSettings(string BaseUrl, TimeSpan ConnectTimeout, TimeSpan StallTimeout, int Attempts, TimeSpan Backoff,
    IReadOnlyList<(string Name, string Md5)> FileList, long MaxBytes = 64L << 20)
{
    /// <summary>The timeouts and retries every dataset download uses, for <paramref name="files"/> at <paramref name="baseUrl"/>.</summary>
    public static DownloadSettings For(string baseUrl, IReadOnlyList<(string Name, string Md5)> files, long maxBytes = 64L << 20) =>
        new(baseUrl, TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(20), 3, TimeSpan.FromSeconds(2), files, maxBytes);
}

/// <summary>
/// Downloads dataset files, only ever on an explicit request (<c>--download</c>): each file gets a few attempts with a
/// growing pause between them; an attempt fails when connecting takes too long or when no byte arrives for a while;
/// the MD5 sum must match the published one; a file is written atomically, so an interrupted or wrong download never
/// leaves a file under its name. Failure is one <see cref="IOException"/> naming the URL and the reason.
/// </summary>
internal static class DatasetDownload
{
    /// <summary>Fetches every file of <paramref name="settings"/> into <paramref name="directory"/> (those already there with the right sum are kept).</summary>
    public static string Run(string directory, DownloadSettings settings)
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
        long maxBytes = settings.MaxBytes;
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
            if (response.Content.Headers.ContentLength > maxBytes)
            {
                retryable = false;
                return $"the server announces {response.Content.Headers.ContentLength} bytes, more than the {maxBytes} accepted";
            }
            using var body = response.Content.ReadAsStream(timer.Token);
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
                    if (total > maxBytes) throw new InvalidDataException($"the body runs past {maxBytes} bytes");
                    hash.AppendData(buffer, 0, n);
                    file.Write(buffer, 0, n);
                }
                string got = Convert.ToHexStringLower(hash.GetHashAndReset());
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

    /// <summary>The MD5 sum of a file, lower-case hex.</summary>
    public static string Md5(string path)
    {
        using var fs = File.OpenRead(path);
        return Convert.ToHexStringLower(MD5.HashData(fs));
    }
}
