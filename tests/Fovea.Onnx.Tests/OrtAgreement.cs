using System.Collections.Concurrent;
using System.Globalization;

namespace Fovea.Onnx.Tests;

/// <summary>
/// Runs one model in ONNX Runtime and in Fovea (imported, evaluation mode) on the same seeded inputs and asserts the
/// outputs agree to 1e-4 relative: max|fovea − ort| / max(max|ort|, 1e-6). Each figure is recorded in
/// onnx-agreement.txt next to the tests, so the agreement table can be read after a run.
/// </summary>
internal static class OrtAgreement
{
    public const double Tolerance = 1e-4;

    private static readonly ConcurrentDictionary<string, double> Figures = new();

    public static double Check(string name, OnnxModelBuilder model, params (string Name, int[] Shape)[] inputs) =>
        Check(name, model.ToBytes(), inputs);

    public static double Check(string name, byte[] bytes, params (string Name, int[] Shape)[] inputs)
    {
        var rng = new Random(name.GetHashCode(StringComparison.Ordinal) & 0x7fffffff);
        var feeds = inputs.Select(i => (i.Name, Values: RandomValues(rng, i.Shape), i.Shape)).ToArray();
        return Check(name, bytes, feeds);
    }

    public static double Check(string name, byte[] bytes, (string Name, float[] Values, int[] Shape)[] feeds)
    {
        var (expected, expectedShape) = OnnxRuntimeOracle.Run(bytes, feeds);
        var module = OnnxModel.Import(bytes, name);
        module.Eval();
        var outputs = module.Run(feeds.ToDictionary(f => f.Name, f => Tensor.FromArray(f.Values, f.Shape)));
        var actual = outputs[module.OutputNames[0]];
        Assert.Equal(expectedShape, actual.Shape);
        double error = RelativeError(actual.Contiguous().ToArray<float>(), expected);
        Figures[name] = error;
        File.WriteAllLines(Path.Combine(AppContext.BaseDirectory, "onnx-agreement.txt"),
            Figures.OrderBy(f => f.Key, StringComparer.Ordinal).Select(f => $"{f.Key}\t{f.Value.ToString("E2", CultureInfo.InvariantCulture)}"));
        Assert.True(error <= Tolerance, $"{name}: Fovea differs from ONNX Runtime by {error:E2} relative (tolerance {Tolerance:E0})");
        return error;
    }

    public static double RelativeError(float[] actual, float[] expected)
    {
        Assert.Equal(expected.Length, actual.Length);
        double maxDiff = 0, maxRef = 0;
        for (int k = 0; k < expected.Length; k++)
        {
            Assert.False(float.IsNaN(actual[k]) != float.IsNaN(expected[k]), $"NaN mismatch at {k}");
            maxDiff = Math.Max(maxDiff, Math.Abs((double)actual[k] - expected[k]));
            maxRef = Math.Max(maxRef, Math.Abs((double)expected[k]));
        }
        return maxDiff / Math.Max(maxRef, 1e-6);
    }

    public static float[] RandomValues(Random rng, int[] shape, double scale = 1)
    {
        int count = shape.Aggregate(1, (a, d) => a * d);
        var v = new float[count];
        for (int k = 0; k < count; k++) v[k] = (float)((rng.NextDouble() * 2 - 1) * scale);
        return v;
    }
}
