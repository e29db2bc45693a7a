using System.Buffers.Binary;
using System.IO.Compression;
using Fovea.Vision.Datasets;
using Fovea.Vision.Tests.Serialization;

namespace Fovea.Vision.Tests.Datasets;

/// <summary>Generated IDX files whose headers lie about their size, raw and gzip: refused before allocating.</summary>
public class IdxHostileTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"idx-hostile-{Guid.NewGuid():N}");

    public IdxHostileTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static byte[] Header(params uint[] dims)
    {
        var header = new byte[4 + 4 * dims.Length];
        BinaryPrimitives.WriteUInt32BigEndian(header, 0x00000800u | (uint)dims.Length);
        for (int i = 0; i < dims.Length; i++) BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(4 + 4 * i), dims[i]);
        return header;
    }

    /// <summary>Writes <paramref name="header"/> then <paramref name="zeros"/> zero (or random) bytes, gzip-compressed or raw.</summary>
    private string Write(string name, byte[] header, long zeros, bool gzip, bool random = false)
    {
        string path = Path.Combine(_dir, name);
        using var file = File.Create(path);
        using Stream output = gzip ? new GZipStream(file, CompressionLevel.Optimal) : file;
        output.Write(header);
        var block = new byte[1 << 20];
        if (random) new Random(1).NextBytes(block);
        for (long left = zeros; left > 0; left -= block.Length) output.Write(block, 0, (int)Math.Min(block.Length, left));
        return path;
    }

    public static TheoryData<uint[], string> ImpossibleShapes => new()
    {
        { [uint.MaxValue], "impossible size" },
        { [65536, 32768], "the most one array holds" },
        { [2_000_000_000, 2_000_000_000, 2_000_000_000, 2_000_000_000], "the most one array holds" },
        { [int.MaxValue, int.MaxValue, int.MaxValue], "the most one array holds" },
    };

    [Theory]
    [MemberData(nameof(ImpossibleShapes))]
    public void ShapeLargerThanAnArray_IsRefusedFromTheHeader(uint[] dims, string expected)
    {
        foreach (bool gzip in new[] { false, true })
        {
            string path = Write($"huge-{gzip}.idx", Header(dims), 16, gzip);
            HostileInput.Refused(() => Idx.Read(path), [path, expected]);
        }
    }

    [Theory]
    [InlineData(1_000_000_000u, 1u)]
    [InlineData(60_000u, 20_000u)]
    [InlineData(100u, 100u)]
    public void RawFileShorterThanItsShape_IsRefusedBeforeAllocating(uint n, uint side)
    {
        string path = Write("short.idx", Header(n, side), 7, gzip: false);
        long needed = 12 + (long)n * side;
        HostileInput.Refused(() => Idx.Read(path), [path, "truncated at byte 19", $"needs {needed} bytes"], allocationLimit: 1 << 20);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(4096)]
    public void RawFileLongerThanItsShape_IsRefusedBeforeAllocating(int extra)
    {
        string path = Write("long.idx", Header(1000, 1000), 1_000_000 + extra, gzip: false);
        HostileInput.Refused(() => Idx.Read(path), [path, $"{extra} bytes of trailing data"], allocationLimit: 1 << 20);
    }

    [Theory]
    [InlineData(1_000_000_000u)]
    [InlineData(2_000_000_000u)]
    public void GzipDeclaringMoreThanDeflateCanExpandTo_IsRefusedBeforeAllocating(uint declared)
    {
        string path = Write("bomb-header.idx.gz", Header(declared), 1 << 20, gzip: true);
        long compressed = new FileInfo(path).Length;
        Assert.True(compressed * Idx.MaxDeflateRatio < declared, "the generator must make a file too small for its header");
        HostileInput.Refused(() => Idx.Read(path), [path, $"declares {declared + 8L} bytes", $"{compressed} bytes of gzip data"], allocationLimit: 1 << 20);
    }

    [Theory]
    [InlineData(256 << 20)]
    [InlineData(64 << 20)]
    public void GzipBombBehindASmallHeader_StopsReadingAtTheDeclaredSize(int bombBytes)
    {
        string path = Write("bomb-data.idx.gz", Header(10, 28, 28), bombBytes, gzip: true);
        HostileInput.Refused(() => Idx.Read(path), [path, "trailing data after the [10, 28, 28] array", "decompressed byte 7856"], allocationLimit: 1 << 20);
    }

    [Fact]
    public void GzipShorterThanItsShape_SaysWhereItEnds()
    {
        // Random data does not compress, so the file is large enough for its header and must be read to find the end.
        string path = Write("short.idx.gz", Header(2 << 20), 1 << 20, gzip: true, random: true);
        HostileInput.Refused(() => Idx.Read(path), [path, $"truncated at decompressed byte {8 + (1 << 20)}", $"needs {8 + (2 << 20)} bytes"], allocationLimit: 4 << 20);
    }

    [Fact]
    public void CorruptGzipStream_NamesTheFileAndTheOffset()
    {
        string good = Write("good.idx.gz", Header(200, 200), 40_000, gzip: true);
        var bytes = File.ReadAllBytes(good);
        var rng = new Random(5);
        for (int trial = 0; trial < 50; trial++)
        {
            var bad = (byte[])bytes.Clone();
            // Damage the deflate data (after the 10-byte gzip header) so that the decoder meets an invalid block.
            for (int k = 0; k < 4; k++) bad[10 + rng.Next(bad.Length - 10)] ^= (byte)(1 + rng.Next(255));
            string path = Path.Combine(_dir, "bad.idx.gz");
            File.WriteAllBytes(path, bad);
            HostileInput.SucceedsOrRefuses(() => Idx.Read(path), path, $"trial {trial}");
        }
        string cut = Path.Combine(_dir, "cut.idx.gz");
        File.WriteAllBytes(cut, bytes[..(bytes.Length / 2)]);
        HostileInput.Refused(() => Idx.Read(cut), [cut]);
    }

    [Fact]
    public void RandomHeaders_AreReadExactlyOrRefusedCheaply()
    {
        var rng = new Random(10);
        for (int trial = 0; trial < 300; trial++)
        {
            int rank = rng.Next(1, 5);
            // Sizes from 0 to 2^32 - 1 on a log scale, so that small, plausible and absurd shapes all occur.
            var dims = Enumerable.Range(0, rank).Select(_ => (uint)Math.Min(uint.MaxValue, Math.Pow(2, rng.NextDouble() * 32) - 1)).ToArray();
            long declared = dims.Aggregate(1.0, (a, d) => a * d) < 1e9 ? dims.Aggregate(1L, (a, d) => a * d) : long.MaxValue;
            long written = declared > 4 << 20 ? rng.Next(100) : rng.Next(4) switch { 0 => declared, 1 => declared + 1, 2 => Math.Max(0, declared - 1), _ => rng.Next(100) };
            bool gzip = rng.Next(2) == 0;
            string path = Write($"random{trial}.idx" + (gzip ? ".gz" : ""), Header(dims), written, gzip);
            long before = GC.GetAllocatedBytesForCurrentThread();
            HostileInput.SucceedsOrRefuses(() =>
            {
                var (shape, data) = Idx.Read(path);
                Assert.Equal(dims.Select(d => (int)d), shape);
                Assert.Equal(written, data.Length);
            }, path, $"trial {trial}: dims [{string.Join(", ", dims)}], {written} data bytes, gzip {gzip}");
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.True(allocated < 2 * written + (1 << 20), $"trial {trial}: {allocated:N0} bytes allocated for {written:N0} bytes of data");
            File.Delete(path);
        }
    }
}
