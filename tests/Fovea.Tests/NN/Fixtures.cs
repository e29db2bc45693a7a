using System.Text.Json;

namespace Fovea.Tests.NN;

/// <summary>One case of a PyTorch fixture file written by tests/fixtures/gen_layers_fixtures.py.</summary>
internal sealed class FixtureCase(JsonElement element)
{
    public string Name => element.GetProperty("name").GetString()!;
    public string Op => element.GetProperty("op").GetString()!;
    private JsonElement Args => element.GetProperty("args");
    private JsonElement Tensors => element.GetProperty("tensors");

    public bool Has(string tensor) => Tensors.TryGetProperty(tensor, out _);
    public bool HasArg(string arg) => Args.TryGetProperty(arg, out var v) && v.ValueKind != JsonValueKind.Null;
    public double D(string arg) => Args.GetProperty(arg).GetDouble();
    public int I(string arg) => Args.GetProperty(arg).GetInt32();
    public bool B(string arg) => Args.GetProperty(arg).GetBoolean();
    public string S(string arg) => Args.GetProperty(arg).GetString()!;
    public int[] Ints(string arg) => Args.GetProperty(arg).EnumerateArray().Select(e => e.GetInt32()).ToArray();

    /// <summary>Names of the inputs whose gradients the fixture holds.</summary>
    public IEnumerable<string> GradNames =>
        Tensors.EnumerateObject().Select(p => p.Name).Where(n => n.StartsWith("grad_", StringComparison.Ordinal)).Select(n => n[5..]);

    /// <summary>A fresh tensor (float64 or int32) from the fixture.</summary>
    public Tensor T(string name)
    {
        var e = Tensors.GetProperty(name);
        var shape = e.GetProperty("shape").EnumerateArray().Select(v => v.GetInt32()).ToArray();
        var data = e.GetProperty("data");
        if (e.GetProperty("dtype").GetString() == "int32")
            return Tensor.FromArray(data.EnumerateArray().Select(v => v.GetInt32()).ToArray(), shape);
        return Tensor.FromArray(data.EnumerateArray().Select(v => v.GetDouble()).ToArray(), shape);
    }

    public Tensor? TOrNull(string name) => Has(name) ? T(name) : null;
}

internal static class Fixtures
{
    private static readonly Dictionary<string, List<FixtureCase>> Cache = [];

    public static IReadOnlyList<FixtureCase> Load(string file)
    {
        lock (Cache)
        {
            if (!Cache.TryGetValue(file, out var cases))
            {
                var path = Path.Combine(AppContext.BaseDirectory, "Fixtures", "layers", file);
                using var doc = JsonDocument.Parse(File.ReadAllText(path));
                cases = doc.RootElement.GetProperty("cases").EnumerateArray().Select(e => new FixtureCase(e.Clone())).ToList();
                Cache[file] = cases;
            }
            return cases;
        }
    }

    public static FixtureCase Get(string file, string name) => Load(file).Single(c => c.Name == name);

    /// <summary>Theory data: (file, case name) for every case of <paramref name="file"/> whose op passes <paramref name="filter"/>.</summary>
    public static TheoryData<string, string> Cases(string file, Func<string, bool> filter)
    {
        var data = new TheoryData<string, string>();
        foreach (var c in Load(file).Where(c => filter(c.Op))) data.Add(file, c.Name);
        return data;
    }

    public static void Close(Tensor expected, Tensor actual, string what, double rtol = 1e-8, double atol = 1e-10)
    {
        Assert.True(expected.Shape.SequenceEqual(actual.Shape), $"{what}: shape {ShapeChecks.Format(actual.Shape)}, expected {ShapeChecks.Format(expected.Shape)}");
        var a = actual.To(DType.Float64).Contiguous().ToArray<double>();
        var e = expected.To(DType.Float64).Contiguous().ToArray<double>();
        for (int i = 0; i < e.Length; i++)
        {
            bool ok = (double.IsNaN(e[i]) && double.IsNaN(a[i])) || Math.Abs(a[i] - e[i]) <= atol + rtol * Math.Abs(e[i]);
            Assert.True(ok, $"{what}[{i}]: got {a[i]:R}, PyTorch {e[i]:R}");
        }
    }
}
