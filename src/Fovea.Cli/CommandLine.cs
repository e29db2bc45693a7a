using System.Diagnostics;
using Fovea.Kernels;

namespace Fovea.Cli;

/// <summary>
/// The <c>fovea</c> command: parses the command and options, calls the library, prints results.
/// Errors are one line on stderr and a non-zero exit code; never a stack trace.
/// </summary>
public static class CommandLine
{
    private const string Help = """
        fovea — deep learning and multi-scale vision for .NET, in pure C#

        Usage: fovea [command] [options]

        Commands:
          demo        Tensor tour: broadcasting, reductions, views, a gradient and a timed float32 matmul
          gradcheck   Check every differentiable op's first and second derivatives numerically (float64)
          graph       Write a computation graph as Graphviz DOT: graph --example neuron|add-mul [-o FILE]
          help        Show this help

        Global options:
          --threads N   Threads a kernel may use (default: all cores)
        """;

    /// <summary>Runs the command line; returns the process exit code.</summary>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        try
        {
            var rest = new List<string>();
            for (int i = 0; i < args.Length; i++)
            {
                if (args[i] == "--threads")
                {
                    if (i + 1 >= args.Length || !int.TryParse(args[i + 1], out int threads) || threads < 1)
                        throw new UsageException("--threads needs a positive integer");
                    Threading.MaxDegreeOfParallelism = threads;
                    i++;
                }
                else rest.Add(args[i]);
            }
            string command = rest.Count > 0 ? rest[0] : "";
            switch (command)
            {
                case "":
                    stdout.WriteLine(Help);
                    Demo(stdout);
                    return 0;
                case "demo":
                    Demo(stdout);
                    return 0;
                case "gradcheck":
                    return GradCheckCommand(stdout);
                case "graph":
                    return GraphCommand(rest.Skip(1).ToArray(), stdout);
                case "help" or "--help" or "-h":
                    stdout.WriteLine(Help);
                    return 0;
                default:
                    throw new UsageException($"unknown command '{command}' (run 'fovea help')");
            }
        }
        catch (Exception e) when (e is UsageException or ArgumentException or InvalidOperationException or IOException)
        {
            stderr.WriteLine($"fovea: {e.Message}");
            return 2;
        }
    }

    /// <summary>Runs the gradient-check table: one row per op, then "N passed, M failed".</summary>
    public static int GradCheckCommand(TextWriter o)
    {
        int passed = 0, failed = 0;
        foreach (var (c, first, second) in GradCheckTable.Run())
        {
            bool ok = first.Passed && (second?.Passed ?? true);
            if (ok) passed++; else failed++;
            string secondText = second is null ? "n/a" : second.Passed ? "ok" : "FAILED";
            o.WriteLine($"{(ok ? "ok  " : "FAIL")}  {c.Name,-34} grad {(first.Passed ? "ok" : "FAILED"),-6} gradgrad {secondText}");
            if (!first.Passed) o.WriteLine("      " + first.ToString().Replace("\n", "\n      "));
            if (second is { Passed: false }) o.WriteLine("      " + second.ToString().Replace("\n", "\n      "));
        }
        o.WriteLine($"{passed} passed, {failed} failed");
        return failed == 0 ? 0 : 1;
    }

    /// <summary>Builds one of the lecture notes' example graphs, runs backward, and writes its DOT.</summary>
    public static int GraphCommand(string[] args, TextWriter o)
    {
        string example = "neuron";
        string? output = null;
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--example" when i + 1 < args.Length: example = args[++i]; break;
                case "-o" or "--out" when i + 1 < args.Length: output = args[++i]; break;
                default: throw new UsageException($"graph: unexpected argument '{args[i]}' (use --example neuron|add-mul [-o FILE])");
            }
        }
        Tensor S(double v) => Tensor.Scalar(v, DType.Float64).RequiresGrad_();
        Tensor result;
        switch (example)
        {
            case "neuron":
                // f = σ(w0·x0 + w1·x1 + w2) at w = (2, -3, -3), x = (-1, -2).
                var (w0, x0, w1, x1, w2) = (S(2), S(-1), S(-3), S(-2), S(-3));
                result = (w0 * x0 + w1 * x1 + w2).Sigmoid();
                break;
            case "add-mul":
                // f = (x + y)·z at x = -2, y = 5, z = -4.
                result = (S(-2) + S(5)) * S(-4);
                break;
            default:
                throw new UsageException($"graph: unknown example '{example}' (choose neuron or add-mul)");
        }
        result.Backward(retainGraph: true);
        string dot = Autograd.ToDot(result);
        if (output is null) o.Write(dot);
        else
        {
            AtomicFile.WriteAllText(output, dot);
            o.WriteLine($"wrote {output} (render with: dot -Tpng {output} -o graph.png)");
        }
        return 0;
    }

    /// <summary>A short tour of the tensor core that prints what it computes.</summary>
    public static void Demo(TextWriter o)
    {
        o.WriteLine("== Broadcasting: a [2, 3] matrix plus a [3] row");
        var a = Tensor.FromArray(new float[,] { { 1, 2, 3 }, { 4, 5, 6 } });
        var row = Tensor.From(10f, 20f, 30f);
        o.WriteLine(a + row);
        o.WriteLine();
        o.WriteLine("== Reductions: sum over dim 0, mean over dim 1, max with indices");
        o.WriteLine(a.Sum(0));
        o.WriteLine(a.Mean(1));
        var (values, indices) = a.Max(1);
        o.WriteLine($"{values}\n{indices}");
        o.WriteLine();
        o.WriteLine("== Views share memory: the transpose of a, then a slice of it");
        o.WriteLine(a.T);
        o.WriteLine(a.T.Slice(0, 1));
        o.WriteLine();
        o.WriteLine("== A gradient: f(x, y, z) = (x + y)·z at x = -2, y = 5, z = -4");
        var gx = Tensor.Scalar(-2, DType.Float64).RequiresGrad_();
        var gy = Tensor.Scalar(5, DType.Float64).RequiresGrad_();
        var gz = Tensor.Scalar(-4, DType.Float64).RequiresGrad_();
        var f = (gx + gy) * gz;
        f.Backward();
        o.WriteLine($"f = {f.ToScalar()}, df/dx = {gx.Grad!.ToScalar()}, df/dy = {gy.Grad!.ToScalar()}, df/dz = {gz.Grad!.ToScalar()}");
        o.WriteLine();
        o.WriteLine("== Matrix product with broadcasting: [2, 3] @ [3]");
        o.WriteLine(a.MatMul(Tensor.From(1f, 0f, -1f)));
        o.WriteLine();
        const int n = 512;
        var g = new Generator(42);
        var x = Tensor.Randn([n, n], g);
        var y = Tensor.Randn([n, n], g);
        x.MatMul(y); // warm-up
        var sw = Stopwatch.StartNew();
        const int reps = 5;
        for (int i = 0; i < reps; i++) x.MatMul(y);
        double ms = sw.Elapsed.TotalMilliseconds / reps;
        o.WriteLine($"== float32 matmul {n}x{n} @ {n}x{n} on {Threading.MaxDegreeOfParallelism} thread(s): {ms:F2} ms, {2.0 * n * n * n / ms / 1e6:F1} GFLOP/s");
    }
}

/// <summary>A mistake in the command line itself.</summary>
public sealed class UsageException(string message) : Exception(message);
