using System.Buffers.Binary;
using System.Text;
using Fovea.Vision.Serialization;

namespace Fovea.Vision.Tests.Serialization;

public class SafeTensorsTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"st-{Guid.NewGuid():N}");

    public SafeTensorsTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string P(string name) => Path.Combine(_dir, name);

    private static byte[] File(string json, byte[] data)
    {
        var h = Encoding.UTF8.GetBytes(json);
        var len = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(len, (ulong)h.Length);
        return [.. len, .. h, .. data];
    }

    [Fact]
    public void RoundTrip_AllDTypes_OrderAndMetadata()
    {
        var g = new Generator(1);
        var tensors = new List<KeyValuePair<string, Tensor>>
        {
            new("features.0.weight", Tensor.Randn([3, 2, 2], g)),
            new("features.0.bias", Tensor.Randn([3], g, DType.Float64)),
            new("steps", Tensor.From(1, 2, 3)),
            new("mask", Tensor.FromArray(new[] { true, false }, 2)),
            new("scalar", Tensor.Scalar(2.5)),
            new("empty", Tensor.Zeros([0, 4])),
        };
        SafeTensors.Save(P("a.safetensors"), tensors, new Dictionary<string, string> { ["epoch"] = "3", ["model"] = "lenet5" });
        var (sd, meta) = SafeTensors.Load(P("a.safetensors"));
        Assert.Equal(tensors.Select(t => t.Key), sd.Keys);
        foreach (var (k, t) in tensors)
        {
            Assert.Equal(t.DType, sd[k].DType);
            Assert.Equal(t.Shape, sd[k].Shape);
            Assert.True(sd[k].Equal(t));
        }
        Assert.Equal("3", meta["epoch"]);
        Assert.Equal("lenet5", meta["model"]);
        Assert.Empty(Directory.GetFiles(_dir, "*.tmp-*"));
    }

    [Fact]
    public void HeaderIsAlignedJson_AsTheSpecSays()
    {
        SafeTensors.Save(P("b.safetensors"), [new("w", Tensor.From(1f, 2f))]);
        var bytes = System.IO.File.ReadAllBytes(P("b.safetensors"));
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        Assert.Equal(0UL, n % 8);
        string json = Encoding.UTF8.GetString(bytes, 8, (int)n);
        Assert.Contains("\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}", json);
        Assert.Equal(1f, BitConverter.ToSingle(bytes, 8 + (int)n));
    }

    [Fact]
    public void ReadsAFileWrittenByHand()
    {
        var data = new byte[12];
        BinaryPrimitives.WriteInt32LittleEndian(data, 7);
        BinaryPrimitives.WriteDoubleLittleEndian(data.AsSpan(4), -1.5);
        System.IO.File.WriteAllBytes(P("c.safetensors"), File("{\"b\":{\"dtype\":\"F64\",\"shape\":[],\"data_offsets\":[4,12]},\"a\":{\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[0,4]}}", data));
        var (sd, _) = SafeTensors.Load(P("c.safetensors"));
        Assert.Equal(7, sd["a"].Item<int>());
        Assert.Equal(-1.5, sd["b"].Item<double>());
    }

    [Theory]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 8, "needs 8 bytes")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 8, "truncated")]
    [InlineData("{\"a\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4, "unsupported dtype BF16")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4, "negative dimension")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, "data_offsets")]
    [InlineData("{not json", 4, "not valid JSON")]
    public void CorruptHeaders_NameTheFileAndTheProblem(string json, int dataBytes, string expected)
    {
        System.IO.File.WriteAllBytes(P("bad.safetensors"), File(json, new byte[dataBytes]));
        var e = Assert.Throws<InvalidDataException>(() => SafeTensors.Load(P("bad.safetensors")));
        Assert.Contains("bad.safetensors", e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void TruncatedFile_IsReported()
    {
        SafeTensors.Save(P("t.safetensors"), [new("w", Tensor.Ones(100))]);
        var bytes = System.IO.File.ReadAllBytes(P("t.safetensors"));
        System.IO.File.WriteAllBytes(P("t.safetensors"), bytes[..(bytes.Length - 10)]);
        Assert.Contains("truncated", Assert.Throws<InvalidDataException>(() => SafeTensors.Load(P("t.safetensors"))).Message);
        System.IO.File.WriteAllBytes(P("t.safetensors"), bytes[..5]);
        Assert.Contains("truncated at byte 5", Assert.Throws<InvalidDataException>(() => SafeTensors.Load(P("t.safetensors"))).Message);
    }

    [Fact]
    public void NotASafetensorsFile_SaysSo()
    {
        System.IO.File.WriteAllText(P("x.txt"), "hello, this is text and not tensors at all");
        Assert.Contains("x.txt", Assert.Throws<InvalidDataException>(() => SafeTensors.Load(P("x.txt"))).Message);
        Assert.Throws<FileNotFoundException>(() => SafeTensors.Load(P("missing.safetensors")));
    }
}
