using System.Diagnostics;

namespace Fovea.Cli;

/// <summary><c>fovea demo</c>: a short tour of the tensor core and autograd that prints what it computes.</summary>
public static class DemoCommand
{
    /// <summary>The command.</summary>
    public static Command Command { get; } = new("demo", "", "Tensor tour: broadcasting, reductions, views, a gradient and a timed matmul", (a, o) =>
    {
        a.Done();
        Run(o);
        return 0;
    });

    /// <summary>Prints the tour to <paramref name="o"/>.</summary>
    public static void Run(TextWriter o)
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
