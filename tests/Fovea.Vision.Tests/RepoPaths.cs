namespace Fovea.Vision.Tests;

/// <summary>Finds files committed with the tests, wherever the test binaries run from.</summary>
internal static class RepoPaths
{
    public static string Root
    {
        get
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Fovea.sln"))) dir = dir.Parent;
            return dir?.FullName ?? throw new DirectoryNotFoundException("cannot find the repository root (Fovea.sln) above " + AppContext.BaseDirectory);
        }
    }

    public static string TestData(params string[] parts) => Path.Combine([Root, "tests", "Fovea.Vision.Tests", "Data", .. parts]);
}
