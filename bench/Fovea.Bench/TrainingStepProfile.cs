using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Runtime.InteropServices;
using Fovea.Backends;
using Fovea.NN;
using Fovea.Optim;
using Fovea.Vision.Models;

namespace Fovea.Bench;

/// <summary>
/// Where a training step (ResNet-18 as in the <see cref="ResNet18TrainingStepCase"/>: batch 32, 3x112x112, SGD momentum
/// 0.9; or LeNet-5 or the MLP 784-256-128-10 at batch 64 on 1x28x28, the training epochs' recipe on random images) spends its time at each thread count, per backend call kind: every call from the ops to the kernels goes through
/// <see cref="IBackend"/>, so a proxy around the CPU backend sees them all, each with its wall time and the process's CPU
/// time (every thread's, and the part spent in the kernel: page faults) over the call. CPU ÷ wall is the call's parallelism: near 1 at two threads means a serial call
/// (or a split that left the second core waiting); the step's wall time minus the calls' is what runs between them
/// (autograd bookkeeping, module code, allocation). On a shared machine wall time says little, so each call also
/// records the calling thread's own CPU time: the larger of it and the other threads' CPU time is the call's critical
/// path ("path"), what its wall time would be on idle cores if the threads never waited for each other; the first
/// thread count's CPU time over the last's path is the speedup the split allows. The last steps of a run are averaged (the first ones warm up).
/// Usage: <c>Fovea.Bench --profile-train [resnet18|lenet5|mlp] [--threads 1,2] [--steps 5]</c>.
/// </summary>
public static class TrainingStepProfile
{
    /// <summary>A profiled network: the zoo name, its input and batch, the warm-up steps its kernels need before
    /// they run their final code (the JIT recompiles hot methods after a few hundred small steps), and whether each step
    /// clears the gradients to null (as the bench's training case of that network does; see
    /// <see cref="ResNet18TrainingStepCase"/>).</summary>
    private sealed record Network(string Zoo, string Title, int BatchSize, int Channels, int Size, int Classes, int WarmSteps, bool GradsToNone);

    private static readonly Network[] Networks =
    [
        new("resnet18", "ResNet-18", 32, 3, 112, 1000, 2, false),
        new("lenet5", "LeNet-5", 64, 1, 28, 10, 1000, true),
        new("mlp", "MLP 784-256-128-10", 64, 1, 28, 10, 2000, true),
    ];

    /// <summary>The networks <see cref="Run"/> knows, by zoo name.</summary>
    public static IEnumerable<string> Names => Networks.Select(n => n.Zoo);

