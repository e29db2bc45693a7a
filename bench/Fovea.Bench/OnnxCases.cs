using Fovea.NN;
using Fovea.Onnx;
using Fovea.Vision.Models;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Fovea.Bench;

/// <summary>
/// ResNet-18 inference at 224x224 on one ONNX file, Fovea against ONNX Runtime (CPU provider): the zoo's
/// ResNet-18 (1000 classes) is exported once with <see cref="OnnxModel.ExportToBytes"/> (batch dim symbolic);
/// Fovea runs the model imported from those bytes with <see cref="OnnxModel.Import(byte[], string)"/>, ONNX Runtime
/// a session on the same bytes with <c>IntraOpNumThreads</c> = Fovea's thread count and <c>InterOpNumThreads</c> 1.
/// The pretrained ImageNet ResNet-18 of <see cref="PretrainedModels"/> (CNTK's export at opset 8, batch fixed at 1,
/// the 512 pooled features) runs the same way at batch 1. A last pair of cases runs Fovea's own module (the zoo model the file was written from) against the same
/// session, which separates the cost of running an imported graph from that of the kernels.
/// GFLOP/s counts 2 flops per multiply-add: 1.814 G multiply-adds per 224x224 image (the convolutions and the
/// classifier of ResNet-18, torchvision's figure).
/// <para>
/// Two thread pools in one process disturb each other: ONNX Runtime's workers spin for a while after each run, and
/// on a two-core machine they take the core Fovea's second thread needs (../shared/BENCHMARKS.md: "claim the
/// standalone figure where the two differ"). So each case is also measured in separate processes, one side each
/// (<c>--inference-probe</c>), started in turn <see cref="StandaloneRounds"/> times: the <c>standalone_</c> columns
/// give each side's best median and their ratio.
/// </para>
/// </summary>
public sealed class ResNet18OnnxCase(int batch, ResNet18OnnxCase.Source source) : BenchCase
{
    /// <summary>Which file and which Fovea module.</summary>
    public enum Source
    {
        /// <summary>The exported zoo ResNet-18, imported into Fovea from the file.</summary>
        Exported,

        /// <summary>The exported zoo ResNet-18 file in ONNX Runtime, the zoo module itself in Fovea.</summary>
        Native,

        /// <summary>The pretrained ResNet18.onnx of the NuGet package, imported into Fovea.</summary>
        Pretrained,
    }

    /// <summary>Multiply-adds of one ResNet-18 forward at 224x224.</summary>
    private const double MultiplyAdds = 1.814e9;

    private static byte[]? s_model;
    private static Module<Tensor, Tensor>? s_native;
    private Module<Tensor, Tensor>? _fovea;
    private byte[]? _file;
    private SessionOptions? _options;
    private InferenceSession? _session;
    private Tensor _input = null!;
    private NamedOnnxValue[] _feed = [];

    /// <summary>Batch 1 and batch 16.</summary>
    public static IEnumerable<BenchCase> All() =>
        [new ResNet18OnnxCase(1, Source.Exported), new ResNet18OnnxCase(16, Source.Exported), new ResNet18OnnxCase(1, Source.Pretrained),
         new ResNet18OnnxCase(1, Source.Native), new ResNet18OnnxCase(16, Source.Native)];

    /// <inheritdoc/>
    public override string Name => source switch
    {
        Source.Pretrained => $"resnet18_onnx_pretrained_224_b{batch}",
        Source.Native => $"resnet18_onnx_224_b{batch}_native",
        _ => $"resnet18_onnx_224_b{batch}",
    };

    /// <summary>Child processes per side for the standalone columns, started in turn (Fovea, ONNX Runtime, Fovea, ...).</summary>
    private const int StandaloneRounds = 2;

    /// <summary>Seconds of timed runs in each child.</summary>
    private const double StandaloneSeconds = 2.0;

    /// <inheritdoc/>
    public override string[] ExtraColumns => ["fovea_gflops", "ort_gflops", "standalone_fovea_ms", "standalone_ort_ms", "standalone_ratio"];

    /// <inheritdoc/>
    public override void Setup(int threads)
    {
        SetupFovea();
        SetupAnchor(threads);
    }

    /// <summary>The ONNX file's bytes, read or exported once per case (both sides, every thread count, run from them).</summary>
    private byte[] ModelBytes()
    {
        if (_file is not null) return _file;
        if (s_model is null)
        {
            s_native = ModelZoo.Create("resnet18", 3, 1000, 224, new Generator(0));
            s_model = OnnxModel.ExportToBytes(s_native, [1, 3, 224, 224]);
        }
        return _file = source == Source.Pretrained ? File.ReadAllBytes(PretrainedPath) : s_model;
    }

