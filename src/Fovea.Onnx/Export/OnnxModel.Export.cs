using System.Reflection;
using Fovea.IO;
using Fovea.NN;
using Fovea.Onnx.Export;
using Fovea.Onnx.Protobuf;
using Google.Protobuf;

namespace Fovea.Onnx;

public static partial class OnnxModel
{
    /// <summary>The opset <see cref="Export(Module{Tensor, Tensor}, int[], string, int, IReadOnlyDictionary{string, string})"/> writes unless told otherwise.</summary>
    public const int DefaultExportOpset = 17;

    /// <summary>The oldest opset the exporter writes (Softmax's axis, Split/Squeeze/Unsqueeze/Pad with input forms).</summary>
    public const int MinExportOpset = 13;

    /// <summary>The newest opset the exporter writes.</summary>
    public const int MaxExportOpset = 21;

    /// <summary>
    /// Writes <paramref name="module"/> to <paramref name="path"/> as an ONNX model (atomically: a reader never sees
    /// half a file) for inputs shaped like <paramref name="inputShape"/> (e.g. <c>[1, 3, 224, 224]</c>); the batch
    /// dim is exported as the symbolic "N", so any batch size runs. The graph's input is <c>input</c> and its output
    /// <c>output</c>; parameters and batch-norm statistics are initializers named as in the state dict
    /// (<c>layer1.0.conv1.weight</c>). The graph is the module in evaluation mode (dropout off, running
    /// statistics), whatever its current mode, which is left as it was.
    /// </summary>
    /// <param name="module">A zoo model, a <see cref="Sequential"/> of Fovea layers, an imported <see cref="OnnxModule"/> (its graph at the same opset, with its current weights), or any tree of these.</param>
    /// <param name="inputShape">The input's shape, batch first; each dim positive.</param>
    /// <param name="path">The .onnx file to write.</param>
    /// <param name="opset">The ONNX opset, <see cref="MinExportOpset"/> to <see cref="MaxExportOpset"/>.</param>
    /// <param name="metadata">Key/value pairs for the model's <c>metadata_props</c> (e.g. <c>fovea.class_names</c>), or null.</param>
    /// <exception cref="ArgumentOutOfRangeException">The opset is outside the supported range.</exception>
    /// <exception cref="NotSupportedException">A module has no ONNX form; the message names its path and type.</exception>
    public static void Export(Module<Tensor, Tensor> module, int[] inputShape, string path, int opset = DefaultExportOpset,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var model = ExportModel(module, inputShape, opset);
        foreach (var (key, value) in metadata ?? new Dictionary<string, string>())
            model.MetadataProps.Add(new StringStringEntryProto { Key = key, Value = value });
        AtomicFile.Write(path, stream => model.WriteTo(stream));
    }

    /// <summary>As <see cref="Export(Module{Tensor, Tensor}, int[], string, int, IReadOnlyDictionary{string, string})"/>, returning the serialized model (for a session in memory).</summary>
    public static byte[] ExportToBytes(Module<Tensor, Tensor> module, int[] inputShape, int opset = DefaultExportOpset) =>
        ExportModel(module, inputShape, opset).ToByteArray();

    /// <summary>Builds the model proto: walks the module in evaluation mode, tracing one sample alongside.</summary>
    internal static ModelProto ExportModel(Module<Tensor, Tensor> module, int[] inputShape, int opset)
    {
        ArgumentNullException.ThrowIfNull(module);
        ArgumentNullException.ThrowIfNull(inputShape);
        if (opset < MinExportOpset || opset > MaxExportOpset)
            throw new ArgumentOutOfRangeException(nameof(opset), opset,
                $"ONNX export writes opsets {MinExportOpset} to {MaxExportOpset}, not {opset}");
        if (inputShape.Length < 2 || inputShape.Any(d => d < 1))
            throw new ArgumentException($"ONNX export: the input shape must be [N, ...] with every dim positive, got {ShapeChecks.Format(inputShape)}", nameof(inputShape));
        foreach (var (name, tensor) in module.NamedParameters().Concat(module.NamedBuffers()))
            if (tensor.DType != DType.Float32 && !name.EndsWith("num_batches_tracked", StringComparison.Ordinal))
                throw new ArgumentException($"ONNX export writes float32 models; '{name}' is {tensor.DType.Name()} (convert with module.To(DType.Float32))", nameof(module));

        var modes = module.NamedModules().Select(m => (m.Module, m.Module.Training)).ToList();
        try
        {
            module.Eval();
            using var _ = GradMode.Disable();
            var writer = new OnnxGraphWriter(opset);
            var sample = Tensor.Uniform([1, .. inputShape[1..]], -1, 1, new Generator(0));
            var input = new TracedValue(writer.Fresh("input"), sample);
            var traced = new ModuleExporter(writer).Emit(module, "", input);
            CheckTrace(module, sample, traced.Sample);

            string output = writer.Add("Identity", "output", [traced.Name]);
            var graph = writer.Graph;
            graph.Name = module.Describe();
            graph.Input.Add(OnnxGraphWriter.BatchedFloat(input.Name, inputShape));
            graph.Output.Add(OnnxGraphWriter.BatchedFloat(output, traced.Shape));
            var model = new ModelProto
            {
                IrVersion = IrVersionFor(opset),
                ProducerName = "Fovea",
                ProducerVersion = typeof(OnnxModel).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "",
                Graph = graph,
            };
            model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = opset });
            return model;
        }
        finally
        {
            // Parents first, so a child's own mode wins over its parent's recursive Train.
            foreach (var (m, training) in modes) m.Train(training);
        }
    }

    /// <summary>
    /// The graph was written from the module's layers; its sample output must be the module's own forward on the
    /// same sample, else some container computes something other than its layers chained (a Sequential subclass
    /// with its own Forward) and the file would be silently wrong.
    /// </summary>
    private static void CheckTrace(Module<Tensor, Tensor> module, Tensor sample, Tensor traced)
    {
        var expected = module.Forward(sample);
        double scale = Math.Max(1e-6, expected.Abs().Max().ToScalar());
        if (!expected.Shape.SequenceEqual(traced.Shape) || (expected - traced).Abs().Max().ToScalar() > 1e-5 * scale)
            throw new NotSupportedException($"ONNX export: {module.Describe()}'s forward is not the composition of its layers " +
                "(a container with its own Forward?), so it cannot be written layer by layer");
    }

    /// <summary>The IR version that goes with an opset (onnx/onnx docs/Versioning.md: IR 7 with opset 13–14, 8 with 15–18, 9 with 19–20, 10 with 21).</summary>
    private static long IrVersionFor(int opset) => opset switch
    {
        <= 14 => 7,
        <= 18 => 8,
        <= 20 => 9,
        _ => 10,
    };
}
