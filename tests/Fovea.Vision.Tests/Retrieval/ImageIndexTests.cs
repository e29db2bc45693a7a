using System.Buffers.Binary;
using System.Text;
using Fovea.Vision.Retrieval;

namespace Fovea.Vision.Tests.Retrieval;

/// <summary>The image index: exact search against brute force, the file round trip, float16, .npy export and hostile files.</summary>
public sealed class ImageIndexTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"fovea-index-{Guid.NewGuid():N}");

    public ImageIndexTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string P(string name) => Path.Combine(_dir, name);

    private static readonly ImageIndexInfo Info = new("checkpoint:test", "layer", Root: "/data");

    private static List<string> Paths(int n, int from = 0) => Enumerable.Range(from, n).Select(i => $"c{i % 3}/img{i}.png").ToList();

    private static ImageIndex Random(int n, int d, VectorStorage storage = VectorStorage.Float32, ulong seed = 1)
    {
        var index = ImageIndex.Create(d, Info, storage);
        index.Add(Tensor.Randn([n, d], new Generator(seed)), Paths(n));
        return index;
    }

    // Brute force in float64: every cosine, sorted by score then row.
    private static List<long> Brute(float[] rows, float[] query, int d, int k, long exclude = -1)
    {
        int n = rows.Length / d;
        double qn = Math.Sqrt(query.Sum(v => (double)v * v));
        return Enumerable.Range(0, n).Where(r => r != exclude)
            .Select(r => (Row: (long)r, Score: Enumerable.Range(0, d).Sum(j => (double)rows[r * d + j] * query[j]) / qn))
            .OrderByDescending(p => p.Score).ThenBy(p => p.Row).Take(k).Select(p => p.Row).ToList();
    }

    [Fact]
    public void Search_EqualsBruteForce_AcrossBlocks()
    {
        int n = ImageIndex.BlockRows + 904, d = 24;
        using var index = Random(n, d);
        var rows = new float[n * d];
        index.ReadRows(0, n, rows);
        // Stored rows have unit length.
        Assert.Equal(1.0, Math.Sqrt(rows.Take(d).Sum(v => (double)v * v)), 5);
        var queries = Tensor.Randn([7, d], new Generator(9));
        var hits = index.Search(queries, 5);
        var q = queries.ToArray<float>();
        for (int i = 0; i < 7; i++)
        {
            var expected = Brute(rows, q[(i * d)..((i + 1) * d)], d, 5);
            Assert.Equal(expected, hits[i].Select(h => h.Row));
            Assert.True(hits[i].Zip(hits[i].Skip(1)).All(p => p.First.Score >= p.Second.Score));
            Assert.Equal(index.Paths[(int)hits[i][0].Row], hits[i][0].Path);
        }
    }

    [Theory]
    [InlineData(VectorStorage.Float32)]
    [InlineData(VectorStorage.Float16)]
    public void Search_DirectScanAndGemm_AgreeWithBruteForce_OverMappedAndAddedRows(VectorStorage storage)
    {
        // More queries than the direct scan takes: one call goes through the GEMM, each query alone through the
        // dot-product scan; the index is a saved file (mapped rows) plus rows added after opening it.
        int n = ImageIndex.BlockRows + 300, d = 16, q = ImageIndex.DirectScanMaxQueries + 3;
        using (var built = Random(n, d, storage)) built.Save(P("scan.fvi"));
        using var index = ImageIndex.Open(P("scan.fvi"));
        index.Add(Tensor.Randn([37, d], new Generator(5)), Paths(37, n));
        var rows = new float[(n + 37) * d];
        index.ReadRows(0, n + 37, rows);
        var queries = Tensor.FromArray([.. rows.AsSpan(0, 2 * d), .. Tensor.Randn([q - 2, d], new Generator(8)).ToArray<float>()], q, d);
        var exclude = Enumerable.Range(0, q).Select(i => i < 2 ? (long)i : -1).ToList();
        var together = index.Search(queries, 6, exclude);
        var qs = queries.ToArray<float>();
        for (int i = 0; i < q; i++)
        {
            var expected = Brute(rows, qs[(i * d)..((i + 1) * d)], d, 6, exclude[i]);
            var alone = index.Search(queries.Narrow(0, i, 1), 6, [exclude[i]])[0];
            Assert.Equal(expected, together[i].Select(h => h.Row));
            Assert.Equal(expected, alone.Select(h => h.Row));
            for (int j = 0; j < 6; j++) Assert.Equal(together[i][j].Score, alone[j].Score, tolerance: 1e-5);
        }
    }

    [Fact]
    public void Search_Exclude_SkipsTheQuerysOwnRow()
    {
        using var index = Random(50, 8);
        var rows = new float[50 * 8];
        index.ReadRows(0, 50, rows);
        var queries = Tensor.FromArray(rows[..(3 * 8)], 3, 8);
        Assert.Equal([0L, 1, 2], index.Search(queries, 1).Select(h => h[0].Row));
        var hits = index.Search(queries, 4, [0, 1, 2]);
        for (int i = 0; i < 3; i++)
        {
            Assert.DoesNotContain(i, hits[i].Select(h => (int)h.Row));
            Assert.Equal(Brute(rows, rows[(i * 8)..((i + 1) * 8)], 8, 4, i), hits[i].Select(h => h.Row));
        }
    }

    [Fact]
    public void SaveOpen_RoundTrips_AndAddAfterOpenSavesOverTheSameFile()
    {
        string file = P("a.fvi");
        using (var index = Random(300, 16)) index.Save(file);
        var q = Tensor.Randn([4, 16], new Generator(2));
        IReadOnlyList<SearchHit>[] before;
        float[] rows = new float[300 * 16];
        using (var opened = ImageIndex.Open(file))
        {
            Assert.Equal((300L, 16, VectorStorage.Float32), (opened.Count, opened.Dimension, opened.Storage));
            Assert.Equal(Info, opened.Info);
            Assert.Equal(Paths(300), opened.Paths);
            opened.ReadRows(0, 300, rows);
            before = opened.Search(q, 3);
            opened.Add(Tensor.Randn([20, 16], new Generator(7)), Paths(20, 300));
            opened.Save(file);
            Assert.Equal(320, opened.Count);
        }
        using var again = ImageIndex.Open(file);
        Assert.Equal(320, again.Count);
        var rows2 = new float[320 * 16];
        again.ReadRows(0, 320, rows2);
        Assert.Equal(rows, rows2[..rows.Length]);
        Assert.Equal("c1/img319.png", again.Paths[319]);
        Assert.Empty(Directory.GetFiles(_dir, "*fovea-tmp*"));
    }

    [Fact]
    public void Float16_HalvesTheVectors_AndMovesScoresByLessThan1e3()
    {
        using var f32 = Random(200, 64);
        using var f16 = Random(200, 64, VectorStorage.Float16);
        f32.Save(P("f32.fvi"));
        f16.Save(P("f16.fvi"));
        Assert.Equal(200 * 64 * 2, new FileInfo(P("f32.fvi")).Length - new FileInfo(P("f16.fvi")).Length);
        using var opened = ImageIndex.Open(P("f16.fvi"));
        var q = Tensor.Randn([5, 64], new Generator(3));
        var a = f32.Search(q, 200);
        var b = opened.Search(q, 200);
        for (int i = 0; i < 5; i++)
        {
            var exact = a[i].ToDictionary(h => h.Row, h => h.Score);
            Assert.All(b[i], h => Assert.InRange(h.Score - exact[h.Row], -1e-3f, 1e-3f));
        }
    }

    [Fact]
    public void ExportNpy_WritesAHeaderNumPyReads_AndTheRows()
    {
        using var index = Random(10, 5);
        index.ExportNpy(P("v.npy"));
        var bytes = File.ReadAllBytes(P("v.npy"));
        Assert.Equal(new byte[] { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0 }, bytes[..8]);
        int headerLength = BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(8));
        Assert.Equal(0, (10 + headerLength) % 64);
        string header = Encoding.ASCII.GetString(bytes, 10, headerLength);
        Assert.StartsWith("{'descr': '<f4', 'fortran_order': False, 'shape': (10, 5), }", header);
        Assert.EndsWith("\n", header);
        var rows = new float[50];
        index.ReadRows(0, 10, rows);
        var data = new float[50];
        Buffer.BlockCopy(bytes, 10 + headerLength, data, 0, 200);
        Assert.Equal(rows, data);
        Assert.Equal(10 + headerLength + 200, bytes.Length);
    }

    [Fact]
    public void Add_RefusesPathsOutsideTheRoot_AndWrongShapes()
    {
        using var index = ImageIndex.Create(4, Info);
        Assert.Contains("leaves the index's root", Assert.Throws<ArgumentException>(() => index.Add(Tensor.Zeros(1, 4), ["a/../../etc/passwd"])).Message);
        Assert.Contains("not relative", Assert.Throws<ArgumentException>(() => index.Add(Tensor.Zeros(1, 4), ["/etc/passwd"])).Message);
        Assert.Contains("[n, 4]", Assert.Throws<ArgumentException>(() => index.Add(Tensor.Zeros(1, 5), ["a.png"])).Message);
        Assert.Contains("2 paths", Assert.Throws<ArgumentException>(() => index.Add(Tensor.Zeros(1, 4), ["a.png", "b.png"])).Message);
    }

    private string Saved()
    {
        using var index = Random(6, 4);
        index.Save(P("good.fvi"));
        return P("good.fvi");
    }

    private void AssertRefused(byte[] bytes, string contains)
    {
        string file = P("bad.fvi");
        File.WriteAllBytes(file, bytes);
        var e = Assert.Throws<InvalidDataException>(() => ImageIndex.Open(file));
        Assert.Contains(file, e.Message);
        Assert.Contains(contains, e.Message);
    }

    private byte[] Patched(int offset, long value, int size = 8)
    {
        var bytes = File.ReadAllBytes(Saved());
        if (size == 8) BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(offset), value);
        else BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(offset), (int)value);
        return bytes;
    }

    [Fact]
    public void Open_RefusesHostileFiles_NamingTheFileAndTheField()
    {
        var good = File.ReadAllBytes(Saved());
        AssertRefused(good[..40], "too short");
        AssertRefused([.. "NOTANIDX"u8, .. good[8..]], "not a Fovea image index");
        AssertRefused(Patched(8, 2, 4), "version 2");
        AssertRefused(Patched(12, 3, 4), "'storage' is 3");
        AssertRefused(Patched(16, 0, 4), "'dimension' is 0");
        AssertRefused(Patched(16, 1 << 20, 4), "'dimension' is 1048576");
        AssertRefused(Patched(24, long.MaxValue / 2), "'count' is");          // declared vectors larger than the file
        AssertRefused(Patched(24, -1), "'count' is -1");
        AssertRefused(Patched(32, 12345), "'metadata offset' is 12345");
        AssertRefused(Patched(40, 1L << 40), "'metadata length'");
        AssertRefused(Patched(20, 1, 4), "reserved header bytes");
        AssertRefused(good[..^1], "'metadata length'");                       // truncated
        AssertRefused([.. good, 0], "'metadata length'");                     // trailing byte

        // The JSON: the header is consistent, the metadata is not.
        byte[] WithMeta(string json)
        {
            var meta = Encoding.UTF8.GetBytes(json);
            long offset = BinaryPrimitives.ReadInt64LittleEndian(good.AsSpan(32));
            var bytes = good[..(int)offset].Concat(meta).ToArray();
            BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(40), meta.Length);
            return bytes;
        }
        const string six = "\"a.png\",\"b.png\",\"c.png\",\"d.png\",\"e.png\"";
        AssertRefused(WithMeta("{\"model\":\"m\",\"layer\":\"l\",\"paths\":[" + six + "]}"), "5 entries for 6 vectors");
        AssertRefused(WithMeta("{\"model\":\"m\",\"layer\":\"l\",\"paths\":[" + six + ",\"x\",\"y\"]}"), "more entries than the 6 vectors");
        AssertRefused(WithMeta("{\"model\":\"m\",\"layer\":\"l\",\"paths\":[" + six + ",\"../x.png\"]}"), "paths[5]");
        AssertRefused(WithMeta("{\"model\":\"m\",\"layer\":\"l\",\"paths\":[" + six + ",\"/etc/x\"]}"), "not relative");
        AssertRefused(WithMeta("{\"model\":\"m\",\"layer\":\"l\",\"evil\":1,\"paths\":[]}"), "unknown key 'evil'");
        AssertRefused(WithMeta("{\"model\":\"m\",\"model\":\"n\",\"layer\":\"l\",\"paths\":[]}"), "twice");
        AssertRefused(WithMeta("{\"model\":5,\"layer\":\"l\",\"paths\":[]}"), "expected a string");
        AssertRefused(WithMeta("[1, 2]"), "expected an object");
        AssertRefused(WithMeta("{\"model\":\"m\",\"layer\":\"l\",\"paths\":[" + six + ",\"f.png\"]"), "not valid JSON");
    }

    [Fact]
    public void TopK_KeepsTheBest_WithTiesToTheLowerRow()
    {
        var heap = new TopK(3);
        float[] scores = [0.5f, 0.9f, 0.1f, 0.9f, 0.7f, float.NaN, 0.7f];
        for (int i = 0; i < scores.Length; i++) heap.Offer(scores[i], i);
        Assert.Equal([(0.9f, 1L), (0.9f, 3L), (0.7f, 4L)], heap.Sorted());
    }
}