    private static string PretrainedPath => PretrainedModels.Find(null, PretrainedModels.ResNet18RelativePath);

    /// <summary>The batch both sides run on (the same values each time).</summary>
    private Tensor Input() => Tensor.Uniform([batch, 3, 224, 224], -1, 1, new Generator(1));

    private void SetupFovea()
    {
        var bytes = ModelBytes(); // also builds the zoo module the file was exported from
        _fovea ??= source switch
        {
            Source.Pretrained => OnnxModel.Import(bytes, PretrainedPath),
            Source.Exported => OnnxModel.Import(bytes, "resnet18.onnx"),
            _ => s_native,
        };
        _fovea!.Eval();
        _input = Input();
    }

    private void SetupAnchor(int threads)
    {
        _session?.Dispose();
        _options?.Dispose();
        _options = new SessionOptions { IntraOpNumThreads = threads, InterOpNumThreads = 1 };
        _session = new InferenceSession(ModelBytes(), _options);
        var input = Input();
        _feed = [NamedOnnxValue.CreateFromTensor(_session.InputMetadata.Keys.Single(), new DenseTensor<float>(input.ToArray<float>(), input.Shape))];
    }

    /// <inheritdoc/>
    public override void RunFovea()
    {
        using var _ = GradMode.Disable();
        _fovea!.Forward(_input);
    }

    /// <inheritdoc/>
    public override void RunAnchor()
    {
        using var results = _session!.Run(_feed);
    }

    /// <inheritdoc/>
    public override string[] Extra(int threads, double foveaMs, double anchorMs)
    {
        double flops = 2.0 * MultiplyAdds * batch;
        double alone = double.PositiveInfinity, ortAlone = double.PositiveInfinity;
        for (int round = 0; round < StandaloneRounds; round++)
        {
            alone = Math.Min(alone, ProbeInChild("fovea", threads));
            ortAlone = Math.Min(ortAlone, ProbeInChild("ort", threads));
        }
        bool measured = double.IsFinite(alone) && double.IsFinite(ortAlone);
        return [Harness.F(flops / (foveaMs * 1e6), "0.0"), Harness.F(flops / (anchorMs * 1e6), "0.0"),
            double.IsFinite(alone) ? Harness.F(alone) : "n/a", double.IsFinite(ortAlone) ? Harness.F(ortAlone) : "n/a",
            measured ? Harness.F(alone / ortAlone, "0.00") : "n/a"];
    }

    /// <summary>One side's median in a process of its own (<c>--inference-probe</c>), in ms; infinity when the child failed.</summary>
    private double ProbeInChild(string side, int threads)
    {
        string? ms = Harness.RunChild("median_ms", "--inference-probe", $"{source}:{batch}:{side}",
            "--threads", threads.ToString(System.Globalization.CultureInfo.InvariantCulture));
        return ms is not null && double.TryParse(ms, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double v)
            ? v : double.PositiveInfinity;
    }

    /// <summary>
    /// The child's side of the standalone columns: <paramref name="spec"/> is <c>source:batch:side</c> (side fovea or
    /// ort); builds that side only, measures it alone (<see cref="Harness.MeasureAlone"/>) and prints its median.
    /// </summary>
    public static void InferenceProbe(string spec, int threads)
    {
        var parts = spec.Split(':');
        if (parts.Length != 3 || !Enum.TryParse<Source>(parts[0], out var source) || !int.TryParse(parts[1], out int batch) || parts[2] is not ("fovea" or "ort"))
            throw new ArgumentException($"--inference-probe takes source:batch:fovea|ort, not {spec}");
        Fovea.Threading.MaxDegreeOfParallelism = threads;
        using var probe = new ResNet18OnnxCase(batch, source);
        Action run;
        if (parts[2] == "fovea")
        {
            probe.SetupFovea();
            run = probe.RunFovea;
        }
        else
        {
            probe.SetupAnchor(threads);
            run = probe.RunAnchor;
        }
        Console.WriteLine($"median_ms {Harness.F(Harness.MeasureAlone(run, StandaloneSeconds, minRuns: 7))}");
    }

    /// <inheritdoc/>
    public override void Dispose()
    {
        _session?.Dispose();
        _options?.Dispose();
        base.Dispose();
    }
}
