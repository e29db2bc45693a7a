using Fovea.Cli;
using static Fovea.Cli.Tests.CliRunner;

namespace Fovea.Cli.Tests;

public class CommandLineTests
{

    [Fact]
    public void NoArguments_PrintsHelpAndRunsTheDemo()
    {
        var (code, output, _) = Run();
        Assert.Equal(0, code);
        Assert.Contains("Usage: fovea", output);
        Assert.Contains("df/dx = -4, df/dy = -4, df/dz = 3", output);
        Assert.Contains("GFLOP/s", output);
    }

    [Fact]
    public void UnknownCommand_IsOneLineAndNonZero()
    {
        var (code, output, err) = Run("frobnicate");
        Assert.NotEqual(0, code);
        Assert.Equal("", output);
        Assert.Single(err.TrimEnd().Split('\n'));
        Assert.Contains("unknown command 'frobnicate'", err);
    }

    [Fact]
    public void BadThreads_IsAUsageError()
    {
        var (code, _, err) = Run("--threads", "zero", "demo");
        Assert.Equal(2, code);
        Assert.Contains("--threads", err);
    }

    [Fact]
    public void Graph_WritesDotWithGradientLabels()
    {
        var (code, output, _) = Run("graph", "--example", "neuron");
        Assert.Equal(0, code);
        Assert.StartsWith("digraph fovea {", output);
        Assert.Contains("Sigmoid", output);
        Assert.Contains("grad -0.3932", output); // dL/dw1 = -2·0.1966
    }

    [Fact]
    public void Graph_ToFile_IsWrittenWhole()
    {
        string path = Path.Combine(Path.GetTempPath(), $"fovea-graph-{Guid.NewGuid():N}.dot");
        try
        {
            var (code, output, _) = Run("graph", "--example", "add-mul", "-o", path);
            Assert.Equal(0, code);
            Assert.Contains("wrote", output);
            var text = File.ReadAllText(path);
            Assert.EndsWith("}\n", text.Replace("\r\n", "\n"));
            Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(path)!, Path.GetFileName(path) + ".tmp-*"));
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void Graph_UnknownExample_IsAUsageError()
    {
        var (code, _, err) = Run("graph", "--example", "nope");
        Assert.NotEqual(0, code);
        Assert.Contains("unknown example", err);
    }

    [Fact]
    public void GradCheck_PrintsOneRowPerOpAndTheSummaryLine()
    {
        var (code, output, _) = Run("gradcheck");
        Assert.Equal(0, code);
        var lines = output.TrimEnd().Split('\n');
        int rows = GradCheckTable.Cases.Count + Fovea.Vision.VisionGradCheckTable.Cases.Count;
        Assert.Equal($"{rows} passed, 0 failed", lines[^1].Trim());
        Assert.Equal(rows, lines.Count(l => l.StartsWith("ok")));
        Assert.Contains(lines, l => l.Contains("blend"));
    }
}
