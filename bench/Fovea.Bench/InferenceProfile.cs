using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using Fovea.Backends;
using Fovea.NN;
using Fovea.Onnx;
using Fovea.Vision.Models;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Fovea.Bench;

/// <summary>
/// Where one ResNet-18 forward at 224x224 (the <see cref="ResNet18OnnxCase"/>'s model: the zoo module exported to ONNX and
/// imported back, the pretrained file, or the zoo module itself) spends its time at each thread count, call by call:
/// every backend call of a forward is timed, and each call's median over the timed forwards is printed beside its
/// description, with the forward's own median and the part of it outside the calls. Medians, not means: on a shared
/// two-core machine a few forwards catch a stall, and the question is what a call costs when nothing disturbs it.
/// Usage: <c>Fovea.Bench --profile-infer [exported|pretrained|zoo] [--batch 1] [--threads 1,2] [--steps 200]</c>.
/// </summary>
public static class InferenceProfile
{
    /// <summary>Forwards run before the timed ones: the JIT's tiers and the kernels' prepared weights settle first.</summary>
    private const int WarmForwards = 300;

    /// <summary>Runs the profile and prints one row per backend call, one column per thread count.</summary>
    public static void Run(string source, int batch, int[] threads, int forwards)
    {
        byte[]? file = ModelFile(source);
        var model = file is null ? ModelZoo.Create("resnet18", 3, 1000, 224, new Generator(0)) : OnnxModel.Import(file, source == "pretrained" ? PretrainedPath : "resnet18.onnx");
        model.Eval();
        var x = Tensor.Uniform([batch, 3, 224, 224], -1, 1, new Generator(1));
        var proxy = DispatchProxy.Create<IBackend, CallTimingBackend>();
        var timing = (CallTimingBackend)(object)proxy;
        timing.Inner = Backend.Cpu;
        var perThreads = new List<(int Threads, List<double[]> Calls, double[] Forward, bool[] Far)>();
        List<string> names = [];
        using var noGrad = GradMode.Disable();
        foreach (int t in threads)
        {
            Threading.MaxDegreeOfParallelism = t;
            var calls = new List<List<double>>();
            var forward = new double[forwards];
            var far = new bool[forwards];
            bool farNow = false;
            using (Backend.Use(proxy))
            {
                for (int i = 0; i < WarmForwards + forwards; i++)
                {
                    if (t > 1 && i >= WarmForwards && (i - WarmForwards) % PlacementEvery == 0)
                        farNow = HelperRoundTripNs() > FarRoundTripNs;
                    timing.Times.Clear();
                    timing.Naming = names.Count == 0 && i == WarmForwards;
                    long t0 = Stopwatch.GetTimestamp();
                    var y = model.Forward(x);
                    double ms = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
                    StoragePool.Recycle(y);
                    if (i < WarmForwards) continue;
                    forward[i - WarmForwards] = ms;
                    far[i - WarmForwards] = farNow;
                    if (names.Count == 0) names.AddRange(timing.Names);
                    for (int c = 0; c < timing.Times.Count; c++)
                    {
                        if (calls.Count <= c) calls.Add([]);
                        calls[c].Add(timing.Times[c]);
                    }
                }
            }
            perThreads.Add((t, [.. calls.Select(c => c.ToArray())], forward, far));
        }
        // Each thread count's columns, and for two threads or more, where both placements of the two cores came up
        // (at least PlacementMinForwards forwards each), the medians over the near and the far forwards as well.
        var columns = new List<(string Name, int P, Func<int, bool> Take)>();
        for (int p = 0; p < perThreads.Count; p++)
        {
            var (t, _, _, farFlags) = perThreads[p];
            columns.Add(($"t{t}", p, _ => true));
            int farCount = farFlags.Count(f => f);
            if (farCount >= PlacementMinForwards && forwards - farCount >= PlacementMinForwards)
            {
                columns.Add(($"t{t} near ({forwards - farCount})", p, i => !farFlags[i]));
                columns.Add(($"t{t} far ({farCount})", p, i => farFlags[i]));
            }
        }
        double Column((string Name, int P, Func<int, bool> Take) col, double[] values) =>
            Median([.. values.Where((_, i) => col.Take(i))]);

        var inv = CultureInfo.InvariantCulture;
        Console.WriteLine($"# ResNet-18 224x224 forward ({source}), batch {batch}: each backend call's median ms over {forwards} forwards after {WarmForwards}");
        if (columns.Count > perThreads.Count)
            Console.WriteLine($"# near / far: the forwards after a round trip of a cache line between the calling thread and the kernels' helper under / over {FarRoundTripNs} ns (measured every {PlacementEvery} forwards)");
        Console.WriteLine("call, " + string.Join(", ", columns.Select(col => col.Name)));
        for (int c = 0; c < names.Count; c++)
            Console.WriteLine($"{names[c]}, " + string.Join(", ", columns.Select(col => c < perThreads[col.P].Calls.Count ? Column(col, perThreads[col.P].Calls[c]).ToString("0.000", inv) : "")));
        var kinds = names.Select(Kind).Distinct().ToList();
        foreach (var kind in kinds)
            Console.WriteLine($"kind {kind}, " + string.Join(", ", columns.Select(col =>
                Enumerable.Range(0, Math.Min(names.Count, perThreads[col.P].Calls.Count)).Where(c => Kind(names[c]) == kind).Sum(c => Column(col, perThreads[col.P].Calls[c])).ToString("0.000", inv))));
        if (file is not null) AnchorProfile(file, batch, threads, forwards);
        Console.WriteLine("sum of call medians, " + string.Join(", ", columns.Select(col => perThreads[col.P].Calls.Sum(v => Column(col, v)).ToString("0.000", inv))));
        Console.WriteLine("forward median, " + string.Join(", ", columns.Select(col => Column(col, perThreads[col.P].Forward).ToString("0.000", inv))));
    }

