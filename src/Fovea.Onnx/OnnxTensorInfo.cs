using Fovea.Onnx.Import;
using Fovea.Onnx.Protobuf;

namespace Fovea.Onnx;

/// <summary>A graph input of an ONNX model: its name and declared shape (null for a symbolic dim such as the batch).</summary>
/// <param name="Name">The input's name in the graph.</param>
/// <param name="Shape">The declared dims; null where the dim is symbolic or unknown; null as a whole when no shape is declared.</param>
public sealed record OnnxTensorInfo(string Name, IReadOnlyList<int?>? Shape)
{
    internal static OnnxTensorInfo From(ValueInfoProto info, string source)
    {
        var type = info.Type;
        if (type is not null && type.ValueCase != TypeProto.ValueOneofCase.TensorType && type.ValueCase != TypeProto.ValueOneofCase.None)
            throw new OnnxImportException($"{source}: input '{info.Name}' is a {type.ValueCase}, not a tensor");
        var tensor = type?.TensorType;
        if (tensor is not null && tensor.ElemType != 0 && !OnnxReader.IsFloating(tensor.ElemType))
            throw new OnnxImportException($"{source}: input '{info.Name}' has element type {OnnxReader.TypeName(tensor.ElemType)}; Fovea imports models with floating inputs");
        if (tensor?.Shape is null) return new OnnxTensorInfo(info.Name, null);
        var dims = tensor.Shape.Dim.Select(d => d.ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue && d.DimValue > 0 && d.DimValue <= int.MaxValue
            ? (int?)d.DimValue : null).ToArray();
        return new OnnxTensorInfo(info.Name, dims);
    }

    /// <summary>Checks a tensor against the declared rank and fixed dims other than the batch (dim 0, which may vary).</summary>
    internal void Check(Tensor x, string source)
    {
        if (!x.DType.IsFloating())
            throw new ArgumentException($"{source}: input '{Name}' must be a floating tensor, got {x.DType.Name()}");
        if (Shape is null) return;
        bool ok = x.Rank == Shape.Count;
        for (int d = 1; ok && d < Shape.Count; d++)
            ok = Shape[d] is not { } s || s == x.Size(d);
        if (!ok)
            throw new ArgumentException($"{source}: input '{Name}' expects shape [{string.Join(", ", Shape.Select(s => s?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "?"))}], got {OnnxOperators.Fmt(x.Shape)}");
    }
}
