#:project ../src/Fovea.Vision/Fovea.Vision.csproj
#:property PublishAot=false
#:property TreatWarningsAsErrors=false
#:property AllowUnsafeBlocks=false
// Prints the table of docs/distributed.md: for each zoo model, the bytes data-parallel training all-reduces per step
// (every trainable parameter's float32 gradient) against the arithmetic of one step, and what a ring all-reduce
// predicts for 2-64 machines on 10 and 100 Gbit/s networks.
//   dotnet run scripts/distributed-scaling.cs [-- GFLOPS_PER_MACHINE [BATCH_PER_MACHINE]]
using System.Globalization;
using Fovea;
using Fovea.NN;
using Fovea.Vision.Models;

double gflops = args.Length > 0 ? double.Parse(args[0], CultureInfo.InvariantCulture) : 200;
int batch = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 64;
int[] machines = [2, 4, 8, 16, 32, 64];

Console.WriteLine($"Per machine: batch {batch}, {gflops:0} GFLOP/s sustained. Step compute = 3 x forward multiply-adds x 2 FLOP x batch.");
Console.WriteLine();
Console.WriteLine("| model | input | parameters | gradient MB / step | GFLOP / step | compute ms | all-reduce ms, 10 Gbit/s (N=2 / N=64) | all-reduce ms, 100 Gbit/s (N=2 / N=64) | speed-up at N=64, 10 / 100 Gbit/s (overlapped) | (not overlapped) |");
Console.WriteLine("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
foreach (var name in ModelZoo.Names)
{
    bool fashion = name is "mlp" or "lenet5" or "fmnist_cnn" or "fmnist_cnn_small";
    int channels = fashion ? 1 : 3, size = fashion ? 28 : 32;
    var model = ModelZoo.Create(name, channels, 10, size, new Generator(1));
    double bytes = model.ParameterCount(trainableOnly: true) * 4.0;
    double stepFlop = 3.0 * MultiplyAdds(model, channels, size) * 2 * batch;
    double computeMs = stepFlop / (gflops * 1e9) * 1e3;
    // Ring all-reduce: each machine sends and receives 2(N - 1)/N times the buffer (reduce-scatter, then all-gather).
    double CommMs(int n, double gbit) => 2.0 * (n - 1) / n * bytes * 8 / (gbit * 1e9) * 1e3;
    string Speedup(int n, double gbit, bool overlapped) =>
        (n * computeMs / (overlapped ? Math.Max(computeMs, CommMs(n, gbit)) : computeMs + CommMs(n, gbit))).ToString("0.0", CultureInfo.InvariantCulture);
    string F(double v) => v.ToString(v < 10 ? "0.00" : "0", CultureInfo.InvariantCulture);
    Console.WriteLine($"| {name} | {channels}x{size}x{size} | {model.ParameterCount(true):N0} | {F(bytes / 1e6)} | {F(stepFlop / 1e9)} | {F(computeMs)} | {F(CommMs(2, 10))} / {F(CommMs(64, 10))} | {F(CommMs(2, 100))} / {F(CommMs(64, 100))} | {Speedup(64, 10, true)} / {Speedup(64, 100, true)} | {Speedup(64, 10, false)} / {Speedup(64, 100, false)} |");
}

Console.WriteLine();
Console.WriteLine("Speed-up over one machine, overlapped, for N = " + string.Join(", ", machines) + " at 10 | 100 Gbit/s: see the table's formula; the all-reduce time grows only from 1x to 2x the gradient bytes between N = 2 and N = 64.");

// Multiply-adds of one forward pass of one sample: walks the autograd graph and counts each convolution
// (output elements x weight elements per output channel) and each linear layer (output elements x input features).
static long MultiplyAdds(Module<Tensor, Tensor> model, int channels, int size)
{
    var x = Tensor.Zeros([1, channels, size, size]).RequiresGrad_();
    model.Train(false);
    var y = model.Forward(x);
    long total = 0;
    var seen = new HashSet<Function>(ReferenceEqualityComparer.Instance);
    var stack = new Stack<Tensor>();
    stack.Push(y);
    while (stack.Count > 0)
    {
        var t = stack.Pop();
        if (t.GradFn is not { } node || !seen.Add(node)) continue;
        var inputs = node.Inputs;
        if (node.Name == "Conv2d") total += (long)t.Numel * inputs[1].Numel / inputs[1].Size(0);
        else if (node.Name == "Linear") total += (long)t.Numel * inputs[1].Size(1);
        foreach (var i in inputs) stack.Push(i);
    }
    return total;
}
