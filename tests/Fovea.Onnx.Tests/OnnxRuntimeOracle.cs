using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Fovea.Onnx.Tests;

/// <summary>Runs a model in ONNX Runtime (CPU provider) on float inputs: the reference every import test compares with.</summary>
internal static class OnnxRuntimeOracle
{
    /// <summary>The first output's values and shape for the given named inputs.</summary>
    public static (float[] Values, int[] Shape) Run(byte[] model, params (string Name, float[] Values, int[] Shape)[] inputs)
    {
        using var options = new SessionOptions { IntraOpNumThreads = 1, InterOpNumThreads = 1 };
        using var session = new InferenceSession(model, options);
        var feeds = inputs.Select(i => NamedOnnxValue.CreateFromTensor(i.Name, new DenseTensor<float>(i.Values, i.Shape))).ToList();
        using var results = session.Run(feeds);
        var output = results.First().AsTensor<float>();
        return (output.ToArray(), output.Dimensions.ToArray());
    }

    /// <summary>Runs a model stored in a file.</summary>
    public static (float[] Values, int[] Shape) Run(string modelPath, params (string Name, float[] Values, int[] Shape)[] inputs) =>
        Run(File.ReadAllBytes(modelPath), inputs);
}
