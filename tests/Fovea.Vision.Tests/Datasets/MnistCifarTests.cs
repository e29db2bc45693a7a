using System.Formats.Tar;
using System.IO.Compression;
using System.Net;
using System.Security.Cryptography;
using Fovea.Vision.Datasets;

namespace Fovea.Vision.Tests.Datasets;

/// <summary>
/// MNIST (the IDX reader and the Fashion-MNIST lookup, shared) and CIFAR-10's binary batches, tested on small files
/// written here in the official formats, cut and oversized ones included, and the CIFAR-10 download from a local
/// server: the archive's MD5 checked before it is unpacked.
/// </summary>
public sealed class MnistCifarTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"fovea-ds-{Guid.NewGuid():N}");

    public MnistCifarTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Mnist_LoadsIdxFilesFromTheGivenFolder_AndNamesWhatIsMissing()
    {
        // The Fashion-MNIST sample has MNIST's layout exactly; as MNIST it is just 1,000 + 500 more 28x28 images.
        string sample = RepoPaths.TestData("fashion-mnist-sample");
        var data = Mnist.Load(sample);
        Assert.Equal([1000, 1, 28, 28], data.TrainImages.Shape);
        Assert.Equal([500], data.TestLabels.Shape);
        Assert.Equal([sample], Mnist.SearchPath(sample));
        Assert.Equal(10, Mnist.Classes.Length);
        var e = Assert.Throws<FileNotFoundException>(() => Mnist.Load(_dir));
        Assert.StartsWith($"MNIST not found (looked in {_dir}, as --data asks): the folder lacks train-images-idx3-ubyte(.gz)", e.Message);
        Assert.Contains("--download", e.Message);
        Assert.EndsWith(Path.Combine(".cache", "fovea", "mnist"), Mnist.CacheDirectory);
    }

    /// <summary>Writes a batch file of <paramref name="labels"/>.Length records; image r's byte i is (r·7 + i) mod 256.</summary>
    private static byte[] Batch(params byte[] labels)
    {
        var bytes = new byte[labels.Length * Cifar10.RecordBytes];
        for (int r = 0; r < labels.Length; r++)
        {
            bytes[r * Cifar10.RecordBytes] = labels[r];
            for (int i = 0; i < 3072; i++) bytes[r * Cifar10.RecordBytes + 1 + i] = (byte)((r * 7 + i) % 256);
        }
        return bytes;
    }

    private string Write(string name, byte[] bytes)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    [Fact]
    public void Cifar10_ReadsRecords_AsPlanarRgbInZeroToOne()
    {
        var (images, labels) = Cifar10.ReadBatch(Write("b.bin", Batch(3, 9, 0)), records: 3);
        Assert.Equal([3, 3, 32, 32], images.Shape);
        Assert.Equal([3, 9, 0], labels.ToArray<int>());
        var x = images.ToArray<float>();
        // Record 1: red plane first (bytes 0..1023), then green, then blue, row by row.
        Assert.Equal((7 + 0) / 255f, x[3072 + 0]);
        Assert.Equal((7 + 33) / 255f, x[3072 + 33]);          // red, row 1, column 1
        Assert.Equal((7 + 1024 + 5) % 256 / 255f, x[3072 + 1024 + 5]); // green
        Assert.Equal((7 + 3071) % 256 / 255f, x[2 * 3072 - 1]);       // blue, last pixel
    }

    [Fact]
    public void Cifar10_CutOversizedAndBadLabelFiles_AreRefusedBeforeAllocating_NamingTheFileAndOffset()
    {
        var good = Batch(1, 2);
        string cut = Write("cut.bin", good[..(good.Length - 10)]);
        var e = Assert.Throws<InvalidDataException>(() => Cifar10.ReadBatch(cut, 2));
        Assert.Equal($"{cut}: truncated at byte 6136: record 1 of 2 is incomplete (a CIFAR-10 batch holds 2 records of 3073 bytes, 6146 bytes)", e.Message);
        string big = Write("big.bin", [.. good, 0, 0, 0]);
        Assert.Equal($"{big}: 3 bytes of trailing data after the 2 records of 3073 bytes (from byte 6146)", Assert.Throws<InvalidDataException>(() => Cifar10.ReadBatch(big, 2)).Message);
        // An official-size read of a small file: refused from its length alone.
        Assert.Contains("record 2 of 10000 is incomplete", Assert.Throws<InvalidDataException>(() => Cifar10.ReadBatch(Write("small.bin", good))).Message);
        string bad = Write("label.bin", Batch(1, 10));
        Assert.Equal($"{bad}: record 1 (byte 3073) has label 10, not below 10", Assert.Throws<InvalidDataException>(() => Cifar10.ReadBatch(bad, 2)).Message);
        Assert.Throws<FileNotFoundException>(() => Cifar10.ReadBatch(Path.Combine(_dir, "none.bin"), 2));
        Write("empty.bin", []);
        Assert.Contains("truncated at byte 0", Assert.Throws<InvalidDataException>(() => Cifar10.ReadBatch(Path.Combine(_dir, "empty.bin"), 1)).Message);
    }

    /// <summary>A folder with the six batches of <paramref name="records"/> records each (train labels 0..4 by batch, test 9) and the meta file.</summary>
    private string CifarFolder(string name, int records, string? meta = "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n")
    {
        string dir = Path.Combine(_dir, name);
        Directory.CreateDirectory(dir);
        for (int b = 0; b < 6; b++)
            File.WriteAllBytes(Path.Combine(dir, Cifar10.BatchFiles[b]), Batch(Enumerable.Repeat((byte)(b < 5 ? b : 9), records).ToArray()));
        if (meta is not null) File.WriteAllText(Path.Combine(dir, Cifar10.MetaFile), meta);
        return dir;
    }

    [Fact]
    public void Cifar10_Folder_JoinsTheFiveTrainingBatches_AndReadsTheClassNames()
    {
        string dir = CifarFolder("cifar", records: 2);
        var data = Cifar10.Read(dir, 2);
        Assert.Equal([10, 3, 32, 32], data.TrainImages.Shape);
        Assert.Equal([0, 0, 1, 1, 2, 2, 3, 3, 4, 4], data.TrainLabels.ToArray<int>());
        Assert.Equal([9, 9], data.TestLabels.ToArray<int>());
        Assert.Equal(Cifar10.Classes, data.Classes);
        // The official size is what Load asks for: these small files are refused by length.
        Assert.Contains("record 2 of 10000", Assert.Throws<InvalidDataException>(() => Cifar10.Load(dir)).Message);
        File.WriteAllText(Path.Combine(dir, Cifar10.MetaFile), "a\nb\n");
        Assert.Contains("expected 10 class names", Assert.Throws<InvalidDataException>(() => Cifar10.Read(dir, 2)).Message);
    }

    [Fact]
    public void Cifar10_NotFound_SaysWhereItLookedAndWhatIsMissing()
    {
        var e = Assert.Throws<FileNotFoundException>(() => Cifar10.Load(_dir));
        Assert.StartsWith($"CIFAR-10 not found (looked in {_dir}, as --data asks): the folder (and its cifar-10-batches-bin) lacks data_batch_1.bin", e.Message);
        Assert.Contains("there is no such folder", Assert.Throws<FileNotFoundException>(() => Cifar10.Load(Path.Combine(_dir, "x"))).Message);
        Assert.Null(Cifar10.Locate(_dir));
        string inner = CifarFolder(Path.Combine("outer", Cifar10.BatchFolder), 1);
        Assert.Equal(inner, Cifar10.Locate(Path.Combine(_dir, "outer")));
    }

    /// <summary>A tar.gz like the official archive: the seven files under cifar-10-batches-bin/, plus a readme.</summary>
    private static byte[] Archive(string folder, Func<string, bool>? include = null)
    {
        using var ms = new MemoryStream();
        using (var gz = new GZipStream(ms, CompressionLevel.Fastest, leaveOpen: true))
        using (var tar = new TarWriter(gz))
        {
            tar.WriteEntry(new PaxTarEntry(TarEntryType.Directory, "cifar-10-batches-bin/"));
            foreach (string f in Directory.GetFiles(folder).Order(StringComparer.Ordinal))
                if (include?.Invoke(Path.GetFileName(f)) ?? true)
                    tar.WriteEntry(f, "cifar-10-batches-bin/" + Path.GetFileName(f));
            var readme = new PaxTarEntry(TarEntryType.RegularFile, "cifar-10-batches-bin/readme.html") { DataStream = new MemoryStream("hi"u8.ToArray()) };
            tar.WriteEntry(readme);
        }
        return ms.ToArray();
    }

    /// <summary>Serves <paramref name="body"/> for every request on a local port.</summary>
    private sealed class Server : IDisposable
    {
        private readonly HttpListener _listener = new();
        public string BaseUrl { get; }
        public int Requests;

        public Server(byte[] body)
        {
            int port = FreePort();
            BaseUrl = $"http://127.0.0.1:{port}/";
            _listener.Prefixes.Add(BaseUrl);
            _listener.Start();
            _ = Task.Run(async () =>
            {
                while (_listener.IsListening)
                {
                    HttpListenerContext ctx;
                    try { ctx = await _listener.GetContextAsync(); }
                    catch (Exception) { return; }
                    Interlocked.Increment(ref Requests);
                    ctx.Response.ContentLength64 = body.Length;
                    await ctx.Response.OutputStream.WriteAsync(body);
                    ctx.Response.Close();
                }
            });
        }

        private static int FreePort()
        {
            var l = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
            l.Start();
            int port = ((IPEndPoint)l.LocalEndpoint).Port;
            l.Stop();
            return port;
        }

        public void Dispose() => _listener.Close();
    }

    // The local server answers at once, but the test projects run side by side on a 2-core CI machine: a 2 s
    // timeout failed there once when the listener's thread waited for a core, so these downloads allow 30 s.
    private static DownloadSettings Quick(Server server, byte[] archive, string? md5 = null) => Cifar10.DownloadDefaults with
    {
        BaseUrl = server.BaseUrl,
        ConnectTimeout = TimeSpan.FromSeconds(30),
        StallTimeout = TimeSpan.FromSeconds(30),
        Attempts = 1,
        FileList = [(Cifar10.ArchiveName, md5 ?? Convert.ToHexStringLower(MD5.HashData(archive)))],
    };

    [Fact]
    public void Cifar10_Download_ChecksTheMd5_ThenUnpacksTheSevenFiles()
    {
        Assert.Equal("c32a1d4ab5d03f1284b67883e8d87530", Cifar10.DownloadDefaults.FileList[0].Md5);
        Assert.Equal("https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz", Cifar10.DownloadDefaults.BaseUrl + Cifar10.DownloadDefaults.FileList[0].Name);
        var archive = Archive(CifarFolder("src", 2));
        using var server = new Server(archive);

        // The wrong sum: nothing is written, nothing unpacked.
        string wrong = Path.Combine(_dir, "wrong");
        var e = Assert.Throws<IOException>(() => Cifar10.Download(wrong, Quick(server, archive, md5: new string('0', 32))));
        Assert.Contains("does not match the published 00000000000000000000000000000000", e.Message);
        Assert.Empty(Directory.GetFileSystemEntries(wrong));

        string good = Path.Combine(_dir, "good");
        Cifar10.Download(good, Quick(server, archive));
        string batches = Path.Combine(good, Cifar10.BatchFolder);
        Assert.Equal(Cifar10.BatchFiles.Append(Cifar10.MetaFile).Order(StringComparer.Ordinal),
            Directory.GetFiles(batches).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.False(File.Exists(Path.Combine(good, Cifar10.ArchiveName)));
        Assert.Equal(batches, Cifar10.Locate(good));
        Assert.Equal([9, 9], Cifar10.Read(batches, 2).TestLabels.ToArray<int>());
    }

    [Fact]
    public void Cifar10_Extract_RefusesAnArchiveWithoutTheBatches_OrNotTarGz()
    {
        string src = CifarFolder("src2", 1);
        string partial = Write("partial.tar.gz", Archive(src, f => f != "test_batch.bin"));
        Assert.Contains("the archive lacks test_batch.bin", Assert.Throws<InvalidDataException>(() => Cifar10.Extract(partial, Path.Combine(_dir, "p"))).Message);
        string junk = Write("junk.tar.gz", [0x1F, 0x8B, 8, 0, 1, 2, 3, 4, 5, 6, 7]);
        Assert.Contains("not a readable tar.gz archive", Assert.Throws<InvalidDataException>(() => Cifar10.Extract(junk, Path.Combine(_dir, "j"))).Message);
    }
}
