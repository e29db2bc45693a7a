using System.IO.Compression;
using Fovea.Vision.Datasets;

namespace Fovea.Vision.Tests.Datasets;

public class IdxTests
{
    private static readonly string Sample = RepoPaths.TestData("fashion-mnist-sample");

    private static byte[] Header(uint magic, params uint[] dims)
    {
        var b = new List<byte>();
        void U(uint v) { b.Add((byte)(v >> 24)); b.Add((byte)(v >> 16)); b.Add((byte)(v >> 8)); b.Add((byte)v); }
        U(magic);
        foreach (var d in dims) U(d);
        return b.ToArray();
    }

    [Fact]
    public void SampleLoads_WithShapesAndRanges()
    {
        var data = FashionMnist.Load(Sample);
        Assert.Equal([1000, 1, 28, 28], data.TrainImages.Shape);
        Assert.Equal([1000], data.TrainLabels.Shape);
        Assert.Equal([500, 1, 28, 28], data.TestImages.Shape);
        Assert.Equal(DType.Int32, data.TrainLabels.DType);
        Assert.InRange(data.TrainImages.Min().ToScalar(), 0, 0);
        Assert.InRange(data.TrainImages.Max().ToScalar(), 0.99, 1.0);
        Assert.Equal(9, data.TrainLabels.Max().ToScalar()); // all ten classes are in the first thousand
        Assert.Equal(Sample, data.Directory);
    }

    [Fact]
    public void RawAndGzipGiveTheSameArray()
    {
        string tmp = Path.Combine(Path.GetTempPath(), $"idx-{Guid.NewGuid():N}");
        try
        {
            using (var gz = new GZipStream(File.OpenRead(Path.Combine(Sample, "t10k-labels-idx1-ubyte.gz")), CompressionMode.Decompress))
            using (var raw = File.Create(tmp)) gz.CopyTo(raw);
            Assert.Equal(Idx.Read(Path.Combine(Sample, "t10k-labels-idx1-ubyte.gz")).Data, Idx.Read(tmp).Data);
        }
        finally { File.Delete(tmp); }
    }

    [Fact]
    public void BadMagic_NamesTheFile()
    {
        var e = Assert.Throws<InvalidDataException>(() => Idx.Parse(Header(0x12345678, 1), "x.idx"));
        Assert.Contains("x.idx", e.Message);
        Assert.Contains("bad magic 0x12345678", e.Message);
    }

    [Fact]
    public void TruncatedHeader_SaysWhere()
    {
        var e = Assert.Throws<InvalidDataException>(() => Idx.Parse(Header(0x00000803, 2, 28)[..10], "img.idx"));
        Assert.Contains("truncated at byte 10", e.Message);
    }

    [Fact]
    public void TruncatedData_SaysWhere()
    {
        var bytes = Header(0x00000801, 5).Concat(new byte[3]).ToArray();
        var e = Assert.Throws<InvalidDataException>(() => Idx.Parse(bytes, "lbl.idx"));
        Assert.Contains("lbl.idx: truncated at byte 11", e.Message);
    }

    [Fact]
    public void TrailingData_IsRejected()
    {
        var bytes = Header(0x00000801, 2).Concat(new byte[4]).ToArray();
        Assert.Contains("trailing", Assert.Throws<InvalidDataException>(() => Idx.Parse(bytes, "lbl.idx")).Message);
    }

    [Fact]
    public void LabelOutOfRange_NamesIndexAndValue()
    {
        string tmp = Path.Combine(Path.GetTempPath(), $"idx-{Guid.NewGuid():N}");
        try
        {
            File.WriteAllBytes(tmp, Header(0x00000801, 3).Concat(new byte[] { 1, 12, 3 }).ToArray());
            var e = Assert.Throws<InvalidDataException>(() => Idx.ReadLabels(tmp));
            Assert.Contains("label 12 at index 1", e.Message);
        }
        finally { File.Delete(tmp); }
    }

    [Fact]
    public void CorruptGzip_NamesTheFile()
    {
        string tmp = Path.Combine(Path.GetTempPath(), $"idx-{Guid.NewGuid():N}.gz");
        try
        {
            var good = File.ReadAllBytes(Path.Combine(Sample, "t10k-labels-idx1-ubyte.gz"));
            File.WriteAllBytes(tmp, good[..(good.Length / 2)]);
            var e = Assert.ThrowsAny<Exception>(() => Idx.Read(tmp));
            Assert.Contains(tmp, e.Message);
        }
        finally { File.Delete(tmp); }
    }

    [Fact]
    public void MissingDataset_SaysWhereItLookedAndHowToGetIt()
    {
        string empty = Path.Combine(Path.GetTempPath(), $"empty-{Guid.NewGuid():N}");
        Directory.CreateDirectory(empty);
        try
        {
            var e = Assert.Throws<FileNotFoundException>(() => FashionMnist.Load([empty], download: false));
            Assert.Contains(empty, e.Message);
            Assert.Contains("dataset-fashion-mnist", e.Message);
            Assert.Contains("--download", e.Message);
        }
        finally { Directory.Delete(empty); }
    }

    [Fact]
    public void ExplicitDirectory_IsTheWholeSearchPath()
    {
        Assert.Equal(["/some/dir"], FashionMnist.SearchPath("/some/dir"));
        var path = FashionMnist.SearchPath(null);
        Assert.Contains(FashionMnist.DebianDirectory, path);
        Assert.Equal(FashionMnist.CacheDirectory, path[^1]);
    }
}