    /// <summary>
    /// ONNX Runtime's own profile of the same file (<c>SessionOptions.EnableProfiling</c>): each node's median kernel time
    /// over the timed runs, in the graph's order, so that the two libraries' layers can be put side by side.
    /// </summary>
    private static void AnchorProfile(byte[] bytes, int batch, int[] threads, int forwards)
    {
        var inv = CultureInfo.InvariantCulture;
        var input = Tensor.Uniform([batch, 3, 224, 224], -1, 1, new Generator(1));
        var nodes = new List<string>();
        var perThreads = new List<(int Threads, Dictionary<string, List<double>> Times, List<double> Runs, List<bool> Far)>();
        foreach (int t in threads)
        {
            string prefix = Path.Combine(Path.GetTempPath(), $"fovea-ort-profile-{Environment.ProcessId}-t{t}");
            var times = new Dictionary<string, List<double>>();
            var runs = new List<double>();
            var far = new List<bool>();
            using (var options = new SessionOptions { IntraOpNumThreads = t, InterOpNumThreads = 1, EnableProfiling = true, ProfileOutputPathPrefix = prefix })
            {
                using var session = new InferenceSession(bytes, options);
                var feed = new[] { NamedOnnxValue.CreateFromTensor(session.InputMetadata.Keys.Single(), new DenseTensor<float>(input.ToArray<float>(), input.Shape)) };
                bool farNow = false;
                for (int i = 0; i < WarmForwards + forwards; i++)
                {
                    if (t > 1 && i >= WarmForwards && (i - WarmForwards) % PlacementEvery == 0)
                        farNow = HelperRoundTripNs() > FarRoundTripNs;
                    if (i >= WarmForwards) far.Add(farNow);
                    session.Run(feed).Dispose();
                }
                string file = session.EndProfiling();
                using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(file));
                File.Delete(file);
                var events = doc.RootElement.EnumerateArray().ToList();
                int seen = 0;
                foreach (var e in events)
                {
                    string cat = e.GetProperty("cat").GetString()!, name = e.GetProperty("name").GetString()!;
                    double ms = e.GetProperty("dur").GetDouble() / 1e3;
                    if (cat == "Session" && name == "model_run")
                    {
                        if (seen++ >= WarmForwards) runs.Add(ms);
                        continue;
                    }
                    if (cat != "Node" || !name.EndsWith("_kernel_time", StringComparison.Ordinal) || seen < WarmForwards) continue;
                    string op = e.GetProperty("args").GetProperty("op_name").GetString()!;
                    string key = $"{name[..^"_kernel_time".Length]} {op}";
                    if (!times.TryGetValue(key, out var list))
                    {
                        times[key] = list = [];
                        if (!nodes.Contains(key)) nodes.Add(key);
                    }
                    list.Add(ms);
                }
            }
            perThreads.Add((t, times, runs, far));
        }
        Console.WriteLine($"# ONNX Runtime on the same file: each node's median ms over the last {forwards} of {WarmForwards + forwards} runs (its profiler on; the first {WarmForwards} warm up)");
        foreach (var n in nodes)
            Console.WriteLine($"ort {n}, " + string.Join(", ", perThreads.Select(p => p.Times.TryGetValue(n, out var l) ? Median([.. l]).ToString("0.000", inv) : "")));
        Console.WriteLine("ort sum of node medians, " + string.Join(", ", perThreads.Select(p => p.Times.Values.Sum(l => Median([.. l])).ToString("0.000", inv))));
        Console.WriteLine("ort run median, " + string.Join(", ", perThreads.Select(p => Median([.. p.Runs]).ToString("0.000", inv))));
        // The runs' medians by the placement of the two cores (measured with Fovea's helper, see HelperRoundTripNs).
        foreach (var p in perThreads)
        {
            int farCount = p.Far.Count(f => f);
            if (p.Runs.Count != p.Far.Count || farCount < PlacementMinForwards || p.Far.Count - farCount < PlacementMinForwards) continue;
            Console.WriteLine($"ort run median t{p.Threads}, near ({p.Far.Count - farCount}) / far ({farCount}), "
                + Median([.. p.Runs.Where((_, i) => !p.Far[i])]).ToString("0.000", inv) + ", " + Median([.. p.Runs.Where((_, i) => p.Far[i])]).ToString("0.000", inv));
        }
    }

    /// <summary>A call's kind: its method and, for a convolution, its kernel size, stride, channels and input size.</summary>
    private static string Kind(string name) => name[(name.IndexOf(' ', StringComparison.Ordinal) + 1)..];

    /// <summary>The ONNX file both libraries run (the zoo ResNet-18 exported, or the pretrained file); null for the zoo module itself.</summary>
    private static byte[]? ModelFile(string source) => source switch
    {
        "zoo" => null,
        "exported" => OnnxModel.ExportToBytes(ModelZoo.Create("resnet18", 3, 1000, 224, new Generator(0)), [1, 3, 224, 224]),
        "pretrained" => File.ReadAllBytes(PretrainedPath),
        _ => throw new ArgumentException($"--profile-infer takes exported, pretrained or zoo, not {source}"),
    };

    private static string PretrainedPath => PretrainedModels.Find(null, PretrainedModels.ResNet18RelativePath);

    /// <summary>Forwards between two measurements of the cores' placement (<see cref="HelperRoundTripNs"/>, about 1 ms each).</summary>
    private const int PlacementEvery = 20;

    /// <summary>
    /// Round trip over which the two cores count as far apart. On the 2-vCPU virtual machines Fovea is measured on it
    /// reads 90–230 ns while the host keeps the two virtual CPUs near each other and 400–600 ns while it puts them on
    /// different core complexes, for spells of seconds to minutes; see docs/performance-log.md.
    /// </summary>
    private const double FarRoundTripNs = 300;

    /// <summary>Fewest forwards of each placement for the near and far columns.</summary>
    private const int PlacementMinForwards = 20;

    /// <summary>Set by the two sides of <see cref="HelperRoundTripNs"/> in turn.</summary>
    private static volatile int s_pingPong;

    /// <summary>
    /// The mean round trip of a cache line between the calling thread and the kernels' helper thread, over 2,000 trips
    /// in one parallel region (the thread that takes chunk 1 answers the one that takes chunk 0); NaN where the helper
    /// did not join within 5 ms.
    /// </summary>
    internal static double HelperRoundTripNs()
    {
        const int trips = 2000;
        s_pingPong = 0;
        double result = double.NaN;
        Fovea.Kernels.ParallelFor.ForChunks(2, chunk =>
        {
            long start = Stopwatch.GetTimestamp();
            bool Late(double ms) => Stopwatch.GetElapsedTime(start).TotalMilliseconds > ms;
            if (chunk == 0)
            {
                while (s_pingPong != 1)
                    if (Late(5)) return;
                long t0 = Stopwatch.GetTimestamp();
                for (int i = 0; i < trips; i++)
                {
                    s_pingPong = 2 * i + 2;
                    while (s_pingPong != 2 * i + 3)
                    {
                        if (!Late(50)) continue;
                        s_pingPong = -1;
                        return;
                    }
                }
                result = Stopwatch.GetElapsedTime(t0).TotalMilliseconds * 1e6 / trips;
            }
            else
            {
                // The caller itself, having given up on the helper, finds the flag not at 0 and leaves.
                if (s_pingPong != 0) return;
                s_pingPong = 1;
                for (int i = 0; i < trips; i++)
                {
                    while (s_pingPong != 2 * i + 2)
                        if (s_pingPong == -1 || Late(50)) return;
                    s_pingPong = 2 * i + 3;
                }
            }
        });
        return result;
    }

    private static double Median(double[] v)
    {
        var s = (double[])v.Clone();
        Array.Sort(s);
        return s.Length == 0 ? 0 : s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
    }
}

/// <summary>Forwards every <see cref="IBackend"/> call to <see cref="Inner"/>, keeping each call's wall time in order.</summary>
public class CallTimingBackend : DispatchProxy
{
    internal IBackend Inner = null!;
    internal readonly List<double> Times = [];
    internal readonly List<string> Names = [];
    internal bool Naming;

    /// <inheritdoc/>
    protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
    {
        long t0 = Stopwatch.GetTimestamp();
        object? result;
        try
        {
            result = targetMethod!.Invoke(Inner, args);
        }
        catch (TargetInvocationException e) when (e.InnerException is not null)
        {
            throw e.InnerException;
        }
        Times.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
        if (Naming) Names.Add($"{Names.Count} {TimingBackend.Describe(targetMethod!, args!)}");
        return result;
    }
}
