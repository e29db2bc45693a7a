using System.Text.RegularExpressions;
using Fovea.Cli;
using static Fovea.Cli.Tests.CliRunner;

namespace Fovea.Cli.Tests;

/// <summary>The lecture notes' worked examples as <c>fovea graph</c> draws them, and <c>fovea gradcheck</c>'s forward-mode column.</summary>
public partial class NotesExampleTests
{

    /// <summary>The label of the edge leaving the node whose label starts with <paramref name="nodeLabel"/>.</summary>
    private static string EdgeFrom(string dot, string nodeLabel)
    {
        var node = Regex.Match(dot, $"  (n\\d+) \\[shape=\\w+(?:, style=rounded)?, label=\"{Regex.Escape(nodeLabel)}");
        Assert.True(node.Success, $"no node labelled '{nodeLabel}' in\n{dot}");
        var edge = Regex.Match(dot, $"  {node.Groups[1].Value} -> n\\d+ \\[label=\"([^\"]*)\"");
        Assert.True(edge.Success, $"no labelled edge from '{nodeLabel}' in\n{dot}");
        return edge.Groups[1].Value.Replace("\\n", " | ");
    }

    [Fact]
    public void Autodiff_EachEdgeCarriesTheNotesLocalDerivativeAndTheChainedGradient()
    {
        var (code, dot, _) = Run("graph", "--example", "autodiff");
        Assert.Equal(0, code);
        // f = w₁x, g = max(0, f), ŷ = w₂g, L = ½(ŷ − y)² at x = 5, w₁ = 1, w₂ = 2, y = 2 (note 002's numbers).
        Assert.Equal("local 5 | grad 80", EdgeFrom(dot, "w₁ = 1"));    // ∂f/∂w₁ = x = 5, ∂L/∂w₁ = 80
        Assert.Equal("local 1 | grad 16", EdgeFrom(dot, "Mul\\nf = 5")); // ∂g/∂f = 1, ∂L/∂f = 16
        Assert.Equal("local 2 | grad 16", EdgeFrom(dot, "Relu\\ng = 5")); // ∂ŷ/∂g = w₂ = 2, ∂L/∂g = 16
        Assert.Equal("local 8 | grad 8", EdgeFrom(dot, "Mul\\nŷ = 10"));  // ∂L/∂ŷ = ŷ − y = 8
        Assert.Equal("local 5 | grad 40", EdgeFrom(dot, "w₂ = 2"));      // ∂L/∂w₂ = g·8
        Assert.Contains("½(ŷ − y)²\\nL = 32", dot);
    }

    [Fact]
    public void MaxRouter_AddDistributesMultiplySwitchesMaxRoutes()
    {
        var (code, dot, _) = Run("graph", "--example", "max-router");
        Assert.Equal(0, code);
        // f = 2·(x·y + max(z, w)) at x = 3, y = -4, z = 2, w = -1.
        Assert.Contains("f = -20", dot);
        Assert.Equal("local -4 | grad -8", EdgeFrom(dot, "x = 3"));
        Assert.Equal("local 3 | grad 6", EdgeFrom(dot, "y = -4"));
        Assert.Equal("local 1 | grad 2", EdgeFrom(dot, "z = 2"));  // max routes everything to the winner
        Assert.Equal("local 0 | grad 0", EdgeFrom(dot, "w = -1")); // and nothing to the loser
        Assert.Equal("local 1 | grad 2", EdgeFrom(dot, "Mul\\nx·y = -12")); // add distributes
    }

    [Fact]
    public void Svm_IsScoresHingeAndRegulariser()
    {
        var (code, dot, _) = Run("graph", "--example", "svm");
        Assert.Equal(0, code);
        Assert.Contains("s = W·x = [3.2, 5.1, -1.7]", dot);
        Assert.Contains("hinge = 2.9", dot);
        Assert.Contains("R(W) = 0.874", dot);
        Assert.Contains("L = 3.774", dot);
        // dL/dW = (margin-violating rows: +x for j = 1, −x for y = 0) + 2λW.
        Assert.Contains("grad [-0.76, -1.8, 1.22, 2.4, 0.06, -0.2]", dot);
    }

    [Fact]
    public void Graph_UsageListsTheNewExamples()
    {
        var (code, _, err) = Run("graph", "--example", "nope");
        Assert.Equal(2, code);
        Assert.Contains("max-router", err);
        Assert.Contains("autodiff", err);
    }

    [Fact]
    public void GradCheck_PrintsForwardAgainstReverseModePerOp()
    {
        var (code, output, _) = Run("gradcheck", "--filter", "local_response_norm");
        Assert.Equal(0, code);
        var rows = output.Split('\n').Where(l => l.StartsWith("ok", StringComparison.Ordinal)).ToList();
        Assert.Equal(3, rows.Count);
        foreach (var row in rows)
        {
            var m = Regex.Match(row, @"ok\s+ok\s+ok\s+(\S+) = (\S+)\s*$");
            Assert.True(m.Success, row);
            double forward = double.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
            double reverse = double.Parse(m.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture);
            Assert.Equal(forward, reverse, 1e-9 * Math.Max(1, Math.Abs(forward)));
            Assert.NotEqual(0, forward);
        }
        Assert.Contains("<J v, u>", output);
    }
}
