using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Fovea.IO;
using Fovea.Vision.Datasets;

namespace Fovea.Vision.Tests.Training;

/// <summary>An explicit data folder is used exactly; downloads end within their timeouts with one line.</summary>
public class DataFolderAndDownloadTests : IDisposable
{
    private static readonly string[] FileNames = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"];

    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"fovea-data-{Guid.NewGuid():N}");

    public DataFolderAndDownloadTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string Sample => RepoPaths.TestData("fashion-mnist-sample");

    [Fact]
    public void DataFolder_IsUsedExactly()
    {
        var data = FashionMnist.Load(Sample);
        Assert.Equal(Sample, data.Directory);
        Assert.Equal([Sample], FashionMnist.SearchPath(Sample));
    }

    [Fact]
    public void DataFolder_LackingAnySetOfFiles_NamesEachMissingFile_AndFallsBackToNothing()
    {
        // Every non-empty subset of the four files missing (15 folders), and the raw (un-gzipped) names accepted too.
        for (int missingMask = 1; missingMask < 16; missingMask++)
        {
            string dir = Path.Combine(_dir, $"partial{missingMask}");
            Directory.CreateDirectory(dir);
            for (int i = 0; i < 4; i++)
                if ((missingMask & (1 << i)) == 0) File.Copy(Path.Combine(Sample, FileNames[i]), Path.Combine(dir, FileNames[i]));
            var e = Assert.Throws<FileNotFoundException>(() => FashionMnist.Load(dir));
            Assert.StartsWith($"Fashion-MNIST not found (looked in {dir}, as --data asks): the folder lacks ", e.Message);
            for (int i = 0; i < 4; i++)
            {
                string shown = FileNames[i][..^3] + "(.gz)";
                if ((missingMask & (1 << i)) != 0) Assert.Contains(shown, e.Message);
                else Assert.DoesNotContain(shown, e.Message);
            }
            Assert.Null(FashionMnist.Locate(dir));
        }
    }

    [Fact]
    public void DataFolder_ThatIsMissingOrAFile_SaysSo()
    {
        string typo = Path.Combine(_dir, "fashion-mnsit");
        Assert.Contains("there is no such folder", Assert.Throws<FileNotFoundException>(() => FashionMnist.Load(typo)).Message);
        string file = Path.Combine(_dir, "file");
        File.WriteAllText(file, "");
        Assert.Contains("that is a file, not a folder", Assert.Throws<FileNotFoundException>(() => FashionMnist.Load(file)).Message);
    }

    /// <summary>
    /// An HTTP server on 127.0.0.1 whose every answer <paramref name="serve"/> writes. It accepts and answers on threads of
    /// its own, not the thread pool's: the test projects run side by side on a 2-core CI machine, and a server waiting for
    /// a pool thread answered after the client's 1 s timeout there, so a request the client made went uncounted.
    /// </summary>
    private sealed class Server : IDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly CancellationTokenSource _stop = new();
        private readonly Thread? _acceptor;
        private int _requests;

        public Server(Action<string, NetworkStream, CancellationToken>? serve)
        {
            _listener.Start();
            // Without a handler the server never accepts: the kernel still completes the connection, nothing ever answers.
            if (serve is null) return;
            _acceptor = new Thread(() => Accept(serve)) { IsBackground = true, Name = "test HTTP server" };
            _acceptor.Start();
        }

        public string BaseUrl => $"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}/";

        /// <summary>Connections the server has accepted (one per request the client attempted), waiting up to 10 s for
        /// <paramref name="atLeast"/> of them.</summary>
        public int Requests(int atLeast = 0)
        {
            SpinWait.SpinUntil(() => Volatile.Read(ref _requests) >= atLeast, TimeSpan.FromSeconds(10));
            return Volatile.Read(ref _requests);
        }

        private void Accept(Action<string, NetworkStream, CancellationToken> serve)
        {
            while (!_stop.IsCancellationRequested)
            {
                TcpClient client;
                try { client = _listener.AcceptTcpClient(); }
                catch (Exception e) when (e is SocketException or ObjectDisposedException or InvalidOperationException) { return; }
                // Counted when accepted: on a loaded machine a client may give up on an attempt (and close or reset
                // the connection) before the thread below has read its request, or even before writing it. Every
                // download makes its own connections (a new handler per call, and a stalled one is never reused), so
                // connections are the attempts.
                Interlocked.Increment(ref _requests);
                new Thread(() => Answer(client, serve)) { IsBackground = true, Name = "test HTTP connection" }.Start();
            }
        }

        private void Answer(TcpClient client, Action<string, NetworkStream, CancellationToken> serve)
        {
            using (client)
            using (_stop.Token.Register(client.Dispose))
            {
                try
                {
                    var stream = client.GetStream();
                    var request = new StringBuilder();
                    var buffer = new byte[4096];
                    while (!request.ToString().Contains("\r\n\r\n", StringComparison.Ordinal))
                    {
                        int n = stream.Read(buffer);
                        if (n == 0) return;
                        request.Append(Encoding.ASCII.GetString(buffer, 0, n));
                    }
                    string path = request.ToString().Split(' ')[1].TrimStart('/');
                    serve(path, stream, _stop.Token);
                }
                catch (Exception e) when (e is IOException or ObjectDisposedException or SocketException) { }
            }
        }

        public void Dispose()
        {
            _stop.Cancel();
            _listener.Stop();
            _acceptor?.Join(TimeSpan.FromSeconds(10));
        }
    }

    private static void Answer(NetworkStream s, string status, byte[] body, int send, CancellationToken stop)
    {
        s.Write(Encoding.ASCII.GetBytes($"HTTP/1.1 {status}\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n"));
        s.Write(body.AsSpan(0, send));
        if (send < body.Length) stop.WaitHandle.WaitOne(); // then stall until the test ends
    }

    private static DownloadSettings Quick(Server server, int attempts = 2) => FashionMnist.DownloadDefaults with
    {
        BaseUrl = server.BaseUrl,
        ConnectTimeout = TimeSpan.FromSeconds(1),
        StallTimeout = TimeSpan.FromSeconds(1),
        Attempts = attempts,
        Backoff = TimeSpan.FromMilliseconds(50),
    };

    /// <summary>Timeouts far above any answer time, for the tests that are not about timeouts: on a loaded 2-core CI machine
    /// the test server has taken over a second to answer, and a 1 s timeout then failed the attempt for the wrong reason.</summary>
    private static DownloadSettings Patient(Server server, int attempts = 2) => Quick(server, attempts) with
    {
        ConnectTimeout = TimeSpan.FromSeconds(30),
        StallTimeout = TimeSpan.FromSeconds(30),
    };

    private static (IOException Error, TimeSpan Took) Fails(string dir, DownloadSettings settings)
    {
        var clock = Stopwatch.StartNew();
        var e = Assert.Throws<IOException>(() => FashionMnist.Download(dir, settings));
        Assert.DoesNotContain('\n', e.Message);
        Assert.StartsWith($"could not download {settings.BaseUrl}{FileNames[0]}: ", e.Message);
        Assert.Empty(Directory.GetFiles(dir)); // no partial file, no temporary file
        return (e, clock.Elapsed);
    }

    [Fact]
    public void Download_FromAServerThatNeverAnswers_FailsWithinSeconds_AfterBoundedRetries()
    {
        using var server = new Server(null);
        var (e, took) = Fails(Path.Combine(_dir, "silent"), Quick(server, attempts: 2));
        Assert.Contains("no data for 1 s (after 2 attempts)", e.Message);
        Assert.InRange(took.TotalSeconds, 1.9, 20); // "within seconds": the upper bound allows for a loaded machine
    }

    [Fact]
    public void Download_ThatStallsMidBody_FailsWithinSeconds()
    {
        byte[] body = new byte[100_000];
        using var server = new Server((_, s, stop) => Answer(s, "200 OK", body, 30_000, stop));
        var (e, took) = Fails(Path.Combine(_dir, "stall"), Quick(server, attempts: 3));
        Assert.Contains("no data for 1 s (after 3 attempts)", e.Message);
        // Each attempt's 1 s clock covers its connection too: on a loaded 2-core CI machine a client thread starved for
        // a second gave one attempt up before its connection reached the server (2 counted, once in many runs), so the
        // retries are checked to reach the server without requiring every one of them to.
        Assert.InRange(server.Requests(atLeast: 3), 2, 3);
        Assert.InRange(took.TotalSeconds, 2.9, 20);
    }

    [Fact]
    public void Download_NotFound_IsNotRetried()
    {
        using var server = new Server((_, s, stop) => Answer(s, "404 Not Found", [], 0, stop));
        // A first attempt that timed out would be retried and reach the 404 on the second, which is not what this test is about.
        var (e, _) = Fails(Path.Combine(_dir, "404"), Patient(server, attempts: 3));
        Assert.EndsWith("the server answered 404 Not Found", e.Message);
        Assert.Equal(1, server.Requests(atLeast: 1));
    }

    [Fact]
    public void Download_WithTheWrongBytes_FailsTheChecksum_AndWritesNothing()
    {
        using var server = new Server((_, s, stop) => Answer(s, "200 OK", Encoding.ASCII.GetBytes("not the dataset"), 15, stop));
        var (e, _) = Fails(Path.Combine(_dir, "md5"), Patient(server, attempts: 2));
        Assert.Contains("does not match the published 8d4fb7e6c68d591d4c3dfef9ec88bf0d (after 2 attempts)", e.Message);
    }

    [Fact]
    public void Download_OfGoodFiles_WritesThemAtomically_AndTheyLoad()
    {
        var files = FileNames.Select(n => (Name: n, Bytes: File.ReadAllBytes(Path.Combine(Sample, n)))).ToArray();
        using var server = new Server((path, s, stop) =>
        {
            var file = files.Single(f => f.Name == path);
            Answer(s, "200 OK", file.Bytes, file.Bytes.Length, stop);
        });
        string dir = Path.Combine(_dir, "good");
        var settings = Patient(server) with { FileList = files.Select(f => (f.Name, Convert.ToHexStringLower(MD5.HashData(f.Bytes)))).ToArray() };
        Assert.Equal(dir, FashionMnist.Download(dir, settings));
        Assert.Equal(FileNames.Order(StringComparer.Ordinal), Directory.GetFiles(dir).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.DoesNotContain(Directory.GetFiles(dir), AtomicFile.IsTemporary);
        Assert.Equal(500, FashionMnist.Load(dir).TestImages.Size(0));
        // Files already present with the right sums are not fetched again.
        int before = server.Requests();
        FashionMnist.Download(dir, settings);
        Assert.Equal(before, server.Requests());
    }
}
