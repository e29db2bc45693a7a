using Fovea.Onnx.Import;

namespace Fovea.Onnx;

/// <summary>
/// ONNX models in Fovea: <see cref="Import(string)"/> reads a <c>.onnx</c> file into a trainable
/// <see cref="OnnxModule"/>. Managed code only (the protobuf classes are generated from the official onnx.proto3).
/// </summary>
public static partial class OnnxModel
{
    /// <summary>
    /// Imports the ONNX model at <paramref name="path"/>. A malformed file is an <see cref="InvalidDataException"/>
    /// naming the file; an operator, attribute or opset Fovea does not support is an <see cref="OnnxImportException"/>
    /// naming the node, the operator, the opset and the attribute.
    /// </summary>
    public static OnnxModule Import(string path) => new(OnnxReader.ReadFile(path), path);

    /// <summary>Imports an ONNX model from a stream; <paramref name="sourceName"/> names it in errors.</summary>
    public static OnnxModule Import(Stream stream, string sourceName = "ONNX stream") => new(OnnxReader.ReadStream(stream, sourceName), sourceName);

    /// <summary>Imports an ONNX model from its bytes; <paramref name="sourceName"/> names it in errors.</summary>
    public static OnnxModule Import(byte[] bytes, string sourceName = "ONNX bytes") => new(OnnxReader.Parse(bytes, sourceName), sourceName);
}
