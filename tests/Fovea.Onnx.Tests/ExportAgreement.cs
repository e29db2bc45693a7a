using Fovea.NN;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Fovea.Onnx.Tests;

/// <summary>
/// Runs an exported model in ONNX Runtime (CPU provider, one session per file, so the batch sizes go through the
/// same file) and compares with the Fovea module's evaluation-mode output on the same input.
/// </summary>
internal sealed class ExportedSession : IDisposable
{
    /// <summary>Agreement asked of every export: max |ort − fovea| ≤ 1e-4 · max |fovea| (relative to the output's scale).</summary>
    public const double Tolerance = 1e-4;

    private readonly SessionOptions _options = new() { IntraOpNumThreads = 1, InterOpNumThreads = 1 };
    private readonly InferenceSession _session;

    public ExportedSession(byte[] model) => _session = new InferenceSession(model, _options);

    /// <summary>The graph's input and output names.</summary>
    public (string Input, string Output) Names => (_session.InputMetadata.Keys.Single(), _session.OutputMetadata.Keys.Single());

    /// <summary>The first output for one float input.</summary>
    public Tensor Run(Tensor input)
    {
        var feed = NamedOnnxValue.CreateFromTensor(Names.Input, new DenseTensor<float>(input.ToArray<float>(), input.Shape));
        using var results = _session.Run([feed]);
        var output = results.First().AsTensor<float>();
        return Tensor.FromArray(output.ToArray(), output.Dimensions.ToArray());
    }

    /// <summary>
    /// The largest |ort − fovea| relative to max |fovea| over batches of <paramref name="batches"/> random inputs
    /// shaped [b, …<paramref name="sampleShape"/>]; asserts the shapes match.
    /// </summary>
    public double WorstRelativeError(Module<Tensor, Tensor> module, int[] sampleShape, params int[] batches)
    {
        module.Eval();
        double worst = 0;
        foreach (int b in batches)
        {
            var x = Tensor.Uniform([b, .. sampleShape], -1, 1, new Generator((ulong)(17 + b)));
            Tensor expected;
            using (GradMode.Disable()) expected = module.Forward(x);
            var actual = Run(x);
            Assert.Equal(expected.Shape, actual.Shape);
            double scale = Math.Max(expected.Abs().Max().ToScalar(), 1e-12);
            worst = Math.Max(worst, (actual - expected).Abs().Max().ToScalar() / scale);
        }
        return worst;
    }

    public void Dispose()
    {
        _session.Dispose();
        _options.Dispose();
    }

    /// <summary>
    /// Gives every batch norm of <paramref name="module"/> non-trivial statistics and affine parameters (fresh layers
    /// have mean 0, variance 1, γ 1, β 0, which would hide a swapped or missing input).
    /// </summary>
    public static void RandomizeNormalization(Module module, ulong seed = 5)
    {
        var g = new Generator(seed);
        var state = module.StateDict();
        var changed = new StateDict();
        foreach (var (name, tensor) in state)
        {
            if (name.EndsWith("running_mean", StringComparison.Ordinal)) changed.Add(name, Tensor.Uniform(tensor.Shape, -0.3, 0.3, g));
            else if (name.EndsWith("running_var", StringComparison.Ordinal)) changed.Add(name, Tensor.Uniform(tensor.Shape, 0.5, 1.5, g));
            else if (IsNormParameter(module, name)) changed.Add(name, Tensor.Uniform(tensor.Shape, name.EndsWith("weight", StringComparison.Ordinal) ? 0.5 : -0.3, name.EndsWith("weight", StringComparison.Ordinal) ? 1.5 : 0.3, g));
            else changed.Add(name, tensor);
        }
        module.LoadStateDict(changed);
    }

    private static bool IsNormParameter(Module module, string name)
    {
        int dot = name.LastIndexOf('.');
        string owner = dot < 0 ? "" : name[..dot];
        return module.NamedModules().Any(m => m.Name == owner && m.Module is BatchNorm or LayerNorm);
    }
}
