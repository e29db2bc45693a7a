namespace Fovea.Vision.Tests.Oracle;

/// <summary>The committed OpenCV references (written by tools/Fovea.OracleFixtures), read once.</summary>
internal static class OpenCvFixture
{
    private static readonly Lazy<Dictionary<string, OpenCvReference>> References =
        new(() => OpenCvReferenceFile.Read(Path.Combine(RepoPaths.Root, OpenCvCases.ReferencePath)));

    public static OpenCvReference Get(string key) =>
        References.Value.TryGetValue(key, out var r) ? r
            : throw new KeyNotFoundException($"{OpenCvCases.ReferencePath} has no reference '{key}'; regenerate it with tools/Fovea.OracleFixtures");

    /// <summary>Asserts that <paramref name="ours"/> has the reference's shape and is within <paramref name="tolerance"/> of it.</summary>
    public static void AssertClose(string key, int[] oursShape, ReadOnlySpan<float> ours, double tolerance)
    {
        var r = Get(key);
        Assert.Equal(r.Shape, oursShape);
        double err = r.MaxAbsDiff(ours);
        Assert.True(err <= tolerance, $"{key}: max |ours − OpenCV| = {err}");
    }
}