    /// <summary>Runs the profile of the named network and prints one table per thread count, then the per-kind scaling.</summary>
    public static void Run(string network, int[] threads, int steps)
    {
        var net = Networks.FirstOrDefault(n => n.Zoo == network)
            ?? throw new ArgumentException($"--profile-train knows {string.Join(", ", Names)}, not {network}");
        var g = new Generator(3);
        var x = Tensor.Uniform([net.BatchSize, net.Channels, net.Size, net.Size], -1, 1, g);
        var y = Tensor.RandInt([net.BatchSize], 0, net.Classes, g);
        var loss = new CrossEntropyLoss();
        var results = new List<(int Threads, Dictionary<string, Stat> Calls, Stat Step, Stat[] Phases)>();
        foreach (int t in threads)
        {
            Threading.MaxDegreeOfParallelism = t;
            var model = ModelZoo.Create(net.Zoo, net.Channels, net.Classes, net.Size, new Generator(0));
            var opt = new Sgd(model.Parameters(), 0.01, momentum: 0.9);
            var proxy = DispatchProxy.Create<IBackend, TimingBackend>();
            var timing = (TimingBackend)(object)proxy;
            timing.Inner = Backend.Cpu;
            var step = new Stat();
            var phases = new[] { new Stat(), new Stat(), new Stat() };
            using (Backend.Use(proxy))
            {
                for (int i = 0; i < net.WarmSteps + steps; i++)
                {
                    bool keep = i >= net.WarmSteps;
                    if (i == net.WarmSteps) timing.Calls.Clear();
                    timing.Recording = keep;
                    var s0 = Clock.Now();
                    timing.Phase = "fwd";
                    opt.ZeroGrad(setToNone: net.GradsToNone);
                    var l = loss.Forward(model.Forward(x), y);
                    var s1 = Clock.Now();
                    timing.Phase = "bwd";
                    l.Backward();
                    var s2 = Clock.Now();
                    timing.Phase = "sgd";
                    opt.Step();
                    l.ToScalar();
                    var s3 = Clock.Now();
                    if (!keep) continue;
                    step.Add(s0, s3);
                    phases[0].Add(s0, s1);
                    phases[1].Add(s1, s2);
                    phases[2].Add(s2, s3);
                }
            }
            results.Add((t, new Dictionary<string, Stat>(timing.Calls), step, phases));
        }

        var inv = CultureInfo.InvariantCulture;
        Console.WriteLine($"# {net.Title} training step, batch {net.BatchSize}, {net.Size}x{net.Size}: ms per step (mean of {steps} after {net.WarmSteps} warm-up), wall, process CPU (all threads) and its kernel part");
        var keys = results.SelectMany(r => r.Calls.Keys).Distinct().OrderByDescending(k => results[0].Calls.GetValueOrDefault(k)?.Wall ?? 0).ToList();
        var header = new List<string> { "kind", "calls" };
        foreach (var r in results) header.AddRange([$"wall_t{r.Threads}", $"cpu_t{r.Threads}", $"sys_t{r.Threads}", $"caller_t{r.Threads}", $"path_t{r.Threads}"]);
        if (results.Count > 1) header.AddRange([$"speedup_t{results[^1].Threads}", $"path_speedup_t{results[^1].Threads}"]);
        Console.WriteLine(string.Join(", ", header));
        void Row(string name, double calls, Func<(int Threads, Dictionary<string, Stat> Calls, Stat Step, Stat[] Phases), Stat?> pick)
        {
            var cells = new List<string> { name, calls.ToString("0", inv) };
            foreach (var r in results)
            {
                var st = pick(r);
                cells.Add(((st?.Wall ?? 0) / steps).ToString("0.000", inv));
                cells.Add(((st?.Cpu ?? 0) / steps).ToString("0.000", inv));
                cells.Add(((st?.Sys ?? 0) / steps).ToString("0.000", inv));
                cells.Add(((st?.Own ?? 0) / steps).ToString("0.000", inv));
                double own = st?.Own ?? 0, others = (st?.Cpu ?? 0) - own;
                cells.Add((Math.Max(own, others) / steps).ToString("0.000", inv));
            }
            if (results.Count > 1)
            {
                double a = pick(results[0])?.Wall ?? 0, b = pick(results[^1])?.Wall ?? 0;
                cells.Add(b > 0 ? (a / b).ToString("0.00", inv) : "");
                double pa = pick(results[0])?.Cpu ?? 0, own = pick(results[^1])?.Own ?? 0, pb = Math.Max(own, (pick(results[^1])?.Cpu ?? 0) - own);
                cells.Add(pb > 0 ? (pa / pb).ToString("0.00", inv) : "");
            }
            Console.WriteLine(string.Join(", ", cells));
        }
        foreach (var k in keys)
            Row(k, (results[0].Calls.GetValueOrDefault(k)?.Count ?? 0) / (double)steps, r => r.Calls.GetValueOrDefault(k));
        string[] phaseNames = ["fwd", "bwd", "sgd"];
        for (int p = 0; p < 3; p++)
        {
            int pi = p;
            Row($"between calls ({phaseNames[p]})", 0, r => Between(r.Phases[pi], r.Calls, phaseNames[pi]));
        }
        for (int p = 0; p < 3; p++)
        {
            int pi = p;
            Row($"phase {phaseNames[p]}", 0, r => r.Phases[pi]);
        }
        Row("step", 1, r => r.Step);
    }

    /// <summary>A phase's time outside the backend calls made in it.</summary>
    private static Stat Between(Stat phase, Dictionary<string, Stat> calls, string name)
    {
        var s = new Stat { Wall = phase.Wall, Cpu = phase.Cpu, Sys = phase.Sys, Own = phase.Own };
        foreach (var (k, v) in calls)
            if (k.StartsWith(name, StringComparison.Ordinal))
            {
                s.Wall -= v.Wall;
                s.Cpu -= v.Cpu;
                s.Sys -= v.Sys;
                s.Own -= v.Own;
            }
        return s;
    }

