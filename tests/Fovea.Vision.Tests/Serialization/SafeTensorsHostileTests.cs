using System.Buffers.Binary;
using System.Text;
using Fovea.Vision.Serialization;

namespace Fovea.Vision.Tests.Serialization;

/// <summary>
/// Generated safetensors headers that lie: every bad value of every field, duplicate keys, sizes that overflow,
/// ranges that overlap or run past the data. Each must be an <see cref="InvalidDataException"/> naming the file,
/// the entry and the field, and cost no more than a little memory.
/// </summary>
public class SafeTensorsHostileTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"st-hostile-{Guid.NewGuid():N}");

    public SafeTensorsHostileTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>Writes a file of the header length, <paramref name="json"/> and <paramref name="dataBytes"/> bytes of data.</summary>
    private string Write(string json, long dataBytes, ulong? headerLength = null)
    {
        string path = Path.Combine(_dir, "bad.safetensors");
        var header = Encoding.UTF8.GetBytes(json);
        var length = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(length, headerLength ?? (ulong)header.Length);
        using var file = File.Create(path);
        file.Write(length);
        file.Write(header);
        file.SetLength(file.Length + dataBytes);
        return path;
    }

    private static string Entry(string dtype = "\"F32\"", string shape = "[2,3]", string offsets = "[0,24]") =>
        $"{{\"dtype\":{dtype},\"shape\":{shape},\"data_offsets\":{offsets}}}";

    /// <summary>JSON values that are not a dimension or an offset: null, strings, fractions, too large, other kinds.</summary>
    private static readonly string[] NotAWholeNumber = ["null", "\"2\"", "1e10", "1.5", "2.0e0", "2147483648", "true", "{}", "[]", "-0.5"];

    public static TheoryData<string, string[]> BadFields()
    {
        var data = new TheoryData<string, string[]>();
        for (int i = 0; i < NotAWholeNumber.Length; i++)
        {
            string v = NotAWholeNumber[i];
            data.Add($"{{\"w\":{Entry(shape: $"[{v},3]")}}}", ["entry 'w'", "shape[0]"]);
            data.Add($"{{\"w\":{Entry(shape: $"[2,{v}]")}}}", ["entry 'w'", "shape[1]"]);
            if (v != "2147483648")
            {
                data.Add($"{{\"w\":{Entry(offsets: $"[{v},24]")}}}", ["entry 'w'", "data_offsets[0]"]);
                data.Add($"{{\"w\":{Entry(offsets: $"[0,{v}]")}}}", ["entry 'w'", "data_offsets[1]"]);
            }
        }
        foreach (var dtype in new[] { "5", "null", "[]", "{}", "true" })
            data.Add($"{{\"w\":{Entry(dtype: dtype)}}}", ["entry 'w'", "dtype"]);
        foreach (var dtype in new[] { "\"F16\"", "\"BF16\"", "\"\"", "\"f32\"" })
            data.Add($"{{\"w\":{Entry(dtype: dtype)}}}", ["entry 'w'", "unsupported dtype"]);
        foreach (var shape in new[] { "null", "5", "\"[2,3]\"", "{}" })
            data.Add($"{{\"w\":{Entry(shape: shape)}}}", ["entry 'w'", "shape"]);
        foreach (var offsets in new[] { "null", "24", "[]", "[0]", "[0,12,24]", "{}" })
            data.Add($"{{\"w\":{Entry(offsets: offsets)}}}", ["entry 'w'", "data_offsets"]);
        data.Add($"{{\"w\":{Entry(shape: "[-2,3]")}}}", ["entry 'w'", "shape[0]", "negative"]);
        data.Add($"{{\"w\":{Entry(offsets: "[24,0]")}}}", ["entry 'w'", "data_offsets", "ends before it begins"]);
        data.Add($"{{\"w\":{Entry(offsets: "[-24,0]")}}}", ["entry 'w'", "data_offsets[0]"]);
        data.Add("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,3]}}", ["entry 'w'", "data_offsets"]);
        data.Add("{\"w\":{\"shape\":[2,3],\"data_offsets\":[0,24]}}", ["entry 'w'", "dtype"]);
        data.Add("{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,24]}}", ["entry 'w'", "shape"]);
        foreach (var notAnObject in new[] { "5", "\"x\"", "[]", "null", "true" })
            data.Add($"{{\"w\":{notAnObject}}}", ["entry 'w'", "not an object"]);
        // Duplicate keys: JSON leaves them undefined; the header may say two different things.
        data.Add($"{{\"w\":{Entry()},\"w\":{Entry()}}}", ["the header", "'w' twice"]);
        data.Add($"{{\"w\":{{\"dtype\":\"F32\",\"shape\":[2,3],\"shape\":[6],\"data_offsets\":[0,24]}}}}", ["entry 'w'", "'shape' twice"]);
        data.Add($"{{\"__metadata__\":{{\"k\":\"a\",\"k\":\"b\"}},\"w\":{Entry()}}}", ["__metadata__", "'k' twice"]);
        data.Add($"{{\"__metadata__\":{{\"k\":5}},\"w\":{Entry()}}}", ["__metadata__", "'k'", "not a string"]);
        data.Add($"{{\"__metadata__\":[\"k\"],\"w\":{Entry()}}}", ["__metadata__", "expected an object"]);
        // Ranges: past the data, overlapping, leaving gaps, or not covering the data.
        data.Add($"{{\"w\":{Entry(offsets: "[24,48]")}}}", ["entry 'w'", "data_offsets", "runs past the 24 bytes"]);
        data.Add($"{{\"w\":{Entry()},\"v\":{Entry(shape: "[1]", offsets: "[20,24]")}}}", ["entry 'v'", "overlaps"]);
        data.Add($"{{\"w\":{Entry(shape: "[5]", offsets: "[4,24]")}}}", ["entry 'w'", "leaves bytes [0, 4)"]);
        data.Add($"{{\"w\":{Entry(shape: "[5]", offsets: "[0,20]")}}}", ["4 bytes of trailing data"]);
        data.Add($"{{\"w\":{Entry(shape: "[2,2]")}}}", ["entry 'w'", "data_offsets", "needs 16 bytes"]);
        // The header itself.
        data.Add("{\"w\":", ["the header is not valid JSON"]);
        data.Add("[1,2,3]", ["the header is not a JSON object"]);
        data.Add("\"w\"", ["the header is not a JSON object"]);
        data.Add(new string('[', 5000) + new string(']', 5000), ["the header is not valid JSON"]);
        return data;
    }

    [Theory]
    [MemberData(nameof(BadFields))]
    public void MalformedHeader_NamesTheFileTheEntryAndTheField(string json, string[] expected)
    {
        string path = Write(json, 24);
        HostileInput.Refused(() => SafeTensors.Load(path), [path, .. expected], allocationLimit: 1 << 20);
    }

    [Fact]
    public void InvalidUtf8InTheHeader_IsRefused()
    {
        string path = Write("{\"w\":" + Entry() + "}", 24);
        var bytes = File.ReadAllBytes(path);
        bytes[10] = 0xFF;
        File.WriteAllBytes(path, bytes);
        HostileInput.Refused(() => SafeTensors.Load(path), [path, "the header is not valid UTF-8 (at byte 2 of it)"]);
    }

    /// <summary>Shapes whose byte count is exactly 2^64 for each dtype: a wrapping product would say 0 bytes and pass.</summary>
    public static TheoryData<string, int> WrappingShapes()
    {
        var data = new TheoryData<string, int>();
        foreach (var (dtype, log2Size) in new[] { ("F32", 2), ("F64", 3), ("I32", 2), ("BOOL", 0) })
            for (int rank = 3; rank <= 6; rank++)
            {
                // Split 64 - log2(size) bits over the dimensions, each below 2^31.
                int bits = 64 - log2Size;
                var dims = Enumerable.Range(0, rank).Select(i => bits / rank + (i < bits % rank ? 1 : 0)).Select(b => 1L << b).ToArray();
                if (dims.Any(d => d > int.MaxValue)) continue;
                data.Add($"{{\"w\":{Entry(dtype: $"\"{dtype}\"", shape: $"[{string.Join(",", dims)}]", offsets: "[0,0]")}}}", rank);
            }
        return data;
    }

    [Theory]
    [MemberData(nameof(WrappingShapes))]
    public void ShapeWhoseByteCountOverflows_IsRefused(string json, int rank)
    {
        Assert.InRange(rank, 3, 6);
        string path = Write(json, 0);
        HostileInput.Refused(() => SafeTensors.Load(path), [path, "entry 'w'", "data_offsets", "needs more than the 0 bytes"], allocationLimit: 1 << 20);
    }

    [Theory]
    [InlineData(1_000_000_000L)]
    [InlineData(536_870_912L)]
    public void HugeTensorInATinyFile_IsRefusedBeforeAllocating(long elements)
    {
        string path = Write($"{{\"w\":{Entry(shape: $"[{elements}]", offsets: $"[0,{elements * 4}]")}}}", 24);
        HostileInput.Refused(() => SafeTensors.Load(path), [path, "entry 'w'", "runs past the 24 bytes"], allocationLimit: 1 << 20);
    }

    [Theory]
    [InlineData(ulong.MaxValue)]
    [InlineData(1UL << 63)]
    [InlineData(99_000_000UL)]
    [InlineData(200UL)]
    public void HeaderLengthPastTheFile_IsRefusedBeforeAllocating(ulong headerLength)
    {
        string path = Write($"{{\"w\":{Entry()}}}", 24, headerLength);
        HostileInput.Refused(() => SafeTensors.Load(path), [path, $"header length {headerLength} exceeds the file"], allocationLimit: 1 << 20);
    }

    [Fact]
    public void ReadingAValidFile_AllocatesAboutTheTensorsOnce()
    {
        string path = Path.Combine(_dir, "big.safetensors");
        SafeTensors.Save(path, [new("a", Tensor.Zeros(1 << 20)), new("b", Tensor.Zeros([1 << 10, 1 << 10], DType.Float64))]);
        long before = GC.GetAllocatedBytesForCurrentThread();
        var (tensors, _) = SafeTensors.Load(path);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        long tensorBytes = (4 << 20) + (8 << 20);
        Assert.Equal([1 << 20], tensors["a"].Shape);
        Assert.True(allocated < tensorBytes + (1 << 20), $"loading {tensorBytes:N0} bytes of tensors allocated {allocated:N0}");
    }

    [Fact]
    public void BoolBytesOtherThanZeroAndOne_ReadAsTrue()
    {
        string path = Write($"{{\"m\":{Entry(dtype: "\"BOOL\"", shape: "[3]", offsets: "[0,3]")}}}", 0);
        File.AppendAllText(path, "\0\u0001\u0007");
        var (tensors, _) = SafeTensors.Load(path);
        Assert.Equal([false, true, true], tensors["m"].ToArray<bool>());
    }

    [Fact]
    public void RandomMutationsOfAValidFile_OnlyEverThrowInvalidData()
    {
        string seed = Path.Combine(_dir, "seed.safetensors");
        SafeTensors.Save(seed, [new("w", Tensor.Randn([3, 4], new Generator(1))), new("b", Tensor.From(1, 2, 3)), new("m", Tensor.FromArray(new[] { true, false }, 2))],
            new Dictionary<string, string> { ["k"] = "v" });
        var original = File.ReadAllBytes(seed);
        int headerEnd = 8 + (int)BinaryPrimitives.ReadUInt64LittleEndian(original);
        var rng = new Random(20);
        string path = Path.Combine(_dir, "mutant.safetensors");
        for (int trial = 0; trial < 400; trial++)
        {
            var (bytes, what) = Mutations.Apply(original, headerEnd, rng);
            File.WriteAllBytes(path, bytes);
            HostileInput.SucceedsOrRefuses(() => SafeTensors.Load(path), path, $"trial {trial} ({what})");
        }
    }
}
