using System.Text.Json;

namespace Fovea.Tests.NN;

/// <summary>
/// Reads the PyTorch reference values written by <c>tests/fixtures/gen_conv_fixtures.py</c> (float64 JSON), so the
/// tests never need Python. The files are found by walking up from the test binary to the repository.
/// </summary>
internal static class ConvFixtures
{
    public static string Directory
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            {
                var candidate = Path.Combine(dir.FullName, "tests", "Fovea.Tests", "Fixtures", "conv");
                if (System.IO.Directory.Exists(candidate)) return candidate;
            }
            throw new DirectoryNotFoundException("tests/Fovea.Tests/Fixtures/conv not found above " + AppContext.BaseDirectory);
        }
    }

    /// <summary>Case names of a fixture file, for xunit theories.</summary>
    public static TheoryData<string> Names(string file)
    {
        var data = new TheoryData<string>();
        foreach (var c in Cases(file)) data.Add(c.GetProperty("name").GetString()!);
        return data;
    }

    public static IEnumerable<JsonElement> Cases(string file)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(Directory, file)));
        return doc.RootElement.GetProperty("cases").EnumerateArray().Select(e => e.Clone()).ToList();
    }

    public static JsonElement Case(string file, string name) => Cases(file).Single(c => c.GetProperty("name").GetString() == name);

    /// <summary>A float64 tensor from {"shape": [...], "data": [...]}.</summary>
    public static Tensor T(JsonElement e)
    {
        var shape = e.GetProperty("shape").EnumerateArray().Select(v => v.GetInt32()).ToArray();
        var data = e.GetProperty("data").EnumerateArray().Select(v => v.GetDouble()).ToArray();
        return Tensor.FromArray(data, shape);
    }

    /// <summary>An Int32 tensor from {"shape": [...], "data": [...]}.</summary>
    public static Tensor TI(JsonElement e)
    {
        var shape = e.GetProperty("shape").EnumerateArray().Select(v => v.GetInt32()).ToArray();
        var data = e.GetProperty("data").EnumerateArray().Select(v => v.GetInt32()).ToArray();
        return Tensor.FromArray(data, shape);
    }

    public static int Int(JsonElement args, string name, int fallback)
    {
        if (!args.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null) return fallback;
        return v.GetInt32();
    }

    /// <summary>An int or [h, w] argument.</summary>
    public static Fovea.NN.Size2d Pair(JsonElement args, string name, Fovea.NN.Size2d fallback)
    {
        if (!args.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null) return fallback;
        if (v.ValueKind == JsonValueKind.Number) return v.GetInt32();
        var a = v.EnumerateArray().Select(x => x.GetInt32()).ToArray();
        return (a[0], a[1]);
    }

    public static bool Bool(JsonElement args, string name, bool fallback) =>
        args.TryGetProperty(name, out var v) && v.ValueKind is JsonValueKind.True or JsonValueKind.False ? v.GetBoolean() : fallback;

    public static void AssertClose(Tensor expected, Tensor actual, double tol, string what)
    {
        Assert.Equal(expected.Shape, actual.Shape);
        var e = expected.ToArray<double>();
        var a = actual.Detach().To(DType.Float64).ToArray<double>();
        for (int i = 0; i < e.Length; i++)
            Assert.True(Math.Abs(e[i] - a[i]) <= tol * (1 + Math.Abs(e[i])), $"{what}[{i}]: expected {e[i]:R}, got {a[i]:R}");
    }
}