    /// <summary>Summed wall and CPU milliseconds of one kind of call.</summary>
    internal sealed class Stat
    {
        public double Wall, Cpu, Sys, Own;
        public int Count;

        public void Add((long Wall, long Cpu, long Sys, long Own) start, (long Wall, long Cpu, long Sys, long Own) end)
        {
            Wall += (end.Wall - start.Wall) * 1000.0 / Stopwatch.Frequency;
            Cpu += (end.Cpu - start.Cpu) / 1e3;
            Sys += (end.Sys - start.Sys) / 1e3;
            Own += (end.Own - start.Own) / 1e3;
            Count++;
        }
    }

    /// <summary>Wall clock (Stopwatch ticks), process CPU time and its system (kernel) part, in µs, every thread.</summary>
    internal static class Clock
    {
        [StructLayout(LayoutKind.Sequential)]
        private unsafe struct ResourceUsage
        {
            public long UserSeconds, UserMicroseconds, SystemSeconds, SystemMicroseconds;
            public fixed long Rest[14];
        }

        [DllImport("libc", EntryPoint = "getrusage")]
        private static extern int GetResourceUsage(int who, out ResourceUsage usage);

        [StructLayout(LayoutKind.Sequential)]
        private struct TimeSpec
        {
            public long Seconds, Nanoseconds;
        }

        [DllImport("libc", EntryPoint = "clock_gettime")]
        private static extern int ClockGetTime(int clock, out TimeSpec ts);

        private const int ThreadCpuTime = 3;

        public static (long Wall, long Cpu, long Sys, long Own) Now()
        {
            GetResourceUsage(0, out var u);
            ClockGetTime(ThreadCpuTime, out var ts);
            long sys = u.SystemSeconds * 1_000_000 + u.SystemMicroseconds;
            return (Stopwatch.GetTimestamp(), u.UserSeconds * 1_000_000 + u.UserMicroseconds + sys, sys, ts.Seconds * 1_000_000 + ts.Nanoseconds / 1000);
        }
    }
}

/// <summary>Forwards every <see cref="IBackend"/> call to <see cref="Inner"/>, timing it under a name that says the layer kind.</summary>
public class TimingBackend : DispatchProxy
{
    internal IBackend Inner = null!;
    internal readonly Dictionary<string, TrainingStepProfile.Stat> Calls = [];
    internal string Phase = "";
    internal bool Recording;

    /// <inheritdoc/>
    protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
    {
        var start = TrainingStepProfile.Clock.Now();
        object? result;
        try
        {
            result = targetMethod!.Invoke(Inner, args);
        }
        catch (TargetInvocationException e) when (e.InnerException is not null)
        {
            throw e.InnerException;
        }
        var end = TrainingStepProfile.Clock.Now();
        if (Recording)
        {
            string key = $"{Phase} {Describe(targetMethod, args!)}";
            if (!Calls.TryGetValue(key, out var st)) Calls[key] = st = new TrainingStepProfile.Stat();
            st.Add(start, end);
        }
        return result;
    }

    /// <summary>The method and, for convolutions, the kernel, stride and channels; for element-wise ops the operation.</summary>
    internal static string Describe(MethodInfo m, object?[] args)
    {
        string name = m.Name;
        foreach (var a in args)
        {
            switch (a)
            {
                case Conv2dGeometry geo:
                    // Conv2d(x, w, ...), BackwardInput(dy, w, ...): w is the second tensor; BackwardWeight(x, dy, shape, ...).
                    var tensors = args.OfType<Tensor>().ToArray();
                    int[] wShape = name == nameof(IBackend.Conv2dBackwardWeight) ? args.OfType<int[]>().First() : tensors[1].Shape.ToArray();
                    return $"{name} {wShape[2]}x{wShape[3]} s{geo.StrideH} {wShape[0]}ch @{tensors[0].Size(2)}";
                case UnaryOp u: return $"{name} {u}";
                case BinaryOp b: return $"{name} {b}";
                case ReduceOp r: return $"{name} {r}";
            }
        }
        return name;
    }
}
