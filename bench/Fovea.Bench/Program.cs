using System.Globalization;
using Fovea.Bench;

// Usage: dotnet run --project bench/Fovea.Bench -c Release -- [--filter a,b] [--threads 1,2] [--seconds 2] [--min-rounds 7]
//        dotnet run --project bench/Fovea.Bench -c Release -- --profile-train [resnet18|lenet5|mlp] [--threads 1,2] [--steps 5]
//        (the ResNet-18 training case starts itself with --memory-probe fovea|anchor --threads N: one side's peak working set)
//        dotnet run --project bench/Fovea.Bench -c Release -- --profile-infer [exported|pretrained|zoo] [--batch 1] [--threads 1,2] [--steps 200]
//        dotnet run --project bench/Fovea.Bench -c Release -- --memory-bandwidth [--threads 1,2]
//        (internal) Fovea.Bench --memory-probe fovea|anchor --threads N: the training case's child, one side's peak working set
//        (internal) Fovea.Bench --inference-probe source:batch:fovea|ort --threads N: a ResNet-18 ONNX case's child, one side alone
var filters = new List<string>();
int[] threads = [1, 2];
double seconds = 2.0;
int minRounds = 7;
int profileSteps = 0;
string profileNetwork = "resnet18";
string? memoryProbe = null;
string? inferenceProbe = null;
string? profileInfer = null;
bool memoryBandwidth = false;
int profileBatch = 1;
try
{
    for (int i = 0; i < args.Length; i++)
    {
        string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
        switch (args[i])
        {
            case "--filter": filters.AddRange(Next().Split(',', StringSplitOptions.RemoveEmptyEntries)); break;
            case "--threads":
                threads = [.. Next().Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).Distinct()];
                if (threads.Any(t => t < 1)) throw new ArgumentException("--threads takes thread counts of at least 1");
                break;
            case "--seconds": seconds = double.Parse(Next(), CultureInfo.InvariantCulture); break;
            case "--min-rounds": minRounds = int.Parse(Next(), CultureInfo.InvariantCulture); break;
            case "--profile-train":
                if (profileSteps == 0) profileSteps = 5; // --steps may come first
                if (i + 1 < args.Length && !args[i + 1].StartsWith("--", StringComparison.Ordinal)) profileNetwork = Next();
                break;
            case "--profile-infer":
                profileInfer = i + 1 < args.Length && !args[i + 1].StartsWith("--", StringComparison.Ordinal) ? Next() : "exported";
                if (profileInfer is not ("exported" or "pretrained" or "zoo"))
                    throw new ArgumentException($"--profile-infer takes exported, pretrained or zoo, not {profileInfer}");
                break;
            case "--batch": profileBatch = int.Parse(Next(), CultureInfo.InvariantCulture); break;
            case "--steps": profileSteps = int.Parse(Next(), CultureInfo.InvariantCulture); break;
            case "--memory-probe": memoryProbe = Next(); break;
            case "--memory-bandwidth": memoryBandwidth = true; break;
            case "--inference-probe": inferenceProbe = Next(); break;
            case "--help" or "-h":
                Console.WriteLine("Fovea.Bench [--filter name,...] [--threads 1,2] [--seconds per-case] [--min-rounds n]");
                Console.WriteLine("Fovea.Bench --profile-train [resnet18|lenet5|mlp] [--threads 1,2] [--steps 5]   (a training step per backend call kind)");
                Console.WriteLine("Fovea.Bench --profile-infer [exported|pretrained|zoo] [--batch 1] [--threads 1,2] [--steps 200]   (a ResNet-18 forward, each backend call's median)");
                Console.WriteLine("Fovea.Bench --memory-bandwidth [--threads 1,2]   (GB/s of a copy and an add over 64 MiB arrays: the roofline's memory side)");
                return;
            default: throw new ArgumentException($"unknown argument {args[i]}");
        }
    }
}
catch (Exception e) when (e is ArgumentException or FormatException or OverflowException)
{
    // A command-line mistake: one line and exit code 2, as the fovea command does.
    Console.Error.WriteLine($"Fovea.Bench: {e.Message} (see --help)");
    Environment.Exit(2);
}

if (memoryBandwidth)
{
    MemoryBandwidth.Run(threads);
    return;
}

if (profileInfer is not null)
{
    InferenceProfile.Run(profileInfer, profileBatch, threads, profileSteps > 0 ? profileSteps : 200);
    return;
}

if (profileSteps > 0)
{
    TrainingStepProfile.Run(profileNetwork, threads, profileSteps);
    return;
}

// Must run before the first TorchSharp call loads the native library.
TorchAnchor.PatchForDebian12();

if (memoryProbe is not null)
{
    // A child started by the ResNet-18 training case: one side's peak working set, in a process of its own.
    ResNet18TrainingStepCase.MemoryProbe(memoryProbe, threads[0]);
    return;
}

if (inferenceProbe is not null)
{
    // A child started by a ResNet-18 ONNX case: one side's median, in a process without the other library.
    ResNet18OnnxCase.InferenceProbe(inferenceProbe, threads[0]);
    return;
}

var options = new BenchOptions([.. filters], threads, seconds, minRounds);
Console.WriteLine($"# {Environment.ProcessorCount} cores, {FmaPeak.Width}, kernel {Fovea.Kernels.Gemm.KernelName}");
foreach (int t in threads)
    Console.WriteLine($"fma_peak_t{t}, {Harness.F(FmaPeak.GFlops(t), "0.0")} GFLOP/s");
Harness.RunAll(Registry.Providers, options);
foreach (int t in threads)
    Console.WriteLine($"fma_peak_t{t}_final, {Harness.F(FmaPeak.GFlops(t), "0.0")} GFLOP/s");
