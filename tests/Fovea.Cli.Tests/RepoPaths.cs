namespace Fovea.Cli.Tests;

/// <summary>Finds the test images committed with the vision tests, wherever the test binaries run from.</summary>
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

    public static string Image(string name) => Path.Combine(Root, "tests", "Fovea.Vision.Tests", "Data", name);
}
