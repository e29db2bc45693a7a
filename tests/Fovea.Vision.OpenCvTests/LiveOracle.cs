namespace Fovea.Vision.OpenCvTests;

/// <summary>The repository root (for the committed images and references), found above the test binaries.</summary>
internal static class LiveOracle
{
    public const string Category = "OpenCvLive";

    public static string Root
    {
        get
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Fovea.sln"))) dir = dir.Parent;
            return dir?.FullName ?? throw new DirectoryNotFoundException("cannot find the repository root (Fovea.sln) above " + AppContext.BaseDirectory);
        }
    }

    public static string DataPath(string name) => Path.Combine(Root, "tests", "Fovea.Vision.Tests", "Data", name);
}
