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

    /// <inheritdoc/>
    public override string[] ExtraColumns => ["fovea_gflops", "ort_gflops"];

    /// <inheritdoc/>
    public override void Setup(int threads)
    {
        if (s_model is null)
        {
            s_native = ModelZoo.Create("resnet18", 3, 1000, 224, new Generator(0));
            s_model = OnnxModel.ExportToBytes(s_native, [1, 3, 224, 224]);
        }
        byte[] file = s_model;
        if (source == Source.Pretrained)
        {
            string path = PretrainedModels.Find(null, PretrainedModels.ResNet18RelativePath);
            file = File.ReadAllBytes(path);
            _fovea ??= OnnxModel.Import(file, path);
        }
        else _fovea ??= source == Source.Exported ? OnnxModel.Import(s_model, "resnet18.onnx") : s_native;
        _fovea!.Eval();
        _session?.Dispose();
        _options?.Dispose();
        _options = new SessionOptions { IntraOpNumThreads = threads, InterOpNumThreads = 1 };
        _session = new InferenceSession(file, _options);
        _input = Tensor.Uniform([batch, 3, 224, 224], -1, 1, new Generator(1));
        _feed = [NamedOnnxValue.CreateFromTensor(_session.InputMetadata.Keys.Single(), new DenseTensor<float>(_input.ToArray<float>(), _input.Shape))];
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
        return [Harness.F(flops / (foveaMs * 1e6), "0.0"), Harness.F(flops / (anchorMs * 1e6), "0.0")];
    }

    /// <inheritdoc/>
    public override void Dispose()
    {
        _session?.Dispose();
        _options?.Dispose();
        base.Dispose();
    }
}
