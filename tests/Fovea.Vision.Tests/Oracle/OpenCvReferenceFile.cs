using System.Buffers.Binary;
using System.Text;

namespace Fovea.Vision.Tests.Oracle;

/// <summary>
/// One OpenCV output kept as a reference: its shape and its values at <see cref="Indices"/> (row-major flat indices).
/// Small outputs are kept whole; larger ones keep the two-pixel border band of every plane, where OpenCV's border
/// conventions act, and a stride sample of the rest (the stride is coprime with the width, so every column is visited).
/// A NaN value marks an output OpenCV leaves undefined; it is not compared.
/// </summary>
internal sealed class OpenCvReference
{
    /// <summary>Outputs up to this many values are kept whole.</summary>
    public const int WholeLimit = 4096;

    /// <summary>About this many values are sampled from the interior of a larger output.</summary>
    public const int InteriorSamples = 1024;

    /// <summary>The border band, in pixels, kept whole in every plane of a larger output.</summary>
    public const int Band = 2;

    public OpenCvReference(string key, int[] shape, float[] values)
    {
        Key = key;
        Shape = shape;
        Indices = SampledIndices(shape);
        if (values.Length != Indices.Length)
            throw new InvalidDataException($"{key}: {values.Length} values for shape [{string.Join(", ", shape)}], the sampling rule keeps {Indices.Length}; regenerate with tools/Fovea.OracleFixtures");
        Values = values;
    }

    public string Key { get; }
    public int[] Shape { get; }
    public int[] Indices { get; }
    public float[] Values { get; }

    /// <summary>Keeps the sampled values of a whole output.</summary>
    public static OpenCvReference FromWhole(string key, int[] shape, ReadOnlySpan<float> whole)
    {
        var idx = SampledIndices(shape);
        if (whole.Length != Count(shape)) throw new ArgumentException($"{key}: {whole.Length} values for shape [{string.Join(", ", shape)}]");
        var values = new float[idx.Length];
        for (int i = 0; i < idx.Length; i++) values[i] = whole[idx[i]];
        return new OpenCvReference(key, shape, values);
    }

    /// <summary>Largest |ours − OpenCV| over the kept, defined values; <paramref name="ours"/> is the whole output.</summary>
    public double MaxAbsDiff(ReadOnlySpan<float> ours)
    {
        if (ours.Length != Count(Shape)) throw new ArgumentException($"{Key}: ours has {ours.Length} values, OpenCV's output has shape [{string.Join(", ", Shape)}]");
        double m = 0;
        for (int i = 0; i < Indices.Length; i++)
            if (!float.IsNaN(Values[i])) m = Math.Max(m, Math.Abs((double)ours[Indices[i]] - Values[i]));
        return m;
    }

    public static int Count(int[] shape) => shape.Aggregate(1, (a, b) => checked(a * b));

    /// <summary>The flat indices kept for an output of this shape (the last two axes are height and width).</summary>
    public static int[] SampledIndices(int[] shape)
    {
        int n = Count(shape);
        if (n <= WholeLimit) return Enumerable.Range(0, n).ToArray();
        int w = shape[^1], h = shape.Length >= 2 ? shape[^2] : 1;
        int stride = Math.Max(1, (n + InteriorSamples - 1) / InteriorSamples);
        while (Gcd(stride, w) != 1) stride++;
        var kept = new List<int>();
        for (int i = 0; i < n; i++)
        {
            int x = i % w, y = i / w % h;
            if (x < Band || x >= w - Band || y < Band || y >= h - Band || i % stride == 0) kept.Add(i);
        }
        return kept.ToArray();
    }

    private static int Gcd(int a, int b) => b == 0 ? a : Gcd(b, a % b);
}

/// <summary>
/// The file of OpenCV references: magic <c>FOVEACV1</c>, an int32 entry count, then per entry an int32 UTF-8 name length,
/// the name, an int32 rank, the int32 dimensions, an int32 value count and the float32 values (all little-endian).
/// </summary>
internal static class OpenCvReferenceFile
{
    private static readonly byte[] Magic = "FOVEACV1"u8.ToArray();

    public static void Write(string path, IEnumerable<OpenCvReference> references)
    {
        using var ms = new MemoryStream();
        using (var bw = new BinaryWriter(ms, Encoding.UTF8, leaveOpen: true))
        {
            var list = references.ToList();
            bw.Write(Magic);
            bw.Write(list.Count);
            foreach (var r in list)
            {
                var name = Encoding.UTF8.GetBytes(r.Key);
                bw.Write(name.Length);
                bw.Write(name);
                bw.Write(r.Shape.Length);
                foreach (int d in r.Shape) bw.Write(d);
                bw.Write(r.Values.Length);
                foreach (float v in r.Values) bw.Write(v);
            }
        }
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        File.WriteAllBytes(path, ms.ToArray());
    }

    public static Dictionary<string, OpenCvReference> Read(string path)
    {
        var bytes = File.ReadAllBytes(path);
        int pos = 0;
        int Int(string what)
        {
            if (pos + 4 > bytes.Length) throw new InvalidDataException($"{path}: truncated at byte {pos} reading {what}");
            int v = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(pos));
            pos += 4;
            if (v < 0) throw new InvalidDataException($"{path}: negative {what} {v} at byte {pos - 4}");
            return v;
        }
        void Need(long length, string what)
        {
            if (length > bytes.Length - pos) throw new InvalidDataException($"{path}: {what} at byte {pos} needs {length} bytes, {bytes.Length - pos} remain");
        }
        Need(Magic.Length, "the magic");
        if (!bytes.AsSpan(0, Magic.Length).SequenceEqual(Magic)) throw new InvalidDataException($"{path}: not an OpenCV reference file (magic)");
        pos = Magic.Length;
        int count = Int("entry count");
        var result = new Dictionary<string, OpenCvReference>();
        for (int e = 0; e < count; e++)
        {
            int nameLength = Int("name length");
            Need(nameLength, "the name");
            string key = Encoding.UTF8.GetString(bytes, pos, nameLength);
            pos += nameLength;
            int rank = Int($"{key}: rank");
            Need(4L * rank, $"{key}: dimensions");
            var shape = new int[rank];
            for (int d = 0; d < rank; d++) shape[d] = Int($"{key}: dimension {d}");
            long elements = shape.Aggregate(1L, (a, b) => Math.Min(a * b, 1L << 40));
            if (elements > 1 << 24) throw new InvalidDataException($"{path}: {key}: shape [{string.Join(", ", shape)}] has {elements} elements, more than any reference holds");
            int valueCount = Int($"{key}: value count");
            Need(4L * valueCount, $"{key}: values");
            var values = new float[valueCount];
            for (int i = 0; i < valueCount; i++, pos += 4) values[i] = BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(pos));
            if (!result.TryAdd(key, new OpenCvReference(key, shape, values))) throw new InvalidDataException($"{path}: entry {key} appears twice");
        }
        if (pos != bytes.Length) throw new InvalidDataException($"{path}: {bytes.Length - pos} bytes after the last entry");
        return result;
    }
}
