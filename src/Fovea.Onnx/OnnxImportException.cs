namespace Fovea.Onnx;

/// <summary>
/// An ONNX model Fovea cannot import: an operator, attribute, opset, element type or storage (external data) it does
/// not support, or values that break an operator's rules. The message names the file, the node, the operator, the
/// opset and the attribute. A malformed file is an <see cref="InvalidDataException"/> instead.
/// </summary>
public sealed class OnnxImportException : NotSupportedException
{
    /// <summary>Creates the exception with its one-line message.</summary>
    public OnnxImportException(string message) : base(message) { }

    /// <summary>Creates the exception with its one-line message and the error that caused it.</summary>
    public OnnxImportException(string message, Exception inner) : base(message, inner) { }
}
