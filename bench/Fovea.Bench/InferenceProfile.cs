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
        var perThreads = new List<(int Threads, List<double[]> Calls, double[] Forward)>();
        List<string> names = [];
        using var noGrad = GradMode.Disable();
        foreach (int t in threads)
        {
            Threading.MaxDegreeOfParallelism = t;
            var calls = new List<List<double>>();
            var forward = new double[forwards];
            using (Backend.Use(proxy))
            {
                for (int i = 0; i < WarmForwards + forwards; i++)
                {
                    timing.Times.Clear();
                    timing.Naming = names.Count == 0 && i == WarmForwards;
                    long t0 = Stopwatch.GetTimestamp();
                    var y = model.Forward(x);
                    double ms = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
                    StoragePool.Recycle(y);
                    if (i < WarmForwards) continue;
                    forward[i - WarmForwards] = ms;
                    if (names.Count == 0) names.AddRange(timing.Names);
                    for (int c = 0; c < timing.Times.Count; c++)
                    {
                        if (calls.Count <= c) calls.Add([]);
                        calls[c].Add(timing.Times[c]);
                    }
                }
            }
            perThreads.Add((t, [.. calls.Select(c => c.ToArray())], forward));
        }

        var inv = CultureInfo.InvariantCulture;
        Console.WriteLine($"# ResNet-18 224x224 forward ({source}), batch {batch}: each backend call's median ms over {forwards} forwards after {WarmForwards}");
        Console.WriteLine("call, " + string.Join(", ", perThreads.Select(p => $"t{p.Threads}")));
        for (int c = 0; c < names.Count; c++)
            Console.WriteLine($"{names[c]}, " + string.Join(", ", perThreads.Select(p => c < p.Calls.Count ? Median(p.Calls[c]).ToString("0.000", inv) : "")));
        var kinds = names.Select(Kind).Distinct().ToList();
        foreach (var kind in kinds)
            Console.WriteLine($"kind {kind}, " + string.Join(", ", perThreads.Select(p =>
                Enumerable.Range(0, Math.Min(names.Count, p.Calls.Count)).Where(c => Kind(names[c]) == kind).Sum(c => Median(p.Calls[c])).ToString("0.000", inv))));
        if (file is not null) AnchorProfile(file, batch, threads, forwards);
        Console.WriteLine("sum of call medians, " + string.Join(", ", perThreads.Select(p => p.Calls.Sum(Median).ToString("0.000", inv))));
        Console.WriteLine("forward median, " + string.Join(", ", perThreads.Select(p => Median(p.Forward).ToString("0.000", inv))));
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
        var perThreads = new List<(int Threads, Dictionary<string, List<double>> Times, List<double> Runs)>();
        foreach (int t in threads)
        {
            string prefix = Path.Combine(Path.GetTempPath(), $"fovea-ort-profile-{Environment.ProcessId}-t{t}");
            var times = new Dictionary<string, List<double>>();
            var runs = new List<double>();
            using (var options = new SessionOptions { IntraOpNumThreads = t, InterOpNumThreads = 1, EnableProfiling = true, ProfileOutputPathPrefix = prefix })
            {
                using var session = new InferenceSession(bytes, options);
                var feed = new[] { NamedOnnxValue.CreateFromTensor(session.InputMetadata.Keys.Single(), new DenseTensor<float>(input.ToArray<float>(), input.Shape)) };
                for (int i = 0; i < WarmForwards + forwards; i++)
                    session.Run(feed).Dispose();
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
            perThreads.Add((t, times, runs));
        }
        Console.WriteLine($"# ONNX Runtime on the same file: each node's median ms over the last {forwards} of {WarmForwards + forwards} runs (its profiler on; the first {WarmForwards} warm up)");
        foreach (var n in nodes)
            Console.WriteLine($"ort {n}, " + string.Join(", ", perThreads.Select(p => p.Times.TryGetValue(n, out var l) ? Median([.. l]).ToString("0.000", inv) : "")));
        Console.WriteLine("ort sum of node medians, " + string.Join(", ", perThreads.Select(p => p.Times.Values.Sum(l => Median([.. l])).ToString("0.000", inv))));
        Console.WriteLine("ort run median, " + string.Join(", ", perThreads.Select(p => Median([.. p.Runs]).ToString("0.000", inv))));
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
