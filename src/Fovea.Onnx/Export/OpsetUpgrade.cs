using Fovea.Onnx.Protobuf;

namespace Fovea.Onnx.Export;

/// <summary>
/// Writes a node of an imported graph at a later opset (13 or more) than the one it was read at (7 or more), for the
/// operators whose meaning did not change in between, only the way it is written: the CNN operators of exporters
/// such as CNTK at opset 8 (the pretrained ResNet-18 of <see cref="PretrainedModels"/> and its preprocessing).
/// BatchNormalization loses the <c>spatial</c> attribute (removed in opset 9; 1, the only value the importer takes,
/// is what later opsets always do) and Split's <c>split</c> attribute becomes its second input (opset 13). Any other
/// operator is not upgraded, so the exporter refuses the graph rather than write a node whose meaning may differ.
/// </summary>
internal static class OpsetUpgrade
{
    /// <summary>Operators written unchanged: their opset-7 attributes and inputs mean the same at 13–21.</summary>
    private static readonly HashSet<string> Unchanged = new(StringComparer.Ordinal)
    {
        "Conv", "Relu", "Add", "Sub", "Mul", "Div", "Sum", "Concat", "MaxPool", "AveragePool", "GlobalAveragePool",
        "GlobalMaxPool", "Flatten", "Gemm", "Identity", "Sigmoid", "Tanh",
    };

    /// <summary>Whether <paramref name="node"/> can be written at a later opset.</summary>
    public static bool Handles(NodeProto node) =>
        node.Domain is "" or "ai.onnx" &&
        (Unchanged.Contains(node.OpType) || node.OpType is "BatchNormalization" or "Split");

    /// <summary>
    /// <paramref name="node"/> as written at the writer's opset; constants it needs (Split's sizes) are added to the
    /// graph and mapped to themselves in <paramref name="names"/> so that the copy's renaming keeps them.
    /// </summary>
    public static NodeProto Upgrade(NodeProto node, OnnxGraphWriter writer, string hint, Dictionary<string, string> names)
    {
        switch (node.OpType)
        {
            case "BatchNormalization":
            {
                var copy = node.Clone();
                var spatial = copy.Attribute.FirstOrDefault(a => a.Name == "spatial");
                if (spatial is not null) copy.Attribute.Remove(spatial);
                return copy;
            }
            case "Split":
            {
                var copy = node.Clone();
                var split = copy.Attribute.FirstOrDefault(a => a.Name == "split");
                if (split is null) return copy;
                copy.Attribute.Remove(split);
                string sizes = writer.Int64Constant(hint + ".split", [.. split.Ints]);
                names[sizes] = sizes;
                copy.Input.Add(sizes);
                return copy;
            }
            default:
                return node;
        }
    }
}
